"""The facts, the transaction lint rules and recovery's ownership follow the Prisma version's engine.

Prisma 7.4 and later (prisma-engines #5767; engines d1b3f377 pinned by Prisma 7.10.1) send a file
with CREATE INDEX CONCURRENTLY statement by statement, and one with DROP INDEX CONCURRENTLY whole
(#5847: the engine's sqlparser rejects it). Sources and their limits: tests/service/prisma/test_execution.py.
One definition, service.prisma.execution, answers for deploy, these facts, lint and ownership.
"""

import pytest

from service.analysis.facts.analyze import analyze_migration
from service.analysis.lint import lint_migration
from service.analysis.parsing import parse_migration
from service.prisma.deploy import deploy
from service.prisma.migrations import migrations_from_bundle
from service.recovery.live_objects import ObjectRef
from service.recovery.ownership import failed_run_ownership, transaction_segments
from tests.service.prisma.history_helpers import history_rows

SPLIT = 'CREATE TABLE "A" ("id" int);\nCREATE INDEX CONCURRENTLY "A_id" ON "A" ("id");\nINSERT INTO "A" VALUES (1);\n'


def rule_messages(script, rule, prisma_version):
    return [finding.message for finding in lint_migration(script, "m", prisma_version=prisma_version) if finding.rule == rule]


def test_a_split_file_is_not_transactional_and_does_not_fail_whatever_the_data():
    """Prisma 6: 25001 whatever the data. Prisma 7: each statement commits on its own."""
    six = analyze_migration(SPLIT, "m", 6)
    assert [reason.message for reason in six.fails_because] == [
        'CREATE INDEX CONCURRENTLY "A_id" cannot run in the transaction of a multi-statement file (25001)'
    ]
    seven = analyze_migration(SPLIT, "m", 7)
    assert seven.fails_because == () and not seven.transactional
    assert seven.not_transactional_because[0].message == "Prisma 7 sends a file with CREATE INDEX CONCURRENTLY statement by statement: each commits on its own"
    assert seven.outside_transaction_blocks == (True, True, True)


def test_a_file_without_concurrently_stays_transactional_with_prisma_7():
    facts = analyze_migration('CREATE TABLE "B" ("id" int);\nINSERT INTO "B" VALUES (1);\n', "m", 7)
    assert facts.transactional and facts.fails_because == ()


def test_concurrently_inside_the_files_begin_commit_still_fails_with_prisma_7():
    script = 'BEGIN;\nCREATE INDEX CONCURRENTLY "A_id" ON "A" ("id");\nCOMMIT;\nCREATE INDEX CONCURRENTLY "A_x" ON "A" ("x");\n'
    facts = analyze_migration(script, "m", 7)
    assert [reason.line for reason in facts.fails_because] == [2]
    assert "the file's explicit transaction block (25001)" in facts.fails_because[0].message
    assert rule_messages(script, "concurrently-in-transaction", 7) == [
        "CREATE INDEX CONCURRENTLY fails with 25001: it sits between the file's BEGIN and COMMIT, a transaction block"
    ]


def test_an_enum_value_added_then_used_is_fine_when_each_statement_commits():
    """55P04 needs the ADD VALUE and its use in one transaction; sent one by one, they are not."""
    script = 'ALTER TYPE "Role" ADD VALUE \'ADMIN\';\nCREATE INDEX CONCURRENTLY "U_r" ON "User" ("role");\nUPDATE "User" SET "role" = \'ADMIN\';\n'
    assert any("55P04" in reason.message for reason in analyze_migration(script, "m", 6).fails_because)
    assert not any("55P04" in reason.message for reason in analyze_migration(script, "m", 7).fails_because)


