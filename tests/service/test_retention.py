"""Retention on a store seeded with old rows: written through the repository, then backdated with SQL."""

import psycopg
import pytest

from service.config.records import Retention
from service.jobs.states import JobKind, JobState, Verdict
from service.prisma.migrations import migrations_from_bundle
from service.retention import prune_store
from service.store import repository
from tests.store import migrated_store

POLICY = Retention(jobs_days=400, deliveries_days=30)


@pytest.fixture
def store(scratch_db):
    migrated_store(scratch_db)
    with scratch_db.connect() as conn:
        yield conn


def new_job(store, *, target="staging", bundle_digest=None, parent_id=None, kind=JobKind.DEPLOY):
    job, created = repository.create_job(store, kind=kind, target=target, requested_by="ci", bundle_digest=bundle_digest, parent_id=parent_id)
    assert created
    return job


def finished_job(store, **job):
    created = new_job(store, **job)
    repository.transition(store, created.id, JobState.RUNNING)
    return repository.transition(store, created.id, JobState.SUCCEEDED, verdict=Verdict.PROCEED, reasons=["nothing pending"])


def backdate(store, job_id, days):
    """As if the job had been created, and (if it ended) had ended, `days` ago."""
    store.execute(
        "UPDATE job SET created_at = now() - make_interval(days => %(days)s), updated_at = now() - make_interval(days => %(days)s),"
        " finished_at = CASE WHEN finished_at IS NULL THEN NULL ELSE now() - make_interval(days => %(days)s) END WHERE id = %(id)s",
        {"days": days, "id": job_id},
    )


def bundle(store, name):
    return repository.store_bundle(store, migrations_from_bundle({name: f"CREATE TABLE {name} (id int);"}, 'provider = "postgresql"'))


def job_ids(store):
    return {str(row[0]) for row in store.execute("SELECT id FROM job").fetchall()}


def events_of(store, job_id):
    return store.execute("SELECT count(*) FROM job_event WHERE job_id = %s", (job_id,)).fetchone()[0]


def kinds_of_events(store, job_id):
    return {row[0] for row in store.execute("SELECT kind FROM job_event WHERE job_id = %s", (job_id,)).fetchall()}


def test_old_finished_jobs_go_with_their_journals_approvals_and_reports_and_no_other_job_does(store):
    approved = new_job(store)
    repository.transition(store, approved.id, JobState.RUNNING)
    repository.transition(store, approved.id, JobState.WAITING_APPROVAL, reasons=["a restore needs a person"])
    repository.record_approval(store, approved.id, approved=True, by="oncall", comment="go")
    repository.transition(store, approved.id, JobState.FAILED)
    repository.open_integration_report(store, job_id=approved.id, source="github", subject="https://api.github.com/callback")
    # A recent delivery that started it keeps its id (a redelivery is still recognised), not the job.
    repository.remember_delivery(store, "github", "delivery-1")
    repository.link_delivery(store, "github", "delivery-1", approved.id)
    canceled = new_job(store)
    repository.transition(store, canceled.id, JobState.CANCELED)
    waiting = new_job(store)
    repository.transition(store, waiting.id, JobState.RUNNING)
    repository.transition(store, waiting.id, JobState.WAITING_APPROVAL, reasons=["a restore needs a person"])
    queued, running, recent = new_job(store), new_job(store), finished_job(store)
    repository.transition(store, running.id, JobState.RUNNING)
    for job in (approved, canceled, waiting, queued, running):
        backdate(store, job.id, 500)
    backdate(store, recent.id, 399)
    approved_events = events_of(store, approved.id)
    assert approved_events == 6 and kinds_of_events(store, approved.id) >= {"approval", "transition"}

    pruned = prune_store(store, POLICY)

    assert job_ids(store) == {waiting.id, queued.id, running.id, recent.id}
    # The canceled job's journal: queued, then canceled.
    assert (pruned.jobs, pruned.events, pruned.reports) == (2, approved_events + 2, 1)
    assert store.execute("SELECT count(*) FROM job_event WHERE job_id = ANY(%s)", ([approved.id, canceled.id],)).fetchone()[0] == 0
    assert store.execute("SELECT count(*) FROM integration_report").fetchone()[0] == 0
    assert repository.delivery_job(store, "github", "delivery-1") is None
    assert not repository.remember_delivery(store, "github", "delivery-1")
    for kept in (waiting, queued, running, recent):
        assert repository.job_with_journal(store, kept.id)[1], kept.state


def test_a_job_s_vercel_check_runs_go_with_it(store):
    old, recent = finished_job(store), finished_job(store)
    for job in (old, recent):
        repository.open_integration_report(store, job_id=job.id, source="vercel", subject=f"dpl_{job.id}", details={"checks_api": "v2"})
        repository.add_check_run(store, run_id=f"chkrun_{job.id}", deployment_id=f"dpl_{job.id}", check_id="chk_1", origin="announced", job_id=job.id)
    backdate(store, old.id, 500)
    assert prune_store(store, POLICY).jobs == 1
    assert repository.get_check_run(store, f"chkrun_{old.id}") is None
    assert repository.get_check_run(store, f"chkrun_{recent.id}").job_id == recent.id


