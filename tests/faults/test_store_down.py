"""With the service's store down, every endpoint answers within 2 s: 503 where it needs the store.

The store is a database in a PostgreSQL cluster of this module's own (tests.faults.servers: initdb
into a temporary directory, on a free port), stopped with `pg_ctl stop -m immediate`; the shared
server is never touched. Every route of
the app's url_map is called with a token that has every scope (the console signed in, webhooks
signed). Before, readiness, reports and target status waited out the pool's 30 s.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from types import SimpleNamespace

import psycopg
import pytest

from service.config.records import Token, hash_token
from service.config.settings import Settings
from service.http import create_app
from service.http.store import UNREACHABLE_WAIT_SECONDS, open_pool
from service.integrations import github, vercel
from service.store.repository import migrate_store
from tests.contract import check_response
from tests.faults.servers import OwnDatabase, OwnPostgres
from tests.service.http.console.conftest import SECRET, csrf_of, sign_in
from tests.service.http.test_deploys import MIGRATIONS
from tests.service.integrations.conftest import make_config
from tests.service.integrations.fakes import rsa_key
from tests.service.integrations.payloads import GITHUB_SECRET, VERCEL_SECRET

pytestmark = pytest.mark.faults

REDIS_DB = int(os.environ.get("DEPLOY_GATE_TEST_REDIS_DB", "14"))
TOKEN = "everything-token"
DEADLINE_SECONDS = 2.0
# Endpoints that answer without the store: liveness, the configured targets, the console's sign-in.
WITHOUT_STORE = {
    "health.healthz": 200,
    "targets.list_targets": 200,
    "console.login": 200,
    "console.login_submit": 303,
    "console.logout": 303,
    "console.unknown": 404,
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[OwnPostgres]:
    server = OwnPostgres()
    yield server
    server.remove()


@pytest.fixture
def own_store(cluster) -> OwnDatabase:
    """The store: a database of this test's own in the module's cluster, migrated (a test that stopped the cluster left it to be started here)."""
    database = cluster.create_database()
    with database.connect() as conn:
        migrate_store(conn)
    return database


@pytest.fixture
def config(target_db):
    """Targets, both integrations (their APIs are never called here), a token with every scope, the console on."""
    platform = SimpleNamespace(url="http://127.0.0.1:9")
    made = make_config(target_db, platform, platform, rsa_key())
    everything = Token("everything", hash_token(TOKEN), frozenset({"deploy", "read", "approve"}))
    return replace(made, tokens=(everything,), console_session_secret=SECRET)


@pytest.fixture
def app(own_store, config):
    settings = Settings(database_url=own_store.url, broker_url=f"redis://127.0.0.1:6379/{REDIS_DB}", config_file=None)
    app = create_app(settings, config, enqueue=lambda *job_ids: None)
    yield app
    app.extensions["deploy_gate"].close()


def _requests(app, job_id: str, csrf: str) -> list[tuple[str, str, str, dict]]:
    """(endpoint, method, path, request arguments) for every route of the app; signing in again and out last."""
    return sorted(_each_request(app, job_id, csrf), key=lambda request: request[0] in ("console.login_submit", "console.logout"))


def _each_request(app, job_id: str, csrf: str) -> Iterator[tuple[str, str, str, dict]]:
    values = {"job_id": job_id, "name": "staging", "anything": "nowhere"}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?(\w+)>", lambda match: values[match.group(1)], rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            arguments: dict = {"headers": {"Authorization": f"Bearer {TOKEN}"}}
            if rule.endpoint == "webhooks.vercel_webhook":
                body = b'{"id": "d-1", "type": "deployment.succeeded", "payload": {"deployment": {"id": "dpl_1"}}}'
                arguments = {"data": body, "headers": {"Content-Type": "application/json", vercel.SIGNATURE_HEADER: vercel.signature(VERCEL_SECRET, body)}}
            elif rule.endpoint == "webhooks.github_webhook":
                body = b'{"zen": "Design for failure."}'
                headers = {github.SIGNATURE_HEADER: github.signature(GITHUB_SECRET, body), github.EVENT_HEADER: "ping", github.DELIVERY_HEADER: "g-1"}
                arguments = {"data": body, "headers": {"Content-Type": "application/json", **headers}}
            elif method == "POST" and rule.rule.startswith("/console/"):
                arguments = {"data": {"csrf_token": csrf, "token": TOKEN, "comment": "looks fine"}}
            elif method == "POST" and rule.rule.startswith("/v1/"):
                body_by_path = {
                    "/v1/deploys": {"target": "staging"},
                    "/v1/targets/<name>/rollbacks": {"migration": "20240101_patients"},
                    "/v1/targets/<name>/restores": {"use_latest_restorable_time": True},
                }
                arguments["json"] = body_by_path.get(rule.rule, {})
            yield rule.endpoint, method, path, arguments


def test_every_endpoint_answers_within_2_s_with_the_store_down(app, own_store):
    client = app.test_client()
    sign_in(client, TOKEN)
    created = client.post("/v1/deploys", json={"target": "staging", "migrations": MIGRATIONS}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert created.status_code == 202
    assert client.get("/readyz").status_code in (200, 503)  # the broker is not this test's concern
    csrf = csrf_of(client, "/console/jobs")
    own_store.stop()

    answered = []
    for endpoint, method, path, arguments in _requests(app, created.get_json()["id"], csrf):
        if endpoint == "console.events":
            path += f"?job={created.get_json()['id']}"
        if endpoint in ("console.login_submit", "console.logout"):  # each starts a session: its own CSRF token
            arguments["data"]["csrf_token"] = csrf_of(client)
        started = time.monotonic()
        response = client.open(path, method=method, **arguments)
        took = time.monotonic() - started
        answered.append((endpoint, method, response.status_code, round(took, 2)))
        if not endpoint.startswith("console."):  # the console's pages are for people, not in openapi.yaml
            check_response(response)
        expected = WITHOUT_STORE.get(endpoint, 503)
        assert (response.status_code, took < DEADLINE_SECONDS) == (expected, True), (endpoint, method, path, response.status_code, took)
        if expected == 503:
            body = response.get_data(as_text=True)
            assert response.content_type == "application/problem+json" and str(own_store.port) not in body and "postgres" not in body
    assert len(answered) >= 25, answered
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["checks"]["database"] == "PoolTimeout"


def test_the_service_answers_again_once_the_store_is_back(app, own_store):
    client = app.test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    own_store.stop()
    assert client.get("/v1/jobs", headers=auth).status_code == 503
    own_store.start()
    # The pool reconnects on its own (with backoff); a request meanwhile may still be told 503.
    deadline = time.monotonic() + 30
    while (response := client.get("/v1/jobs", headers=auth)).status_code == 503 and time.monotonic() < deadline:
        time.sleep(UNREACHABLE_WAIT_SECONDS / 4)
    assert response.status_code == 200


def test_a_pool_whose_connections_are_all_busy_is_waited_for_while_the_store_answers(own_store):
    pool = open_pool(own_store.url, wait_seconds=10, min_size=1, max_size=1)
    try:
        with pool.connection() as held:
            held.execute("SELECT 1")
            assert not pool.unreachable
            started = time.monotonic()
            with pytest.raises(psycopg.OperationalError):
                pool.getconn(timeout=UNREACHABLE_WAIT_SECONDS + 0.5)
            # Busy is not down: the wait ran its whole course, past the short one for an unreachable store.
            assert time.monotonic() - started >= UNREACHABLE_WAIT_SECONDS + 0.4
    finally:
        pool.close()
