import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "create-type-without-guard"


@pytest.mark.parametrize(
    "sql, message",
    [
        ("CREATE TYPE \"Role\" AS ENUM ('USER', 'ADMIN');", 'CREATE TYPE "Role" fails if it already exists'),
        ('CREATE TYPE "public"."Point" AS (x int, y int);', 'CREATE TYPE "public"."Point" fails if it already exists'),
        ('CREATE DOMAIN "Email" AS text;', 'CREATE DOMAIN "Email" fails if it already exists'),
    ],
)
def test_bare_type_creation_is_reported(sql, message):
    assert lint_one(sql, RULE).message == message


def test_a_do_block_that_checks_nothing_is_no_guard():
    lint_one("DO $$ BEGIN\n  CREATE TYPE \"Role\" AS ENUM ('USER');\nEND $$;", RULE)


@pytest.mark.parametrize(
    "sql",
    [
        "DO $$ BEGIN\n  CREATE TYPE \"Role\" AS ENUM ('USER');\nEXCEPTION WHEN duplicate_object THEN NULL;\nEND $$;",
        "DO $$ BEGIN\n  IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'Role') THEN\n    CREATE TYPE \"Role\" AS ENUM ('USER');\n  END IF;\nEND $$;",
        'DROP TYPE IF EXISTS "Role";\nCREATE TYPE "Role" AS ENUM (\'USER\');',
    ],
)
def test_guarded_type_creation_passes(sql):
    lint_ok(sql, RULE)
