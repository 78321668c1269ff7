"""The console against a real store: an app with the console on, a browser-like client, real jobs."""

import re
from dataclasses import replace

import pytest

from service.analysis.lint.engine import lint_migrations
from service.config.settings import Settings
from service.http import create_app
from service.jobs.runner import run_job
from service.jobs.states import JobKind
from service.prisma.migrations import migrations_from_bundle
from service.store import repository
from tests.aws import INSTANCE
from tests.store import migrated_store

SECRET = "console-session-secret-0123456789"
BASE = {"20240101_patients": 'CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY, "name" TEXT);\n'}
ADD_EMAIL = {
    **BASE,
    "20240102_add_email": 'ALTER TABLE "Patient" ADD COLUMN "email" TEXT;\n\n-- ROLLBACK SQL\n-- ALTER TABLE "Patient" DROP COLUMN IF EXISTS "email";\n',
}


@pytest.fixture
def config(config):
    """The HTTP tests' targets and tokens (ci: deploy+read, reader: read, oncall: read+approve), console on;
    staging names an RDS instance (moto's `prod`, tests.aws), so a restore can be asked of it."""
    staging = replace(config.targets["staging"], rds=INSTANCE)
    return replace(config, console_session_secret=SECRET, targets={**config.targets, "staging": staging})


@pytest.fixture
def app(scratch_db, config, enqueued):
    settings = Settings(database_url=migrated_store(scratch_db), broker_url="redis://127.0.0.1:6379/15", config_file=None, max_bundle_bytes=64 * 1024)
    app = create_app(settings, config, enqueue=lambda *job_ids: enqueued.extend(job_ids))
    yield app
    app.extensions["deploy_gate"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def store(app, scratch_db):
    with scratch_db.connect() as conn:
        yield conn


def csrf_of(client, path="/console/login"):
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert found, f"no CSRF field on {path}"
    return found.group(1)


def sign_in(client, token="ci-token"):
    response = client.post("/console/login", data={"token": token, "csrf_token": csrf_of(client)})
    assert response.status_code == 303, response.get_data(as_text=True)
    return client


def post_form(client, path, page, **fields):
    """Submit a form as a browser would: with the CSRF token of the page it is on."""
    return client.post(path, data={"csrf_token": csrf_of(client, page), **fields})


def lint(local, severities, session_timeouts, prisma_version):
    return [finding.to_dict() for finding in lint_migrations(local, severities, session_timeouts, prisma_version=prisma_version)]


def gate_job(store, config, scripts, kind=JobKind.DEPLOY, **params):
    """A check or deploy job run as a worker runs it, with the real linter."""
    digest = repository.store_bundle(store, migrations_from_bundle(scripts))
    job, _ = repository.create_job(store, kind=kind, target="staging", requested_by="ci", params=params, bundle_digest=digest)
    return run_job(store, config, job.id, linter=lint), digest


def waiting_rollback(store, config):
    """A real rollback job waiting for approval with its SQL, after a deploy that added a column."""
    _, digest = gate_job(store, config, ADD_EMAIL, apply=True, commit="abc123", deployment_id="dpl_1")
    job, _ = repository.create_job(
        store, kind=JobKind.ROLLBACK, target="staging", requested_by="ops", params={"migration": "20240102_add_email"}, bundle_digest=digest
    )
    return run_job(store, config, job.id)
