from service.prisma.migrations import migrations_from_bundle
from service.store import repository
from tests.service.store.repository.helpers import new_job


def test_bundles_are_content_addressed(store):
    local = migrations_from_bundle({"1_a": "CREATE TABLE a (id int);", "2_b": "SELECT 1;"}, 'provider = "postgresql"')
    digest = repository.store_bundle(store, local)
    assert repository.store_bundle(store, local) == digest
    loaded = repository.load_bundle(store, digest)
    assert loaded.names == ["1_a", "2_b"] and loaded.get("1_a").checksum == local.get("1_a").checksum
    assert loaded.lock_provider == "postgresql"
    new_job(store, bundle_digest=digest, target="prod")
    assert repository.latest_bundle_digest(store, "prod") == digest
    assert repository.latest_bundle_digest(store, "staging") is None
