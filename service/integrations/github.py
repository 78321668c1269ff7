"""GitHub: a GitHub App's deployment protection rule, decided by a check job.

Webhooks: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` with the App's webhook
secret; `X-GitHub-Delivery` is the delivery's id and `X-GitHub-Event` its event.

| event | what deploy-gate does |
| --- | --- |
| `deployment_protection_rule` (`requested`) | a `check` job (phase `pre`) on the target of `"<owner/repo>:<environment>"`; its end answers the rule |
| `ping` | answered (recorded) |
| anything else | acknowledged and ignored |

The answer goes to the payload's `deployment_callback_url` (`POST
/repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule` on the configured API):
`{"environment_name", "state": "approved" | "rejected", "comment"}`, approved only for a finished job
with the verdict `proceed`, with the reasons in the comment otherwise. The callback must lie under the
configured `api_url` and name the delivery's repository, or the delivery is refused (422): the
installation token never goes anywhere else.

It is authenticated as the App's installation (`installation.id` in the payload): a JWT (RS256,
signed with the App's private key: `iat` a minute back for clock drift, `exp` nine minutes on, `iss`
the App id) is exchanged at `POST /app/installations/{id}/access_tokens` for a token limited to the
repository and the `deployments: write` permission, used once.

An environment with no configured target, or a target with no stored bundle (`not_checked`), gets no
answer from deploy-gate: the deployment waits for a person to approve or reject it in GitHub.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import psycopg

from service import json_body
from service.config.records import Config, GitHubIntegration, Integrations
from service.integrations import ApiRefused, InvalidPayload, Receipt, call_api, header_text, payload_text, verdict_outcome, verdict_passed
from service.jobs.states import TERMINAL
from service.jobs.submit import DeployRequest, NoBundle, submit_deploy
from service.links import job_links
from service.store import repository
from service.store.repository import IntegrationReport, Job

log = logging.getLogger(__name__)

SOURCE = "github"
SIGNATURE_HEADER = "X-Hub-Signature-256"
DELIVERY_HEADER = "X-GitHub-Delivery"
EVENT_HEADER = "X-GitHub-Event"
REQUESTED_BY = "github"
API_VERSION = "2022-11-28"
PROTECTION_RULE = "deployment_protection_rule"
# GitHub shows the comment beside the decision; keep it readable.
_MAX_COMMENT = 1000
_LISTED_REASONS = 5


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Is `header` `sha256=` and the hex HMAC-SHA256 of the raw `body` with `secret`? Constant-time."""
    if not header:
        return False
    return hmac.compare_digest(signature(secret, body).encode("ascii"), header.strip().encode("ascii", "replace"))


class CallbackRefused(ValueError):
    """A protection rule whose callback URL is not one deploy-gate may send a token to."""


@dataclass(frozen=True)
class ProtectionRule:
    repository: str
    environment: str
    callback_url: str
    installation_id: int
    sha: str | None = None
    deployment_id: str | None = None


@dataclass(frozen=True)
class GitHubDelivery:
    id: str
    event: str
    action: str | None = None
    rule: ProtectionRule | None = None
    # What the signature covers (the body), with the event: a replay under a fresh delivery id has the same.
    body_digest: str | None = None

    @property
    def name(self) -> str:
        return f"{self.event}.{self.action}" if self.action else self.event


