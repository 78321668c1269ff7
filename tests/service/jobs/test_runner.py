import socket
import threading
import time

import psycopg
import pytest

from service.analysis.lint import RULES, lint_migrations
from service.analysis.lint.registry import deploy_risk_families
from service.config.records import Config, Policy, Target
from service.jobs.runner import Deferred, run_job
from service.jobs.states import JobKind, JobState, Verdict
from service.prisma.database import parse_database_url
from service.prisma.deploy import deploy
from service.prisma.migrations import migrations_from_bundle
from service.store import repository
from tests.password_postgres import password_postgres  # noqa: F401 (a fixture)
from tests.service.prisma.history_helpers import history_rows

BUNDLE = {
    "20240101_patients": 'CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY, "name" TEXT);',
    "20240102_visits": 'CREATE TABLE "Visit" ("id" SERIAL PRIMARY KEY, "patientId" INT REFERENCES "Patient"("id"));',
}


@pytest.fixture
def config(target_db):
    target = Target("staging", parse_database_url(target_db.url), Policy(lock_timeout_ms=2000))
    return Config({"staging": target}, ())


def queue(store, kind=JobKind.DEPLOY, scripts=BUNDLE, **params):
    digest = repository.store_bundle(store, migrations_from_bundle(scripts))
    job, _ = repository.create_job(store, kind=kind, target=params.pop("target", "staging"), requested_by="ci", params=params, bundle_digest=digest)
    return job


def test_check_before_deploy_proceeds_with_pending_migrations(store, config):
    job = run_job(store, config, queue(store, JobKind.CHECK, phase="pre").id)
    assert job.state is JobState.SUCCEEDED and job.verdict is Verdict.PROCEED
    assert job.facts["status"]["to_deploy"] == list(BUNDLE)


def test_the_lint_step_records_each_finding_with_its_family_at_the_targets_levels_and_the_deploy_families(store, target_db):
    target = Target("staging", parse_database_url(target_db.url), Policy(lock_timeout_ms=2000), lint_severities={"missing-lock-timeout": "info"})
    scripts = {**BUNDLE, "20240103_index": 'CREATE INDEX "Visit_patientId_idx" ON "Visit"("patientId");'}

    job = run_job(
        store,
        Config({"staging": target}, ()),
        queue(store, JobKind.CHECK, scripts=scripts, phase="pre").id,
        linter=lint,
    )

    step = job.facts["lint"]
    assert step["deploy_families"] == deploy_risk_families()
    assert step["findings"] and all(finding["family"] == RULES[finding["rule"]].family for finding in step["findings"])
    assert {finding["severity"] for finding in step["findings"] if finding["rule"] == "missing-lock-timeout"} == {"info"}


def test_check_after_deploy_blocks_on_pending_migrations(store, config):
    job = run_job(store, config, queue(store, JobKind.CHECK, phase="post").id)
    assert job.verdict is Verdict.BLOCKED
    assert job.reasons == ["not applied: 20240101_patients, 20240102_visits"]


def test_deploy_applies_and_proceeds(store, config, target_db):
    job = run_job(store, config, queue(store).id)
    assert job.verdict is Verdict.PROCEED, job.reasons
    assert job.facts["apply"]["applied"] == list(BUNDLE)
    with target_db.connect() as conn:
        assert [row["migration_name"] for row in history_rows(conn)] == list(BUNDLE)
    steps = [(e.kind, e.step) for e in repository.job_events(store, job.id) if e.step]
    assert ("step_finished", "apply:20240102_visits") in steps


