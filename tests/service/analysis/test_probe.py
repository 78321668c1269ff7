"""The effect probe against real catalogs: none, all, partial, unknown, and the traps in between."""

import psycopg
import pytest

from service.analysis.facts.analyze import analyze_migration
from service.analysis.parsed_shapes import with_table_shapes
from service.analysis.probe import CheckStatus, EffectState, probe_effects
from service.prisma.deploy import deploy
from service.prisma.migrations import read_migrations_directory

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


def probe(conn, script, schema="public"):
    return probe_effects(conn, analyze_migration(script, "m"), schema)


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


def test_identifiers_compare_exactly_as_parsed(conn):
    conn.execute('CREATE TABLE "UserAccount" ("Email" TEXT); CREATE TABLE useraccount (email TEXT)')
    quoted = probe(conn, 'CREATE TABLE "UserAccount" ("Email" TEXT);\nALTER TABLE "UserAccount" ADD COLUMN "Email" TEXT;')
    assert quoted.state is EffectState.ALL
    folded = probe(conn, "CREATE TABLE UserAccount (x INT);\nALTER TABLE UserAccount ADD COLUMN Email TEXT;")
    assert [check.effect.name for check in folded.checks] == ["useraccount", "email"]
    assert folded.state is EffectState.ALL
    wrong_case = probe(conn, 'CREATE TABLE "USERACCOUNT" ("id" INT);\nALTER TABLE "UserAccount" ADD COLUMN "email" TEXT;')
    assert wrong_case.state is EffectState.NONE


def test_unqualified_names_resolve_in_the_targets_schema(scratch_db):
    script = 'CREATE TABLE "Post" ("id" INT);\nCREATE INDEX "Post_id_idx" ON "Post"("id");\n'
    with scratch_db.connect() as admin:
        admin.execute('CREATE SCHEMA "App"')
    with scratch_db.connect(schema="App") as conn:
        conn.execute(script)
        assert probe(conn, script, schema="App").state is EffectState.ALL
        assert probe(conn, script, schema="public").state is EffectState.NONE
        qualified = probe(conn, 'CREATE TABLE "App"."Post" ("id" INT);', schema="public")
    assert qualified.state is EffectState.ALL


def test_drop_and_rename_effects(conn):
    conn.execute(
        'CREATE TABLE "Old" ("id" INT, "legacy" TEXT, "name" TEXT);'
        'CREATE INDEX "Old_name_idx" ON "Old"("name");'
        "CREATE TYPE \"Status\" AS ENUM ('draft', 'live');"
    )
    script = (
        'ALTER TABLE "Old" DROP COLUMN "legacy";\n'
        'DROP INDEX "Old_name_idx";\n'
        'ALTER TABLE "Old" RENAME COLUMN "name" TO "title";\n'
        "ALTER TYPE \"Status\" RENAME VALUE 'live' TO 'published';\n"
        'ALTER TABLE "Old" RENAME TO "New";\n'
    )
    assert probe(conn, script).state is EffectState.NONE
    conn.execute(script)
    result = probe(conn, script)
    assert result.state is EffectState.ALL, result.to_dict()
    conn.execute('ALTER TABLE "New" RENAME TO "Old"')
    assert probe(conn, script).state is EffectState.PARTIAL


def test_later_statements_change_what_earlier_effects_look_like(conn):
    script = (
        'CREATE TABLE "Draft" ("id" INT);\n'
        'ALTER TABLE "Draft" ADD COLUMN "body" TEXT;\n'
        'CREATE INDEX "Draft_body_idx" ON "Draft"("body");\n'
        'ALTER TABLE "Draft" RENAME TO "Article";\n'
        'CREATE TABLE "Scratch" ("id" INT);\n'
        'DROP TABLE "Scratch";\n'
    )
    conn.execute("\n".join(script.splitlines()[:3]))
    stopped_before_rename = probe(conn, script)
    assert stopped_before_rename.state is EffectState.PARTIAL
    assert [check.status for check in stopped_before_rename.checks][:4] == [CheckStatus.DONE] * 3 + [CheckStatus.NOT_DONE]
    assert "later rename" in stopped_before_rename.checks[1].note

    conn.execute("\n".join(script.splitlines()[3:]))
    result = probe(conn, script)
    assert result.state is EffectState.ALL
    by_name = {check.effect.name: check for check in result.checks if check.effect.action == "create"}
    assert by_name["body"].status is CheckStatus.DONE
    assert by_name["Scratch"].status is CheckStatus.UNKNOWN
    assert "dropped later" in by_name["Scratch"].note


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


def test_effects_the_catalog_cannot_show_are_unknown(conn):
    conn.execute('CREATE TABLE "User" ("id" INT)')
    result = probe(conn, 'CREATE INDEX ON "User"("id");\nALTER TABLE "User" OWNER TO CURRENT_USER;\n')
    assert result.state is EffectState.UNKNOWN
    assert {check.status for check in result.checks} == {CheckStatus.UNKNOWN}
    assert not result.fully_probed
    assert "no name" in result.checks[0].note


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


def check_of(result, kind, name, action="create"):
    return next(check for check in result.checks if (check.effect.action, check.effect.kind, check.effect.name) == (action, kind, name))


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


def test_a_sequence_altered_later_is_compared_by_name_only(conn):
    script = 'CREATE SEQUENCE "ticket_seq";\nALTER SEQUENCE "ticket_seq" INCREMENT BY 10;\n'
    conn.execute(script)
    created = check_of(probe(conn, script), "sequence", "ticket_seq")
    assert created.status is CheckStatus.DONE
    assert "changed later in this migration" in created.note


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


def test_a_created_tables_columns_follow_what_the_migration_does_to_the_table_later(conn):
    script = (
        'CREATE TABLE "Draft" ("id" INT NOT NULL, "body" TEXT);\n'
        'ALTER TABLE "Draft" RENAME TO "Article";\n'
        'CREATE TABLE "Scratch" ("x" INT);\n'
        'DROP TABLE "Scratch";\n'
    )
    conn.execute(script)
    result = probe_effects(conn, with_table_shapes(analyze_migration(script, "m")), "public")
    assert result.state is EffectState.ALL
    assert [(check.effect.kind, check.effect.name, check.status) for check in result.checks if check.effect.kind == "column"] == [
        ("column", "id", CheckStatus.DONE),
        ("column", "body", CheckStatus.DONE),
        ("column", "x", CheckStatus.UNKNOWN),
    ]
