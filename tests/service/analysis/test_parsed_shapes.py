"""Shapes as the SQL writes them, against the catalog's own definitions (no shadow server)."""

from __future__ import annotations

import pytest
from pglast import parse_sql

from service.analysis.facts.analyze import analyze_migration
from service.analysis.parsed_shapes import (
    ColumnShape,
    SequenceOptions,
    column_shape,
    constraint_matches,
    creating_statement,
    index_matches,
    routine_body_matches,
    sequence_differences,
    with_table_shapes,
)


def node(text):
    return parse_sql(text)[0].stmt


@pytest.mark.parametrize(
    "migration, catalog, expected",
    [
        ('CREATE INDEX "I" ON "T"("a")', 'CREATE INDEX "I" ON public."T" USING btree (a)', True),
        ('CREATE INDEX "I" ON "T"("a")', 'CREATE INDEX "I" ON public."T" USING btree (b)', False),
        ('CREATE INDEX "I" ON "T"("a", "b")', 'CREATE INDEX "I" ON public."T" USING btree (b, a)', False),
        ('CREATE UNIQUE INDEX "I" ON "T"("a")', 'CREATE INDEX "I" ON public."T" USING btree (a)', False),
        ('CREATE INDEX "I" ON "T" USING hash ("a")', 'CREATE INDEX "I" ON public."T" USING btree (a)', False),
        ('CREATE INDEX "I" ON "T"("a" DESC)', 'CREATE INDEX "I" ON public."T" USING btree (a DESC)', True),
        ('CREATE INDEX "I" ON "T"("a" DESC NULLS FIRST)', 'CREATE INDEX "I" ON public."T" USING btree (a DESC)', True),
        ('CREATE INDEX "I" ON "T"("a" DESC NULLS LAST)', 'CREATE INDEX "I" ON public."T" USING btree (a DESC)', False),
        ('CREATE INDEX "I" ON "T"("a") INCLUDE ("b")', 'CREATE INDEX "I" ON public."T" USING btree (a)', False),
        ('CREATE INDEX CONCURRENTLY IF NOT EXISTS "I" ON "T"("MixedCase")', 'CREATE INDEX "I" ON public."T" USING btree ("MixedCase")', True),
        # Expressions and predicates print differently in the catalog: not compared.
        ('CREATE INDEX "I" ON "T"(lower("a"))', 'CREATE INDEX "I" ON public."T" USING btree (lower(a))', None),
        ('CREATE INDEX "I" ON "T"("a") WHERE "b" IS NULL', 'CREATE INDEX "I" ON public."T" USING btree (a) WHERE (b IS NULL)', None),
    ],
)
def test_index_shapes(migration, catalog, expected):
    assert index_matches(node(migration), catalog) is expected


@pytest.mark.parametrize(
    "migration, catalog, expected",
    [
        (
            'ALTER TABLE "T" ADD CONSTRAINT "C" FOREIGN KEY ("pId") REFERENCES "P"("id") ON DELETE CASCADE',
            'FOREIGN KEY ("pId") REFERENCES "P"(id) ON DELETE CASCADE',
            True,
        ),
        ('ALTER TABLE "T" ADD CONSTRAINT "C" FOREIGN KEY ("pId") REFERENCES "P"("id") ON DELETE CASCADE', 'FOREIGN KEY ("pId") REFERENCES "P"(id)', False),
        ('ALTER TABLE "T" ADD CONSTRAINT "C" FOREIGN KEY ("pId") REFERENCES "P"("id")', 'FOREIGN KEY ("pId") REFERENCES "Q"(id)', False),
        ('ALTER TABLE "T" ADD CONSTRAINT "C" FOREIGN KEY ("pId") REFERENCES "P"', 'FOREIGN KEY ("pId") REFERENCES "P"(id)', True),
        ('ALTER TABLE "T" ADD CONSTRAINT "C" UNIQUE ("a", "b")', "UNIQUE (a, b)", True),
        ('ALTER TABLE "T" ADD CONSTRAINT "C" UNIQUE ("a", "b")', "UNIQUE (a)", False),
        ('ALTER TABLE "T" ADD CONSTRAINT "C" UNIQUE ("a")', "PRIMARY KEY (a)", False),
        ('ALTER TABLE "T" ADD CONSTRAINT "C" CHECK ("a" > 0)', "CHECK ((a > 0))", True),
        ('ALTER TABLE "T" ADD CONSTRAINT "C" CHECK ("a" > 0)', "CHECK ((a > 1))", None),
        ('ALTER TABLE "T" ADD CONSTRAINT "Other" CHECK ("a" > 0)', "CHECK ((a > 0))", None),
    ],
)
def test_constraint_shapes(migration, catalog, expected):
    assert constraint_matches(node(migration), "C", catalog) is expected


