"""The beat reconciler: lost messages and dead workers are found in the store and re-enqueued."""

from service.jobs.states import JobKind, JobState
from service.store import repository
from workers import tasks


def test_stale_queued_and_running_jobs_are_enqueued_again(service_env, scratch_db, monkeypatch):
    enqueued = []
    monkeypatch.setattr(tasks, "enqueue_job", enqueued.append)
    with scratch_db.connect() as store:
        repository.migrate_store(store)
        lost, _ = repository.create_job(store, kind=JobKind.CHECK, target="staging", requested_by="ci")
        abandoned, _ = repository.create_job(store, kind=JobKind.DEPLOY, target="staging", requested_by="ci")
        repository.transition(store, abandoned.id, JobState.RUNNING)
        fresh, _ = repository.create_job(store, kind=JobKind.CHECK, target="staging", requested_by="ci")
        finished, _ = repository.create_job(store, kind=JobKind.CHECK, target="staging", requested_by="ci")
        repository.transition(store, finished.id, JobState.RUNNING)
        repository.transition(store, finished.id, JobState.FAILED)
        store.execute(
            "UPDATE job SET updated_at = now() - interval '1 hour' WHERE id = ANY(%s)",
            ([lost.id, abandoned.id, finished.id],),
        )
    assert tasks.reconcile.run() == 2
    assert sorted(enqueued) == sorted([lost.id, abandoned.id])
    assert fresh.id not in enqueued and finished.id not in enqueued
