from pglast import ast

from service.analysis.parsing import Position, parse_migration, position_of


def test_statements_carry_their_line_and_column_past_comments():
    script = '-- CreateTable\nCREATE TABLE "User" ("id" INT);\n\n  /* note */ SELECT 1;\n'
    parsed = parse_migration(script)
    assert [s.kind for s in parsed.statements] == ["CreateStmt", "SelectStmt"]
    assert parsed.statements[0].position == Position(2, 1)
    assert parsed.statements[0].text == 'CREATE TABLE "User" ("id" INT)'
    assert parsed.statements[1].position == Position(4, 14)


def test_positions_count_characters_not_bytes():
    script = "-- café\nSELECT 'é'; SELECT 2;"
    parsed = parse_migration(script)
    assert parsed.statements[1].position == Position(2, 13)
    assert position_of(script, len("-- café\n")) == Position(2, 1)


def test_a_file_that_does_not_parse_is_a_problem_with_a_position():
    parsed = parse_migration('CREATE TABLE "A" (id int);\nALTER TABEL "A" ADD COLUMN b int;\n')
    assert not parsed.parses
    assert parsed.statements == ()
    [problem] = parsed.problems
    assert problem.message == 'syntax error at or near "TABEL"'
    assert problem.position == Position(2, 7)


def test_do_block_statements_are_parsed_with_their_guards():
    script = """DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'Role') THEN
    CREATE TYPE "Role" AS ENUM ('USER');
  END IF;
  BEGIN
    ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id");
  EXCEPTION WHEN duplicate_object THEN NULL;
  END;
  UPDATE "User" SET "role" = 'USER';
  EXECUTE 'CREATE INDEX "User_role_idx" ON "User" ("role")';
END $$;
"""
    parsed = parse_migration(script)
    assert [s.kind for s in parsed.statements] == ["DoStmt"]
    create_type, add_constraint, update, index = parsed.nested
    assert isinstance(create_type.node, ast.CreateEnumStmt)
    assert create_type.guarded and create_type.guards[0].kind == "if"
    assert create_type.position.line == 4
    assert add_constraint.guarded and add_constraint.guards[0].text == "duplicate_object"
    assert not update.guarded
    assert index.dynamic and isinstance(index.node, ast.IndexStmt)
    assert parsed.all_statements == (parsed.statements[0], *parsed.nested)


def test_a_condition_that_does_not_check_the_catalog_is_no_guard():
    parsed = parse_migration("DO $$ BEGIN IF 1 = 1 THEN CREATE TABLE t (id int); END IF; END $$;")
    assert not parsed.nested[0].guarded


def test_do_block_body_that_does_not_parse_points_into_the_body():
    parsed = parse_migration("SELECT 1;\nDO $$\nBEGIN\n  CREATE TABEL x;\nEND $$;\n")
    [problem] = parsed.problems
    assert problem.in_do_block
    assert problem.position == Position(4, 10)
    assert "TABEL" in problem.message


def test_non_plpgsql_do_blocks_are_left_alone():
    parsed = parse_migration("DO LANGUAGE plperl $$ print 1 $$;")
    assert parsed.parses and parsed.nested == ()


def test_positions_from_the_line_index_match_counting_at_every_offset():
    script = "-- a\n\nSELECT 1;\r\n  SELECT 'x\ny';\n"
    for offset in range(-2, len(script) + 3):
        clamped = max(0, min(offset, len(script)))
        line = script.count("\n", 0, clamped) + 1
        column = clamped - (script.rfind("\n", 0, clamped) + 1) + 1
        assert position_of(script, offset) == Position(line, column), offset


def test_iter_nodes_walks_depth_first_in_attribute_order():
    from pglast import parse_sql

    from service.analysis.parsing import iter_nodes

    def reference(node):
        if isinstance(node, (tuple, list)):
            for item in node:
                yield from reference(item)
        elif isinstance(node, ast.Node):
            yield node
            for attribute in node:
                yield from reference(getattr(node, attribute))

    tree = parse_sql('UPDATE "User" SET "role" = \'A\', "n" = (SELECT max(x) FROM t WHERE y IN (1, 2)) WHERE "id" = 1 AND NOT EXISTS (SELECT 1)')
    walked = list(iter_nodes(tree))
    assert [id(node) for node in walked] == [id(node) for node in reference(tree)]
    assert len(walked) > 20


def test_the_cycle_collector_is_paused_during_the_work_and_resumes_after_it_even_on_an_error():
    import gc

    import pytest

    from service.analysis.parsing import cyclic_gc_paused

    assert gc.isenabled()
    with pytest.raises(ValueError), cyclic_gc_paused():
        assert not gc.isenabled()
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner pause leaves the outer one in force
        raise ValueError
    assert gc.isenabled()

    seen = []
    cyclic_gc_paused()(lambda: seen.append(gc.isenabled()))()
    assert seen == [False] and gc.isenabled()
