"""Which objects a migration's run made, on real failures in a scratch database; and the live check of
what rollback SQL would drop (the recover and rollback jobs around them are in tests/service/jobs)."""

from __future__ import annotations

import psycopg
import pytest

from service.analysis.facts.analyze import analyze_migration
from service.analysis.fingerprint import catalog_fingerprint
from service.analysis.parsing import parse_migration
from service.prisma.logs import error_position, render_apply_failure
from service.recovery.live_objects import ObjectRef, objects_in
from service.recovery.ownership import (
    already_existing_object,
    applied_migration_ownership,
    failed_run_ownership,
    owned_rollback_plan,
    statement_at,
    transaction_segments,
)
from service.recovery.rollback_targets import check_rollback_targets


def run_and_fail(conn: psycopg.Connection, script: str) -> str:
    """Run a migration as deploy does (one simple-query string) and return the logs of its failure."""
    try:
        conn.execute(script.encode("utf-8"))
    except psycopg.Error as error:
        return render_apply_failure("20240102_x", script, error)[1]
    raise AssertionError("the script was meant to fail")


def table(name: str) -> ObjectRef:
    return ObjectRef("table", "public", name)


def test_segments_end_at_each_commit_rollback_and_statement_that_runs_on_its_own():
    parsed = parse_migration(
        'CREATE TABLE "A" (id int);\nCOMMIT;\nBEGIN;\nCREATE TABLE "B" (id int);\nROLLBACK;\n'
        'CREATE INDEX CONCURRENTLY "A_idx" ON "A" (id);\nCREATE TABLE "C" (id int);\n'
    )
    assert [(s.first, s.last, s.ends, s.commits) for s in transaction_segments(parsed)] == [
        (0, 1, "commit", True),
        (2, 4, "rollback", False),
        (5, 5, "runs on its own", True),
        (6, 6, "end of file", True),
    ]


def test_the_error_position_in_the_logs_names_the_failing_statement(conn):
    script = 'BEGIN;\nCREATE TABLE "A" ("id" INT);\nCOMMIT;\nCREATE TABLE "B" ("id" INT);\nSELECT "nope" FROM "A";\n'
    logs = run_and_fail(conn, script)
    position = error_position(logs)
    assert position == script.index('"nope"') + 1
    assert statement_at(parse_migration(script), position) == 4

    ownership = failed_run_ownership(conn, "public", analyze_migration(script), logs)
    assert (ownership.failing_statement, ownership.failing_segment) == (4, 1)
    assert ownership.persisted == {0, 1, 2}
    assert ownership.created == {table("A")}
    assert "the error position in the logs" in ownership.how_known
    plan = owned_rollback_plan(script, analyze_migration(script), ownership)
    assert (plan.sql, plan.complete) == ('DROP TABLE IF EXISTS "A";', True)
    assert [note.message for note in plan.notes] == [
        "table public.B was not made; its statement (line 4) was in the failing part of the file, which PostgreSQL rolled back"
    ]


def test_logs_without_a_position_give_none():
    assert error_position('Database error code: 42P07\n\nDatabase error:\nERROR: relation "A" already exists') is None
    assert error_position(None) is None


@pytest.mark.parametrize(
    "setup, script, kinds, name, parent",
    [
        ('CREATE TABLE "A" (id int)', 'CREATE TABLE "A" (id int)', {"table", "index"}, "A", None),
        ('CREATE TABLE "A" (id int)', 'ALTER TABLE "A" ADD COLUMN "id" INT', {"column"}, "id", "A"),
        ('CREATE TABLE "A" (id int CONSTRAINT "A_c" CHECK (id > 0))', 'ALTER TABLE "A" ADD CONSTRAINT "A_c" CHECK (id > 1)', {"constraint"}, "A_c", "A"),
        ("CREATE TYPE \"Mood\" AS ENUM ('ok')", "CREATE TYPE \"Mood\" AS ENUM ('ok')", {"type"}, "Mood", None),
        ('CREATE SCHEMA "billing"', 'CREATE SCHEMA "billing"', {"schema"}, "billing", None),
        ("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", {"function"}, "f", None),
        ("CREATE TYPE \"Mood\" AS ENUM ('ok')", "ALTER TYPE \"Mood\" ADD VALUE 'ok'", {"enum_value"}, "ok", None),
    ],
    ids=["42P07", "42701", "42710-constraint", "42710-type", "42P06", "42723", "42710-enum-label"],
)
def test_already_exists_messages_name_the_object(conn, setup, script, kinds, name, parent):
    conn.execute(setup)
    try:
        conn.execute(script)
    except psycopg.Error as error:
        named = already_existing_object(error.sqlstate, error.diag.message_primary)
    assert named is not None and kinds <= named.kinds and (named.name, named.parent) == (name, parent)