def test_a_parent_goes_after_its_children_and_stays_while_a_child_is_kept(store):
    parent, other_parent = finished_job(store), finished_job(store)
    child = finished_job(store, kind=JobKind.RECOVER, parent_id=parent.id)
    kept_child = finished_job(store, kind=JobKind.RECOVER, parent_id=other_parent.id)
    for job in (parent, other_parent, child):
        backdate(store, job.id, 500)
    backdate(store, kept_child.id, 10)

    pruned = prune_store(store, POLICY, batch_size=10)

    assert job_ids(store) == {other_parent.id, kept_child.id}
    assert pruned.jobs == 2


def test_old_delivery_ids_go_and_recent_ones_stay(store):
    for delivery in ("old-1", "old-2", "recent", "yesterday"):
        assert repository.remember_delivery(store, "vercel", delivery)
    store.execute("UPDATE webhook_delivery SET received_at = now() - interval '31 days' WHERE delivery_id LIKE 'old-%'")
    store.execute("UPDATE webhook_delivery SET received_at = now() - interval '29 days' WHERE delivery_id = 'yesterday'")

    assert prune_store(store, POLICY).deliveries == 2

    assert {row[0] for row in store.execute("SELECT delivery_id FROM webhook_delivery").fetchall()} == {"recent", "yesterday"}
    assert repository.remember_delivery(store, "vercel", "old-1")  # forgotten: seen as new
    assert not repository.remember_delivery(store, "vercel", "recent")


def test_bundles_no_kept_job_uses_go_and_each_targets_latest_stays(store):
    pruned_with_its_job, used_recently, latest_of_prod, latest_of_preview, never_used = (bundle(store, name) for name in ("a", "b", "c", "d", "e"))
    old_prod = finished_job(store, target="prod", bundle_digest=pruned_with_its_job)
    recent_prod = finished_job(store, target="prod", bundle_digest=used_recently)
    latest_prod = finished_job(store, target="prod", bundle_digest=latest_of_prod)
    latest_preview = finished_job(store, target="preview", bundle_digest=latest_of_preview)
    # After the latest bundle: a job that carried none (a rollback) does not make it less latest.
    bundleless = finished_job(store, target="prod")
    backdate(store, old_prod.id, 700)
    backdate(store, recent_prod.id, 30)
    # The latest bundle's jobs ended long ago, but a deploy without migrations still reuses their bundles.
    backdate(store, latest_prod.id, 600)
    store.execute("UPDATE job SET created_at = now() WHERE id = %s", (latest_prod.id,))
    backdate(store, latest_preview.id, 600)
    backdate(store, bundleless.id, 500)
    latest_before = {target: repository.latest_bundle_digest(store, target) for target in ("prod", "preview")}
    assert latest_before == {"prod": latest_of_prod, "preview": latest_of_preview}

    pruned = prune_store(store, POLICY)

    assert job_ids(store) == {recent_prod.id, latest_prod.id, latest_preview.id}
    assert {row[0] for row in store.execute("SELECT digest FROM bundle").fetchall()} == {used_recently, latest_of_prod, latest_of_preview}
    assert (pruned.jobs, pruned.bundles) == (2, 2)
    assert {target: repository.latest_bundle_digest(store, target) for target in ("prod", "preview")} == latest_before
    assert never_used not in latest_before.values()


def test_jobs_created_together_all_stay_when_they_carry_the_latest_bundle(store):
    first, second = bundle(store, "a"), bundle(store, "b")
    jobs = repository.create_jobs(
        store,
        [repository.NewJob(JobKind.CHECK, "prod", "ci", bundle_digest=first), repository.NewJob(JobKind.CHECK, "prod", "ci", bundle_digest=second)],
    )
    for job, _ in jobs:
        repository.transition(store, job.id, JobState.RUNNING)
        repository.transition(store, job.id, JobState.CANCELED)
        store.execute("UPDATE job SET finished_at = now() - interval '500 days' WHERE id = %s", (job.id,))

    assert prune_store(store, POLICY).jobs == 0
    assert repository.latest_bundle_digest(store, "prod") in {first, second}


def test_batches_are_bounded_and_the_run_goes_on_until_nothing_is_left(store):
    jobs = [finished_job(store) for _ in range(5)]
    for job in jobs:
        backdate(store, job.id, 500)
    for number in range(5):
        repository.remember_delivery(store, "github", f"old-{number}")
        bundle(store, f"unused_{number}")
    store.execute("UPDATE webhook_delivery SET received_at = now() - interval '40 days'")

    pruned = prune_store(store, POLICY, batch_size=2)

    # Jobs 2 + 2 + 1 + an empty batch (a parent may follow its children); deliveries and bundles 2 + 2 + 1.
    assert (pruned.jobs, pruned.deliveries, pruned.bundles, pruned.batches) == (5, 5, 5, 4 + 3 + 3)
    assert job_ids(store) == set()
    assert store.execute("SELECT count(*) FROM webhook_delivery").fetchone()[0] == 0
    assert store.execute("SELECT count(*) FROM bundle").fetchone()[0] == 0


def test_the_journal_stays_append_only_outside_retention(store):
    job = finished_job(store)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        store.execute("DELETE FROM job_event WHERE job_id = %s", (job.id,))
    with store.transaction(force_rollback=True):
        store.execute("SET LOCAL deploy_gate.retention = 'on'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            store.execute("UPDATE job_event SET data = '{}' WHERE job_id = %s", (job.id,))
    assert events_of(store, job.id) == 3
