"""The examples use commands the CLI has, in the order a build needs them, and they run.

The gate steps are run as written against a small fake service (tests/service/cli/test_gate.py
has the end-to-end tests on the real one).
"""

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.service.cli.test_gate import FakeService

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
BIN = Path(sys.executable).parent
VERCEL = {"VERCEL": "1", "VERCEL_ENV": "production", "VERCEL_GIT_COMMIT_SHA": "5e1f" * 10, "VERCEL_DEPLOYMENT_ID": "dpl_3xAmPLe"}
GITHUB = {"GITHUB_ACTIONS": "true", "GITHUB_SHA": "9c0d" * 10, "GITHUB_RUN_ID": "123456789", "GITHUB_RUN_ATTEMPT": "1"}


def deploy_gate_commands(script: str) -> list[list[str]]:
    """The arguments of every `deploy-gate ...` command in a shell script."""
    commands = []
    for line in script.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0] == "deploy-gate":
            commands.append(words[1:])
    return commands


def assert_the_cli_accepts(arguments: list[str]) -> None:
    """Click refuses an unknown option or a missing value before it answers --help."""
    result = subprocess.run([str(BIN / "deploy-gate"), *arguments, "--help"], capture_output=True, text=True)
    assert result.returncode == 0, f"deploy-gate {shlex.join(arguments)}: {result.stderr}"
    flags = [word.split("=")[0] for word in arguments if word.startswith("--")]
    assert all(flag in result.stdout for flag in flags), result.stdout


def project(tmp_path: Path) -> Path:
    """A project checkout: its prisma/migrations and the Vercel example's script."""
    migration = tmp_path / "prisma" / "migrations" / "20240101_patients"
    migration.mkdir(parents=True)
    (migration / "migration.sql").write_text('CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY);\n')
    shutil.copytree(EXAMPLES / "vercel" / "scripts", tmp_path / "scripts")
    return tmp_path


def run_in_build(command: list[str], cwd: Path, url: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    # deploy-gate is already on PATH, as after the examples' install step.
    environment = {"PATH": f"{BIN}:/usr/bin:/bin", "DEPLOY_GATE_URL": url, "DEPLOY_GATE_TOKEN": "ci-token", **env}
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=environment, timeout=60)


def workflow(name: str) -> dict:
    return yaml.safe_load((EXAMPLES / "github-actions" / name).read_text())


def steps_running(document: dict) -> list[tuple[str, dict]]:
    return [(job_name, step) for job_name, job in document["jobs"].items() for step in job["steps"] if "run" in step]


def test_vercel_build_gates_then_generates_and_builds():
    package = json.loads((EXAMPLES / "vercel" / "package.json").read_text())
    assert [step.strip() for step in package["scripts"]["vercel-build"].split("&&")] == ["bash scripts/deploy-gate.sh", "prisma generate", "next build"]
    assert package["devDependencies"]["prisma"] == package["dependencies"]["@prisma/client"]
    script = EXAMPLES / "vercel" / "scripts" / "deploy-gate.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    [command] = deploy_gate_commands(script.read_text())
    assert command[0] == "gate" and "--apply" in command
    assert_the_cli_accepts(command)


@pytest.mark.parametrize("verdict, exit_code", [("proceed", 0), ("blocked", 1)])
def test_vercel_script_gates_the_build(tmp_path, verdict, exit_code):
    with FakeService(verdict=verdict) as fake:
        result = run_in_build(["bash", "scripts/deploy-gate.sh"], project(tmp_path), fake.url, VERCEL)
    # The exit code is what stops `&& prisma generate && next build`.
    assert result.returncode == exit_code, result.stderr
    assert result.stdout.splitlines()[-1] == f"verdict: {verdict}"
    [(headers, body)] = fake.posts
    assert (body["target"], body["apply"], body["commit"], body["deployment_id"]) == ("production", True, VERCEL["VERCEL_GIT_COMMIT_SHA"], "dpl_3xAmPLe")
    assert [m["name"] for m in body["migrations"]] == ["20240101_patients"]
    assert headers["Authorization"] == "Bearer ci-token"


