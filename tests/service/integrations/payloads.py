"""Webhook deliveries shaped like Vercel's and GitHub's documented ones, signed or mis-signed."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

VERCEL_SECRET = "vercel-webhook-secret-0123456789"
GITHUB_SECRET = "github-webhook-secret-0123456789"
PROJECT = "prj_12HKQaOmR5t5Uy6vdcQsNIiZgHGB"
TEAM = "team_a6A5Xjh9HN8L7xAPvJ4pZgpl"
COMMIT = "dc36199b2234c6586ebe05ec94078a895c707e29"
REPOSITORY = "acme/shop"
APP_ID = 12345
INSTALLATION = 4242


def vercel_event(
    kind: str,
    deployment_id: str,
    *,
    project: str = PROJECT,
    target: str | None = "production",
    delivery: str | None = None,
    check_id: str | None = None,
    check_run: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Vercel webhook body: {id, type, createdAt, region, payload} as the Webhooks API Reference lists it.

    A `deployment.checkrun.*` event carries `checkRun` as Vercel's example integration reads it
    (vercel/example-marketplace-integration, lib/vercel/schemas.ts): id, checkId, source,
    deploymentId, timeout; `check_run` is a run as the fake's API answers it."""
    payload: dict[str, Any] = {"team": {"id": TEAM}, "user": {"id": "2wDcvMwWMvH0Fl7VZLbcSjqF"}}
    if kind == "deployment.check-rerequested":
        payload.update({"deployment": {"id": deployment_id}, "check": {"id": check_id}})
    else:
        payload.update(
            {
                "alias": ["shop.example.com"] if kind == "deployment.created" else [],
                "deployment": {
                    "id": deployment_id,
                    "meta": {"githubCommitSha": COMMIT, "githubCommitRef": "main", "githubRepo": "shop"},
                    "url": f"shop-{deployment_id[-6:].lower()}.vercel.app",
                    "name": "shop",
                },
                "links": {"deployment": f"https://vercel.com/acme/shop/{deployment_id}", "project": "https://vercel.com/acme/shop"},
                "target": target,
                "project": {"id": project},
                "plan": "pro",
                "regions": ["iad1"],
            }
        )
        if check_run is not None:
            payload["checkRun"] = {key: check_run[key] for key in ("id", "checkId", "name", "source", "deploymentId", "status", "timeout") if key in check_run}
    return {"id": delivery or f"uqXJ{uuid.uuid4().hex[:20]}", "type": kind, "createdAt": 1730000000000, "region": "sfo1", "payload": payload}


def vercel_signature(body: bytes, secret: str = VERCEL_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def signed_vercel(event: dict[str, Any], secret: str = VERCEL_SECRET) -> tuple[bytes, dict[str, str]]:
    body = encode(event)
    return body, {"Content-Type": "application/json", "x-vercel-signature": vercel_signature(body, secret)}


def protection_rule(
    api_url: str, *, run_id: int = 1234, environment: str = "production", repository: str = REPOSITORY, installation: int = INSTALLATION
) -> dict[str, Any]:
    """GitHub's deployment_protection_rule (action requested) payload."""
    owner, name = repository.split("/")
    return {
        "action": "requested",
        "environment": environment,
        "event": "push",
        "sha": COMMIT,
        "ref": "refs/heads/main",
        "deployment_callback_url": f"{api_url}/repos/{repository}/actions/runs/{run_id}/deployment_protection_rule",
        "deployment": {
            "url": f"{api_url}/repos/{repository}/deployments/1", "id": 987654, "node_id": "DE_kwDOA", "sha": COMMIT, "ref": "main",
            "task": "deploy", "payload": {}, "original_environment": environment, "environment": environment, "description": None,
            "creator": {"login": "octocat", "id": 1, "type": "User"}, "created_at": "2024-05-01T12:00:00Z", "updated_at": "2024-05-01T12:00:00Z",
            "statuses_url": f"{api_url}/repos/{repository}/deployments/1/statuses", "repository_url": f"{api_url}/repos/{repository}",
        },
        "pull_requests": [],
        "repository": {"id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "name": name, "full_name": repository, "private": True, "owner": {"login": owner, "id": 2, "type": "Organization"}},
        "organization": {"login": owner, "id": 2},
        "installation": {"id": installation, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI="},
        "sender": {"login": "octocat", "id": 1, "type": "User"},
    }  # fmt: skip


def github_signature(body: bytes, secret: str = GITHUB_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed_github(event: str, payload: dict[str, Any], *, delivery: str | None = None, secret: str = GITHUB_SECRET) -> tuple[bytes, dict[str, str]]:
    body = encode(payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/044aadd",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "292430182",
        "X-GitHub-Hook-Installation-Target-ID": str(APP_ID),
        "X-GitHub-Hook-Installation-Target-Type": "integration",
        "X-Hub-Signature-256": github_signature(body, secret),
    }
    return body, headers
