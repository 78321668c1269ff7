"""The CLI runs from the base install: `pip install deploy-gate` carries no server library.

Builds install the base package only (the examples, the Vercel script); `deploy-gate[server]`
adds the API and the workers. Each command's code path runs in a fresh interpreter, which then
must not have imported any of the server's libraries.
"""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SERVER_LIBRARIES = ("flask", "werkzeug", "celery", "kombu", "gevent", "gunicorn", "boto3", "botocore", "marshmallow", "psycopg_pool", "jinja2", "structlog")
SAME_CODE = {"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}

RUN_THE_COMMAND = """
import sys, json
from click.testing import CliRunner
from service.cli import main
import service.prisma.status, service.prisma.deploy, service.prisma.resolve, service.analysis.verify  # the commands' lazy imports
import service.config.settings, service.store.repository  # migrate-store's
result = CliRunner().invoke(main, json.loads(sys.argv[1]))
print(json.dumps({"exit": result.exit_code, "output": result.output, "modules": sorted({name.split(".")[0] for name in sys.modules})}))
"""


def migrations(tmp_path):
    migration = tmp_path / "migrations" / "20240101_patients"
    migration.mkdir(parents=True)
    (migration / "migration.sql").write_text('CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY);\n')
    return str(tmp_path / "migrations")


@pytest.mark.parametrize(
    "command",
    [
        ["gate", "--target", "staging", "--migrations", "{m}", "--url", "http://127.0.0.1:1", "--token", "t", "--retries", "0"],
        ["wait", "x", "--url", "http://127.0.0.1:1", "--token", "t"],
        ["jobs", "list", "--url", "http://127.0.0.1:1", "--token", "t"],
        ["jobs", "report", "x", "--url", "http://127.0.0.1:1", "--token", "t"],
        ["lint", "{m}"],
        ["analyze", "{m}"],
        ["status", "--migrations", "{m}", "--database-url", "postgresql://root@127.0.0.1:1/none"],
        ["migrate-store"],
    ],
)
def test_the_command_imports_no_server_library(tmp_path, command):
    import json

    arguments = [word.replace("{m}", migrations(tmp_path)) if "{m}" in word else word for word in command]
    environment = {**os.environ, **SAME_CODE, "DEPLOY_GATE_DATABASE_URL": "postgresql://root@127.0.0.1:1/none"}
    ran = subprocess.run([sys.executable, "-c", RUN_THE_COMMAND, json.dumps(arguments)], capture_output=True, text=True, env=environment, timeout=60)
    assert ran.returncode == 0, ran.stderr
    outcome = json.loads(ran.stdout)
    assert outcome["exit"] in (0, 1, 2) and "Traceback" not in outcome["output"], outcome["output"]
    assert [name for name in SERVER_LIBRARIES if name in outcome["modules"]] == []


def test_the_base_dependencies_hold_no_server_library_and_the_server_extra_does():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(requirements):
        return {requirement.split("[")[0].split(">")[0].split("<")[0].split("=")[0].strip().lower() for requirement in requirements}

    base, server = names(project["dependencies"]), names(project["optional-dependencies"]["server"])
    assert base & {"flask", "celery", "gevent", "gunicorn", "boto3", "marshmallow", "redis", "psycopg_pool", "jinja2", "structlog"} == set()
    assert {"flask", "celery", "gevent", "gunicorn", "boto3", "marshmallow"} <= server
    assert {"psycopg", "click", "pglast", "urllib3"} <= base
