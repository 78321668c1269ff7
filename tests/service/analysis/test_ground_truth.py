"""Live objects compared with the shadow's replay: whole definitions, not names."""

from __future__ import annotations

import psycopg
import pytest

from service.analysis.fingerprint import catalog_fingerprint
from service.analysis.ground_truth import compare_with_replay, touched_objects
from service.analysis.probe import CheckStatus, EffectState

BEFORE = 'CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY, "name" TEXT, "status" TEXT);\n'


def replays(scratch_db, target_db, migration):
    """The replay before and after `migration`, taken on one scratch database (the 'shadow')."""
    with scratch_db.connect() as shadow:
        shadow.execute(BEFORE)
        before = catalog_fingerprint(shadow, schemas=None)
        shadow.execute(migration)
        after = catalog_fingerprint(shadow, schemas=None)
    target_db.query(BEFORE)
    return before, after


def compare(target_db, before, after):
    with target_db.connect() as conn:
        return compare_with_replay(conn, before, after)


@pytest.mark.parametrize(
    "migration, live, status",
    [
        ('CREATE INDEX "Patient_name_idx" ON "Patient"("name");', 'CREATE INDEX "Patient_name_idx" ON "Patient"("name")', CheckStatus.DONE),
        ('CREATE INDEX "Patient_name_idx" ON "Patient"("name");', 'CREATE INDEX "Patient_name_idx" ON "Patient"("status")', CheckStatus.OTHER_SHAPE),
        ('CREATE INDEX "Patient_name_idx" ON "Patient"("name");', 'CREATE UNIQUE INDEX "Patient_name_idx" ON "Patient"("name")', CheckStatus.OTHER_SHAPE),
        ('CREATE INDEX "Patient_name_idx" ON "Patient"("name");', "SELECT 1", CheckStatus.NOT_DONE),
        (
            'ALTER TABLE "Patient" ADD CONSTRAINT "Patient_name_check" CHECK (length("name") > 0);',
            'ALTER TABLE "Patient" ADD CONSTRAINT "Patient_name_check" CHECK (length("name") > 1)',
            CheckStatus.OTHER_SHAPE,
        ),
        ('ALTER TABLE "Patient" ADD COLUMN "age" INT NOT NULL DEFAULT 0;', 'ALTER TABLE "Patient" ADD COLUMN "age" INT DEFAULT 0', CheckStatus.OTHER_SHAPE),
        (
            'ALTER TABLE "Patient" ADD COLUMN "age" INT NOT NULL DEFAULT 0;',
            'ALTER TABLE "Patient" ADD COLUMN "age" INT NOT NULL DEFAULT 1',
            CheckStatus.OTHER_SHAPE,
        ),
        (
            'ALTER TABLE "Patient" ADD COLUMN "n" INT GENERATED ALWAYS AS IDENTITY;',
            'ALTER TABLE "Patient" ADD COLUMN "n" INT NOT NULL',
            CheckStatus.OTHER_SHAPE,
        ),
        ("CREATE TYPE \"Role\" AS ENUM ('A', 'B');", "CREATE TYPE \"Role\" AS ENUM ('B', 'A')", CheckStatus.OTHER_SHAPE),
        ("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';", "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 2'", CheckStatus.OTHER_SHAPE),
        ('ALTER TABLE "Patient" DROP COLUMN "status";', 'ALTER TABLE "Patient" DROP COLUMN "status"', CheckStatus.DONE),
        ('ALTER TABLE "Patient" DROP COLUMN "status";', "SELECT 1", CheckStatus.NOT_DONE),
    ],
    ids=[
        "index",
        "index-other-column",
        "index-unique",
        "index-missing",
        "check",
        "not-null",
        "default",
        "identity",
        "enum-order",
        "function-body",
        "drop",
        "drop-not-done",
    ],
)
def test_each_object_is_compared_by_its_whole_definition(scratch_db, target_db, migration, live, status):
    before, after = replays(scratch_db, target_db, migration)
    target_db.query(live)
    comparison = compare(target_db, before, after)
    statuses = {check.status for check in comparison.checks}
    assert statuses == {status}, [check.to_dict() for check in comparison.checks]
    expected_state = {CheckStatus.DONE: EffectState.ALL, CheckStatus.NOT_DONE: EffectState.NONE, CheckStatus.OTHER_SHAPE: EffectState.NONE}[status]
    assert comparison.state is expected_state
    assert all(check.note for check in comparison.checks if not check.present)


