"""A target the worker cannot reach: each failed attempt journaled as it happens, then blocked.

A real worker (the session worker, on the real Redis broker) runs a deploy whose target URL points
at a closed port, with a short `unreachable_timeout_seconds` from the targets file.
"""

import socket
import time

from tests.workers.conftest import reconfigure_staging
from tests.workers.test_tasks import AUTH, MIGRATIONS, wait_for_verdict


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def attempts(job):
    return [e for e in job["events"] if e["kind"] == "step_finished" and (e["step"] or "").startswith("wait_for_target:")]


def test_a_closed_port_is_journaled_within_seconds_and_the_job_ends_blocked_after_the_timeout(api, celery_session_worker, monkeypatch):
    port = closed_port()
    reconfigure_staging(monkeypatch, f"postgresql://deployer:hunter2@127.0.0.1:{port}/app", unreachable_timeout_seconds=3)
    posted = time.monotonic()
    job_id = api.post("/v1/deploys", json={"target": "staging", "apply": True, "migrations": MIGRATIONS}, headers=AUTH).get_json()["id"]

    deadline = posted + 10
    job = api.get(f"/v1/jobs/{job_id}", headers=AUTH).get_json()
    while not attempts(job) and time.monotonic() < deadline:
        job = api.get(f"/v1/jobs/{job_id}?wait=2", headers=AUTH).get_json()
    assert attempts(job), f"no attempt journaled within 10 s: {job['events']}"
    first = attempts(job)[0]
    assert first["step"] == "wait_for_target:1" and job["state"] == "running"
    assert {key: first["data"][key] for key in ("server", "code", "failure", "reason", "message", "attempt", "outcome", "timeout_seconds")} == {
        "server": "target",
        "code": "P1001",
        "failure": "refused",
        "reason": f"connection refused by 127.0.0.1:{port}",
        "message": f"target unreachable: connection refused by 127.0.0.1:{port}",
        "attempt": 1,
        "outcome": "retrying",
        "timeout_seconds": 3,
    }
    assert 1 <= first["data"]["next_try_in_seconds"] <= 3 and first["data"]["next_try_at"] > first["at"][:19]

    job = wait_for_verdict(api, job_id, seconds=20)
    assert (job["state"], job["verdict"]) == ("succeeded", "blocked"), job
    assert time.monotonic() - posted < 15  # the deadline decides, not twenty Celery retries
    assert job["reasons"][0] == f"target unreachable: connection refused by 127.0.0.1:{port}"
    tried = attempts(job)
    assert [e["data"]["attempt"] for e in tried] == list(range(1, len(tried) + 1)) and len(tried) >= 2
    assert [e["data"]["outcome"] for e in tried] == ["retrying"] * (len(tried) - 1) + ["gave_up"]
    assert tried[-1]["data"]["unreachable_seconds"] >= 3 and tried[-1]["data"]["next_try_in_seconds"] is None
    assert f"tried {len(tried)} times over" in job["reasons"][1]
    assert "hunter2" not in str(job)
    # The report's timeline says each attempt in the same words as the gate.
    report = api.get(f"/v1/jobs/{job_id}/report", headers=AUTH).get_json()
    said = [entry["summary"] for entry in report["timeline"] if (entry["step"] or "").startswith("wait_for_target:")]
    assert said[0].startswith(f"target unreachable (attempt 1, P1001): connection refused by 127.0.0.1:{port}; next try in ")
    assert said[-1].endswith(" s (unreachable_timeout_seconds = 3)") and len(said) == len(tried)
