"""How Prisma's engine sends a migration file, per Prisma version (service.prisma.execution).

Sources (read 2026-12-04; docs/prisma-8.md "Sources" has the whole account):
- prisma@7.10.1 depends on @prisma/engines 7.10.1, which pins @prisma/engines-version
  8.1.0-1.d1b3f377ca835d73fd50954a5e22128b9ebdd6b8: engines commit d1b3f377.
- prisma-engines #5767 "feat: support CREATE INDEX CONCURRENTLY in migrations" (merged
  2026-02-11, commit 57b675f, in 7.4.0): a script with CREATE INDEX CONCURRENTLY is split into
  statements. #5799 "fix: support concurrent indexes in shadow db replay" (merged 2026-04-14):
  the shadow database's replay, which ran each script with `raw_cmd`, goes through the same
  `apply_migration_script`. #5847 (open, 2026-07-25) describes the splitter at d1b3f377's era:
  "`split_script_into_statements` relies on sqlparser successfully parsing every statement ...
  When parsing fails, the splitter falls back to submitting the whole script as a single
  simple-query batch", and sqlparser (to 0.62) rejects `DROP INDEX CONCURRENTLY`.
- The pinned engine's WebAssembly build (build/schema_engine_bg.wasm in prisma@7.10.1; its
  `version()` answers d1b3f377…) contains sqlparser-0.61.0 and hands the whole script to the
  driver adapter (span schema-engine/connectors/sql-schema-connector/src/apply_migration.rs:113
  `apply_script`, event …/flavour/postgres/connector/wasm/mod.rs:90 with the script): the split is
  in the native connector, which that build does not contain.
- Before #5767 the native connector sent the file whole: connector/native/mod.rs at f44e5b343c,
  `Connection::apply_migration_script`, `client.simple_query(script)`.
The native source at d1b3f377 itself could not be read here (the prisma-engines snapshot is
2.4 GB, over the fetch limit, and the search index holds only versions from before #5767), so
these tests pin the behaviour the pull requests describe.
"""

from pglast import parse_sql

from service.prisma.execution import DEFAULT_PRISMA_VERSION, engine_splits, outside_transaction_blocks, pieces_sent

MIXED = 'CREATE TABLE "A" ("id" int);\nCREATE INDEX CONCURRENTLY "A_id" ON "A" ("id");\nINSERT INTO "A" VALUES (1);\n'


def nodes(sql):
    return [raw.stmt for raw in parse_sql(sql)]


def test_prisma_6_sends_every_file_whole():
    """Prisma 6 (native connector before #5767): `client.simple_query(script)`, the whole file at once."""
    assert DEFAULT_PRISMA_VERSION == 6
    assert pieces_sent(MIXED, 6) == [pieces_sent(MIXED, 6)[0]] and pieces_sent(MIXED, 6)[0].text == MIXED
    assert outside_transaction_blocks(nodes(MIXED), 6) == [False, False, False]


def test_prisma_7_splits_a_file_with_create_index_concurrently_into_its_statements():
    """#5767: each statement of a file with CREATE INDEX CONCURRENTLY is its own simple query."""
    pieces = pieces_sent(MIXED, 7)
    assert [piece.text.strip() for piece in pieces] == [
        'CREATE TABLE "A" ("id" int)',
        'CREATE INDEX CONCURRENTLY "A_id" ON "A" ("id")',
        'INSERT INTO "A" VALUES (1)',
    ]
    # Each piece is where it is in the file, for error positions in the file's terms.
    assert all(MIXED[piece.offset : piece.offset + len(piece.text)] == piece.text for piece in pieces)
    assert outside_transaction_blocks(nodes(MIXED), 7) == [True, True, True]


def test_prisma_7_sends_a_file_without_create_index_concurrently_whole():
    """Secondary sources and #5767's title: only a script with CREATE INDEX CONCURRENTLY is split."""
    script = 'CREATE TABLE "A" ("id" int);\nREINDEX TABLE CONCURRENTLY "A";\n'
    assert [piece.text for piece in pieces_sent(script, 7)] == [script]
    assert not engine_splits(nodes(script), 7)


def test_prisma_7_sends_a_file_with_drop_index_concurrently_whole():
    """#5847: sqlparser rejects DROP INDEX CONCURRENTLY, and the engine falls back to the whole script."""
    script = 'CREATE INDEX CONCURRENTLY "b" ON "A" ("id");\nDROP INDEX CONCURRENTLY "a";\n'
    assert [piece.text for piece in pieces_sent(script, 7)] == [script]
    assert outside_transaction_blocks(nodes(script), 7) == [False, False]


def test_a_single_statement_runs_outside_any_transaction_block_whatever_the_version():
    """One statement in a simple query is not in a transaction block: PostgreSQL runs it alone."""
    single = 'CREATE INDEX CONCURRENTLY "A_id" ON "A" ("id");'
    for version in (6, 7):
        assert outside_transaction_blocks(nodes(single), version) == [True]
        assert [piece.text for piece in pieces_sent(single, version)] == [single]


def test_statements_between_begin_and_commit_stay_in_their_transaction_block():
    """Sent one by one, a BEGIN opens a block the statements after it share until its COMMIT."""
    script = 'BEGIN;\nCREATE TABLE "A" ("id" int);\nCOMMIT;\nCREATE INDEX CONCURRENTLY "A_id" ON "A" ("id");\n'
    assert outside_transaction_blocks(nodes(script), 7) == [False, False, False, True]
    assert len(pieces_sent(script, 7)) == 4


def test_a_file_that_does_not_parse_is_sent_whole():
    """PostgreSQL refuses it anyway; its own error is the one to report."""
    script = "CREATE INDEX CONCURRENTLY ON;\nSELECT 1;\n"
    assert [piece.text for piece in pieces_sent(script, 7)] == [script]


def test_pieces_are_cut_at_statement_boundaries_in_characters_whatever_the_text():
    """The pieces are the file's own characters, cut where each statement starts and ends, non-ASCII text included."""
    script = '-- Ünïcødé ✓\nCREATE TABLE "Ä" (id int, note text DEFAULT \'é;\');\nCREATE INDEX CONCURRENTLY "Ä_id" ON "Ä" (id);\n'
    pieces = pieces_sent(script, 7)
    assert [piece.text.strip() for piece in pieces] == [
        "CREATE TABLE \"Ä\" (id int, note text DEFAULT 'é;')",
        'CREATE INDEX CONCURRENTLY "Ä_id" ON "Ä" (id)',
    ]
    assert all(script[piece.offset : piece.offset + len(piece.text)] == piece.text for piece in pieces)
