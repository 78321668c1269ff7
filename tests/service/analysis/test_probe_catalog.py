"""The probe's catalog queries against a real database: types resolved as PostgreSQL stores them."""

import pytest
from pglast import ast, parse_sql

from service.analysis.probe_catalog import Catalog


def type_name(text):
    (statement,) = parse_sql(f"SELECT NULL::{text}")
    cast = statement.stmt.targetList[0].val
    assert isinstance(cast, ast.TypeCast)
    return cast.typeName


@pytest.mark.parametrize("written", ["VARCHAR(20)", "NUMERIC(10,2)", "TIMESTAMP(3)", "TEXT[]", '"Status"', "pg_catalog.int4"])
def test_a_type_resolves_to_what_a_column_of_it_stores(conn, written):
    conn.execute("CREATE TYPE \"Status\" AS ENUM ('NEW')")
    conn.execute(f'CREATE TABLE "Item" ("value" {written})')
    catalog = Catalog(conn, "public")
    column = catalog.column("public", "Item", "value")
    assert column is not None
    assert catalog.resolve_type(type_name(written)) == (column.type_oid, column.typmod)


def test_a_type_it_cannot_be_sure_of_is_none_and_the_connection_goes_on(conn):
    catalog = Catalog(conn, "public")
    assert catalog.resolve_type(type_name('"Missing"')) is None
    assert catalog.resolve_type(type_name("VARCHAR(0)")) is None  # varchar's typmodin refuses it
    assert catalog.resolve_type(None) is None
    conn.execute('CREATE TABLE "After" ("id" INT)')
    assert catalog.relkind("public", "After") == "r"


def test_routine_arguments_resolve_to_type_oids(conn):
    catalog = Catalog(conn, "public")
    int4, text_array = conn.execute("SELECT 'integer'::regtype::oid, 'text[]'::regtype::oid").fetchone()
    assert catalog.resolve_arguments("(integer, text[])") == [int4, text_array]
    assert catalog.resolve_arguments("()") == []
    assert catalog.resolve_arguments('("Missing")') is None


def test_a_name_given_as_none_matches_nothing(conn):
    conn.execute('CREATE TABLE "Account" ("id" INT CONSTRAINT "Account_pkey" PRIMARY KEY)')
    catalog = Catalog(conn, "public")
    assert catalog.relkind("public", None) is None
    assert catalog.table_child("constraint", "public", None, "Account_pkey") is None
    found = catalog.table_child("constraint", "public", "Account", "Account_pkey")
    assert found is not None and found.validated and found.definition == "PRIMARY KEY (id)"
