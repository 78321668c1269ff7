"""Checking a target for drift: only its applied history is replayed (on the shadow server, the same
local PostgreSQL here), in history order, and compared with the schemas its migrations touch."""

import uuid
from dataclasses import replace

import pytest

from service.analysis.drift_check import DriftNotChecked, applied_history, check_drift
from service.analysis.replay import ReplayCache, ReplayFailed
from service.prisma.database import parse_database_url
from service.prisma.deploy import deploy
from service.prisma.migrations import migrations_from_bundle
from tests.conftest import ADMIN_URL
from tests.replays import drop_templates


@pytest.fixture
def label():
    name = f"drift-check-{uuid.uuid4().hex[:10]}"
    yield name
    drop_templates(f'"label": "{name}"')


@pytest.fixture
def scripts(label):
    # The test's own comment keeps its replays apart from other tests' on the shared server.
    return {
        "20240101_patients": f'-- {label}\nCREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY, "email" TEXT NOT NULL);\n',
        "20240102_phone": 'ALTER TABLE "Patient" ADD COLUMN "phone" TEXT;\n',
        "20240103_visits": 'CREATE TABLE "Visit" ("id" SERIAL PRIMARY KEY);\n',
    }


def replays(label, schema="public"):
    return ReplayCache(parse_database_url(ADMIN_URL), schema, label)


def applied(conn, local, names, schema="public"):
    chosen = tuple(m for name in names for m in local if m.name == name)
    assert deploy(conn, schema, replace(local, migrations=chosen)).failure is None


def test_pending_and_rolled_back_migrations_are_not_drift(scratch_db, label, scripts):
    local = migrations_from_bundle(scripts)
    with scratch_db.connect() as conn:
        applied(conn, local, ["20240101_patients", "20240102_phone"])
        # 20240102 rolled back by hand, as the runbook's scenario 2 records a rollback of an applied migration.
        conn.execute('ALTER TABLE "Patient" DROP COLUMN "phone"')
        conn.execute("UPDATE _prisma_migrations SET rolled_back_at = now() WHERE migration_name = '20240102_phone'")
        result = check_drift(conn, "public", local, replays(label))
    assert result.applied == ("20240101_patients",)
    assert not result.drifted and result.drift.schemas == ("public",)


def test_the_history_order_is_replayed_not_the_folder_order(scratch_db, label, scripts):
    local = migrations_from_bundle(scripts)
    with scratch_db.connect() as conn:
        applied(conn, local, ["20240101_patients", "20240103_visits", "20240102_phone"])
        history = applied_history(conn, "public", local)
        result = check_drift(conn, "public", local, replays(label))
    assert history.names == ["20240101_patients", "20240103_visits", "20240102_phone"]
    assert result.applied == tuple(history.names) and not result.drifted


def test_a_file_edited_after_it_was_applied_is_replayed_as_it_is_now_with_a_note(scratch_db, label, scripts):
    local = migrations_from_bundle(scripts)
    with scratch_db.connect() as conn:
        applied(conn, local, ["20240101_patients", "20240102_phone"])
        edited = migrations_from_bundle({**scripts, "20240102_phone": 'ALTER TABLE "Patient" ADD COLUMN "phone" VARCHAR(20);\n'})
        result = check_drift(conn, "public", edited, replays(label))
    assert result.notes == ("20240102_phone was edited after it was applied: the replay runs the file as it is now",)
    assert result.drift.lines == ['~ column "Patient".phone: type character varying(20) in the migrations, text on the target']


def test_an_applied_migration_without_its_file_cannot_be_checked(scratch_db, label, scripts):
    local = migrations_from_bundle(scripts)
    with scratch_db.connect() as conn:
        applied(conn, local, ["20240101_patients", "20240102_phone"])
        with pytest.raises(DriftNotChecked, match="applied on the target but not in bundle: 20240102_phone"):
            check_drift(conn, "public", migrations_from_bundle(dict(list(scripts.items())[:1])), replays(label))


def test_a_history_that_does_not_replay_on_the_shadow_raises(scratch_db, label, scripts):
    needs_by_hand = {**scripts, "20240102_phone": 'ALTER TABLE "Made_by_hand" ADD COLUMN "phone" TEXT;\n'}
    local = migrations_from_bundle(needs_by_hand)
    with scratch_db.connect() as conn:
        applied(conn, local, ["20240101_patients"])
        conn.execute('CREATE TABLE "Made_by_hand" ("id" INT)')
        applied(conn, local, ["20240101_patients", "20240102_phone"])
        with pytest.raises(ReplayFailed, match="20240102_phone fails on the shadow server"):
            check_drift(conn, "public", local, replays(label))


def test_the_target_schema_and_the_schemas_the_migrations_make_are_compared_and_no_other(scratch_db, label):
    local = migrations_from_bundle(
        {
            "20240101_app": f'-- {label}\nCREATE TABLE "Patient" ("id" INT);\n',
            "20240102_audit": 'CREATE SCHEMA audit;\nCREATE TABLE audit."Log" ("id" INT);\n',
        }
    )
    target = scratch_db.target("app")
    with scratch_db.connect("app") as conn:
        conn.execute("CREATE SCHEMA app")
        assert deploy(conn, "app", local).failure is None
        conn.execute('CREATE TABLE public."OtherTool" ("id" INT); ALTER TABLE audit."Log" DROP COLUMN "id"; CREATE INDEX p_idx ON app."Patient" ("id")')
        result = check_drift(conn, target.schema, local, replays(label, "app"))
    assert result.drift.schemas == ("app", "audit")
    assert result.drift.lines == [
        '- column audit."Log".id integer — in the migrations, not on the target',
        '+ index p_idx ON "Patient" (id) — not in the migrations',
    ]


def test_a_target_never_deployed_to_has_no_drift_until_something_is_made_by_hand(scratch_db, label, scripts):
    local = migrations_from_bundle(scripts)
    with scratch_db.connect("app") as conn:  # its schema does not even exist yet: Prisma makes it
        assert check_drift(conn, "app", local, replays(label, "app")).drift.lines == []
    with scratch_db.connect() as conn:
        conn.execute('CREATE TABLE "Patient" ("id" INT)')
        result = check_drift(conn, "public", local, replays(label))
    assert result.applied == () and result.drift.lines == ['+ table "Patient" (1 column) — not in the migrations']


class DeployedMeanwhile(ReplayCache):
    """The shadow's replay takes a while; meanwhile, once, another tool applies a migration to the target."""

    def __init__(self, label, target, local, name):
        super().__init__(parse_database_url(ADMIN_URL), "public", label)
        self.pending = (target, local, name)

    def replay(self, local, count):
        built = super().replay(local, count)
        if self.pending:
            target, whole, name = self.pending
            self.pending = None
            with target.connect() as conn:
                applied(conn, whole, [m.name for m in local.migrations] + [name])
        return built


def test_a_history_that_changes_during_the_check_is_replayed_again(scratch_db, label, scripts):
    local = migrations_from_bundle(scripts)
    with scratch_db.connect() as conn:
        applied(conn, local, ["20240101_patients"])
        result = check_drift(conn, "public", local, DeployedMeanwhile(label, scratch_db, local, "20240102_phone"))
    assert result.applied == ("20240101_patients", "20240102_phone")
    assert not result.drifted  # the column the second migration made is in the replay it is compared with