def test_a_table_of_the_name_with_other_columns_is_another_shape(scratch_db, target_db):
    before, after = replays(scratch_db, target_db, 'CREATE TABLE "Visit" ("id" SERIAL PRIMARY KEY, "at" TIMESTAMP(3) NOT NULL);')
    target_db.query('CREATE TABLE "Visit" ("id" SERIAL PRIMARY KEY, "at" TIMESTAMP(3) NOT NULL, "legacy" TEXT)')
    comparison = compare(target_db, before, after)
    by_object = {check.label: check for check in comparison.checks}
    assert by_object["column public.Visit.legacy"].status is CheckStatus.OTHER_SHAPE
    assert by_object["table public.Visit"].status is CheckStatus.DONE
    assert comparison.state is EffectState.PARTIAL
    assert "column public.Visit.legacy exists, but the migrations do not leave it there" in comparison.problems


def test_an_invalid_index_of_the_right_definition_is_invalid(scratch_db, target_db):
    before, after = replays(scratch_db, target_db, 'CREATE UNIQUE INDEX "Patient_name_key" ON "Patient"("name");')
    target_db.query("""INSERT INTO "Patient" ("name") VALUES ('a'), ('a')""")
    with pytest.raises(Exception, match="could not create unique index"):
        target_db.query('CREATE UNIQUE INDEX CONCURRENTLY "Patient_name_key" ON "Patient"("name")')
    comparison = compare(target_db, before, after)
    assert [check.status for check in comparison.checks] == [CheckStatus.INVALID]
    assert comparison.invalid_indexes == ("public.Patient_name_key",)
    assert "INVALID or not ready" in comparison.problems[0]


def test_what_a_migration_touches_includes_an_added_tables_parts(scratch_db, target_db):
    before, after = replays(scratch_db, target_db, 'CREATE TABLE "Visit" ("id" SERIAL PRIMARY KEY, "patientId" INT REFERENCES "Patient"("id"));')
    touched = touched_objects(before, after)
    assert touched["tables"] == {("public", "Visit")}
    assert touched["columns"] == {("public", "Visit", "id"), ("public", "Visit", "patientId")}
    assert {key[2] for key in touched["constraints"]} == {"Visit_pkey", "Visit_patientId_fkey"}
    assert ("public", "Visit_pkey") in touched["indexes"]


def test_an_index_dropped_half_way_is_invalid(scratch_db, target_db):
    with scratch_db.connect() as shadow:
        shadow.execute(BEFORE + 'CREATE INDEX "Patient_name_idx" ON "Patient"("name");')
        before = catalog_fingerprint(shadow, schemas=None)
        shadow.execute('DROP INDEX "Patient_name_idx"')
        after = catalog_fingerprint(shadow, schemas=None)
    target_db.query(BEFORE + 'CREATE INDEX "Patient_name_idx" ON "Patient"("name")')
    reader = psycopg.connect(target_db.conninfo)
    reader.execute('SELECT * FROM "Patient"')
    try:
        with target_db.connect() as conn, pytest.raises(psycopg.errors.LockNotAvailable):
            conn.execute("SET lock_timeout = 200")
            conn.execute('DROP INDEX CONCURRENTLY "Patient_name_idx"')
    finally:
        reader.rollback()
        reader.close()
    comparison = compare(target_db, before, after)
    assert [check.status for check in comparison.checks] == [CheckStatus.INVALID]
    assert comparison.invalid_indexes == ("public.Patient_name_idx",)
