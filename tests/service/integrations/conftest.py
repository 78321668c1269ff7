import pytest

from service import integrations
from service.config.records import Config, GitHubIntegration, Integrations, Policy, Target, VercelIntegration, VercelProject
from service.jobs.submit import DeployRequest, submit_deploy
from service.prisma.database import parse_database_url
from service.prisma.migrations import migrations_from_bundle
from service.store import repository
from tests.platforms import VERCEL_TOKEN
from tests.service.integrations.payloads import APP_ID, GITHUB_SECRET, PROJECT, REPOSITORY, TEAM, VERCEL_SECRET

PUBLIC_URL = "https://gate.example.com"
WEBHOOK_ID = "account_hook_GflD6EYyo7F4ViYS"
BUNDLE = [("20240101_patients", 'CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY);')]


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    # Short, yet long enough (a random wait from this up to its double) that a report which just
    # failed is not due again before a test looks.
    monkeypatch.setattr(integrations, "RETRY_BASE_SECONDS", 0.5)


def make_config(
    target_db, vercel_api=None, github_api=None, github_key=None, *, token=VERCEL_TOKEN, checks_api="v2", wait=60.0, blocks="deployment-alias"
) -> Config:
    database = parse_database_url(target_db.url)
    targets = {name: Target(name, database, Policy(lock_timeout_ms=2000)) for name in ("production", "staging")}
    vercel = None
    if vercel_api is not None:
        project = VercelProject(PROJECT, {"production": "production", "preview": "staging"}, blocks)
        vercel = VercelIntegration(
            VERCEL_SECRET,
            {PROJECT: project},
            token=token,
            team_id=TEAM,
            api_url=vercel_api.url,
            checks_api=checks_api,
            webhook_id=WEBHOOK_ID,
            check_run_wait_seconds=wait,
        )
    github = None
    if github_api is not None:
        github = GitHubIntegration(GITHUB_SECRET, APP_ID, github_key.private_pem, {f"{REPOSITORY}:production": "production"}, api_url=github_api.url)
    return Config(targets, (), integrations=Integrations(vercel, github, PUBLIC_URL))


@pytest.fixture
def config(target_db, vercel_api, github_api, github_key):
    return make_config(target_db, vercel_api, github_api, github_key)


@pytest.fixture
def store(scratch_db):
    with scratch_db.connect() as conn:
        repository.migrate_store(conn)
        yield conn


def store_bundle_for(store, config, target="production", scripts=BUNDLE):
    """A bundle for the target, stored the way a build's POST /v1/deploys stores it."""
    local = migrations_from_bundle(scripts, 'provider = "postgresql"')
    job, _ = submit_deploy(store, config, DeployRequest(target=target, migrations=local), "ci")
    return job
