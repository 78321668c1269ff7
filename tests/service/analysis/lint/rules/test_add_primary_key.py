import pytest

from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "add-primary-key"


@pytest.mark.parametrize(
    "sql, message",
    [
        ('ALTER TABLE "User" ADD PRIMARY KEY ("id");', 'adding a primary key to "User" builds its index under an ACCESS EXCLUSIVE lock'),
        (
            'ALTER TABLE "User" ADD COLUMN "uid" BIGINT PRIMARY KEY;',
            'ADD COLUMN "uid" … PRIMARY KEY builds an index on "User" under an ACCESS EXCLUSIVE lock',
        ),
    ],
)
def test_primary_keys_built_under_lock_are_reported(sql, message):
    assert lint_one(sql, RULE).message == message


@pytest.mark.parametrize(
    "sql",
    [
        'ALTER TABLE "User" ADD CONSTRAINT "User_pkey" PRIMARY KEY USING INDEX "User_pkey";',
        'CREATE TABLE "Scratch" (id int);\nALTER TABLE "Scratch" ADD PRIMARY KEY ("id");',
        'CREATE TABLE "User" ("id" SERIAL NOT NULL, CONSTRAINT "User_pkey" PRIMARY KEY ("id"));',
    ],
)
def test_prebuilt_indexes_and_new_tables_pass(sql):
    lint_ok(sql, RULE)
