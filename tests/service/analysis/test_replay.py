"""Replays of a history on a shadow server, cached as template databases keyed by the history."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from service.analysis import replay as replay_module
from service.analysis.replay import KEEP_TEMPLATES, ReplayCache, ReplayFailed, history_keys
from service.prisma.database import connect, parse_database_url
from service.prisma.migrations import migrations_from_bundle
from tests.conftest import ADMIN_URL

SCRIPTS = {
    "20240101_patients": 'CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY, "name" TEXT);\n',
    "20240102_email": 'ALTER TABLE "Patient" ADD COLUMN "email" TEXT;\n',
    "20240103_email_idx": 'CREATE INDEX "Patient_email_idx" ON "Patient"("email");\n',
}


@pytest.fixture
def cache(request):
    """A cache under a label of its own; its templates are dropped afterwards."""
    label = f"test-{request.node.name[:40]}"
    replay = ReplayCache(parse_database_url(ADMIN_URL), "public", label)
    yield replay
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        for (name,) in admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'dg\\_replay\\_%%' AND shobj_description(oid, 'pg_database') LIKE %s",
            (f'%"label": "{label}"%',),
        ).fetchall():
            admin.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(sql.Identifier(name)))
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def templates() -> set[str]:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        return {row[0] for row in admin.execute("SELECT datname FROM pg_database WHERE datname LIKE 'dg\\_replay\\_%%'")}


def test_a_replay_holds_the_schema_of_its_history_and_is_reused(cache):
    local = migrations_from_bundle(SCRIPTS)
    replay = cache.replay(local, 2)

    assert replay.template == history_keys(local, "public")[2]
    assert ("public", "Patient", "email") in replay.fingerprint.objects["columns"]
    assert not any(key[1] == "Patient_email_idx" for key in replay.fingerprint.objects["indexes"])
    # Built once: asking again finds the template, and the fingerprint is the same.
    before = templates()
    again = cache.replay(local, 2)
    assert again.template == replay.template and again.fingerprint.digest == replay.fingerprint.digest
    assert templates() == before


def test_a_longer_history_is_built_from_the_longest_replay_there(cache):
    local = migrations_from_bundle(SCRIPTS)
    cache.replay(local, 1)
    full = cache.replay(local, 3)
    keys = history_keys(local, "public")
    assert {keys[1], keys[3]} <= templates()
    assert keys[2] not in templates()  # 2 and 3 applied together on a copy of 1
    with connect(cache._database(full.template)) as conn:  # noqa: SLF001 — a read of the built template
        rows = conn.execute("SELECT migration_name FROM _prisma_migrations ORDER BY started_at").fetchall()
    assert [name for (name,) in rows] == list(SCRIPTS)


def test_another_history_gets_another_template(cache):
    local = migrations_from_bundle(SCRIPTS)
    edited = migrations_from_bundle({**SCRIPTS, "20240102_email": 'ALTER TABLE "Patient" ADD COLUMN "email" VARCHAR(320);\n'})
    first, second = cache.replay(local, 2), cache.replay(edited, 2)
    assert first.template != second.template
    assert history_keys(local, "public")[1] == history_keys(edited, "public")[1]
    column = ("public", "Patient", "email")
    assert first.fingerprint.objects["columns"][column]["type"] == "text"
    assert second.fingerprint.objects["columns"][column]["type"] == "character varying(320)"


def test_a_migration_that_fails_on_the_shadow_leaves_no_template(cache):
    local = migrations_from_bundle({**SCRIPTS, "20240104_broken": 'ALTER TABLE "Nope" ADD COLUMN "x" INT;\n'})
    with pytest.raises(ReplayFailed, match="20240104_broken fails on the shadow server \\(42P01"):
        cache.replay(local, 4)
    assert history_keys(local, "public")[4] not in templates()
    assert not any(name.startswith("dg_replay_tmp_") for name in templates())


def test_a_clone_is_a_copy_dropped_afterwards(cache):
    local = migrations_from_bundle(SCRIPTS)
    replay = cache.replay(local, 3)
    with cache.clone(replay.template) as copy, connect(copy) as conn:
        conn.execute('INSERT INTO "Patient" ("name") VALUES (%s)', ("a",))
        name = copy.params["dbname"]
        assert name in {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        assert not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchall()


def test_old_templates_of_a_label_are_pruned(cache):
    histories = [migrations_from_bundle({"20240101_t": f'CREATE TABLE "T{n}" ("id" INT);\n'}) for n in range(KEEP_TEMPLATES + 2)]
    names = [cache.replay(local, 1).template for local in histories]
    left = templates()
    assert set(names[-KEEP_TEMPLATES:]) <= left
    assert not set(names[:-KEEP_TEMPLATES]) & left


def test_a_template_dropped_between_the_look_and_the_clone_is_built_again(cache):
    local = migrations_from_bundle({"20240101_t": f'CREATE TABLE "Once_{cache.label[-8:]}" ("id" INT);\n'})
    first = cache.replay(local, 1)
    replay_module._FINGERPRINTS.entries.clear()  # noqa: SLF001 - a fresh process: the fingerprint is read on a clone

    class PrunedMeanwhile(ReplayCache):
        dropped = False

        def _fingerprint(self, template):
            if not self.dropped:  # another label's prune, just after this one saw the template
                self.dropped = True
                with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                    admin.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(sql.Identifier(template)))
                    admin.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(template)))
            return super()._fingerprint(template)

    again = PrunedMeanwhile(cache.shadow, cache.schema, cache.label).replay(local, 1)
    assert (again.template, again.built) == (first.template, True)
    assert again.fingerprint.digest == first.fingerprint.digest and first.template in templates()