@pytest.mark.parametrize(
    "script, six, seven",
    [
        (SPLIT, 1, 0),
        # Every CONCURRENTLY statement of a split file is sent alone.
        ('CREATE INDEX CONCURRENTLY "a" ON "A" ("x");\nREINDEX INDEX CONCURRENTLY "b";\n', 2, 0),
        # A DROP INDEX CONCURRENTLY keeps the file whole (#5847): the rule holds as with Prisma 6.
        ('CREATE INDEX CONCURRENTLY "a" ON "A" ("x");\nDROP INDEX CONCURRENTLY "b";\n', 2, 2),
        # No CREATE INDEX CONCURRENTLY: sent whole by both.
        ("SET lock_timeout = '5s';\nDROP INDEX CONCURRENTLY \"b\";\n", 1, 1),
    ],
    ids=["create-index", "create-and-reindex", "with-drop-index", "drop-index-only"],
)
def test_concurrently_in_transaction_follows_the_prisma_version(script, six, seven):
    assert len(rule_messages(script, "concurrently-in-transaction", 6)) == six
    assert len(rule_messages(script, "concurrently-in-transaction", 7)) == seven


def test_the_rule_says_why_a_file_with_drop_index_concurrently_is_sent_whole():
    messages = rule_messages('CREATE INDEX CONCURRENTLY "a" ON "A" ("x");\nDROP INDEX CONCURRENTLY "b";\n', "concurrently-in-transaction", 7)
    assert messages[1] == (
        "DROP INDEX CONCURRENTLY fails with 25001: Prisma 7 sends a file with CREATE INDEX CONCURRENTLY statement by statement, "
        "but one with DROP INDEX CONCURRENTLY whole (its SQL parser rejects it), and PostgreSQL runs the whole file inside a transaction block"
    )


def test_non_transactional_statement_passes_in_a_split_file():
    script = 'CREATE INDEX CONCURRENTLY "a" ON "A" ("x");\nVACUUM "A";\n'
    assert rule_messages(script, "non-transactional-statement", 6) == [
        "VACUUM cannot run inside a transaction block; in a file with other statements it fails with 25001"
    ]
    assert rule_messages(script, "non-transactional-statement", 7) == []


def test_segments_of_a_split_file_end_after_each_statement_outside_begin_commit():
    script = 'CREATE TABLE "A" (id int);\nBEGIN;\nCREATE TABLE "B" (id int);\nCOMMIT;\nCREATE INDEX CONCURRENTLY "A_idx" ON "A" (id);\n'
    segments = transaction_segments(parse_migration(script), 7)
    assert [(s.first, s.last, s.ends) for s in segments] == [(0, 0, "sent on its own"), (1, 3, "commit"), (4, 4, "sent on its own")]
    assert [(s.first, s.last) for s in transaction_segments(parse_migration(script), 6)] == [(0, 3), (4, 4)]


def test_a_failed_split_run_owns_what_its_committed_statements_made(conn):
    """Deployed as Prisma 7 runs it, the failure at line 3 leaves the table and index: this run's own work."""
    script = 'CREATE TABLE "A" ("id" int);\nCREATE INDEX CONCURRENTLY "A_id" ON "A" ("id");\nINSERT INTO "A" VALUES (\'one\');\n'
    outcome = deploy(conn, "public", migrations_from_bundle({"1_index": script}), prisma_version=7)
    assert outcome.failure is not None
    (row,) = history_rows(conn)
    ownership = failed_run_ownership(conn, "public", analyze_migration(script, "1_index", 7), row["logs"])
    assert ownership.failing_statement == 2 and ownership.persisted == {0, 1}
    assert ObjectRef("table", "public", "A") in ownership.created
    assert ObjectRef("index", "public", "A_id") in ownership.created
    # Read as Prisma 6 runs it, the same failure would have undone the whole file.
    assert failed_run_ownership(conn, "public", analyze_migration(script, "1_index", 6), row["logs"]).persisted == frozenset()


def test_the_enum_rule_follows_the_prisma_version_as_the_facts_do():
    script = 'ALTER TYPE "Role" ADD VALUE \'ADMIN\';\nCREATE INDEX CONCURRENTLY "U_r" ON "User" ("role");\nUPDATE "User" SET "role" = \'ADMIN\';\n'
    assert rule_messages(script, "enum-value-used-in-same-transaction", 6)
    assert rule_messages(script, "enum-value-used-in-same-transaction", 7) == []
