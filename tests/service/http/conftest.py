import pytest

from service.config.records import Config, Policy, Target, Token, hash_token
from service.config.settings import Settings
from service.http import create_app
from service.prisma.database import parse_database_url
from tests.contract import ContractClient
from tests.store import migrated_store

TOKENS = {"ci-token": {"deploy", "read"}, "reader-token": {"read"}, "oncall-token": {"read", "approve"}}


@pytest.fixture
def config(target_db):
    target = Target("staging", parse_database_url(target_db.url), Policy(lock_timeout_ms=2000))
    tokens = tuple(Token(token.split("-")[0], hash_token(token), frozenset(scopes)) for token, scopes in TOKENS.items())
    return Config({"staging": target}, tokens)


@pytest.fixture
def enqueued():
    return []


@pytest.fixture
def app(scratch_db, config, enqueued):
    settings = Settings(database_url=migrated_store(scratch_db), broker_url="redis://127.0.0.1:6379/15", config_file=None, max_bundle_bytes=64 * 1024)
    app = create_app(settings, config, enqueue=lambda *job_ids: enqueued.extend(job_ids))
    # Every response a test receives from this app is checked against openapi.yaml.
    app.test_client_class = ContractClient
    yield app
    app.extensions["deploy_gate"].close()


@pytest.fixture
def client(app):
    return app.test_client()


def auth(token="ci-token"):
    return {"Authorization": f"Bearer {token}"}
