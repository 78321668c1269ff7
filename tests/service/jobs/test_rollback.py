"""Rollback jobs: undo a migration that succeeded (runbook scenario 2, procedure A) on real databases."""

from __future__ import annotations

import socket

import pytest

from service.jobs.runner import Deferred, run_job
from service.jobs.states import JobKind, JobState, Verdict
from service.prisma.database import parse_database_url
from service.prisma.deploy import SessionTimeouts
from service.prisma.migrations import migrations_from_bundle
from service.recovery import actions
from service.store import repository
from tests.conftest import ADMIN_URL
from tests.service.jobs.test_recover import BASE, assert_prisma_agrees, make_config, rows_of

ADD_EMAIL = """ALTER TABLE "Patient" ADD COLUMN "email" TEXT;
CREATE INDEX "Patient_email_idx" ON "Patient"("email");

-- ROLLBACK SQL
-- DROP INDEX IF EXISTS "Patient_email_idx";
-- ALTER TABLE "Patient" DROP COLUMN IF EXISTS "email";
"""
SCRIPTS = {**BASE, "20240102_add_email": ADD_EMAIL}


def deployed(store, config, scripts=SCRIPTS):
    digest = repository.store_bundle(store, migrations_from_bundle(scripts))
    job, _ = repository.create_job(store, kind=JobKind.DEPLOY, target="staging", requested_by="ci", params={"apply": True}, bundle_digest=digest)
    assert run_job(store, config, job.id).verdict is Verdict.PROCEED
    return digest


def rollback_job(store, digest, migration="20240102_add_email"):
    job, _ = repository.create_job(store, kind=JobKind.ROLLBACK, target="staging", requested_by="ops", params={"migration": migration}, bundle_digest=digest)
    return job


def email_column(target_db):
    return target_db.query("SELECT 1 FROM information_schema.columns WHERE table_name = 'Patient' AND column_name = 'email'")


def test_verified_rollback_waits_for_approval_then_runs_and_prisma_sees_it_unapplied(store, target_db, write_migrations):
    config = make_config(target_db, shadow=parse_database_url(ADMIN_URL))
    job = rollback_job(store, deployed(store, config))

    waiting = run_job(store, config, job.id)
    assert waiting.state is JobState.WAITING_APPROVAL
    assert waiting.facts["verify"]["verified"] is True
    assert waiting.facts["approval"]["sql"].startswith('DROP INDEX IF EXISTS "Patient_email_idx";')
    assert waiting.reasons == ["rollback SQL of 20240102_add_email from its section", "verified on the shadow server"]
    assert email_column(target_db)

    repository.record_approval(store, job.id, approved=True, by="ops", comment=None)
    done = run_job(store, config, job.id)
    assert done.verdict is Verdict.PROCEED, done.reasons
    assert "approved by ops" in done.reasons
    assert not email_column(target_db)
    assert [(row["finished_at"] is not None, row["rolled_back_at"] is not None) for row in rows_of(target_db, "20240102_add_email")] == [(True, True)]
    assert_prisma_agrees(target_db, write_migrations, SCRIPTS)


def test_policy_without_approval_runs_a_verified_rollback_at_once(store, target_db):
    config = make_config(target_db, shadow=parse_database_url(ADMIN_URL), rollbacks_need_approval=False)
    done = run_job(store, config, rollback_job(store, deployed(store, config)).id)
    assert done.verdict is Verdict.PROCEED and not email_column(target_db)


def test_an_unverified_rollback_always_waits_for_approval(store, target_db):
    config = make_config(target_db, rollbacks_need_approval=False)  # no shadow server
    waiting = run_job(store, config, rollback_job(store, deployed(store, config)).id)
    assert waiting.state is JobState.WAITING_APPROVAL
    assert "not verified: the target has no shadow server" in waiting.reasons


def test_refuses_a_migration_that_later_ones_may_depend_on(store, target_db):
    config = make_config(target_db)
    scripts = {**SCRIPTS, "20240103_visits": 'CREATE TABLE "Visit" ("id" INT);\n'}
    done = run_job(store, config, rollback_job(store, deployed(store, config, scripts)).id)
    assert done.verdict is Verdict.BLOCKED
    assert done.reasons == ["migrations applied after 20240102_add_email may depend on it: roll back 20240103_visits first"]
    assert email_column(target_db)


def test_refuses_an_incomplete_rollback(store, target_db):
    config = make_config(target_db)
    scripts = {**BASE, "20240102_drop_name": 'ALTER TABLE "Patient" DROP COLUMN "name";\n'}
    done = run_job(store, config, rollback_job(store, deployed(store, config, scripts), "20240102_drop_name").id)
    assert done.verdict is Verdict.BLOCKED
    assert done.reasons[0].startswith("the rollback of 20240102_drop_name is incomplete: ")