def test_other_errors_name_no_existing_object():
    assert already_existing_object("42P01", 'relation "A" does not exist') is None
    assert already_existing_object(None, 'relation "A" already exists').name == "A"  # the adapter's logs carry no SQLSTATE


def test_a_transactional_file_that_failed_owns_nothing(conn):
    conn.execute('CREATE TABLE "Patient" ("id" INT)')
    script = 'CREATE TABLE "Visit" ("id" INT);\nCREATE TABLE "Patient" ("id" INT);\n'
    ownership = failed_run_ownership(conn, "public", analyze_migration(script), run_and_fail(conn, script))
    assert not ownership.created and not ownership.persisted
    plan = owned_rollback_plan(script, analyze_migration(script), ownership)
    assert (plan.sql, plan.complete) == ("", True)
    assert plan.notes[0].message == "nothing to roll back: PostgreSQL undid the whole file: it has no transaction control, so it ran as one transaction"


def test_without_a_position_the_catalog_and_the_error_message_locate_the_failure(conn):
    conn.execute('CREATE TABLE "Legacy" ("id" INT); INSERT INTO "Legacy" VALUES (1)')
    script = 'BEGIN;\nCREATE TABLE "Invoice" ("id" INT);\nCOMMIT;\nCREATE TABLE "Legacy" ("id" INT);\nCREATE TABLE "Later" ("id" INT);\n'
    logs = run_and_fail(conn, script)
    assert error_position(logs) is None
    facts = analyze_migration(script)
    ownership = failed_run_ownership(conn, "public", facts, logs)
    assert ownership.failing_segment == 1 and ownership.created == {table("Invoice")}
    assert 'the error says relation "Legacy" already exists' in ownership.how_known
    plan = owned_rollback_plan(script, facts, ownership)
    assert (plan.sql, plan.complete) == ('DROP TABLE IF EXISTS "Invoice";', True)
    assert [note.message for note in plan.notes] == [
        'table public.Legacy existed before this migration: its CREATE failed on it (relation "Legacy" already exists)',
        "table public.Later was not made; its statement (line 5) was in the failing part of the file, which PostgreSQL rolled back",
    ]


def test_a_data_error_is_located_by_the_first_part_whose_objects_are_missing(conn):
    script = 'BEGIN;\nCREATE TABLE "A" ("id" INT);\nCOMMIT;\nCREATE TABLE "B" ("id" INT);\nINSERT INTO "B" VALUES (1 / 0);\n'
    logs = run_and_fail(conn, script)
    ownership = failed_run_ownership(conn, "public", analyze_migration(script), logs)
    assert (ownership.failing_segment, ownership.created) == (1, {table("A")})


def test_a_part_without_creates_counts_as_committed_once_a_later_part_is_there(conn):
    conn.execute('CREATE TABLE "A" ("id" INT, "n" INT)')
    script = 'UPDATE "A" SET "n" = 1;\nCOMMIT;\nCREATE TABLE "B" ("id" INT);\nCOMMIT;\nUPDATE "A" SET "n" = 1 / 0;\n'
    ownership = failed_run_ownership(conn, "public", analyze_migration(script), run_and_fail(conn, script))
    assert ownership.created == {table("B")} and ownership.failing_segment == 2
    assert ownership.persisted == {0, 1, 2, 3} and ownership.changed == {table("A")}


