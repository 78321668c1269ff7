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