def test_a_failed_apply_starts_a_recover_job_whose_verdict_the_deploy_takes(store, config):
    started = []
    deploy_job = run_job(
        store, config, queue(store, scripts={**BUNDLE, "20240103_dup": 'CREATE TABLE "Visit" (id int, "note" text);'}).id, enqueue=started.append
    )
    assert deploy_job.state is JobState.RUNNING and deploy_job.verdict is None
    child_id = repository.finished_steps(store, deploy_job.id)["recover"]["job"]
    assert started == [child_id]
    child = repository.get_job(store, child_id)
    assert (child.kind, child.parent_id, child.bundle_digest) == (JobKind.RECOVER, deploy_job.id, deploy_job.bundle_digest)

    recovered = run_job(store, config, child_id)
    assert recovered.state is JobState.SUCCEEDED and recovered.verdict is Verdict.BLOCKED
    assert recovered.reasons[0] == '20240103_dup failed with 42P07 (already-exists): relation "Visit" already exists'
    deploy_job = repository.get_job(store, deploy_job.id)
    assert deploy_job.state is JobState.SUCCEEDED and deploy_job.verdict is Verdict.BLOCKED
    assert deploy_job.reasons == [f"recover job {child_id}: {reason}" for reason in recovered.reasons]
    # Running the deploy job again (a redelivered message) starts no second recovery.
    assert run_job(store, config, deploy_job.id, enqueue=started.append) == deploy_job and started == [child_id]


def lint(local, severities, session_timeouts, prisma_version):
    # What the worker's task lints with (workers.tasks).
    return [finding.to_dict() for finding in lint_migrations(local, severities, session_timeouts, prisma_version=prisma_version)]


def test_a_job_lints_with_its_targets_levels_and_the_timeouts_it_sets_when_it_applies(store, target_db):
    target = Target("staging", parse_database_url(target_db.url), Policy(lock_timeout_ms=2000), lint_severities={"missing-statement-timeout": "warning"})
    config = Config({"staging": target}, ())
    scripts = {**BUNDLE, "20240103_note": 'ALTER TABLE "Patient" ADD COLUMN IF NOT EXISTS "note" TEXT;'}

    def lint_levels(job):
        return {(f["rule"], f["severity"]) for f in repository.finished_steps(store, job.id)["lint"]["findings"] if f["migration"] == "20240103_note"}

    # A check's migrations are applied by the build's `prisma migrate deploy`, which sets no lock_timeout.
    checked = run_job(store, config, queue(store, JobKind.CHECK, phase="pre", scripts=scripts).id, linter=lint)
    assert {("missing-lock-timeout", "warning"), ("missing-statement-timeout", "warning")} <= lint_levels(checked)
    # A deploy that applies sets the policy's lock_timeout_ms on the session before each file.
    deployed = run_job(store, config, queue(store, scripts=scripts, apply=True).id, linter=lint)
    assert deployed.verdict is Verdict.PROCEED, deployed.reasons
    assert "missing-lock-timeout" not in {rule for rule, _ in lint_levels(deployed)}
    assert ("missing-statement-timeout", "warning") in lint_levels(deployed)


def test_a_finished_job_is_not_run_again(store, config, target_db):
    job = run_job(store, config, queue(store).id)
    again = run_job(store, config, job.id)
    assert again == job
    with target_db.connect() as conn:
        assert len(history_rows(conn)) == 2


def test_unknown_target_fails_the_job(store, config):
    job = run_job(store, config, queue(store, target="nowhere").id)
    assert job.state is JobState.FAILED and job.reasons == ["target nowhere is not configured"]


def unreachable(store, url, *, shadow=None, timeout=600.0):
    policy = Policy(lock_timeout_ms=2000, unreachable_timeout_seconds=timeout)
    target = Target("staging", parse_database_url(url), policy, shadow=parse_database_url(shadow) if shadow else None)
    return Config({"staging": target}, ())


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def journaled_attempts(store, job_id, server="target"):
    return [e for e in repository.job_events(store, job_id) if e.kind == "step_finished" and e.step and e.step.startswith(f"wait_for_{server}:")]