def test_nothing_is_owned_when_the_catalog_cannot_tell_which_part_committed(conn):
    conn.execute('CREATE TABLE "A" ("id" INT, "n" INT)')
    script = 'UPDATE "A" SET "n" = 1 / 0;\nCOMMIT;\nCREATE TABLE "B" ("id" INT);\n'
    facts = analyze_migration(script)
    ownership = failed_run_ownership(conn, "public", facts, run_and_fail(conn, script))
    assert not ownership.created and not ownership.persisted and ownership.failing_segment is None
    plan = owned_rollback_plan(script, facts, ownership)
    assert not plan.complete
    assert [r.message for r in plan.reasons] == ["UPDATE on A: whether its statement (line 1) committed is unknown"]
    assert [n.message for n in plan.notes] == ["table public.B was not made; its statement (line 3) did not commit: the file failed there or before"]


def test_a_syntax_error_ran_nothing(conn):
    script = 'BEGIN;\nCREATE TABLE "A" ("id" INT);\nCOMMIT;\nCREATE TABLE "B" ("id" INT;\n'
    ownership = failed_run_ownership(conn, "public", analyze_migration(script), run_and_fail(conn, script))
    assert ownership.undone_whole == "PostgreSQL rejected the file before running any of it (a syntax error)"
    assert owned_rollback_plan(script, analyze_migration(script), ownership).sql == ""


def test_objects_the_shadows_replay_has_are_never_owned(conn):
    script = 'BEGIN;\nCREATE TABLE "A" ("id" INT);\nCOMMIT;\nSELECT "nope" FROM "A";\n'
    logs = run_and_fail(conn, script)
    ownership = failed_run_ownership(conn, "public", analyze_migration(script), logs, pre_existing={table("A")})
    assert not ownership.created
    plan = owned_rollback_plan(script, analyze_migration(script), ownership)
    assert (plan.sql, plan.complete) == ("", True)
    assert plan.notes[0].message == "table public.A existed before this migration: the shadow's replay of the history before it has it"


GUARDED = 'CREATE TABLE IF NOT EXISTS "Patient" ("id" INT);\nCREATE INDEX "Patient_id_idx" ON "Patient" ("id");\n'


def test_a_migration_that_succeeded_owns_its_guarded_creates_only_when_known_absent_before(conn):
    conn.execute('CREATE TABLE "Patient" ("id" INT)')
    before = objects_in(catalog_fingerprint(conn))
    conn.execute(GUARDED)
    facts = analyze_migration(GUARDED)

    unknown = owned_rollback_plan(GUARDED, facts, applied_migration_ownership(facts, "public"))
    assert unknown.sql == 'DROP INDEX IF EXISTS "Patient_id_idx";' and not unknown.complete
    assert unknown.reasons[0].message == ("table public.Patient may have existed before this migration: its guarded CREATE (line 1) does nothing then")

    known = owned_rollback_plan(GUARDED, facts, applied_migration_ownership(facts, "public", pre_existing=before))
    assert (known.sql, known.complete) == ('DROP INDEX IF EXISTS "Patient_id_idx";', True)
    assert "table public.Patient existed before this migration" in known.notes[0].message

    absent = owned_rollback_plan(GUARDED, facts, applied_migration_ownership(facts, "public", pre_existing=set()))
    assert absent.sql == 'DROP TABLE IF EXISTS "Patient";' and absent.complete


def test_objects_in_a_fingerprint(conn):
    conn.execute('CREATE TYPE "Mood" AS ENUM (\'ok\'); CREATE TABLE "A" ("id" INT CONSTRAINT "A_pkey" PRIMARY KEY)')
    refs = objects_in(catalog_fingerprint(conn))
    assert {
        table("A"),
        ObjectRef("column", "public", "id", "A"),
        ObjectRef("constraint", "public", "A_pkey", "A"),
        ObjectRef("index", "public", "A_pkey"),
        ObjectRef("type", "public", "Mood"),
        ObjectRef("enum_value", "public", "ok", "Mood"),
        ObjectRef("schema", None, "public"),
    } <= refs


