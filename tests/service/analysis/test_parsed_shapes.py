"""Shapes as the SQL writes them, against the catalog's own definitions (no shadow server)."""

from __future__ import annotations

import pytest
from pglast import parse_sql

from service.analysis.parsed_shapes import constraint_matches, index_matches, routine_body_matches


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
        ('ALTER TABLE "T" ADD CONSTRAINT "C" FOREIGN KEY ("pId") REFERENCES "P"("id") ON DELETE CASCADE', 'FOREIGN KEY ("pId") REFERENCES "P"(id) ON DELETE CASCADE', True),
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