@pytest.mark.parametrize("name", ["deploy.yml", "protected-deploy.yml"])
def test_workflows_install_deploy_gate_then_run_commands_it_has(name):
    document = workflow(name)
    for job in document["jobs"].values():
        runs = [step["run"] for step in job["steps"] if "run" in step]
        commands = [command for run in runs for command in deploy_gate_commands(run)]
        if not commands:
            continue
        install = next(i for i, run in enumerate(runs) if run.startswith("pip install") and "git+https://github.com/" in run)
        assert all(i > install for i, run in enumerate(runs) if "deploy-gate " in run and not run.startswith("pip"))
        for command in commands:
            assert_the_cli_accepts(command)
    for _, step in steps_running(document):
        if "deploy-gate gate" in step["run"]:
            assert step["env"] == {"DEPLOY_GATE_URL": "${{ vars.DEPLOY_GATE_URL }}", "DEPLOY_GATE_TOKEN": "${{ secrets.DEPLOY_GATE_TOKEN }}"}


def test_deploy_workflow_gates_with_apply_before_the_deploy():
    steps = [step for _, step in steps_running(workflow("deploy.yml"))]
    gate = next(i for i, step in enumerate(steps) if "deploy-gate gate" in step["run"])
    deploy = next(i for i, step in enumerate(steps) if "vercel deploy" in step["run"])
    assert gate < deploy
    assert deploy_gate_commands(steps[gate]["run"]) == [["gate", "--target", "production", "--apply", "--timeout", "1800"]]


def test_protected_workflow_uploads_then_waits_on_the_environment():
    jobs = workflow("protected-deploy.yml")["jobs"]
    assert jobs["deploy"]["environment"] == "production" and jobs["deploy"]["needs"] == "migrations"
    [gate] = [command for step in jobs["migrations"]["steps"] if "run" in step for command in deploy_gate_commands(step["run"])]
    assert gate[:3] == ["gate", "--target", "production"] and "--apply" not in gate


def test_deploy_workflow_gate_step_runs_in_github_actions(tmp_path):
    [step] = [step for _, step in steps_running(workflow("deploy.yml")) if "deploy-gate gate" in step["run"]]
    with FakeService() as fake:
        result = run_in_build(["bash", "-e", "-c", step["run"]], project(tmp_path), fake.url, GITHUB)
    assert result.returncode == 0, result.stderr
    [(_, body)] = fake.posts
    assert (body["target"], body["apply"], body["commit"], body["deployment_id"]) == ("production", True, GITHUB["GITHUB_SHA"], "github-run-123456789-1")


def test_the_protection_rule_note_configures_what_the_service_reads(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from service.config.load import load_config

    note = (EXAMPLES / "github-actions" / "deployment-protection.md").read_text()
    snippet = note.split("```toml\n", 1)[1].split("```", 1)[0]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    config_file = tmp_path / "deploy-gate.toml"
    config_file.write_text('[targets.production]\ndatabase_url_env = "PRODUCTION_DATABASE_URL"\n\n' + snippet)
    environ = {"PRODUCTION_DATABASE_URL": "postgresql://app@db.internal/app", "GITHUB_WEBHOOK_SECRET": "s" * 32, "GITHUB_APP_PRIVATE_KEY": pem}
    github = load_config(config_file, environ).integrations.github
    assert github.app_id == 123456 and github.target_for("your-org/clinic-web", "production") == "production"


def test_builds_install_the_light_client_and_the_image_the_server():
    script = (EXAMPLES / "vercel" / "scripts" / "deploy-gate.sh").read_text()
    installs = [line for line in script.splitlines() if "deploy-gate @ git+" in line]
    installs += [
        step["run"] for name in ("deploy.yml", "protected-deploy.yml") for _, step in steps_running(workflow(name)) if step["run"].startswith("pip install")
    ]
    assert installs and all("[server]" not in line for line in installs)
    assert "pip install --no-cache-dir '.[server]'" in (ROOT / "Dockerfile").read_text()


def test_the_vercel_script_refuses_a_python_older_than_3_11(tmp_path):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    # A python3 that is 3.10: it fails the version check and says so.
    fake = fake_bin / "python3"
    fake.write_text('#!/bin/sh\nif [ "$1" = "--version" ]; then echo "Python 3.10.12"; exit 0; fi\nexit 1\n')
    fake.chmod(0o755)
    checkout = project(tmp_path / "checkout")
    environment = {"PATH": f"{fake_bin}:/usr/bin:/bin", "DEPLOY_GATE_URL": "http://127.0.0.1:1", "DEPLOY_GATE_TOKEN": "ci-token", **VERCEL}
    result = subprocess.run(["bash", "scripts/deploy-gate.sh"], cwd=checkout, capture_output=True, text=True, env=environment, timeout=60)
    assert result.returncode == 2 and result.stderr == "deploy-gate: needs Python 3.11 or newer, found Python 3.10.12\n"
