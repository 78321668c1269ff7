"""`deploy` as Prisma 7.10.1's engine runs a file, on a real PostgreSQL.

The history semantics are Prisma 6's (test_deploy.py). They were checked against the engine
Prisma 7.10.1 pins, d1b3f377, through its WebAssembly build (the native binary cannot be
downloaded here; docs/prisma-8.md "Sources"): the same `_prisma_migrations` table and checksums,
`SELECT pg_advisory_lock(72707369)` with a 10 s timeout (P1002), the row inserted before the
script runs (span schema-engine/commands/src/commands/apply_migrations.rs:95 "Applying
migration") and `logs` written on failure, P3009 for a failed row, P3011/P3012 from
`markMigrationRolledBack` (schema-engine/commands/src/commands/mark_migration_rolled_back.rs:47),
P3008 from `markMigrationApplied`. What differs is how a file with CREATE INDEX CONCURRENTLY is
sent (prisma-engines #5767, test_execution.py): statement by statement, each committing on its own.
"""

from service.prisma.deploy import deploy
from service.prisma.logs import error_position, parse_failure_logs
from service.prisma.migrations import migrations_from_bundle
from tests.service.prisma.history_helpers import history_rows

SPLIT = 'CREATE TABLE "A" ("id" int);\nCREATE INDEX CONCURRENTLY "A_id" ON "A" ("id");\nINSERT INTO "A" VALUES (1);\n'
FAILS_AFTER_THE_INDEX = 'CREATE TABLE "A" ("id" int);\nCREATE INDEX CONCURRENTLY "A_id" ON "A" ("id");\nINSERT INTO "A" VALUES (\'one\');\n'


def exists(conn, name):
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{name}"',)).fetchone()[0]


def index_is_valid(conn, name):
    row = conn.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", (f'"{name}"',)).fetchone()
    return row[0] if row else None


def test_prisma_6_refuses_concurrently_in_a_multi_statement_file_and_leaves_nothing(conn):
    """Sent whole, PostgreSQL runs the file as one implicit transaction: 25001, all of it undone."""
    outcome = deploy(conn, "public", migrations_from_bundle({"1_index": SPLIT}), prisma_version=6)
    assert outcome.failure is not None and outcome.failure.sqlstate == "25001"
    assert not exists(conn, "A")


def test_prisma_7_applies_a_multi_statement_file_with_create_index_concurrently(conn):
    """#5767: each statement its own simple query, so the index is built outside a transaction."""
    outcome = deploy(conn, "public", migrations_from_bundle({"1_index": SPLIT}), prisma_version=7)
    assert outcome.succeeded, outcome.failure
    assert index_is_valid(conn, "A_id") is True
    assert conn.execute('SELECT count(*) FROM "A"').fetchone()[0] == 1
    (row,) = history_rows(conn)
    assert row["finished_at"] is not None and row["applied_steps_count"] == 1 and row["logs"] is None


def test_prisma_7_leaves_the_statements_before_a_failure_applied(conn):
    """Each statement commits on its own: a failure after the index keeps the table and the index.

    The logs keep Prisma's format, and the error position is in the file's terms (line 3), so
    recovery finds the failing statement.
    """
    outcome = deploy(conn, "public", migrations_from_bundle({"1_index": FAILS_AFTER_THE_INDEX}), prisma_version=7)
    assert outcome.failure is not None and outcome.failure.sqlstate == "22P02"
    assert exists(conn, "A") and index_is_valid(conn, "A_id") is True
    (row,) = history_rows(conn)
    assert row["finished_at"] is None and row["applied_steps_count"] == 0
    assert parse_failure_logs(row["logs"]).sqlstate == "22P02"
    position = error_position(row["logs"])
    assert position is not None and FAILS_AFTER_THE_INDEX[:position].count("\n") == 2
    assert "\x1b[1m  3\x1b[1;31m INSERT INTO" in row["logs"]


def test_prisma_7_sends_a_file_without_concurrently_whole(conn):
    """No CREATE INDEX CONCURRENTLY: one implicit transaction, as with Prisma 6; a failure undoes it all."""
    script = 'CREATE TABLE "B" ("id" int);\nINSERT INTO "B" VALUES (1 / 0);\n'
    outcome = deploy(conn, "public", migrations_from_bundle({"1_b": script}), prisma_version=7)
    assert outcome.failure is not None and outcome.failure.sqlstate == "22012"
    assert not exists(conn, "B")


def test_prisma_7_sends_a_file_with_drop_index_concurrently_whole(conn):
    """#5847: the engine's parser rejects DROP INDEX CONCURRENTLY and the file goes whole: 25001."""
    deploy(conn, "public", migrations_from_bundle({"1_a": 'CREATE TABLE "A" ("id" int);\nCREATE INDEX "old" ON "A" ("id");\n'}))
    script = 'CREATE INDEX CONCURRENTLY "A_id" ON "A" ("id");\nDROP INDEX CONCURRENTLY "old";\n'
    outcome = deploy(conn, "public", migrations_from_bundle({"1_a": "", "2_swap": script}), prisma_version=7)
    assert outcome.failure is not None and outcome.failure.sqlstate == "25001"
    assert not exists(conn, "A_id") and exists(conn, "old")
