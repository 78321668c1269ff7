"""Drift between two catalogs on real PostgreSQL: each kind of object, found and named in words."""

import psycopg
import pytest

from service.analysis.drift import compare_catalogs, drift_schemas
from service.analysis.drift_ignore import parse_ignore_rules
from service.analysis.fingerprint import catalog_fingerprint

SCHEMA = """
CREATE TYPE "Role" AS ENUM ('USER', 'ADMIN');
CREATE TYPE "Shift" AS ENUM ('DAY', 'NIGHT');
CREATE TABLE "Patient" (
    "id" SERIAL PRIMARY KEY,
    "email" TEXT NOT NULL,
    "role" "Role" NOT NULL DEFAULT 'USER',
    "age" INTEGER,
    "notes" TEXT,
    CONSTRAINT "age_positive" CHECK ("age" > 0)
);
CREATE UNIQUE INDEX "Patient_email_key" ON "Patient" ("email");
CREATE TABLE "Visit" ("id" SERIAL PRIMARY KEY, "patientId" INTEGER NOT NULL REFERENCES "Patient" ("id"));
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER "Patient_touch" BEFORE UPDATE ON "Patient" FOR EACH ROW EXECUTE FUNCTION touch();
CREATE VIEW "Admins" AS SELECT "id" FROM "Patient" WHERE "role" = 'ADMIN';
CREATE SEQUENCE invoice_number START 1000;
"""


def drift_after(conn, change, **options):
    conn.execute(SCHEMA)
    expected = catalog_fingerprint(conn)
    conn.execute(change)
    return compare_catalogs(expected, catalog_fingerprint(conn), home="public", schemas=["public"], **options)


ADDED, MISSING = "— not in the migrations", "— in the migrations, not on the target"


@pytest.mark.parametrize(
    ("change", "line"),
    [
        ('CREATE TABLE "Audit" ("id" INT)', f'+ table "Audit" (1 column) {ADDED}'),
        ('DROP TABLE "Visit"', f'- table "Visit" (2 columns, 2 constraints, 1 index, 1 sequence) {MISSING}'),
        (
            'ALTER TABLE "Patient" ADD COLUMN "nickname" VARCHAR(40) DEFAULT \'x\'',
            f"+ column \"Patient\".nickname character varying(40) DEFAULT 'x'::character varying {ADDED}",
        ),
        ('ALTER TABLE "Patient" DROP COLUMN "notes"', f'- column "Patient".notes text {MISSING}'),
        ('ALTER TABLE "Patient" ALTER COLUMN "age" TYPE BIGINT', '~ column "Patient".age: type integer in the migrations, bigint on the target'),
        ('ALTER TABLE "Patient" ALTER COLUMN "email" DROP NOT NULL', '~ column "Patient".email: NOT NULL in the migrations, nullable on the target'),
        (
            'ALTER TABLE "Patient" ALTER COLUMN "role" SET DEFAULT \'ADMIN\'',
            '~ column "Patient".role: default \'USER\'::"Role" in the migrations, \'ADMIN\'::"Role" on the target',
        ),
        ('CREATE INDEX "Patient_age_idx" ON "Patient" ("age")', f'+ index "Patient_age_idx" ON "Patient" (age) {ADDED}'),
        ('DROP INDEX "Patient_email_key"', f'- unique index "Patient_email_key" ON "Patient" (email) {MISSING}'),
        (
            'DROP INDEX "Patient_email_key"; CREATE UNIQUE INDEX "Patient_email_key" ON "Patient" (lower("email"))',
            '~ index "Patient_email_key" ON "Patient": unique index "Patient_email_key" ON "Patient" (email) in the migrations,'
            ' unique index "Patient_email_key" ON "Patient" (lower(email)) on the target',
        ),
        (
            'ALTER TABLE "Patient" DROP CONSTRAINT "age_positive", ADD CONSTRAINT "age_positive" CHECK ("age" >= 0)',
            '~ constraint age_positive ON "Patient": definition CHECK ((age > 0)) in the migrations, CHECK ((age >= 0)) on the target',
        ),
        (
            'ALTER TABLE "Visit" DROP CONSTRAINT "Visit_patientId_fkey"',
            f'- constraint "Visit_patientId_fkey" ON "Visit" FOREIGN KEY ("patientId") REFERENCES "Patient"(id) {MISSING}',
        ),
        ("ALTER TYPE \"Role\" ADD VALUE 'OWNER'", "~ enum \"Role\": value 'OWNER' on the target, not in the migrations"),
        (
            "ALTER TYPE \"Shift\" RENAME VALUE 'NIGHT' TO 'LATE'",
            "~ enum \"Shift\": value 'LATE' on the target, not in the migrations; value 'NIGHT' in the migrations, not on the target",
        ),
        ("CREATE TYPE \"Status\" AS ENUM ('OPEN')", f"+ enum \"Status\" ('OPEN') {ADDED}"),
        ("CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN OLD; END$$", "~ function touch(): its body or settings differ"),
        ("CREATE FUNCTION add_one(a integer) RETURNS integer LANGUAGE sql AS 'SELECT a + 1'", f"+ function add_one(a integer) returns integer {ADDED}"),
        (
            'CREATE OR REPLACE VIEW "Admins" AS SELECT "id", "email" FROM "Patient" WHERE "role" = \'ADMIN\'',
            '~ view "Admins": its query differs (both are in the facts: expected and found)',
        ),
        ('DROP VIEW "Admins"', f'- view "Admins" {MISSING}'),
        ('ALTER TABLE "Patient" DISABLE TRIGGER "Patient_touch"', '~ trigger "Patient_touch" ON "Patient": enabled in the migrations, disabled on the target'),
        (
            'CREATE TRIGGER visit_touch BEFORE UPDATE ON "Visit" FOR EACH ROW EXECUTE FUNCTION touch()',
            f'+ trigger visit_touch BEFORE UPDATE ON "Visit" FOR EACH ROW EXECUTE FUNCTION touch() {ADDED}',
        ),
        ("ALTER SEQUENCE invoice_number INCREMENT BY 10", "~ sequence invoice_number: increment 1 in the migrations, 10 on the target"),
        ("CREATE SEQUENCE ticket_seq", f"+ sequence ticket_seq {ADDED}"),
    ],
    ids=lambda value: value.split(" ")[0] if value.startswith(("+", "-", "~")) else None,
)
def test_each_kind_of_drift_is_found_and_named(conn, change, line):
    drift = drift_after(conn, change)
    assert drift.lines == [line]
    assert drift.drifted