def test_an_unreachable_target_is_journaled_and_waited_for_without_a_secret(store):
    port = closed_port()
    config = unreachable(store, f"postgresql://u:hunter2@127.0.0.1:{port}/x")
    job = queue(store)
    for attempt in (1, 2):
        with pytest.raises(Deferred) as deferred:
            run_job(store, config, job.id)
        assert 1.0 <= deferred.value.seconds <= 2.0**attempt
    assert repository.get_job(store, job.id).state is JobState.RUNNING
    first, second = (e.data for e in journaled_attempts(store, job.id))
    assert first["reason"] == f"connection refused by 127.0.0.1:{port}" and (first["code"], first["failure"]) == ("P1001", "refused")
    assert (first["attempt"], second["attempt"], second["first_failed_at"]) == (1, 2, first["first_failed_at"])
    assert (first["outcome"], second["outcome"], second["next_try_in_seconds"]) == ("retrying", "retrying", round(deferred.value.seconds, 3))
    assert "hunter2" not in str([e.data for e in repository.job_events(store, job.id)])


def test_an_unreachable_target_ends_blocked_once_the_timeout_is_spent(store):
    port = closed_port()
    job = run_job(store, unreachable(store, f"postgresql://u:hunter2@127.0.0.1:{port}/x", timeout=0), queue(store).id)
    assert (job.state, job.verdict) == (JobState.SUCCEEDED, Verdict.BLOCKED)
    assert job.reasons[0] == f"target unreachable: connection refused by 127.0.0.1:{port}"
    assert job.reasons[1].startswith("tried 1 time over 0 s (unreachable_timeout_seconds = 0)")
    (attempt,) = journaled_attempts(store, job.id)
    assert (attempt.data["outcome"], attempt.data["next_try_at"]) == ("gave_up", None)


def test_a_wrong_password_and_a_missing_database_are_journaled_in_their_own_words(store, password_postgres, target_db):
    for url, code, reason in (
        (password_postgres.url(password="wrong-hunter2"), "P1000", f"authentication failed for user postgres at 127.0.0.1:{password_postgres.port}"),
        (target_db.url + "_nope", "P1003", f"database {target_db.name}_nope does not exist on 127.0.0.1:5432"),
    ):
        job = queue(store)
        with pytest.raises(Deferred):
            run_job(store, unreachable(store, url), job.id)
        (attempt,) = journaled_attempts(store, job.id)
        assert (attempt.data["code"], attempt.data["reason"], attempt.data["message"]) == (code, reason, f"target unreachable: {reason}")
        assert "wrong-hunter2" not in str(attempt.data)


def test_an_unreachable_shadow_is_waited_for_then_blocks_never_proceeding_on_less_evidence(store, target_db):
    port = closed_port()
    shadow = f"postgresql://postgres:hunter2@127.0.0.1:{port}/postgres"
    job = queue(store)
    # The migrations apply; the shadow's replay, the postcondition's ground truth, cannot be reached.
    with pytest.raises(Deferred):
        run_job(store, unreachable(store, target_db.url, shadow=shadow), job.id)
    (attempt,) = journaled_attempts(store, job.id, "shadow")
    assert (attempt.step, attempt.data["server"], attempt.data["reason"]) == ("wait_for_shadow:1", "shadow", f"connection refused by 127.0.0.1:{port}")
    assert journaled_attempts(store, job.id, "target") == []

    finished = run_job(store, unreachable(store, target_db.url, shadow=shadow, timeout=0), job.id)
    assert (finished.state, finished.verdict) == (JobState.SUCCEEDED, Verdict.BLOCKED)
    assert finished.reasons[0] == f"shadow unreachable: connection refused by 127.0.0.1:{port}"
    with target_db.connect() as conn:
        assert [row["migration_name"] for row in history_rows(conn)] == list(BUNDLE)  # applied once, not twice