def parse_delivery(integration: GitHubIntegration, delivery_id: str | None, event: str | None, body: bytes) -> GitHubDelivery:
    """The parts of a delivery deploy-gate uses, checked against GitHub's documented shape."""
    delivery = header_text(delivery_id, f"the {DELIVERY_HEADER} header", 100)
    name = header_text(event, f"the {EVENT_HEADER} header", 100)
    try:
        data = json_body.loads(body)
    except ValueError:
        raise InvalidPayload("the body is not JSON (send the webhook as application/json)") from None
    if not isinstance(data, dict):
        raise InvalidPayload("the body must be a JSON object")
    action = data.get("action") if isinstance(data.get("action"), str) else None
    digest = body_digest(name, body)
    if name != PROTECTION_RULE or action != "requested":
        return GitHubDelivery(delivery, name, action, body_digest=digest)
    repository_name = payload_text(_object(data, "repository").get("full_name"), "repository.full_name", 200)
    environment = payload_text(data.get("environment"), "environment", 255)
    callback = payload_text(data.get("deployment_callback_url"), "deployment_callback_url", 2000)
    installation_id = _object(data, "installation").get("id")
    if not isinstance(installation_id, int) or isinstance(installation_id, bool) or installation_id < 1:
        raise InvalidPayload("installation.id: must be a positive integer")
    expected = re.compile(re.escape(f"{integration.api_url}/repos/{repository_name}/actions/runs/") + r"\d+/deployment_protection_rule", re.IGNORECASE)
    if not expected.fullmatch(callback):
        raise CallbackRefused(f"deployment_callback_url must be {integration.api_url}/repos/{repository_name}/actions/runs/<run id>/deployment_protection_rule")
    deployment: dict[str, Any] = data["deployment"] if isinstance(data.get("deployment"), dict) else {}
    sha = deployment.get("sha") if isinstance(deployment.get("sha"), str) else None
    deployment_id = deployment.get("id")
    rule = ProtectionRule(
        repository=repository_name,
        environment=environment,
        callback_url=callback,
        installation_id=installation_id,
        sha=sha[:200] if sha else None,
        deployment_id=str(deployment_id) if isinstance(deployment_id, int) and not isinstance(deployment_id, bool) else None,
    )
    return GitHubDelivery(delivery, name, action, rule, digest)


def body_digest(event: str, body: bytes) -> str:
    """Hex SHA-256 of the event and the signed body: the same for a delivery and any replay of it,
    whatever X-GitHub-Delivery (which the signature does not cover) the replay carries."""
    return hashlib.sha256(event.encode("utf-8") + b"\n" + body).hexdigest()


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise InvalidPayload(f"{key}: must be an object")
    return value


def receive(store: psycopg.Connection, config: Config, delivery: GitHubDelivery) -> Receipt:
    """Remember the delivery and act on it, in one transaction (the caller enqueues after commit)."""
    integration = config.integrations.github
    if integration is None:
        raise LookupError("no GitHub integration is configured")
    with store.transaction():
        if not repository.remember_delivery(store, SOURCE, delivery.id, delivery.body_digest):
            first = repository.first_delivery(store, SOURCE, delivery.id, delivery.body_digest)
            first_id, job_id = first if first else (delivery.id, None)
            if first_id == delivery.id:
                detail = "this delivery was received before; nothing was done again"
            else:
                detail = f"this signed body was delivered before (as {first_id}); nothing was done again"
            return Receipt(delivery.id, delivery.name, "duplicate", detail, job_id)
        rule = delivery.rule
        repository.describe_delivery(store, SOURCE, delivery.id, event=delivery.name, subject=rule.callback_url if rule else None)
        if delivery.event == "ping":
            return Receipt(delivery.id, delivery.name, "recorded", "pong")
        if rule is None:
            return Receipt(delivery.id, delivery.name, "ignored", f"deploy-gate does not act on {delivery.name}")
        target = integration.target_for(rule.repository, rule.environment)
        if target is None:
            log.warning("github_rule_unmapped", extra={"delivery": delivery.id, "repository": rule.repository, "environment": rule.environment})
            detail = f"no target is configured for {rule.repository}:{rule.environment}; the deployment waits for a person's review"
            return Receipt(delivery.id, delivery.name, "ignored", detail)
        request = DeployRequest(target=target, phase="pre", commit=rule.sha, deployment_id=rule.deployment_id)
        try:
            job, created = submit_deploy(store, config, request, REQUESTED_BY, f"github:{delivery.id}")
        except NoBundle as error:
            log.warning("github_not_checked", extra={"delivery": delivery.id, "target": target})
            detail = f"{error}; the deployment waits for a person's review"
            return Receipt(delivery.id, delivery.name, "not_checked", detail)
        details = {"repository": rule.repository, "environment": rule.environment, "installation_id": rule.installation_id}
        repository.open_integration_report(store, job_id=job.id, source=SOURCE, subject=rule.callback_url, details=details)
        repository.link_delivery(store, SOURCE, delivery.id, job.id)
    detail = f"check job {job.id} on target {target}; its verdict answers the protection rule of {rule.repository}:{rule.environment}"
    return Receipt(delivery.id, delivery.name, "accepted", detail, job.id, run=created, report=SOURCE)


