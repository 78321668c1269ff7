from service.store import repository
from tests.service.store.repository.helpers import new_job


def test_webhook_deliveries_are_seen_once(store):
    assert repository.remember_delivery(store, "github", "d-1")
    assert not repository.remember_delivery(store, "github", "d-1")
    assert repository.remember_delivery(store, "vercel", "d-1")


def test_a_delivery_is_described_and_linked_to_its_job(store):
    first, second = new_job(store), new_job(store)
    for delivery_id, event, job in (("d-1", "deployment", first), ("d-2", "deployment_status", None), ("d-3", "deployment", second)):
        assert repository.remember_delivery(store, "github", delivery_id)
        repository.describe_delivery(store, "github", delivery_id, event=event, subject="deploy-7")
        if job is not None:
            repository.link_delivery(store, "github", delivery_id, job.id)
    assert repository.delivery_events(store, "github", "deploy-7") == {"deployment", "deployment_status"}
    assert repository.delivery_jobs(store, "github", "deploy-7") == [first.id, second.id]
    assert repository.delivery_job(store, "github", "d-1") == first.id
    assert repository.delivery_job(store, "github", "d-2") is None
    assert repository.delivery_events(store, "vercel", "deploy-7") == set()
