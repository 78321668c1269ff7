"""Each kind of object checked against a real catalog, and compared with the statement that creates it."""

import psycopg
import pytest

from service.analysis.facts.analyze import analyze_migration
from service.analysis.parsed_shapes import with_table_shapes
from service.analysis.probe import CheckStatus, EffectState, probe_effects
from tests.service.analysis.probe_helpers import check_of, probe


def test_column_alterations(conn):
    conn.execute('CREATE TYPE "Tag" AS ENUM (\'new\', \'old\');CREATE TABLE "Item" ("price" INTEGER, "label" TEXT, "code" TEXT DEFAULT \'x\', "tags" TEXT[])')
    script = (
        'ALTER TABLE "Item" ALTER COLUMN "price" SET DATA TYPE NUMERIC(10,2),\n'
        '    ALTER COLUMN "tags" TYPE "Tag"[] USING "tags"::"Tag"[],\n'
        '    ALTER COLUMN "label" SET NOT NULL,\n'
        "    ALTER COLUMN \"label\" SET DEFAULT 'none',\n"
        '    ALTER COLUMN "code" DROP DEFAULT;\n'
    )
    assert probe(conn, script).state is EffectState.NONE
    conn.execute(script)
    assert probe(conn, script).state is EffectState.ALL
    other_precision = probe(conn, 'ALTER TABLE "Item" ALTER COLUMN "price" TYPE NUMERIC(12,2);')
    (check,) = other_precision.checks
    assert check.status is CheckStatus.NOT_DONE and "numeric(10,2)" in check.note


def test_enum_values_functions_and_other_objects(conn):
    conn.execute("CREATE TYPE \"Role\" AS ENUM ('USER')")
    script = (
        "ALTER TYPE \"Role\" ADD VALUE 'ADMIN';\n"
        'CREATE SEQUENCE "ticket_seq";\n'
        'CREATE VIEW "Roles" AS SELECT 1 AS one;\n'
        'CREATE MATERIALIZED VIEW "RoleCounts" AS SELECT 1 AS one;\n'
        "CREATE FUNCTION \"touch\"(a integer, b text[]) RETURNS integer LANGUAGE sql AS 'SELECT 1';\n"
        'CREATE SCHEMA "audit";\n'
        'CREATE DOMAIN "positive" AS integer CHECK (VALUE > 0);\n'
        "CREATE EXTENSION IF NOT EXISTS pg_trgm;\n"
    )
    assert probe(conn, script).state is EffectState.NONE
    conn.execute(script)
    result = probe(conn, script)
    assert result.state is EffectState.ALL, result.to_dict()
    assert result.fully_probed
    other_overload = probe(conn, "CREATE FUNCTION \"touch\"(a bigint) RETURNS integer LANGUAGE sql AS 'SELECT 1';")
    assert other_overload.checks[0].status is CheckStatus.NOT_DONE
    assert "(integer, text[])" in other_overload.checks[0].note


def test_constraints_triggers_and_policies_on_their_table(conn):
    conn.execute(
        'CREATE TABLE "Account" ("id" INT PRIMARY KEY, "owner" INT);CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS \'BEGIN RETURN NEW; END\';'
    )
    script = (
        'ALTER TABLE "Account" ADD CONSTRAINT "Account_owner_check" CHECK ("owner" > 0) NOT VALID;\n'
        'CREATE TRIGGER "Account_stamp" BEFORE INSERT ON "Account" FOR EACH ROW EXECUTE FUNCTION stamp();\n'
        'ALTER TABLE "Account" ENABLE ROW LEVEL SECURITY;\n'
        'CREATE POLICY "Account_owner" ON "Account" USING ("owner" = 1);\n'
    )
    conn.execute(script)
    assert probe(conn, script).state is EffectState.ALL
    validate = 'ALTER TABLE "Account" VALIDATE CONSTRAINT "Account_owner_check";'
    assert probe(conn, validate).state is EffectState.NONE
    conn.execute(validate)
    assert probe(conn, validate).state is EffectState.ALL


