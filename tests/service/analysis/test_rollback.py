import pytest

from service.analysis.facts.analyze import analyze_migration
from service.analysis.facts.records import Effect
from service.analysis.parsing import Position
from service.analysis.rollback import LeftOut, derive_inverse, extract_rollback_section, rollback_plan

TABLE_AND_INDEX = 'CREATE TABLE "Visit" ("id" INT);\nCREATE INDEX "Patient_name_idx" ON "Patient" ("name");\n'


@pytest.mark.parametrize(
    "section",
    [
        '-- ROLLBACK SQL (for reference):\n-- DROP INDEX IF EXISTS "Patient_name_idx";\n-- DROP TABLE IF EXISTS "Visit";\n',
        "-- ============================================\n-- === ROLLBACK SQL ===\n-- ============================================\n"
        '-- Note: run during a quiet hour.\n--\n-- DROP INDEX IF EXISTS "Patient_name_idx";\n--\n-- DROP TABLE IF EXISTS "Visit";\n',
        '/*\n * ROLLBACK SQL:\n * DROP INDEX IF EXISTS "Patient_name_idx";\n * DROP TABLE IF EXISTS "Visit";\n */\n',
        '-- Rollback:\n--   DROP INDEX IF EXISTS\n--     "Patient_name_idx";\n--   DROP TABLE IF EXISTS "Visit";\n',
        '-- DOWN\n-- drop index if exists "Patient_name_idx";\n-- drop table if exists "Visit";\n',
    ],
    ids=["for-reference", "banner-with-notes", "block-comment", "multi-line", "down-lowercase"],
)
def test_sections_in_the_banner_styles_people_write(section):
    script = TABLE_AND_INDEX + "\n" + section
    found = extract_rollback_section(script)
    assert found is not None and found.executable and not found.problems
    assert found.line == 4 + next(i for i, line in enumerate(section.splitlines()) if "ROLLBACK" in line.upper() or "DOWN" in line.upper())
    plan = rollback_plan(script)
    assert plan.source == "section"
    assert plan.complete, plan.reasons
    assert [s.split()[0].upper() for s in plan.sql.split(";") if s.strip()] == ["DROP", "DROP"]


def test_prose_notes_are_kept_apart_from_statements():
    found = extract_rollback_section(
        'ALTER TABLE "User" ADD COLUMN "x" INT;\n-- ROLLBACK SQL\n-- Note: this loses the x values.\n-- ALTER TABLE "User" DROP COLUMN "x";\n'
    )
    assert found.prose == ("Note: this loses the x values.",)
    assert found.sql == 'ALTER TABLE "User" DROP COLUMN "x";'


def test_prose_only_hint_is_not_executable_and_falls_back_to_the_derived_inverse():
    script = 'CREATE INDEX "a_idx" ON "A" ("x");\n-- Rollback: drop the new indexes\n'
    section = extract_rollback_section(script)
    assert section.prose == ("drop the new indexes",) and not section.executable
    plan = rollback_plan(script)
    assert plan.source == "derived" and plan.sql == 'DROP INDEX IF EXISTS "a_idx";'
    assert "prose, not SQL: drop the new indexes" in plan.reasons[0].message


@pytest.mark.parametrize(
    "hint",
    [
        "-- Rollback: DROP the new unique indexes …\n",
        "-- ROLLBACK SQL\n-- DROP the new unique indexes and restore the old ones\n",
        "-- ROLLBACK SQL\n-- DROP: both new indexes\n",
        "-- ROLLBACK SQL\n-- DROP INDEX by hand.\n",
    ],
    ids=["banner-sentence", "sentence-line", "label", "sentence-end"],
)
def test_a_sentence_that_starts_with_an_upper_case_keyword_is_prose_not_broken_sql(hint):
    script = 'CREATE UNIQUE INDEX "a_key" ON "A" ("x");\n' + hint
    section = extract_rollback_section(script)
    assert not section.executable and not section.problems and len(section.prose) == 1
    assert rollback_plan(script).sql == 'DROP INDEX IF EXISTS "a_key";'


def test_a_statement_whose_first_line_does_not_parse_alone_is_still_sql():
    section = extract_rollback_section('CREATE TABLE "C" (id int);\n-- ROLLBACK SQL\n-- UPDATE "C" SET "note" = \'the new value\'\n--   WHERE "id" = 1;\n')
    assert section.sql == 'UPDATE "C" SET "note" = \'the new value\'\nWHERE "id" = 1;' and not section.problems and not section.prose


def test_section_that_does_not_parse_reports_where():
    script = 'CREATE TABLE "C" (id int);\n-- ROLLBACK SQL\n-- DROP TABEL "C";\n'
    section = extract_rollback_section(script)
    assert section.problems[0].position == Position(3, 9)
    plan = rollback_plan(script)
    assert plan.source == "section" and not plan.complete
    assert "does not parse" in plan.reasons[0].message


def test_section_that_misses_an_object_is_incomplete():
    plan = rollback_plan(TABLE_AND_INDEX + '-- ROLLBACK SQL\n-- DROP TABLE "Visit";\n')
    assert not plan.complete
    assert [r.message for r in plan.reasons] == ["the rollback section does not undo index Patient.Patient_name_idx"]


