"""Errors answered from the table in service.http.problems; here, a store that cannot be reached."""

import logging

import psycopg
import pytest
from psycopg import sql

from service.http.problems import STORE_UNAVAILABLE
from tests.conftest import ADMIN_URL
from tests.service.http.conftest import auth
from tests.service.http.test_deploys import MIGRATIONS, post


@pytest.fixture
def store_down(scratch_db, app):
    """The store's database refuses new connections and has cut off the app's pooled one."""
    name = sql.Identifier(scratch_db.name)
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(name))
        admin.execute("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = %s", (scratch_db.name,))
    yield
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(name))


@pytest.mark.parametrize(
    "send",
    [
        pytest.param(lambda client: post(client, {"target": "staging", "migrations": MIGRATIONS}), id="deploy"),
        pytest.param(lambda client: post(client, {"target": "staging", "phase": "post"}), id="deploy-with-the-last-bundle"),
        pytest.param(lambda client: client.get("/v1/jobs", headers=auth("reader-token")), id="job-list"),
    ],
)
def test_a_store_that_cannot_be_reached_is_a_503_that_names_no_host(client, scratch_db, enqueued, store_down, caplog, send):
    with caplog.at_level(logging.WARNING):
        response = send(client)
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["detail"] == STORE_UNAVAILABLE
    assert "127.0.0.1" not in response.get_data(as_text=True) and scratch_db.name not in response.get_data(as_text=True)
    assert "Service Unavailable" in caplog.text and "Traceback" not in caplog.text
    assert enqueued == []


def test_nothing_is_stored_by_a_deploy_the_store_refused(client, scratch_db, enqueued, store_down):
    assert post(client, {"target": "staging", "migrations": MIGRATIONS}).status_code == 503
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(scratch_db.name)))
    assert scratch_db.query("SELECT count(*) FROM job") == [(0,)] and enqueued == []