def test_function_bodies():
    created = node("CREATE OR REPLACE FUNCTION f() RETURNS trigger AS $$ BEGIN RETURN NEW; END $$ LANGUAGE plpgsql")
    assert routine_body_matches(created, " BEGIN RETURN NEW; END ") is True
    assert routine_body_matches(created, " BEGIN RETURN OLD; END ") is False
    assert routine_body_matches(node("CREATE FUNCTION f() RETURNS int LANGUAGE sql RETURN 1"), "") is None


def created(facts, kind, name):
    return next(effect for effect in facts.effects if effect.action == "create" and effect.kind == kind and effect.name == name)


def test_the_creating_statement_is_found_inside_a_do_block():
    facts = analyze_migration(
        'ALTER TABLE "Coupon" ADD COLUMN IF NOT EXISTS "partnerCode" TEXT;\n'
        "DO $$\nBEGIN\n"
        '    ALTER TABLE "Coupon" ADD CONSTRAINT "Coupon_partnerCode_code_key" UNIQUE ("partnerCode", "code");\n'
        "    IF to_regclass('\"Coupon_code_idx\"') IS NULL THEN\n"
        '        CREATE INDEX "Coupon_code_idx" ON "Coupon"("code");\n'
        "    END IF;\n"
        "EXCEPTION WHEN duplicate_object THEN null;\nEND $$;\n"
    )
    constraint = creating_statement(facts, created(facts, "constraint", "Coupon_partnerCode_code_key"))
    assert constraint_matches(constraint, "Coupon_partnerCode_code_key", 'UNIQUE ("partnerCode", code)') is True
    assert constraint_matches(constraint, "Coupon_partnerCode_code_key", "CHECK (true)") is False
    index = creating_statement(facts, created(facts, "index", "Coupon_code_idx"))
    assert index_matches(index, 'CREATE INDEX "Coupon_code_idx" ON public."Coupon" USING btree (code)') is True
    assert column_shape(creating_statement(facts, created(facts, "column", "partnerCode")), "partnerCode") == ColumnShape("text", False, None)


def test_a_do_block_that_creates_an_object_two_ways_gives_no_statement():
    facts = analyze_migration(
        "DO $$ BEGIN\n"
        "  IF current_setting('server_version_num')::int >= 150000 THEN\n"
        '    CREATE INDEX IF NOT EXISTS "I" ON "T"("a") NULLS NOT DISTINCT;\n'
        "  ELSE\n"
        '    CREATE INDEX IF NOT EXISTS "I" ON "T"("b");\n'
        "  END IF;\n"
        "END $$;\n"
    )
    assert creating_statement(facts, created(facts, "index", "I")) is None


@pytest.mark.parametrize(
    "statement, column, expected",
    [
        ('ALTER TABLE "T" ADD COLUMN "a" TEXT', "a", ColumnShape("text", False, None)),
        ('ALTER TABLE "T" ADD COLUMN IF NOT EXISTS "a" VARCHAR(20) NOT NULL DEFAULT \'x\'', "a", ColumnShape("varchar(20)", True, "'x'")),
        ('ALTER TABLE "T" ADD COLUMN "a" INT DEFAULT NULL, ADD COLUMN "b" INT', "a", ColumnShape("integer", False, None)),
        ('ALTER TABLE "T" ADD COLUMN "a" TEXT DEFAULT NULL::text', "a", ColumnShape("text", False, None)),
        ('ALTER TABLE "T" ADD COLUMN "id" BIGSERIAL PRIMARY KEY', "id", ColumnShape("bigint", True, None)),
        ('CREATE TABLE "T" ("id" SERIAL, "at" TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY ("id"))', "id", ColumnShape("integer", True, None)),
        (
            'CREATE TABLE "T" ("id" SERIAL, "at" TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY ("id"))',
            "at",
            ColumnShape("timestamp(3)", False, "CURRENT_TIMESTAMP"),
        ),
        ('ALTER TABLE "T" ADD COLUMN "a" TEXT', "b", None),
        ('ALTER TABLE "T" ALTER COLUMN "a" TYPE TEXT', "a", None),
    ],
)
def test_column_shapes(statement, column, expected):
    assert column_shape(node(statement), column) == expected