def test_an_index_a_concurrent_drop_left_half_way_is_invalid_not_just_present(conn, scratch_db):
    conn.execute('CREATE TABLE "Order" ("id" INT, "patientId" INT); CREATE INDEX "Order_patientId_idx" ON "Order"("patientId")')
    script = 'DROP INDEX CONCURRENTLY IF EXISTS "Order_patientId_idx";'
    reader = psycopg.connect(scratch_db.conninfo)
    reader.execute('SELECT * FROM "Order"')  # an open transaction the drop waits for
    try:
        conn.execute("SET lock_timeout = 200")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            conn.execute(script)
    finally:
        reader.rollback()
        reader.close()
    result = probe(conn, script)
    assert [check.status for check in result.checks] == [CheckStatus.INVALID]
    assert result.invalid_indexes == ("public.Order_patientId_idx",)
    assert "a concurrent drop stopped half way" in result.checks[0].note


COUPON_PARTNER_CODES = (
    'ALTER TABLE "Coupon" ADD COLUMN IF NOT EXISTS "partnerCode" TEXT;\n'
    "DO $$\nBEGIN\n"
    '    ALTER TABLE "Coupon" ADD CONSTRAINT "Coupon_partnerCode_code_key" UNIQUE ("partnerCode", "code");\n'
    "EXCEPTION\n    WHEN duplicate_object THEN null;\nEND $$;\n"
)


def test_a_constraint_added_inside_a_do_block_is_compared_with_the_statement_there(conn):
    conn.execute('CREATE TABLE "Coupon" ("code" TEXT)')
    conn.execute('ALTER TABLE "Coupon" ADD CONSTRAINT "Coupon_partnerCode_code_key" CHECK (true)')
    conn.execute(COUPON_PARTNER_CODES)  # the handler swallows the duplicate: the file "succeeds"
    met_another = check_of(probe(conn, COUPON_PARTNER_CODES), "constraint", "Coupon_partnerCode_code_key")
    assert met_another.status is CheckStatus.OTHER_SHAPE and met_another.present is False
    assert "not the constraint the migration adds: CHECK (true)" in met_another.note

    conn.execute('ALTER TABLE "Coupon" DROP CONSTRAINT "Coupon_partnerCode_code_key"')
    conn.execute(COUPON_PARTNER_CODES)
    result = probe(conn, COUPON_PARTNER_CODES)
    assert result.state is EffectState.ALL
    assert check_of(result, "constraint", "Coupon_partnerCode_code_key").note == ""


PATIENT_MRN_SEQUENCE = 'CREATE SEQUENCE IF NOT EXISTS "patient_mrn_seq" START WITH 100000;\n'


def test_a_sequence_is_compared_by_the_options_its_statement_gives_it(conn):
    conn.execute('CREATE SEQUENCE "patient_mrn_seq" START WITH 7 INCREMENT BY 3')
    conn.execute(PATIENT_MRN_SEQUENCE)  # IF NOT EXISTS skips it
    (met_another,) = probe(conn, PATIENT_MRN_SEQUENCE).checks
    assert met_another.status is CheckStatus.OTHER_SHAPE and met_another.present is False
    assert met_another.note == ("sequence public.patient_mrn_seq exists but is not the sequence the migration creates: start 7, not 100000; increment 3, not 1")

    conn.execute('DROP SEQUENCE "patient_mrn_seq"')
    conn.execute(PATIENT_MRN_SEQUENCE)
    conn.execute("SELECT nextval('patient_mrn_seq')")  # using it changes no option
    assert probe(conn, PATIENT_MRN_SEQUENCE).checks[0].status is CheckStatus.DONE


PAYMENT_REFERENCE = 'ALTER TABLE "Order" ADD COLUMN IF NOT EXISTS "paymentReference" TEXT;\n'