def test_the_last_section_wins_and_sql_after_it_ends_it():
    script = "-- rollback: old notes\nCREATE TABLE a (id int);\n-- ROLLBACK SQL\n-- DROP TABLE a;\nSELECT 1;\n-- trailing comment\n"
    section = extract_rollback_section(script)
    assert section.line == 3 and section.sql == "DROP TABLE a;"


def test_no_section():
    assert extract_rollback_section('CREATE TABLE "A" (id int); -- a comment\n') is None
    assert extract_rollback_section("SELECT 'unterminated") is None


def test_derived_inverse_in_reverse_order():
    facts = analyze_migration(
        "CREATE TYPE \"Mood\" AS ENUM ('ok');\n"
        'CREATE TABLE "Note" ("id" INT, "mood" "Mood");\n'
        'CREATE INDEX "Note_mood_idx" ON "Note" ("mood");\n'
        'ALTER TABLE "Patient" ADD COLUMN "noteId" INT;\n'
        'ALTER TABLE "Patient" ADD CONSTRAINT "Patient_noteId_fkey" FOREIGN KEY ("noteId") REFERENCES "Note"("id");\n'
        'ALTER TABLE "Patient" RENAME COLUMN "nm" TO "name";\n'
        'ALTER TABLE "Patient" ALTER COLUMN "name" SET NOT NULL;\n'
    )
    plan = derive_inverse(facts)
    assert plan.complete, plan.reasons
    assert plan.sql.splitlines() == [
        'ALTER TABLE "Patient" ALTER COLUMN "name" DROP NOT NULL;',
        'ALTER TABLE "Patient" RENAME COLUMN "name" TO "nm";',
        'ALTER TABLE "Patient" DROP CONSTRAINT IF EXISTS "Patient_noteId_fkey";',
        'ALTER TABLE "Patient" DROP COLUMN IF EXISTS "noteId";',
        'DROP TABLE IF EXISTS "Note";',
        'DROP TYPE IF EXISTS "Mood";',
    ]


@pytest.mark.parametrize(
    "sql, reason",
    [
        ('DROP TABLE "Old";', "dropping table Old"),
        ('ALTER TABLE "A" ALTER COLUMN "b" TYPE TEXT;', "changing the type"),
        ("ALTER TYPE \"Role\" ADD VALUE 'X';", "cannot be dropped"),
        ('UPDATE "A" SET "b" = 1;', "UPDATE on A"),
    ],
)
def test_derived_inverse_is_incomplete_for_irreversible_steps(sql, reason):
    plan = derive_inverse(analyze_migration('CREATE TABLE "New" (id int);\n' + sql))
    assert not plan.complete
    assert 'DROP TABLE IF EXISTS "New";' in plan.sql
    assert any(reason in r.message for r in plan.reasons)


def test_derived_inverse_in_a_named_schema_quotes_identifiers():
    plan = derive_inverse(analyze_migration('CREATE TABLE "Billing"."In""voice" (id int);'))
    assert plan.sql == 'DROP TABLE IF EXISTS "Billing"."In""voice";'


def leave_out_table(name, certain=True):
    """A caller's word: the migration did not make the table `name`."""

    def leave_out(item):
        if isinstance(item, Effect) and item.kind == "table" and item.name == name:
            return LeftOut(f"table {name} existed before", certain)
        return None

    return leave_out


def test_derived_inverse_leaves_out_what_the_migration_did_not_make_and_says_why():
    facts = analyze_migration('CREATE TABLE "Visit" (id int);\nCREATE TABLE "Patient" (id int);\n')
    plan = derive_inverse(facts, leave_out_table("Patient"))
    assert (plan.sql, plan.complete, plan.reasons) == ('DROP TABLE IF EXISTS "Visit";', True, ())
    assert [note.to_dict() for note in plan.notes] == [{"message": "table Patient existed before", "line": 2}]
    assert plan.to_dict()["left_out"] == [{"message": "table Patient existed before", "line": 2}]

    unsure = derive_inverse(facts, leave_out_table("Patient", certain=False))
    assert unsure.sql == 'DROP TABLE IF EXISTS "Visit";' and not unsure.complete
    assert [reason.message for reason in unsure.reasons] == ["table Patient existed before"]


def test_irreversible_steps_the_migration_did_not_take_leave_the_plan_complete():
    facts = analyze_migration('CREATE TABLE "Visit" (id int);\nDROP TABLE "Old";\n')
    assert not derive_inverse(facts).complete

    def not_run(item):
        return LeftOut("never ran") if item.statement == 1 else None

    assert derive_inverse(facts, not_run).complete


def test_a_section_is_not_asked_to_undo_what_the_migration_did_not_make():
    script = TABLE_AND_INDEX.replace('"Visit"', '"Patient"', 1) + '-- ROLLBACK SQL\n-- DROP INDEX IF EXISTS "Patient_name_idx";\n'
    assert not rollback_plan(script).complete
    plan = rollback_plan(script, leave_out=leave_out_table("Patient"))
    assert plan.source == "section" and plan.complete
    assert plan.notes[0].message == "table Patient existed before"
