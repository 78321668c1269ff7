"""A local stand-in for Vercel's checks APIs: Checks v2 (the default) and the deprecated v1.

Every call is validated as `_Fake` describes (`Authorization: Bearer`, `?teamId=`, JSON bodies, each
field's type and allowed values, no field the API does not list); what does not match is answered
400/403/404 and kept in `violations`. Shapes come from Vercel's REST reference and the
`@vercel/sdk` models (src/models/createprojectcheckop.ts, updateprojectcheckop.ts,
listprojectchecksop.ts, createdeploymentcheckrunop.ts, updatedeploymentcheckrunop.ts,
listdeploymentcheckrunsop.ts):

- `POST /v2/projects/{idOrName}/checks`: `name` and `requires` required; `isRerequestable`,
  `targets`, `blocks`, `source` (integration, webhook or git-provider), `timeout`. The answer is the
  check with `id`, `ownerId`, `projectId`, `sourceKind`, `createdAt`, `updatedAt`.
- `PATCH .../checks/{checkId}`: `name`, `isRerequestable`, `requires` (only `build-ready` or
  `deployment-url` in the update model), `targets`, `blocks`, `timeout`.
- `GET /v2/projects/{idOrName}/checks`: `{checks: [...]}`.
- `POST /v2/deployments/{id}/check-runs` `{checkId}`; `GET` lists them as `{runs: [...]}`;
  `PATCH .../check-runs/{runId}` with `externalId`, `externalUrl`, `status`
  (`queued|running|completed`), `output` (an object), `completedAt`, `conclusion`
  (`canceled|skipped|timeout|failed|neutral|succeeded`), `conclusionText`.

Where the reference is silent the fake takes the strict reading, so a lax client fails here rather
than at Vercel: a new check's `blocks` is `deployment-alias` or `none` (what Vercel's own Terraform
provider documents new checks take today); a conclusion goes with `status: completed` and the other
way round; a completed run takes no update until it is re-requested.

What Vercel itself does is driven by the test: `start_runs` makes a run of each of the project's
checks on a deployment (as Vercel does when a deployment of a check's target starts) and returns
them for `deployment.checkrun.start` deliveries; `rerequest` and `cancel` do what a person's click does.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from tests.service.integrations.fakes import Call, _Fake, _is_web_url, _shape_errors
from tests.service.integrations.payloads import PROJECT

_NAME = lambda v: isinstance(v, str) and 0 < len(v) <= 100  # noqa: E731
_TEXT = lambda v: isinstance(v, str) and len(v) <= 1000  # noqa: E731
_TARGETS = lambda v: isinstance(v, list) and all(isinstance(t, str) and t for t in v)  # noqa: E731
_NUMBER = lambda v: isinstance(v, int | float) and not isinstance(v, bool) and v > 0  # noqa: E731
BLOCKS = ("build-start", "deployment-start", "deployment-alias", "deployment-promotion", "none")
REQUIRES = ("build-ready", "deployment-url", "none")
CONCLUSIONS = ("canceled", "skipped", "timeout", "failed", "neutral", "succeeded")


def _source(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    kind = value.get("kind", "integration")
    allowed = {"integration": {"kind", "externalResourceId"}, "webhook": {"kind", "webhookId"}, "git-provider": {"kind", "provider", "externalCheckName"}}
    if kind not in allowed or not set(value) <= allowed[kind] or not all(isinstance(v, str) and v for v in value.values()):
        return False
    return kind != "git-provider" or (value.get("provider") == "github" and "externalCheckName" in value)


class FakeVercel(_Fake):
    CHECK_FIELDS = {
        "name": _NAME,
        "isRerequestable": bool,
        "requires": lambda v: v in REQUIRES,
        "targets": _TARGETS,
        "blocks": lambda v: v in BLOCKS,
        "source": _source,
        "timeout": _NUMBER,
    }
    CHECK_UPDATE_FIELDS = {**{k: v for k, v in CHECK_FIELDS.items() if k != "source"}, "requires": lambda v: v in ("build-ready", "deployment-url")}
    RUN_UPDATE_FIELDS = {
        "externalId": _TEXT,
        "externalUrl": _is_web_url,
        "status": lambda v: v in ("queued", "running", "completed"),
        "output": lambda v: isinstance(v, dict),
        "completedAt": _NUMBER,
        "conclusion": lambda v: v in CONCLUSIONS,
        "conclusionText": _TEXT,
    }
    CREATABLE_BLOCKS = ("deployment-alias", "none")
    V1_CREATE_FIELDS = {"name": _NAME, "path": _TEXT, "blocking": bool, "detailsUrl": _is_web_url, "externalId": str, "rerequestable": bool}
    V1_UPDATE_FIELDS = {
        "name": _NAME,
        "path": _TEXT,
        "status": lambda v: v in ("running", "completed"),
        "conclusion": lambda v: v in ("canceled", "failed", "neutral", "succeeded", "skipped"),
        "detailsUrl": _is_web_url,
        # The v1 output takes web-vitals metrics only.
        "output": lambda v: isinstance(v, dict) and set(v) <= {"metrics"},
        "externalId": str,
    }

    def __init__(self, token: str, team_id: str | None = None) -> None:
        super().__init__()
        self.token = token
        self.team_id = team_id
        self.owner = team_id or "user_fake"
        # deployment id -> (project id, Vercel target or None for a preview)
        self.deployments: dict[str, tuple[str, str | None]] = {}
        self.finished: set[str] = set()
        self.project_checks: dict[str, dict[str, Any]] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self.checks: dict[str, dict[str, Any]] = {}  # v1: per deployment
        self._ids = itertools.count(1)

    def add_deployment(self, deployment_id: str, project: str = PROJECT, target: str | None = "production") -> None:
        self.deployments[deployment_id] = (project, target)

    @staticmethod
    def _now_ms() -> int:
        return int(time.time() * 1000)

    def _next(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):04d}"

    # What Vercel does on its own, for the tests to trigger.

    def start_runs(self, deployment_id: str) -> list[dict[str, Any]]:
        """Vercel starting a deployment: a queued run of each check of its project on its target."""
        with self.lock:
            project, target = self.deployments[deployment_id]
            checks = [c for c in self.project_checks.values() if c["projectId"] == project and (target or "preview") in c["targets"]]
            return [self._new_run(deployment_id, check) for check in checks]

    def rerequest(self, run_id: str) -> dict[str, Any]:
        """A person re-running a concluded run from the dashboard: queued again, its conclusion gone."""
        with self.lock:
            run = self.runs[run_id]
            assert run["status"] == "completed" and self.project_checks[run["checkId"]]["isRerequestable"]
            for key in ("conclusion", "conclusionText", "completedAt"):
                run.pop(key, None)
            run.update(status="queued", updatedAt=self._now_ms())
            return dict(run)

    def cancel(self, run_id: str) -> dict[str, Any]:
        with self.lock:
            run = self.runs[run_id]
            run.update(status="completed", conclusion="canceled", completedAt=self._now_ms(), updatedAt=self._now_ms())
            return dict(run)

    def runs_of(self, deployment_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(run) for run in self.runs.values() if run["deploymentId"] == deployment_id]

    def _new_run(self, deployment_id: str, check: dict[str, Any]) -> dict[str, Any]:
        now = self._now_ms()
        run = {
            "id": self._next("chkrun"), "name": check["name"], "checkId": check["id"], "ownerId": self.owner, "deploymentId": deployment_id,
            "projectId": check["projectId"], "requires": check["requires"], "blocks": check["blocks"], "targets": check["targets"],
            "status": "queued", "timeout": check["timeout"], "createdAt": now, "updatedAt": now, "source": check["source"],
        }  # fmt: skip
        self.runs[run["id"]] = run
        return dict(run)

    # The API.

    def answer(self, call: Call, raw: bytes) -> tuple[int, Any]:
        if call.headers.get("Authorization") != f"Bearer {self.token}":
            return self.violation(call, 403, "no valid Authorization: Bearer <token>", {"error": {"code": "forbidden", "message": "Not authorized"}})
        expected_query = {"teamId": [self.team_id]} if self.team_id else {}
        if call.query != expected_query:
            return self.violation(call, 400, f"query {call.query} is not {expected_query}", _bad("Invalid query"))
        if call.method in ("POST", "PATCH") and not (call.headers.get("Content-Type") or "").startswith("application/json"):
            return self.violation(call, 400, "the body is not sent as application/json", _bad("Invalid body"))
        parts = call.path.strip("/").split("/")
        if parts[:2] == ["v2", "projects"] and len(parts) in (4, 5) and parts[3] == "checks":
            return self._project_checks(call, parts[2], parts[4] if len(parts) == 5 else None)
        if parts[:2] == ["v2", "deployments"] and len(parts) in (4, 5) and parts[3] == "check-runs":
            return self._check_runs(call, parts[2], parts[4] if len(parts) == 5 else None)
        if parts[:2] == ["v1", "deployments"] and len(parts) in (4, 5) and parts[3] == "checks":
            return self._v1_checks(call, parts[2], parts[4] if len(parts) == 5 else None)
        return self.violation(call, 404, "no such endpoint", _not_found("Not found"))

    def _project_checks(self, call: Call, project: str, check_id: str | None) -> tuple[int, Any]:
        if project not in {p for p, _ in self.deployments.values()}:
            return 404, _not_found("Project not found")
        if check_id is None and call.method == "GET":
            return 200, {"checks": [dict(c) for c in self.project_checks.values() if c["projectId"] == project]}
        if check_id is None and call.method == "POST":
            errors = _shape_errors(call.body, self.CHECK_FIELDS, {"name", "requires"})
            if errors:
                return self.violation(call, 400, "; ".join(errors), _bad("Invalid request"))
            blocks = call.body.get("blocks", "deployment-alias")
            if blocks not in self.CREATABLE_BLOCKS:
                return 400, _bad(f"New checks can only block deployment-alias or none, not {blocks}")
            now = self._now_ms()
            source = {"kind": "integration", **call.body.get("source", {})}
            if source["kind"] == "integration":
                source.update(integrationId="oac_deploygate", integrationConfigurationId="icfg_deploygate")
            check = {
                "id": self._next("chk"), "name": call.body["name"], "ownerId": self.owner, "projectId": project,
                "isRerequestable": call.body.get("isRerequestable", False), "requires": call.body["requires"], "source": source,
                "blocks": blocks, "targets": call.body.get("targets", ["production"]), "sourceKind": source["kind"],
                "timeout": call.body.get("timeout", 300), "createdAt": now, "updatedAt": now,
            }  # fmt: skip
            self.project_checks[check["id"]] = check
            return 200, dict(check)
        check = self.project_checks.get(check_id or "")
        if check is None or check["projectId"] != project:
            return 404, _not_found("Check not found")
        if call.method == "PATCH":
            errors = _shape_errors(call.body, self.CHECK_UPDATE_FIELDS, set())
            if errors:
                return self.violation(call, 400, "; ".join(errors), _bad("Invalid request"))
            check.update(call.body, updatedAt=self._now_ms())
            return 200, dict(check)
        if call.method == "GET":
            return 200, dict(check)
        return self.violation(call, 405, "no such method", {"error": {"code": "method_not_allowed", "message": "Method not allowed"}})

    def _check_runs(self, call: Call, deployment_id: str, run_id: str | None) -> tuple[int, Any]:
        if deployment_id not in self.deployments:
            return 404, _not_found("The deployment was not found")
        if run_id is None and call.method == "GET":
            return 200, {"runs": self.runs_of(deployment_id)}
        if run_id is None and call.method == "POST":
            errors = _shape_errors(call.body, {"checkId": _TEXT}, {"checkId"})
            if errors:
                return self.violation(call, 400, "; ".join(errors), _bad("Invalid request"))
            check = self.project_checks.get(call.body["checkId"])
            if check is None or check["projectId"] != self.deployments[deployment_id][0]:
                return 404, _not_found("Check not found")
            return 200, self._new_run(deployment_id, check)
        run = self.runs.get(run_id or "")
        if run is None or run["deploymentId"] != deployment_id:
            return 404, _not_found("Check run not found")
        if call.method == "GET":
            return 200, dict(run)
        if call.method != "PATCH":
            return self.violation(call, 405, "no such method", {"error": {"code": "method_not_allowed", "message": "Method not allowed"}})
        errors = _shape_errors(call.body, self.RUN_UPDATE_FIELDS, set())
        if isinstance(call.body, dict) and (call.body.get("status") == "completed") != ("conclusion" in call.body):
            errors.append("a conclusion goes with status completed, and status completed needs one")
        if errors:
            return self.violation(call, 400, "; ".join(errors), _bad("Invalid request"))
        if run["status"] == "completed":
            return 400, _bad("Check run is already completed")
        now = self._now_ms()
        run.update(call.body, updatedAt=now)
        if run["status"] == "completed":
            run.setdefault("completedAt", now)
        return 200, dict(run)

    def _v1_checks(self, call: Call, deployment_id: str, check_id: str | None) -> tuple[int, Any]:
        if deployment_id not in self.deployments:
            return 404, _not_found("The deployment was not found")
        if check_id is None and call.method == "GET":
            return 200, {"checks": [check for check in self.checks.values() if check["deploymentId"] == deployment_id]}
        if check_id is None and call.method == "POST":
            errors = _shape_errors(call.body, self.V1_CREATE_FIELDS, {"name", "blocking"})
            if errors:
                return self.violation(call, 400, "; ".join(errors), _bad("Invalid request"))
            if deployment_id in self.finished:
                return 400, _bad("Cannot create check for finished deployment")
            now = self._now_ms()
            check = {
                "id": self._next("chk"), "name": call.body["name"], "createdAt": now, "updatedAt": now,
                "deploymentId": deployment_id, "status": "registered", "blocking": call.body["blocking"],
                "integrationId": "oac_deploygate", "rerequestable": call.body.get("rerequestable", False),
                **{key: call.body[key] for key in ("detailsUrl", "externalId", "path") if key in call.body},
            }  # fmt: skip
            self.checks[check["id"]] = check
            return 200, check
        if check_id is not None and call.method == "PATCH":
            check = self.checks.get(check_id)
            if check is None or check["deploymentId"] != deployment_id:
                return 404, _not_found("Check was not found")
            errors = _shape_errors(call.body, self.V1_UPDATE_FIELDS, set())
            if errors:
                return self.violation(call, 400, "; ".join(errors), _bad("Invalid request"))
            check.update(call.body)
            now = self._now_ms()
            check["updatedAt"] = now
            if "conclusion" in call.body:
                check["status"] = "completed"
                check["completedAt"] = now
            elif call.body.get("status") == "running":
                check.setdefault("startedAt", now)
            return 200, check
        return self.violation(call, 405, "no such method", {"error": {"code": "method_not_allowed", "message": "Method not allowed"}})

    def check_calls(self) -> list[Call]:
        return [call for call in self.calls if 200 <= call.status < 300]


def _bad(message: str) -> dict[str, Any]:
    return {"error": {"code": "bad_request", "message": message}}


def _not_found(message: str) -> dict[str, Any]:
    return {"error": {"code": "not_found", "message": message}}