def test_an_added_column_is_compared_by_its_type(conn):
    conn.execute('CREATE TABLE "Order" ("id" TEXT, "paymentReference" INTEGER)')
    conn.execute(PAYMENT_REFERENCE)  # IF NOT EXISTS skips it
    (met_another,) = probe(conn, PAYMENT_REFERENCE).checks
    assert met_another.status is CheckStatus.OTHER_SHAPE and met_another.present is False
    assert met_another.note == "column paymentReference on public.Order has type integer, not text, so it is not the column the migration adds"

    conn.execute('ALTER TABLE "Order" DROP COLUMN "paymentReference"')
    conn.execute(PAYMENT_REFERENCE)
    assert probe(conn, PAYMENT_REFERENCE).state is EffectState.ALL


@pytest.mark.parametrize(
    "existing, added, differs",
    [
        ('"flag" BOOLEAN', '"flag" BOOLEAN NOT NULL DEFAULT false', "is nullable"),
        ('"flag" BOOLEAN NOT NULL', '"flag" BOOLEAN NOT NULL DEFAULT false', "has no default"),
        ('"id" TEXT', '"id" SERIAL PRIMARY KEY', "has type text, not integer"),
        ('"code" VARCHAR(10)', '"code" VARCHAR(20)', "has type character varying(10), not varchar(20)"),
    ],
)
def test_an_added_column_of_another_shape(conn, existing, added, differs):
    conn.execute(f'CREATE TABLE "Item" ("sku" TEXT, {existing})')
    script = f'ALTER TABLE "Item" ADD COLUMN IF NOT EXISTS {added};'
    (check,) = probe(conn, script).checks
    assert check.status is CheckStatus.OTHER_SHAPE
    assert differs in check.note


def test_what_postgresql_made_of_an_added_column_is_its_shape(conn):
    conn.execute('CREATE TYPE "Status" AS ENUM (\'NEW\', \'OLD\'); CREATE TABLE "Item" ("sku" TEXT)')
    script = (
        'ALTER TABLE "Item" ADD COLUMN "id" SERIAL PRIMARY KEY,\n'
        '    ADD COLUMN "status" "Status" NOT NULL DEFAULT \'NEW\',\n'
        '    ADD COLUMN "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,\n'
        '    ADD COLUMN "note" TEXT DEFAULT NULL,\n'
        '    ADD COLUMN "tags" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],\n'
        '    ADD COLUMN "price" DOUBLE PRECISION DEFAULT 0,\n'
        "    ADD COLUMN \"label\" TEXT DEFAULT 'a' || 'b';\n"
        'ALTER TABLE "Item" ADD COLUMN "legacy" INTEGER DEFAULT 1;\n'
        'ALTER TABLE "Item" ALTER COLUMN "legacy" TYPE BIGINT, ALTER COLUMN "legacy" DROP DEFAULT;\n'
    )
    conn.execute(script)
    result = probe(conn, script)
    assert result.state is EffectState.ALL, result.to_dict()
    assert {check.status for check in result.checks} == {CheckStatus.DONE}
    # A default PostgreSQL prints otherwise is not compared, and says so; it is no difference.
    assert "compared as far as the SQL allows" in check_of(result, "column", "label").note


def test_a_created_tables_column_of_another_type_is_another_shape(conn):
    conn.execute('CREATE TABLE IF NOT EXISTS "Audit" ("id" TEXT, "at" TIMESTAMP(3))')
    script = 'CREATE TABLE IF NOT EXISTS "Audit" ("id" INTEGER NOT NULL, "at" TIMESTAMP(3));'
    result = probe_effects(conn, with_table_shapes(analyze_migration(script, "m")), "public")
    assert [(check.effect.kind, check.effect.name, check.status) for check in result.checks] == [
        ("table", "Audit", CheckStatus.DONE),
        ("column", "id", CheckStatus.OTHER_SHAPE),
        ("column", "at", CheckStatus.DONE),
    ]
    assert "has type text, not integer" in result.checks[1].note and "is nullable" in result.checks[1].note
