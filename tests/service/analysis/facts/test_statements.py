"""What one statement does (service/analysis/facts/statements.py), seen through analyze_migration."""

import pytest

from service.analysis.facts.analyze import analyze_migration
from tests.service.analysis.facts.helpers import effects_of


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


def test_sql_built_at_run_time_is_opaque():
    facts = analyze_migration(
        "DO $$ DECLARE t text; BEGIN FOREACH t IN ARRAY ARRAY['A'] LOOP EXECUTE format('ALTER TABLE %I ADD COLUMN x int', t); END LOOP; END $$;"
    )
    assert not facts.idempotent and not facts.reversible
    assert [(e.kind, e.name) for e in facts.effects] == [("other", "dynamic SQL")]


def test_alter_sequence_names_the_sequence_it_changes():
    facts = analyze_migration('CREATE SEQUENCE "ticket_seq";\nALTER SEQUENCE IF EXISTS "ticket_seq" INCREMENT BY 10 RESTART;\n')
    altered = facts.effects[1]
    assert (altered.action, altered.kind, altered.name, altered.detail, altered.guarded) == ("alter", "sequence", "ticket_seq", "INCREMENT RESTART", True)
    # Its options before are not in the file, so no derived rollback can put them back.
    assert not facts.reversible and "previous options of sequence ticket_seq" in facts.irreversible[0].message