def applied(conn, script):
    conn.execute(script)
    return applied_migration_ownership(analyze_migration(script), "public")


def notes(conn, rollback_sql, ownership):
    return check_rollback_targets(conn, "public", rollback_sql, ownership).needs_approval


def test_the_live_check_names_what_the_migration_did_not_make(conn):
    conn.execute('CREATE TABLE "Hand" ("id" INT)')
    ownership = applied(conn, 'CREATE TABLE "A" ("id" INT);\nALTER TABLE "Hand" ADD COLUMN "note" TEXT;\n')
    assert notes(conn, 'DROP TABLE "A";\nALTER TABLE "Hand" DROP COLUMN "note";', ownership) == ()
    assert notes(conn, 'DROP TABLE IF EXISTS "Gone";', ownership) == ()  # not there: changes nothing
    assert notes(conn, 'DROP TABLE "Hand";', ownership) == ("would drop table public.Hand, which this migration did not create",)
    assert notes(conn, 'ALTER TABLE "Hand" ALTER COLUMN "id" SET NOT NULL;', ownership) == (
        "would change column public.Hand.id, which this migration did not create",
    )
    assert notes(conn, 'DROP TABLE "A" CASCADE;', ownership) == ("would drop table public.A; with CASCADE it also drops whatever depends on it",)


def test_a_rename_in_the_rollback_is_followed(conn):
    ownership = applied(conn, 'CREATE TABLE "A" ("id" INT);\nALTER TABLE "A" RENAME TO "B";\n')
    assert notes(conn, 'ALTER TABLE "B" RENAME TO "A";\nDROP TABLE "A";', ownership) == ()


def test_indexes_and_columns_of_a_table_the_migration_made_are_its_own(conn):
    ownership = applied(conn, 'CREATE TABLE "A" ("id" SERIAL PRIMARY KEY);\n')
    conn.execute('CREATE INDEX "A_id_idx" ON "A" ("id")')
    assert notes(conn, 'DROP INDEX "A_id_idx";\nALTER TABLE "A" DROP CONSTRAINT "A_pkey";\nALTER TABLE "A" DROP COLUMN "id";', ownership) == ()


def test_data_a_drop_would_lose_is_counted_or_estimated(conn):
    ownership = applied(conn, 'CREATE TABLE "A" ("id" INT, "note" TEXT);\n')
    conn.execute("INSERT INTO \"A\" SELECT g, CASE WHEN g <= 2 THEN 'x' END FROM generate_series(1, 50) g")
    assert notes(conn, 'ALTER TABLE "A" DROP COLUMN "note";', ownership) == ("would drop column public.A.note; 2 non-null values would be lost",)
    assert notes(conn, 'DROP TABLE "A";', ownership) == ("would drop table public.A; 50 rows would be lost",)
    conn.execute('ANALYZE "A"')
    targets = check_rollback_targets(conn, "public", 'DROP TABLE "A";', ownership)
    assert targets.targets[0].data.to_dict() == {"count": 50, "exact": False, "what": "rows", "text": "about 50 rows"}
    conn.execute('DELETE FROM "A"')
    conn.execute('ANALYZE "A"')
    assert notes(conn, 'DROP TABLE "A";', ownership) == ()  # "empty" is always counted, never estimated


def test_non_null_values_of_a_dropped_column_are_counted(conn):
    conn.execute('CREATE TABLE "Hand" ("id" INT)')
    ownership = applied(conn, 'ALTER TABLE "Hand" ADD COLUMN "note" TEXT;\n')
    conn.execute("INSERT INTO \"Hand\" VALUES (1, 'x'), (2, NULL)")
    assert notes(conn, 'ALTER TABLE "Hand" DROP COLUMN "note";', ownership) == ("would drop column public.Hand.note; 1 non-null value would be lost",)