class GitHubApp:
    """A GitHub App on `api_url`: its JWT, installation tokens, and the protection rule's review."""

    def __init__(self, api_url: str, app_id: int, private_key: str, clock: Callable[[], float] = time.time) -> None:
        self.api_url = api_url.rstrip("/")
        self.app_id = app_id
        self._private_key = private_key
        self.clock = clock

    def app_jwt(self) -> str:
        now = int(self.clock())
        # GitHub allows ten minutes at most; iat a minute back absorbs clock drift.
        claims = {"iat": now - 60, "exp": now + 9 * 60, "iss": str(self.app_id)}
        return jwt.encode(claims, self._private_key, algorithm="RS256")

    def _headers(self, credential: str) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {credential}", "Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}

    def installation_token(self, installation_id: int, repository: str) -> str:
        """A token for one repository, allowed only to review deployments."""
        path = f"/app/installations/{int(installation_id)}/access_tokens"
        body = {"repositories": [repository.split("/", 1)[1]], "permissions": {"deployments": "write"}}
        answer = call_api("POST", f"{self.api_url}{path}", what="get an installation token", headers=self._headers(self.app_jwt()), payload=body)
        token = answer.get("token") if isinstance(answer, dict) else None
        if not isinstance(token, str):
            raise ApiRefused("get an installation token: the answer has no token")
        return token

    def review_protection_rule(self, callback_url: str, token: str, *, environment_name: str, state: str, comment: str) -> None:
        body = {"environment_name": environment_name, "state": state, "comment": comment}
        call_api("POST", callback_url, what=f"answer the protection rule ({state})", headers=self._headers(token), payload=body)


def comment_for(job: Job, public_url: str, report_link_secret: str | None = None) -> str:
    state = "approved" if verdict_passed(job) else "rejected"
    lines = [f"deploy-gate {state} this deployment: check job {job.id} on target {job.target}, {verdict_outcome(job)}."]
    if not verdict_passed(job):
        lines += [f"- {reason}" for reason in job.reasons[:_LISTED_REASONS]]
        if len(job.reasons) > _LISTED_REASONS:
            lines.append(f"- and {len(job.reasons) - _LISTED_REASONS} more")
    if public_url:
        lines.append(f"Report: {job_links(job.id, public_url, report_link_secret)['report']}")
    comment = "\n".join(lines)
    return comment if len(comment) <= _MAX_COMMENT else comment[: _MAX_COMMENT - 1] + "…"


def answer_rule(store: psycopg.Connection, integrations: Integrations, report: IntegrationReport, job: Job, keep_fresh_seconds: float) -> str:
    """Once the job has ended, approve or reject the deployment on the rule's callback."""
    if job.state not in TERMINAL:
        return "waiting for the job"
    integration = integrations.github
    if integration is None:
        raise ApiRefused("the GitHub integration is no longer configured")
    app = GitHubApp(integration.api_url, integration.app_id, integration.private_key)
    state = "approved" if verdict_passed(job) else "rejected"
    token = app.installation_token(report.details["installation_id"], report.details["repository"])
    app.review_protection_rule(
        report.subject,
        token,
        environment_name=report.details["environment"],
        state=state,
        comment=comment_for(job, integrations.public_url, integrations.report_link_secret),
    )
    repository.report_progress(store, job.id, SOURCE, reported_state=state, done=True)
    return state
