"""Catalog fingerprints: what they capture, what they ignore, and how differences read."""

import psycopg
import pytest

from service.analysis.fingerprint import catalog_fingerprint, diff

SCHEMA = """
CREATE TYPE "Role" AS ENUM ('USER', 'ADMIN');
CREATE TABLE "User" (
    "id" SERIAL NOT NULL,
    "email" TEXT NOT NULL,
    "role" "Role" NOT NULL DEFAULT 'USER',
    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
CREATE VIEW "Admins" AS SELECT "id" FROM "User" WHERE "role" = 'ADMIN';
CREATE FUNCTION "touch"(a integer) RETURNS integer LANGUAGE sql AS 'SELECT a';
"""


def texts(before, after):
    return [str(difference) for difference in diff(before, after)]


def test_captures_the_objects_of_a_schema(conn):
    conn.execute(SCHEMA)
    fingerprint = catalog_fingerprint(conn)
    document = fingerprint.to_dict()
    assert document["schemas"] == {"public": {}}
    assert document["types"]["public.Role"] == {"kind": "enum", "labels": ["USER", "ADMIN"]}
    assert document["columns"]["public.User.email"]["not_null"] is True
    assert document["columns"]["public.User.role"]["default"] == "'USER'::\"Role\""
    assert document["constraints"]["public.User.User_pkey"] == {"definition": "PRIMARY KEY (id)"}
    assert document["indexes"]["public.User_email_key"]["valid"] is True
    assert document["sequences"]["public.User_id_seq"]["owned_by"] == ["public", "User", "id"]
    assert "public.Admins" in document["views"]
    assert "public.touch(a integer)" in document["functions"]
    assert "plpgsql" in document["extensions"]


def test_equal_schemas_have_equal_fingerprints_and_no_differences(conn):
    conn.execute(SCHEMA)
    first, second = catalog_fingerprint(conn), catalog_fingerprint(conn)
    assert first == second and first.digest == second.digest
    assert diff(first, second) == []


def test_detects_added_missing_and_changed_objects(conn):
    conn.execute(SCHEMA)
    before = catalog_fingerprint(conn)
    conn.execute(
        'CREATE TABLE "Post" ("id" INT PRIMARY KEY, "title" TEXT);'
        'DROP VIEW "Admins";'
        'ALTER TABLE "User" ALTER COLUMN "email" DROP NOT NULL;'
        'DROP INDEX "User_email_key"; CREATE INDEX "User_email_key" ON "User"("email", "id");'
        "ALTER TYPE \"Role\" ADD VALUE 'OWNER';"
        "CREATE OR REPLACE FUNCTION \"touch\"(a integer) RETURNS integer LANGUAGE sql AS 'SELECT a + 1';"
    )
    after = catalog_fingerprint(conn)
    assert before.digest != after.digest
    assert texts(before, after) == [
        "type public.Role definition differs: labels [USER, ADMIN] → [USER, ADMIN, OWNER]",
        "table public.Post added (2 columns, 1 constraint, 1 index)",
        "column public.User.email definition differs: not null yes → no",
        "index public.User_email_key definition differs: definition "
        'CREATE UNIQUE INDEX "User_email_key" ON public."User" USING btree (email) → '
        'CREATE INDEX "User_email_key" ON public."User" USING btree (email, id)',
        "view public.Admins missing",
        "function public.touch(a integer) definition differs: definition sha256 "
        f"{before.objects['functions'][('public', 'touch(a integer)')]['definition_sha256'][:12]}… → "
        f"{after.objects['functions'][('public', 'touch(a integer)')]['definition_sha256'][:12]}…",
    ]
    assert [d.change for d in diff(after, before)][:2] == ["differs", "missing"]


def test_ignores_the_prisma_history_table(conn):
    conn.execute(SCHEMA)
    before = catalog_fingerprint(conn)
    conn.execute('CREATE TABLE "_prisma_migrations" ("id" VARCHAR(36) PRIMARY KEY, "logs" TEXT)')
    conn.execute("INSERT INTO \"_prisma_migrations\" VALUES ('1', 'x')")
    after = catalog_fingerprint(conn)
    assert before == after
    assert "_prisma_migrations" not in str(after.to_dict())


def test_a_failed_concurrent_index_shows_as_invalid(conn):
    conn.execute("CREATE TABLE t (x INT); INSERT INTO t VALUES (1), (1)")
    before = catalog_fingerprint(conn)
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("CREATE UNIQUE INDEX CONCURRENTLY t_x_key ON t (x)")
    after = catalog_fingerprint(conn)
    assert after.objects["indexes"][("public", "t_x_key")]["valid"] is False
    assert texts(before, after) == ["index public.t_x_key added"]


def test_schemas_to_fingerprint(scratch_db):
    with scratch_db.connect() as conn:
        conn.execute('CREATE SCHEMA "App"; CREATE TABLE "App"."Thing" (x INT); CREATE TABLE public.other (y INT)')
        only_app = catalog_fingerprint(conn, schemas=["App", "absent"])
        everything = catalog_fingerprint(conn, schemas=None)
    assert only_app.schemas == ("App",)
    assert list(only_app.to_dict()["tables"]) == ["App.Thing"]
    assert everything.schemas == ("App", "public")
    assert list(everything.to_dict()["tables"]) == ["App.Thing", "public.other"]


def test_objects_of_extensions_are_represented_by_the_extension(conn):
    before = catalog_fingerprint(conn)
    conn.execute("CREATE EXTENSION pg_trgm")
    after = catalog_fingerprint(conn)
    assert texts(before, after) == ["extension pg_trgm added"]


def test_order_is_deterministic(conn):
    conn.execute('CREATE TABLE "b" (z INT, a INT); CREATE TABLE "a" (y INT); CREATE TABLE "B" (x INT)')
    fingerprint = catalog_fingerprint(conn)
    assert list(fingerprint.to_dict()["tables"]) == ["public.B", "public.a", "public.b"]
    assert list(fingerprint.to_dict()["columns"]) == ["public.B.x", "public.a.y", "public.b.a", "public.b.z"]
    empty = catalog_fingerprint(conn, schemas=[])
    assert texts(empty, fingerprint) == texts(empty, catalog_fingerprint(conn))
