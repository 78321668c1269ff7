"""docker-compose.yml and the Procfile describe the processes `make run` starts (no Docker engine here)."""

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_compose_file_runs_web_worker_and_beat_on_postgres_and_redis():
    """Redis is the default broker; any other is a change of DEPLOY_GATE_BROKER_URL."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker", "beat"}
    assert "service.http.wsgi:application()" in services["web"]["command"]
    assert services["worker"]["command"].startswith("celery -A workers.celery_app worker")
    for name in ("web", "worker", "beat"):
        environment = services[name]["environment"]
        assert environment["DEPLOY_GATE_BROKER_URL"].startswith("redis://redis:")
        assert (ROOT / environment["DEPLOY_GATE_CONFIG"].removeprefix("/app/")).exists()
    # The store's migrations run once, as a release step, before any process that uses the store.
    assert services["migrate"]["command"] == "deploy-gate migrate-store"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker client")
def test_compose_config_accepts_the_file():
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if plugin.returncode != 0:
        pytest.skip("the docker client has no compose plugin")
    result = subprocess.run(["docker", "compose", "config", "--quiet"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_procfile_names_the_same_entry_points():
    processes = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert set(processes) == {"release", "web", "worker", "beat"}
    assert processes["release"] == "deploy-gate migrate-store"
    assert shlex.split(processes["web"])[1] == "service.http.wsgi:application()"
    assert "workers.celery_app" in processes["worker"] and "workers.celery_app" in processes["beat"]


def run_dev_environment() -> dict[str, str]:
    """The database URLs scripts/run-dev.sh exports by default."""
    script = (ROOT / "scripts" / "run-dev.sh").read_text()
    environ = {}
    for line in script.splitlines():
        if line.startswith("export ") and "_DATABASE_URL=" in line:
            name, value = line.removeprefix("export ").split("=", 1)
            environ[name] = shlex.split(value)[0].split(":-", 1)[1].rstrip("}")
    return environ


def test_the_dev_targets_have_databases_of_their_own_that_make_run_and_compose_create():
    from service.config.load import load_config

    created = set(shlex.split((ROOT / "scripts" / "run-dev.sh").read_text().split("for database in ", 1)[1].split(";", 1)[0]))
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    init_sql = (ROOT / "scripts" / "compose-initdb.sql").read_text()
    for environ, exists in (
        (run_dev_environment(), created.__contains__),
        (compose["x-service-environment"], lambda name: f"CREATE DATABASE {name};" in init_sql),
    ):
        config = load_config(ROOT / "config" / "dev.toml", environ)
        local, demo = config.targets["local"], config.targets["demo"]
        # The README's demo deploys to `demo`: what it creates never meets a project's own migrations on `local`.
        assert local.database.params["dbname"] != demo.database.params["dbname"]
        assert local.shadow is not None and local.shadow.params["dbname"] == "deploy_gate_shadow" and demo.shadow == local.shadow
        assert all(exists(target.database.params["dbname"]) for target in (local, demo)) and exists("deploy_gate_shadow")


def test_the_readme_demo_uses_the_demo_target():
    readme = (ROOT / "README.md").read_text()
    first_curl = readme.split("curl -s -X POST", 1)[1].split("\n```", 1)[0]
    assert '"target": "demo"' in first_curl
