"""All facts about a migration, gathered over its statements (service/analysis/facts/analyze.py)."""

from service.analysis.facts.analyze import analyze_migration
from tests.service.analysis.facts.helpers import effects_of


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


def test_unparsable_file_has_no_facts_but_its_problem():
    facts = analyze_migration("CREATE TABEL x (id int);")
    assert not facts.parses and not facts.transactional and not facts.idempotent and not facts.reversible
    assert facts.problems[0].position.line == 1
    assert facts.to_dict()["problems"][0]["column"] == 8


def test_drop_if_exists_before_create_guards_the_create():
    facts = analyze_migration('DROP VIEW IF EXISTS "V";\nCREATE VIEW "V" AS SELECT 1;')
    assert facts.idempotent
    assert analyze_migration('CREATE VIEW "V" AS SELECT 1;\nDROP VIEW IF EXISTS "W";').idempotent is False


def test_data_written_only_into_what_the_file_creates_is_reversible():
    facts = analyze_migration(
        'ALTER TABLE "Patient" ADD COLUMN "mrn" TEXT;\nUPDATE "Patient" SET "mrn" = \'x\' WHERE "mrn" IS NULL;\n'
        'CREATE TABLE "Code" ("id" INT);\nINSERT INTO "Code" VALUES (1);'
    )
    assert facts.reversible, facts.irreversible
    assert not analyze_migration('UPDATE "Patient" SET "name" = \'x\';').reversible