def test_resumes_a_migration_interrupted_by_a_dead_worker(store, config, target_db):
    job = queue(store)
    repository.transition(store, job.id, JobState.RUNNING)
    # The dead worker had applied the first migration and started the second: its row was
    # committed, then the connection died and PostgreSQL aborted the script's transaction.
    with target_db.connect() as conn:
        deploy(conn, "public", migrations_from_bundle({"20240101_patients": BUNDLE["20240101_patients"]}))
        conn.execute(
            "INSERT INTO _prisma_migrations (id, checksum, started_at, migration_name) VALUES (gen_random_uuid(), %s, now(), %s)",
            (migrations_from_bundle(BUNDLE).get("20240102_visits").checksum, "20240102_visits"),
        )
    repository.record_step(store, job.id, "apply:20240102_visits", "started")

    finished = run_job(store, config, job.id)
    assert finished.verdict is Verdict.PROCEED, finished.reasons
    with target_db.connect() as conn:
        rows = history_rows(conn)
    applied = [row["migration_name"] for row in rows if row["finished_at"] and not row["rolled_back_at"]]
    assert applied == ["20240101_patients", "20240102_visits"]
    assert [row["rolled_back_at"] is not None for row in rows if row["migration_name"] == "20240102_visits"] == [True, False]


def test_two_deploys_to_one_target_are_serialised(scratch_db, store, config, target_db):
    jobs = [queue(store, scripts={**BUNDLE, f"2024010{3 + i}_slow": f'SELECT pg_sleep(0.5); CREATE TABLE "T{i}" (id int);'}) for i in range(2)]
    results = {}

    def work(job_id):
        with scratch_db.connect() as own_store:
            results[job_id] = run_job(own_store, config, job_id)

    threads = [threading.Thread(target=work, args=(job.id,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [result.verdict for result in results.values()] == [Verdict.PROCEED, Verdict.PROCEED]
    with target_db.connect() as conn:
        rows = history_rows(conn)
    names = [row["migration_name"] for row in rows]
    assert len(names) == len(set(names)) == 4 and all(row["finished_at"] for row in rows)

    def apply_window(job_id):
        moments = [e.at for e in repository.job_events(store, job_id) if e.step and e.step.startswith("apply:")]
        return min(moments), max(moments)

    (first_start, first_end), (second_start, second_end) = sorted(apply_window(job.id) for job in jobs)
    assert first_end <= second_start


def test_a_migration_that_committed_after_its_worker_died_is_finished_not_rerun(store, config, target_db):
    job = queue(store)
    repository.transition(store, job.id, JobState.RUNNING)
    # PostgreSQL finished the dead worker's script and committed it: the table exists, but the
    # row was never marked finished.
    with target_db.connect() as conn:
        deploy(conn, "public", migrations_from_bundle({"20240101_patients": BUNDLE["20240101_patients"]}))
        conn.execute(BUNDLE["20240102_visits"])
        conn.execute(
            "INSERT INTO _prisma_migrations (id, checksum, started_at, migration_name) VALUES (gen_random_uuid(), %s, now(), %s)",
            (migrations_from_bundle(BUNDLE).get("20240102_visits").checksum, "20240102_visits"),
        )
    repository.record_step(store, job.id, "apply:20240102_visits", "started")

    finished = run_job(store, config, job.id)
    assert finished.verdict is Verdict.PROCEED, finished.reasons
    with target_db.connect() as conn:
        rows = history_rows(conn)
    assert [(row["migration_name"], row["applied_steps_count"], row["rolled_back_at"]) for row in rows] == [
        ("20240101_patients", 1, None),
        ("20240102_visits", 1, None),
    ]
    resolution = [e.data for e in repository.job_events(store, job.id) if e.step == "apply:20240102_visits" and e.kind == "step_finished"]
    assert resolution == [{"interrupted": True, "resolution": "finished: every effect is present"}]


def test_canceling_a_running_deploy_stops_it_between_migrations(store, config, target_db, monkeypatch):
    job = queue(store)
    real_record_step = repository.record_step

    def cancel_after_the_first(conn, job_id, step, phase, data=None):
        real_record_step(conn, job_id, step, phase, data)
        if (step, phase) == ("apply:20240101_patients", "finished"):
            repository.transition(conn, job_id, JobState.CANCELED, data={"by": "api"})

    monkeypatch.setattr(repository, "record_step", cancel_after_the_first)
    canceled = run_job(store, config, job.id)
    assert canceled.state is JobState.CANCELED and canceled.verdict is None
    with target_db.connect() as conn:
        assert [row["migration_name"] for row in history_rows(conn)] == ["20240101_patients"]
    monkeypatch.setattr(repository, "record_step", real_record_step)
    assert run_job(store, config, job.id) == canceled  # a redelivered message does nothing


def test_a_deploy_whose_guarded_create_skipped_an_invalid_index_waits_for_a_person(store, target_db):
    """The postcondition: a migration PostgreSQL ran to the end is still checked before `proceed`."""
    config = Config({"staging": Target("staging", parse_database_url(target_db.url), Policy())}, ())
    scripts = {"20240101_init": 'CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY, "name" TEXT);\n'}

    def bundle(scripts):
        return repository.store_bundle(store, migrations_from_bundle(scripts))

    def deploy_job(scripts):
        job, _ = repository.create_job(store, kind=JobKind.DEPLOY, target="staging", requested_by="ci", params={"apply": True}, bundle_digest=bundle(scripts))
        return run_job(store, config, job.id)

    def check_job(scripts):
        job, _ = repository.create_job(store, kind=JobKind.CHECK, target="staging", requested_by="ci", params={"phase": "post"}, bundle_digest=bundle(scripts))
        return run_job(store, config, job.id)

    assert deploy_job(scripts).verdict is Verdict.PROCEED
    target_db.query("""INSERT INTO "Patient" ("name") VALUES ('a'), ('a')""")
    # A unique build someone ran by hand failed and left an INVALID index of the migration's name.
    with pytest.raises(psycopg.errors.UniqueViolation):
        target_db.query('CREATE UNIQUE INDEX CONCURRENTLY "Patient_name_idx" ON "Patient"("name")')
    scripts["20240102_name_idx"] = 'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "Patient_name_idx" ON "Patient"("name");\n'

    waiting = deploy_job(scripts)

    # IF NOT EXISTS skipped the INVALID index: PostgreSQL reported success, deploy-gate does not.
    assert waiting.facts["apply"]["applied"] == ["20240102_name_idx"]
    assert waiting.state is JobState.WAITING_APPROVAL and waiting.verdict is None
    assert waiting.facts["postcondition"]["basis"] == "parsed"
    assert any("Patient_name_idx" in reason and "INVALID" in reason for reason in waiting.reasons), waiting.reasons
    assert waiting.facts["approval"]["step"] == "postcondition"
    assert "approve to check again: proceed if every effect is in place then, blocked if not" in waiting.facts["approval"]["plan"]
    # Meanwhile the history says applied; a check refuses to say proceed over the index.
    assert check_job(scripts).reasons == [
        "index public.Patient_name_idx on Patient, created by 20240102_name_idx, is INVALID or not ready: PostgreSQL does not use it; drop it and build it again"
    ]

    # A person removes the duplicate and rebuilds the index, then approves a second look.
    target_db.query("""DELETE FROM "Patient" WHERE "id" = (SELECT max("id") FROM "Patient")""")
    target_db.query('REINDEX INDEX CONCURRENTLY "Patient_name_idx"')
    repository.record_approval(store, waiting.id, approved=True, by="oncall", comment="rebuilt")
    finished = run_job(store, config, waiting.id)
    assert finished.verdict is Verdict.PROCEED, finished.reasons
    assert finished.reasons[-2:] == ["approved by oncall: rebuilt", "checked again: every effect is in place"]
    assert finished.facts["postcondition:recheck"]["problems"] == []
    assert check_job(scripts).verdict is Verdict.PROCEED


def test_a_lock_that_keeps_the_catalog_unreadable_is_waited_for_then_blocks_naming_its_holder(store, target_db):
    """Reading an index's definition waits for its table's lock: bounded, journaled, never for good."""
    from service.jobs.runner import Deferred
    from tests.service.jobs.test_recover import BASE, HeldLock, make_config

    config = make_config(target_db, retry_wait_seconds=0.5)
    scripts = {**BASE, "20240102_rename_pkey": 'ALTER INDEX "Patient_pkey" RENAME TO "Patient_id_pkey";\n'}

    def deploy_job(scripts):
        digest = repository.store_bundle(store, migrations_from_bundle(scripts))
        job, _ = repository.create_job(store, kind=JobKind.DEPLOY, target="staging", requested_by="ci", params={"apply": True}, bundle_digest=digest)
        return job

    assert run_job(store, config, deploy_job(BASE).id).verdict is Verdict.PROCEED
    job = deploy_job(scripts)
    lock = HeldLock(target_db, "Patient", application_name="reporting")
    try:
        with pytest.raises(Deferred) as waiting:
            run_job(store, config, job.id)
        look = repository.finished_steps(store, job.id)["wait_for_catalog:1"]
        assert [(h["pid"], h["application_name"], h["relation"]) for h in look["holders"]] == [(lock.pid, "reporting", '"Patient"')]
        assert waiting.value.reason == look["message"] and "reporting" in look["message"]
        deadline = time.monotonic() + 10
        while True:  # each run waits at most the lock timeout, then looks again later
            try:
                finished = run_job(store, config, job.id)
                break
            except Deferred:
                assert time.monotonic() < deadline
    finally:
        lock.release()
    assert finished.verdict is Verdict.BLOCKED
    assert finished.reasons[0].startswith("a lock another session holds keeps the target's catalog from being read")
    assert f"pid {lock.pid} (reporting" in finished.reasons[0] and "retry_wait_seconds" in finished.reasons[0]


@pytest.mark.parametrize("kind", [JobKind.CHECK, JobKind.DEPLOY])
def test_a_target_prisma_8_manages_blocks_with_the_reason(store, config, target_db, kind):
    from tests.service.cli.test_prisma_8 import PRISMA_8_MARKER

    with target_db.connect() as conn:
        conn.execute(PRISMA_8_MARKER)
    job = run_job(store, config, queue(store, kind).id)
    assert job.state is JobState.SUCCEEDED and job.verdict is Verdict.BLOCKED
    assert len(job.reasons) == 1 and "Prisma 8's marker table prisma_contract.marker" in job.reasons[0]
    with target_db.connect() as conn:
        assert conn.execute("SELECT to_regclass('\"Patient\"'), to_regclass('_prisma_migrations')").fetchone() == (None, None)


CONCURRENT_BUNDLE = {
    "20240101_patients": BUNDLE["20240101_patients"],
    "20240102_index": 'CREATE INDEX CONCURRENTLY "Patient_name_idx" ON "Patient" ("name");\nINSERT INTO "Patient" ("name") VALUES (\'Ada\');\n',
}


def test_a_deploy_follows_the_prisma_version_its_request_names(store, config, target_db):
    """Prisma 7 sends a file with CREATE INDEX CONCURRENTLY statement by statement (prisma-engines #5767):
    lint passes it and the apply builds the index; followed as Prisma 6, lint blocks it (25001)."""
    blocked = run_job(store, config, queue(store, scripts=CONCURRENT_BUNDLE).id, linter=lint)
    assert blocked.verdict is Verdict.BLOCKED
    assert blocked.reasons == [
        "lint concurrently-in-transaction in 20240102_index line 1: CREATE INDEX CONCURRENTLY fails with 25001: "
        "with 1 other statement in the file, PostgreSQL runs it inside a transaction block"
    ]
    job = run_job(store, config, queue(store, scripts=CONCURRENT_BUNDLE, prisma_version=7).id, linter=lint)
    assert job.verdict is Verdict.PROCEED, job.reasons
    assert job.facts["apply"]["applied"] == list(CONCURRENT_BUNDLE)
    with target_db.connect() as conn:
        assert conn.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('\"Patient_name_idx\"')").fetchone() == (True,)


def test_a_deploy_without_a_prisma_version_follows_its_targets(store, target_db):
    target = Target("staging", parse_database_url(target_db.url), Policy(lock_timeout_ms=2000), prisma_version=7)
    job = run_job(store, Config({"staging": target}, ()), queue(store, scripts=CONCURRENT_BUNDLE).id, linter=lint)
    assert job.verdict is Verdict.PROCEED, job.reasons