def test_created_tables_give_their_columns_as_effects_right_after_the_table():
    facts = with_table_shapes(
        analyze_migration(
            'CREATE TABLE "Draft" ("id" INT, "body" TEXT);\n'
            'ALTER TABLE "Draft" RENAME TO "Article";\n'
            'DO $$ BEGIN CREATE TABLE IF NOT EXISTS "Tag" ("label" TEXT); END $$;\n'
        )
    )
    assert [(e.action, e.kind, e.parent, e.name, e.statement) for e in facts.effects] == [
        ("create", "table", None, "Draft", 0),
        ("create", "column", "Draft", "id", 0),
        ("create", "column", "Draft", "body", 0),
        ("rename", "table", None, "Draft", 1),
        ("create", "table", None, "Tag", 2),
        ("create", "column", "Tag", "label", 2),
    ]


BIGINT_MAX = 2**63 - 1


def sequence(data_type="bigint", start=1, increment=1, minvalue=1, maxvalue=BIGINT_MAX, cache=1, cycle=False):
    return SequenceOptions(data_type, start, increment, minvalue, maxvalue, cache, cycle)


@pytest.mark.parametrize(
    "statement, catalog, expected",
    [
        ('CREATE SEQUENCE "s"', sequence(), ()),
        ('CREATE SEQUENCE IF NOT EXISTS "s" START WITH 100000', sequence(start=7, increment=3), ("start 7, not 100000", "increment 3, not 1")),
        ('CREATE SEQUENCE "s"', sequence(data_type="integer", maxvalue=2**31 - 1), ("type integer, not bigint", f"maxvalue {2**31 - 1}, not {BIGINT_MAX}")),
        ('CREATE SEQUENCE "s" AS integer CACHE 20', sequence(data_type="integer", maxvalue=2**31 - 1), ("cache 1, not 20",)),
        ('CREATE SEQUENCE "s" NO CYCLE', sequence(cycle=True), ("cycle CYCLE, not NO CYCLE",)),
        ('CREATE SEQUENCE "s" INCREMENT BY -1', sequence(start=-1, increment=-1, minvalue=-(2**63), maxvalue=-1), ()),
        # A type the statement names but that cannot be read: it and what depends on it are not compared.
        ('CREATE SEQUENCE "s" AS "myint"', sequence(data_type="integer", maxvalue=7), ()),
        ('CREATE INDEX "s" ON "T"("a")', sequence(), None),
    ],
)
def test_sequence_differences(statement, catalog, expected):
    assert sequence_differences(node(statement), catalog) == expected


@pytest.mark.parametrize(
    "statement",
    [
        'CREATE SEQUENCE "s"',
        'CREATE SEQUENCE "s" AS smallint',
        'CREATE SEQUENCE "s" AS int4 START 100000',
        'CREATE SEQUENCE "s" INCREMENT BY -2',
        'CREATE SEQUENCE "s" AS smallint INCREMENT -1 NO MINVALUE NO MAXVALUE',
        'CREATE SEQUENCE "s" INCREMENT 5 MINVALUE 10 MAXVALUE 9223372036854775806 CACHE 3 CYCLE',
        'CREATE SEQUENCE "s" AS bigint INCREMENT -1 MINVALUE -9223372036854775808 START -5',
    ],
)
def test_sequence_defaults_are_postgresqls(conn, statement):
    conn.execute(statement)
    row = conn.execute(
        "SELECT format_type(seqtypid, NULL), seqstart, seqincrement, seqmin, seqmax, seqcache, seqcycle FROM pg_sequence WHERE seqrelid = '\"s\"'::regclass"
    ).fetchone()
    assert sequence_differences(node(statement), SequenceOptions(*row)) == ()