def test_refuses_a_migration_that_is_not_applied(store, target_db):
    config = make_config(target_db)
    digest = deployed(store, config, BASE)
    digest = repository.store_bundle(store, migrations_from_bundle(SCRIPTS))
    done = run_job(store, config, rollback_job(store, digest).id)
    assert done.verdict is Verdict.BLOCKED
    assert done.reasons == ["20240102_add_email is not applied on staging, so there is nothing to roll back"]


def test_a_section_that_misses_an_effect_is_refused_before_anything_runs(store, target_db):
    config = make_config(target_db, rollbacks_need_approval=False)
    wrong = ADD_EMAIL.replace('-- ALTER TABLE "Patient" DROP COLUMN IF EXISTS "email";', '-- ALTER TABLE "Patient" DROP COLUMN IF EXISTS "emial";')
    scripts = {**BASE, "20240102_add_email": wrong}
    job = rollback_job(store, deployed(store, config, scripts))
    done = run_job(store, config, job.id)
    assert done.state is JobState.SUCCEEDED and done.verdict is Verdict.BLOCKED
    assert done.reasons[0].startswith("the rollback of 20240102_add_email is incomplete")
    assert email_column(target_db)
    assert target_db.query("SELECT 1 FROM pg_class WHERE relname = 'Patient_email_idx'")


@pytest.mark.parametrize(
    "rollback_sql, error",
    [
        ('DROP INDEX IF EXISTS "Patient_email_idx";\nALTER TABLE "Nope" DROP COLUMN "email";', '42P01: relation "Nope" does not exist'),
        ('DROP INDEX IF EXISTS "Patient_email_idx";', "left effects in place (partial: Patient.email)"),
    ],
)
def test_rollback_sql_that_fails_or_falls_short_is_undone_whole(store, target_db, rollback_sql, error):
    config = make_config(target_db)
    deployed(store, config)
    local = migrations_from_bundle(SCRIPTS)
    with target_db.connect() as conn, pytest.raises(actions.RollbackFailed) as raised:
        actions.run_rollback_sql(conn, "public", local, "20240102_add_email", rollback_sql, timeouts=SessionTimeouts(1000), lock_wait=5, finished_row=True)
    assert error in raised.value.headline and raised.value.headline.endswith("it was undone")
    assert email_column(target_db)
    assert target_db.query("SELECT 1 FROM pg_class WHERE relname = 'Patient_email_idx'")
    assert [row["rolled_back_at"] for row in rows_of(target_db, "20240102_add_email")] == [None]


GUARDED_PATIENT = 'CREATE TABLE IF NOT EXISTS "Patient" ("id" SERIAL PRIMARY KEY, "name" TEXT);\nCREATE INDEX "Patient_name_idx" ON "Patient"("name");\n'


def patients(target_db):
    return target_db.query('SELECT "name" FROM "Patient" ORDER BY "id"')


def test_a_guarded_create_that_met_an_existing_table_is_not_rolled_back_as_the_migrations(store, target_db):
    config = make_config(target_db, rollbacks_need_approval=False)
    scripts = {**BASE, "20240102_patient_index": GUARDED_PATIENT}
    digest = deployed(store, config, BASE)
    target_db.query("INSERT INTO \"Patient\" (\"name\") VALUES ('Ada'), ('Grace')")
    digest = deployed(store, config, scripts)  # IF NOT EXISTS met the Patient table BASE made

    done = run_job(store, config, rollback_job(store, digest, "20240102_patient_index").id)
    assert done.verdict is Verdict.BLOCKED
    assert done.reasons == [
        "the rollback of 20240102_patient_index is incomplete: "
        "table public.Patient may have existed before this migration: its guarded CREATE (line 1) does nothing then"
    ]
    assert done.facts["plan"]["sql"] == 'DROP INDEX IF EXISTS "Patient_name_idx";'
    assert patients(target_db) == [("Ada",), ("Grace",)]
    assert target_db.query("SELECT 1 FROM pg_class WHERE relname = 'Patient_name_idx'")


