"""The effect probe against real catalogs: none, all, partial, unknown, and the traps in between."""

import psycopg
import pytest

from service.analysis.probe import CheckStatus, EffectState
from service.prisma.deploy import deploy
from service.prisma.migrations import read_migrations_directory
from tests.service.analysis.probe_helpers import probe

PRISMA_MIGRATION = """-- CreateEnum
CREATE TYPE "Role" AS ENUM ('USER', 'ADMIN');

-- CreateTable
CREATE TABLE "User" (
    "id" SERIAL NOT NULL,
    "email" TEXT NOT NULL,
    "role" "Role" NOT NULL DEFAULT 'USER',
    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
"""


def statuses(result):
    return [(check.effect.kind, check.effect.name, check.status) for check in result.checks]


def test_nothing_applied_is_none(conn):
    result = probe(conn, PRISMA_MIGRATION)
    assert result.state is EffectState.NONE
    assert all(check.present is False for check in result.checks)
    assert result.fully_probed


def test_everything_applied_is_all(conn):
    conn.execute(PRISMA_MIGRATION)
    result = probe(conn, PRISMA_MIGRATION)
    assert result.state is EffectState.ALL
    assert statuses(result) == [
        ("type", "Role", CheckStatus.DONE),
        ("table", "User", CheckStatus.DONE),
        ("index", "User_email_key", CheckStatus.DONE),
    ]
    document = result.to_dict()
    assert document["state"] == "all" and document["checks"][0]["present"] is True


def test_some_applied_is_partial(conn):
    conn.execute(""" CREATE TYPE "Role" AS ENUM ('USER', 'ADMIN') """)
    result = probe(conn, PRISMA_MIGRATION)
    assert result.state is EffectState.PARTIAL
    assert [check.present for check in result.checks] == [True, False, False]


def test_data_only_migration_is_unknown(conn):
    conn.execute('CREATE TABLE "User" ("id" INT, "name" TEXT)')
    result = probe(conn, """UPDATE "User" SET "name" = 'x' WHERE "name" IS NULL;""")
    assert result.state is EffectState.UNKNOWN
    assert not result.checks and not result.fully_probed
    assert [change.kind for change in result.unverified_data_changes] == ["update"]


def test_schema_effects_with_a_data_change_are_all_but_not_fully_probed(conn):
    script = 'ALTER TABLE "User" ADD COLUMN "name" TEXT;\nUPDATE "User" SET "name" = \'x\';\n'
    conn.execute('CREATE TABLE "User" ("id" INT)')
    conn.execute(script)
    result = probe(conn, script)
    assert result.state is EffectState.ALL
    assert not result.fully_probed
    assert result.to_dict()["unverified_data_changes"][0]["kind"] == "update"


def test_half_applied_non_transactional_migration_is_partial(scratch_db, write_migrations):
    script = 'BEGIN;\nCREATE TABLE "A" ("id" INT);\nCOMMIT;\nCREATE TABLE "B" ("id" INT REFERENCES "Missing"("id"));\n'
    local = read_migrations_directory(write_migrations({"1_split": script}))
    with scratch_db.connect() as conn:
        outcome = deploy(conn, "public", local)
        assert outcome.failure is not None and outcome.failure.sqlstate == "42P01"
        result = probe(conn, script)
    assert result.state is EffectState.PARTIAL
    assert statuses(result) == [("table", "A", CheckStatus.DONE), ("table", "B", CheckStatus.NOT_DONE)]


def test_invalid_index_is_never_counted_as_done(conn):
    conn.execute('CREATE TABLE "User" ("email" TEXT); INSERT INTO "User" VALUES (\'a\'), (\'a\')')
    script = 'CREATE UNIQUE INDEX CONCURRENTLY "User_email_key" ON "User"("email");'
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(script)
    assert conn.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = '\"User_email_key\"'::regclass").fetchone() == (False,)

    result = probe(conn, script)
    assert result.state is EffectState.NONE
    (check,) = result.checks
    assert check.status is CheckStatus.INVALID and check.present is False
    assert "INVALID" in check.note and "drop it" in check.note
    assert result.invalid_indexes == ("public.User_email_key",)
    assert result.to_dict()["checks"][0]["status"] == "invalid"
