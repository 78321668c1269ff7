from pglast import ast

from tests.service.analysis.lint.helpers import context_for

SCRIPT = (
    'CREATE TABLE "public"."Visit" (id int);\n'
    'DO $$\nBEGIN\n  CREATE INDEX IF NOT EXISTS "v_idx" ON "Visit" (id);\n  DROP INDEX IF EXISTS "old_idx";\nEND\n$$;\n'
    'CREATE INDEX "old_idx" ON "Visit" (id);\n'
)


def test_nested_statements_belong_to_their_do_block_and_keep_file_order():
    context = context_for(SCRIPT)
    assert [context.top_index(s) for s in context.all_statements] == [0, 1, 1, 1, 2]
    orders = [context.order(s) for s in context.all_statements]
    assert orders == sorted(orders)
    assert [(s.kind, type(node)) for s, node in context.of_type(ast.IndexStmt)] == [("IndexStmt", ast.IndexStmt)] * 2


def test_objects_created_or_dropped_earlier_are_known_by_kind_name_and_order():
    context = context_for(SCRIPT)
    first, _do_block, inner_index, _inner_drop, last = context.all_statements
    assert context.is_new_table(ast.RangeVar(relname="Visit"), inner_index)
    assert context.is_new_table(ast.RangeVar(relname="Visit", schemaname="public"), last)
    assert not context.is_new_table(ast.RangeVar(relname="Visit", schemaname="audit"), last)
    assert not context.is_new_table(ast.RangeVar(relname="Visit"), first)
    assert context.created_earlier("index", "v_idx", last) and not context.created_earlier("index", "v_idx", inner_index)
    assert context.dropped_earlier_if_exists("index", "old_idx", last)
    assert not context.dropped_earlier_if_exists("index", "old_idx", inner_index)


def test_a_single_statement_runs_alone_and_the_rollback_section_is_read_once():
    context = context_for('CREATE INDEX CONCURRENTLY "i" ON "A" (x);\n-- ROLLBACK SQL:\n-- DROP INDEX CONCURRENTLY "i";\n')
    assert context.runs_outside_transactions(context.statements[0])
    assert context.rollback_section.line == 2 and context.rollback_section.executable
    assert context.rollback_section is context.rollback_section
    two = context_for("SELECT 1; SELECT 2;")
    assert not any(two.runs_outside_transactions(statement) for statement in two.statements)


def test_a_table_truncated_earlier_is_empty_but_not_new():
    context = context_for('ALTER TABLE "Cache" ADD COLUMN "a" int;\nTRUNCATE "public"."Cache";\nALTER TABLE "Cache" ADD COLUMN "b" int;')
    before, truncate, after = context.statements
    cache = ast.RangeVar(relname="Cache")
    assert not context.is_empty_table(cache, before) and not context.is_empty_table(cache, truncate)
    assert context.is_empty_table(cache, after) and not context.is_new_table(cache, after)
    assert not context.is_empty_table(ast.RangeVar(relname="Other"), after)


def test_a_materialized_view_created_earlier_is_new():
    context = context_for('CREATE MATERIALIZED VIEW "Totals" AS SELECT 1 AS n WITH NO DATA;\nCREATE INDEX "i" ON "Totals" (n);')
    assert context.is_new_table(ast.RangeVar(relname="Totals"), context.statements[1])


# Prisma's replacement of an enum that loses a label (its migration for a removed value).
ENUM_REPLACEMENT = (
    "CREATE TYPE \"Status_new\" AS ENUM ('A', 'B');\n"
    'ALTER TABLE "T" ALTER COLUMN "s" TYPE "Status_new" USING ("s"::text::"Status_new");\n'
    'ALTER TYPE "Status" RENAME TO "Status_old";\n'
    'ALTER TYPE "Status_new" RENAME TO "Status";\n'
    'DROP TYPE "Status_old";\n'
)


def test_a_name_renamed_away_and_taken_again_later_comes_back():
    context = context_for(ENUM_REPLACEMENT)
    _create, _alter, rename_old, rename_new, drop_old = context.statements
    assert context.comes_back_later(("type",), "Status", rename_old)
    assert not context.comes_back_later(("type",), "Status", rename_new)
    assert context.renamed_to_earlier("type", "Status_old", drop_old)
    assert not context.renamed_to_earlier("type", "Status_old", rename_old)
    assert [effect.kind for effect in context.effects_named("create", "type", "Status_new")] == ["type"]


def test_a_function_comes_back_only_with_the_same_arguments():
    context = context_for(
        "DROP FUNCTION f(int);\nCREATE FUNCTION f(int) RETURNS int LANGUAGE sql AS 'SELECT 1';\nCREATE FUNCTION g(text) RETURNS int LANGUAGE sql AS 'SELECT 1';"
    )
    drop = context.statements[0]
    assert context.comes_back_later(("function",), "f", drop, detail="(integer)")
    assert context.comes_back_later(("function",), "f", drop)
    assert not context.comes_back_later(("function",), "f", drop, detail="(text)")
    assert not context.comes_back_later(("procedure",), "f", drop)
