"""What both of Vercel's checks APIs share: calls with the integration's token, and how a job's end reads in a check.

Every call goes to `api_url` with `Authorization: Bearer <token>` and, when a team is configured,
`?teamId=`; errors are `ApiUnavailable` or `ApiRefused` (see `service.integrations.call_api`) and
name the call, never the token.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from service.integrations import call_api, verdict_passed
from service.jobs.states import JobState
from service.store.repository import Job

SOURCE = "vercel"


class VercelApi:
    """Vercel's REST API on `api_url` with the integration's token."""

    def __init__(self, api_url: str, token: str, team_id: str | None) -> None:
        self.api_url = api_url.rstrip("/")
        self._token = token
        self.team_id = team_id

    def call(self, method: str, path: str, what: str, payload: Any = None) -> Any:
        query = f"?{urlencode({'teamId': self.team_id})}" if self.team_id else ""
        headers = {"Authorization": f"Bearer {self._token}"}
        return call_api(method, f"{self.api_url}{path}{query}", what=what, headers=headers, payload=payload)


def segment(value: str) -> str:
    """An id as one path segment: nothing in it can reach another endpoint."""
    return quote(value, safe="")


def conclusion_for(job: Job) -> str:
    """A finished job as a check's conclusion: only a proceed verdict succeeds."""
    if job.state is JobState.CANCELED:
        return "canceled"
    return "succeeded" if verdict_passed(job) else "failed"


def shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
