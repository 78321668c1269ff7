"""What the probe expects of each effect: names as parsed, the target's schema, drops and renames, and what later statements of the migration change."""

from service.analysis.facts.analyze import analyze_migration
from service.analysis.parsed_shapes import with_table_shapes
from service.analysis.probe import CheckStatus, EffectState, probe_effects
from tests.service.analysis.probe_helpers import check_of, probe


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


def test_effects_the_catalog_cannot_show_are_unknown(conn):
    conn.execute('CREATE TABLE "User" ("id" INT)')
    result = probe(conn, 'CREATE INDEX ON "User"("id");\nALTER TABLE "User" OWNER TO CURRENT_USER;\n')
    assert result.state is EffectState.UNKNOWN
    assert {check.status for check in result.checks} == {CheckStatus.UNKNOWN}
    assert not result.fully_probed
    assert "no name" in result.checks[0].note


def test_a_sequence_altered_later_is_compared_by_name_only(conn):
    script = 'CREATE SEQUENCE "ticket_seq";\nALTER SEQUENCE "ticket_seq" INCREMENT BY 10;\n'
    conn.execute(script)
    created = check_of(probe(conn, script), "sequence", "ticket_seq")
    assert created.status is CheckStatus.DONE
    assert "changed later in this migration" in created.note


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
