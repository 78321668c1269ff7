import pytest

from service.analysis.facts.analyze import analyze_migration


def test_prisma_generated_migration():
    facts = analyze_migration(
        """-- CreateEnum
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

-- AddForeignKey
ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
"""
    )
    assert facts.parses and facts.transactional and facts.reversible
    assert not facts.idempotent
    assert {r.line for r in facts.unguarded} == {2, 5, 13, 16}
    assert effects_of(facts) == {
        ("create", "type", None, "Role"),
        ("create", "table", None, "User"),
        ("create", "index", "User", "User_email_key"),
        ("create", "constraint", "Post", "Post_authorId_fkey"),
    }
    assert facts.effects[0].labels == ("USER", "ADMIN")


def effects_of(facts):
    return {(e.action, e.kind, e.parent, e.name) for e in facts.effects}


def test_guarded_migration_is_idempotent():
    facts = analyze_migration(
        """CREATE TABLE IF NOT EXISTS "Audit" ("id" INT);
ALTER TABLE "User" ADD COLUMN IF NOT EXISTS "phone" TEXT;
CREATE INDEX IF NOT EXISTS "User_phone_idx" ON "User"("phone");
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'Status') THEN
    CREATE TYPE "Status" AS ENUM ('OPEN');
  END IF;
END $$;
DO $$ BEGIN
  ALTER TABLE "Audit" ADD CONSTRAINT "Audit_pkey" PRIMARY KEY ("id");
EXCEPTION WHEN duplicate_object OR invalid_table_definition THEN NULL;
END $$;
ALTER TYPE "Status" ADD VALUE IF NOT EXISTS 'CLOSED';
CREATE OR REPLACE VIEW "OpenAudits" AS SELECT 1;
UPDATE "User" SET "phone" = '' WHERE "phone" IS NULL;
INSERT INTO "Audit" ("id") VALUES (1) ON CONFLICT DO NOTHING;
DROP TABLE IF EXISTS "Legacy";
"""
    )
    assert facts.idempotent, facts.unguarded
    assert all(e.guarded for e in facts.effects)
    assert [d.guarded for d in facts.data_changes] == [True, True]


@pytest.mark.parametrize(
    "sql, reason",
    [
        ("BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\nCREATE TABLE b (id int);", "COMMIT commits the statements before it"),
        ('CREATE INDEX CONCURRENTLY "i" ON "User" ("a");', "INVALID index"),
        ('DROP INDEX CONCURRENTLY "i";', "DROP INDEX CONCURRENTLY"),
        ("VACUUM ANALYZE a;", "VACUUM"),
    ],
)
def test_not_transactional(sql, reason):
    facts = analyze_migration(sql)
    assert not facts.transactional
    assert any(reason in r.message for r in facts.not_transactional_because)


def test_a_file_wrapped_in_begin_and_commit_fails_as_a_whole():
    facts = analyze_migration("BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;")
    assert facts.transactional and facts.fails_because == ()


@pytest.mark.parametrize(
    "sql, reason",
    [
        ('ALTER TYPE "Role" ADD VALUE \'OWNER\';\nUPDATE "User" SET "role" = \'OWNER\' WHERE id = 1;', "55P04"),
        ("DO $$ BEGIN ALTER TYPE \"Role\" ADD VALUE 'OWNER'; END $$;\nINSERT INTO \"User\" (role) VALUES ('OWNER');", "same transaction"),
        ('CREATE TABLE t (id int);\nCREATE INDEX CONCURRENTLY "i" ON t (id);', "25001"),
        ("BEGIN;\nCREATE TABLE a (id int);", "BEGIN without COMMIT"),
    ],
)
def test_files_postgresql_refuses_whatever_the_data(sql, reason):
    facts = analyze_migration(sql)
    # They fail as a whole, so a failure leaves nothing behind: still transactional.
    assert facts.transactional
    assert any(reason in r.message for r in facts.fails_because), facts.fails_because


def test_enum_value_used_after_a_commit_is_fine():
    facts = analyze_migration('ALTER TYPE "Role" ADD VALUE \'OWNER\';\nCOMMIT;\nUPDATE "User" SET "role" = \'OWNER\';')
    assert not any("55P04" in r.message for r in facts.fails_because)


def test_enum_value_not_used_keeps_the_file_transactional():
    assert analyze_migration("ALTER TYPE \"Role\" ADD VALUE 'OWNER';").transactional


@pytest.mark.parametrize(
    "sql, expected",
    [
        ('ALTER TABLE "User" DROP COLUMN "email";', "loses its data"),
        ('ALTER TABLE "User" ALTER COLUMN "age" TYPE BIGINT;', "changing the type"),
        ("ALTER TYPE \"Role\" ADD VALUE 'X';", "cannot be dropped"),
        ('UPDATE "User" SET "name" = upper("name");', "UPDATE on User"),
        ('DROP TABLE "Session";', "dropping table Session"),
        ('TRUNCATE "Session";', "TRUNCATE"),
        ('ALTER TABLE "User" ALTER COLUMN "a" SET DEFAULT 1;', "previous default"),
        ('ALTER TABLE "User" ADD CHECK ("a" > 0);', "has no name"),
    ],
)
def test_irreversible_steps_have_reasons(sql, expected):
    facts = analyze_migration(sql)
    assert not facts.reversible
    assert any(expected in r.message for r in facts.irreversible), facts.irreversible


