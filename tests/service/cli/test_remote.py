"""The service's client (service/cli/remote.py) as the commands use it: errors, secrets, redirects, a missing token."""

import subprocess

import pytest

from tests.service.cli.test_jobs import DEPLOY_GATE, SAME_CODE, run, service  # noqa: F401  the API over HTTP


@pytest.mark.parametrize(
    "args, token, message",
    [
        (("wait", "00000000-0000-4000-8000-000000000000"), "ci-token", "404 No such job"),
        (("jobs", "list"), "wrong", "401 Unauthorized"),
    ],
)
def test_errors_exit_2_with_one_line(service, args, token, message):
    url, _ = service
    result = run(*args, url=url, token=token)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreachable_service_exits_2():
    result = run("wait", "x", url="http://127.0.0.1:1")
    assert result.returncode == 2 and "cannot reach http://127.0.0.1:1" in result.stderr


def test_credentials_in_the_url_are_never_printed():
    result = run("wait", "x", url="http://ops:Sup3r-S3cret@127.0.0.1:1")
    assert result.returncode == 2 and "cannot reach http://127.0.0.1:1" in result.stderr
    assert "Sup3r-S3cret" not in result.stdout + result.stderr


def test_a_redirect_is_an_error_and_the_token_never_follows_it():
    from tests.service.test_outbound import Server

    with Server() as elsewhere, Server(status=302, headers={"Location": f"{elsewhere.url}/v1/jobs"}) as service:
        result = run("jobs", "list", url=service.url, token="ci-token")
    assert result.returncode == 2 and result.stderr == "error: 302 Found\n"
    assert len(service.requests) == 1 and elsewhere.requests == []


@pytest.mark.parametrize("args", [("jobs", "list"), ("wait", "x"), ("jobs", "report", "x")])
def test_a_missing_token_names_the_variable_and_the_option(args):
    env = {"DEPLOY_GATE_URL": "http://127.0.0.1:1", "PATH": "/usr/bin:/bin", **SAME_CODE}
    result = subprocess.run([DEPLOY_GATE, *args], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert "DEPLOY_GATE_TOKEN" in result.stderr and "--token" in result.stderr and len(result.stderr.splitlines()) == 1