def test_a_section_that_drops_a_table_the_migration_may_not_have_made_waits_naming_it_and_its_rows(store, target_db):
    config = make_config(target_db, rollbacks_need_approval=False)
    section = '\n-- ROLLBACK SQL\n-- DROP INDEX IF EXISTS "Patient_name_idx";\n-- DROP TABLE IF EXISTS "Patient";\n'
    scripts = {**BASE, "20240102_patient_index": GUARDED_PATIENT + section}
    deployed(store, config, BASE)
    target_db.query("INSERT INTO \"Patient\" (\"name\") VALUES ('Ada'), ('Grace')")
    job = rollback_job(store, deployed(store, config, scripts), "20240102_patient_index")

    waiting = run_job(store, config, job.id)
    assert waiting.state is JobState.WAITING_APPROVAL
    note = (
        "would drop table public.Patient, which may have existed before this migration: "
        "its guarded CREATE (line 1) does nothing then; about 2 rows would be lost"  # CREATE INDEX counted them
    )
    assert f"a person must approve: it {note}" in waiting.reasons
    approval = waiting.facts["approval"]
    assert approval["plan"][0] == f"check: it {note}"
    assert [(t["object"], t["needs_approval"]) for t in approval["rollback_targets"]] == [
        ("index public.Patient_name_idx", None),
        ("table public.Patient", note),
    ]
    assert patients(target_db) == [("Ada",), ("Grace",)]

    # The check runs again where the SQL runs: without the approval it refuses.
    local = migrations_from_bundle(scripts)
    with target_db.connect() as conn, pytest.raises(actions.RollbackFailed) as refused:
        actions.run_rollback_sql(
            conn, "public", local, "20240102_patient_index", approval["sql"], timeouts=SessionTimeouts(1000), lock_wait=5, finished_row=True
        )
    assert note in refused.value.headline
    assert patients(target_db) == [("Ada",), ("Grace",)]


def test_a_rollback_that_drops_data_waits_for_approval_whatever_the_policy(store, target_db):
    config = make_config(target_db, shadow=parse_database_url(ADMIN_URL), rollbacks_need_approval=False)
    digest = deployed(store, config)
    target_db.query("INSERT INTO \"Patient\" (\"name\", \"email\") VALUES ('Ada', 'ada@example.org'), ('Grace', NULL)")
    waiting = run_job(store, config, rollback_job(store, digest).id)
    assert waiting.state is JobState.WAITING_APPROVAL and waiting.facts["verify"]["verified"] is True
    assert "a person must approve: it would drop column public.Patient.email; 1 non-null value would be lost" in waiting.reasons
    assert email_column(target_db)


def test_with_a_shadow_the_replay_before_the_migration_tells_a_guarded_create_that_met_history_from_one_that_made_its_object(store, target_db):
    config = make_config(target_db, rollbacks_need_approval=False, shadow=parse_database_url(ADMIN_URL))
    guarded_audit = (
        'CREATE TABLE IF NOT EXISTS "Audit" ("id" SERIAL PRIMARY KEY);\nCREATE TABLE IF NOT EXISTS "Patient" ("id" SERIAL PRIMARY KEY, "name" TEXT);\n'
    )
    scripts = {**BASE, "20240102_audit": guarded_audit}
    digest = deployed(store, config, scripts)

    done = run_job(store, config, rollback_job(store, digest, "20240102_audit").id)

    # The replay of the history before it has Patient (BASE made it) and no Audit: Audit is the migration's own.
    assert done.verdict is Verdict.PROCEED, done.reasons
    assert done.facts["plan"]["sql"] == 'DROP TABLE IF EXISTS "Audit";'
    assert any("Patient" in note and "existed before" in note for note in done.facts["plan"]["left_out"]), done.facts["plan"]["left_out"]
    assert not target_db.query("SELECT 1 FROM pg_class WHERE relname = 'Audit'")
    assert target_db.query("SELECT 1 FROM pg_class WHERE relname = 'Patient'")


def test_a_shadow_unreachable_for_verification_blocks_the_rollback_with_the_reason_and_changes_nothing(store, target_db):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    digest = deployed(store, make_config(target_db))
    job = rollback_job(store, digest)
    # A shadow server that is down: the rollback SQL cannot be verified, so nothing runs and the
    # job waits for it, each attempt journaled, until the policy's bound; then blocked, never run unverified.
    down = make_config(target_db, shadow=parse_database_url(f"postgresql://postgres:hunter2@127.0.0.1:{port}/postgres"), unreachable_timeout_seconds=30)
    with pytest.raises(Deferred):
        run_job(store, down, job.id)
    assert repository.get_job(store, job.id).state is JobState.RUNNING
    spent = make_config(target_db, shadow=parse_database_url(f"postgresql://postgres:hunter2@127.0.0.1:{port}/postgres"), unreachable_timeout_seconds=0)
    blocked = run_job(store, spent, job.id)
    assert (blocked.state, blocked.verdict) == (JobState.SUCCEEDED, Verdict.BLOCKED)
    assert blocked.reasons[0] == f"shadow unreachable: connection refused by 127.0.0.1:{port}"
    attempts = [e.data for e in repository.job_events(store, job.id) if e.kind == "step_finished" and (e.step or "").startswith("wait_for_shadow:")]
    assert [(a["attempt"], a["outcome"]) for a in attempts] == [(1, "retrying"), (2, "gave_up")]
    assert email_column(target_db)  # nothing was rolled back
    assert "hunter2" not in str(attempts) + str(blocked.reasons)