def test_renames_and_not_null_are_reversible():
    facts = analyze_migration(
        'ALTER TABLE "User" RENAME COLUMN "name" TO "fullName";\nALTER TABLE "User" ALTER COLUMN "fullName" SET NOT NULL;\nALTER INDEX "a" RENAME TO "b";'
    )
    assert facts.reversible
    assert effects_of(facts) == {
        ("rename", "column", "User", "name"),
        ("alter", "column", "User", "fullName"),
        ("rename", "index", None, "a"),
    }


def test_schema_qualified_and_quoted_names_are_kept_exactly():
    facts = analyze_migration('CREATE TABLE "Billing"."Invoice" (id int); CREATE INDEX ix ON billing.invoice (id);')
    table, index = facts.effects
    assert (table.schema, table.name) == ("Billing", "Invoice")
    assert (index.schema, index.parent, index.name) == ("billing", "invoice", "ix")


def test_update_idempotency():
    assert analyze_migration('UPDATE "User" SET "tier" = \'free\' WHERE "tier" IS NULL;').idempotent
    assert analyze_migration('UPDATE "User" SET "tier" = \'free\' WHERE "id" = 1;').idempotent
    assert not analyze_migration('UPDATE "User" SET "visits" = "visits" + 1;').idempotent
    assert not analyze_migration('UPDATE "User" SET "seenAt" = now();').idempotent
    assert not analyze_migration("INSERT INTO \"Plan\" (name) VALUES ('pro');").idempotent


def test_unparsable_file_has_no_facts_but_its_problem():
    facts = analyze_migration("CREATE TABEL x (id int);")
    assert not facts.parses and not facts.transactional and not facts.idempotent and not facts.reversible
    assert facts.problems[0].position.line == 1
    assert facts.to_dict()["problems"][0]["column"] == 8


def test_functions_triggers_and_views_are_effects():
    facts = analyze_migration(
        "CREATE OR REPLACE FUNCTION touch(a int, b text) RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\n"
        'CREATE TRIGGER "User_touch" BEFORE UPDATE ON "User" FOR EACH ROW EXECUTE FUNCTION touch();\n'
        'CREATE MATERIALIZED VIEW "Stats" AS SELECT 1;'
    )
    kinds = {(e.kind, e.name): e for e in facts.effects}
    assert kinds[("function", "touch")].detail == "(integer, text)"
    assert kinds[("trigger", "User_touch")].parent == "User"
    assert ("materialized_view", "Stats") in kinds


def test_a_handler_guards_only_what_it_catches():
    unique = 'DO $$ BEGIN ALTER TABLE "C" ADD CONSTRAINT "C_code_key" UNIQUE ("code"); EXCEPTION WHEN {} THEN NULL; END $$;'
    assert not analyze_migration(unique.format("duplicate_object")).idempotent
    assert analyze_migration(unique.format("duplicate_table")).idempotent
    assert analyze_migration(unique.format("others")).idempotent
    foreign_key = 'DO $$ BEGIN ALTER TABLE "C" ADD CONSTRAINT "C_fk" FOREIGN KEY ("x") REFERENCES "D"("id"); EXCEPTION WHEN duplicate_object THEN NULL; END $$;'
    assert analyze_migration(foreign_key).idempotent


def test_self_referencing_updates_and_upserts_are_not_guarded():
    assert not analyze_migration('UPDATE "P" SET "price" = "price" * 100 WHERE "price" IS NOT NULL;').idempotent
    upsert = 'INSERT INTO "S" ("id", "qty") VALUES (1, 5) ON CONFLICT ("id") DO UPDATE SET "qty" = {};'
    assert not analyze_migration(upsert.format('"S"."qty" + EXCLUDED."qty"')).idempotent
    assert analyze_migration(upsert.format('EXCLUDED."qty"')).idempotent


def test_drop_if_exists_before_create_guards_the_create():
    facts = analyze_migration('DROP VIEW IF EXISTS "V";\nCREATE VIEW "V" AS SELECT 1;')
    assert facts.idempotent
    assert analyze_migration('CREATE VIEW "V" AS SELECT 1;\nDROP VIEW IF EXISTS "W";').idempotent is False


def test_sql_built_at_run_time_is_opaque():
    facts = analyze_migration(
        "DO $$ DECLARE t text; BEGIN FOREACH t IN ARRAY ARRAY['A'] LOOP EXECUTE format('ALTER TABLE %I ADD COLUMN x int', t); END LOOP; END $$;"
    )
    assert not facts.idempotent and not facts.reversible
    assert [(e.kind, e.name) for e in facts.effects] == [("other", "dynamic SQL")]


def test_data_written_only_into_what_the_file_creates_is_reversible():
    facts = analyze_migration(
        'ALTER TABLE "Patient" ADD COLUMN "mrn" TEXT;\nUPDATE "Patient" SET "mrn" = \'x\' WHERE "mrn" IS NULL;\n'
        'CREATE TABLE "Code" ("id" INT);\nINSERT INTO "Code" VALUES (1);'
    )
    assert facts.reversible, facts.irreversible
    assert not analyze_migration('UPDATE "Patient" SET "name" = \'x\';').reversible


def test_alter_sequence_names_the_sequence_it_changes():
    facts = analyze_migration('CREATE SEQUENCE "ticket_seq";\nALTER SEQUENCE IF EXISTS "ticket_seq" INCREMENT BY 10 RESTART;\n')
    altered = facts.effects[1]
    assert (altered.action, altered.kind, altered.name, altered.detail, altered.guarded) == ("alter", "sequence", "ticket_seq", "INCREMENT RESTART", True)
    # Its options before are not in the file, so no derived rollback can put them back.
    assert not facts.reversible and "previous options of sequence ticket_seq" in facts.irreversible[0].message