def test_an_index_left_invalid_by_a_failed_concurrent_build(conn):
    conn.execute(SCHEMA)
    expected = catalog_fingerprint(conn)
    conn.execute('DROP INDEX "Patient_email_key"; INSERT INTO "Patient" ("email") VALUES (\'a@b.c\'), (\'a@b.c\')')
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute('CREATE UNIQUE INDEX CONCURRENTLY "Patient_email_key" ON "Patient" ("email")')
    drift = compare_catalogs(expected, catalog_fingerprint(conn), home="public", schemas=["public"])
    assert drift.lines == [
        '~ index "Patient_email_key" ON "Patient": INVALID on the target: a failed CREATE INDEX CONCURRENTLY leaves one behind, and PostgreSQL does not use it'
    ]
    (item,) = drift.items
    assert (item.expected["valid"], item.found["valid"]) == (True, False)


def test_an_extension_is_compared_with_its_version(conn):
    drift = drift_after(conn, "CREATE EXTENSION pg_trgm")
    (line,) = drift.lines
    assert line.startswith("+ extension pg_trgm ") and line.endswith(ADDED)
    assert drift.items[0].to_dict()["found"]["version"] in line


def test_the_same_catalog_has_no_drift_and_data_is_not_drift(conn):
    drift = drift_after(conn, "INSERT INTO \"Patient\" (\"email\") VALUES ('x@y.z'); SELECT nextval('invoice_number')")
    assert drift.items == () and not drift.drifted


def test_ignored_objects_are_set_apart_with_the_pattern_that_matched(conn):
    drift = drift_after(
        conn,
        'CREATE TABLE "pgbouncer_stats" ("n" INT); CREATE INDEX "Patient_age_idx" ON "Patient" ("age"); CREATE SEQUENCE ticket_seq',
        ignore=parse_ignore_rules(["table:pgbouncer_*", "*_idx"]),
    )
    assert drift.lines == [f"+ sequence ticket_seq {ADDED}"]
    assert [(item.name, item.ignored_by) for item in drift.ignored] == [("public.pgbouncer_stats", "table:pgbouncer_*"), ("public.Patient_age_idx", "*_idx")]
    assert drift.to_dict()["ignored"][0]["ignored_by"] == "table:pgbouncer_*"


def test_other_schemas_are_named_with_their_schema_and_compared_only_when_asked(conn):
    conn.execute('CREATE SCHEMA audit; CREATE TABLE audit."Log" ("id" INT)')
    expected = catalog_fingerprint(conn, schemas=None)
    conn.execute('ALTER TABLE audit."Log" ADD COLUMN "at" TIMESTAMPTZ; CREATE TABLE public.stray ("x" INT)')
    live = catalog_fingerprint(conn, schemas=None)
    only_audit = compare_catalogs(expected, live, home="public", schemas=["audit"])
    assert only_audit.lines == [f'+ column audit."Log".at timestamp with time zone {ADDED}']
    assert only_audit.schemas == ("audit",)


def test_the_schemas_the_migrations_touch(conn):
    conn.execute('CREATE SCHEMA audit; CREATE TABLE audit."Log" ("id" INT); CREATE SCHEMA app')
    replay = catalog_fingerprint(conn, schemas=None)
    # public is empty in the replay: the migrations of a target whose schema is app leave it alone.
    assert drift_schemas(replay, "app") == ["app", "audit"]
    conn.execute('CREATE TABLE public."Thing" ("id" INT)')
    assert drift_schemas(catalog_fingerprint(conn, schemas=None), "app") == ["app", "audit", "public"]
    assert drift_schemas(replay, "public") == ["app", "audit", "public"]


def test_a_schema_the_migrations_make_and_the_target_lacks(conn):
    conn.execute('CREATE SCHEMA audit; CREATE TABLE audit."Log" ("id" INT)')
    expected = catalog_fingerprint(conn, schemas=None)
    conn.execute("DROP SCHEMA audit CASCADE")
    drift = compare_catalogs(expected, catalog_fingerprint(conn, schemas=None), home="public", schemas=["audit", "public"])
    assert drift.lines == [f"- schema audit {MISSING}", f'- table audit."Log" (1 column) {MISSING}']
