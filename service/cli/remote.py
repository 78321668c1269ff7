"""The client for the service's API that `gate`, `wait` and `jobs` share, and their common options."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import click

from service import outbound
from service.backoff import backoff_seconds
from service.cli import EXIT_CANNOT_RUN, CommandFunction, Output

# Answers worth asking again: rate limited, or a proxy in front of the service that could not reach it.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
RETRY_CAP_SECONDS = 30.0
# A job's journal can be long; a list of 200 of them too.
MAX_ANSWER_BYTES = 32 * 1024 * 1024


class ServiceError(Exception):
    """The service could not be reached or answered with a problem; the message is for people."""


class ServiceClient:
    """JSON over HTTP with a bearer token, through `service.outbound` (a redirect is an error, never followed).

    With `retries`, network errors and RETRY_STATUSES are asked again after `service.backoff`'s
    wait: from `backoff` seconds, doubling, with jitter, at most RETRY_CAP_SECONDS (or longer if
    Retry-After says so, within the cap); `on_retry(problem, delay, attempt)` hears about each
    one. Only requests that are safe to repeat should be sent so: reads, and posts that carry an
    Idempotency-Key.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None,
        timeout: float = 35.0,
        *,
        retries: int = 0,
        backoff: float = 1.0,
        on_retry: Callable[[str, float, int], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # For messages: a URL may carry credentials (https://user:password@host), never printed.
        parts = urllib.parse.urlsplit(self.base_url)
        self.display_url = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl() if "@" in parts.netloc else self.base_url
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.on_retry = on_retry
        self.last_status: int | None = None  # of the last answer: 202 new job, 200 the first one again

    def get(self, path: str, **query: Any) -> dict[str, Any]:
        return _json_answer(self._send("GET", self._url(path, query), {"Accept": "application/json"}), self.display_url)

    def get_text(self, path: str, accept: str, **query: Any) -> str:
        """A document that is not JSON: a report in Markdown, say."""
        return self._send("GET", self._url(path, query), {"Accept": accept}).body.decode("utf-8", "replace")

    def post(self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
        headers = {"Accept": "application/json", "Content-Type": "application/json", **(headers or {})}
        return _json_answer(self._send("POST", f"{self.base_url}{path}", headers, json.dumps(body).encode()), self.display_url)

    def console_url(self, job_id: str) -> str:
        """The job's page in the service's ops console, to open or paste in chat."""
        return f"{self.display_url}/console/jobs/{job_id}"

    def _url(self, path: str, query: dict[str, Any]) -> str:
        parameters = {key: value for key, value in query.items() if value is not None}
        return f"{self.base_url}{path}" + (f"?{urllib.parse.urlencode(parameters)}" if parameters else "")

    def _send(self, method: str, url: str, headers: dict[str, str], body: bytes | None = None) -> outbound.Answer:
        if self.token:
            headers = {**headers, "Authorization": f"Bearer {self.token}"}
        attempt = 0
        while True:
            retry_after = None
            try:
                answer = outbound.request(method, url, headers=headers, body=body, timeout=self.timeout, max_body=MAX_ANSWER_BYTES)
            except outbound.UnusableUrl as error:
                raise ServiceError(f"cannot use the URL {self.display_url}: {error}") from None
            except outbound.ResponseTooLarge as error:
                raise ServiceError(f"{self.display_url}: {error}") from None
            except outbound.Unreachable as error:
                problem = f"cannot reach {self.display_url}: {error.reason}"
                if attempt >= self.retries:
                    raise ServiceError(problem) from None
            else:
                if 200 <= answer.status < 300:
                    self.last_status = answer.status
                    return answer
                problem, retry_after = _problem_text(answer), answer.retry_after
                if answer.status not in RETRY_STATUSES or attempt >= self.retries:
                    raise ServiceError(problem)
            delay = min(RETRY_CAP_SECONDS, max(backoff_seconds(attempt, self.backoff, RETRY_CAP_SECONDS, floor=self.backoff), retry_after or 0.0))
            attempt += 1
            if self.on_retry:
                self.on_retry(problem, delay, attempt)
            time.sleep(delay)


def _json_answer(answer: outbound.Answer, base_url: str) -> dict[str, Any]:
    try:
        document = json.loads(answer.body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise ServiceError(f"{base_url} answered {answer.status} with something other than a JSON object")
    return document


def _problem_text(answer: outbound.Answer) -> str:
    """`<status> <title>: <detail>` from the service's problem document, or the status's own phrase."""
    try:
        phrase = HTTPStatus(answer.status).phrase
    except ValueError:
        phrase = "(unknown status)"
    try:
        problem = json.loads(answer.body)
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        return f"{answer.status} {phrase}"
    detail = f": {problem['detail']}" if problem.get("detail") else ""
    return f"{answer.status} {problem.get('title', phrase)}{detail}"


def client_options(command: CommandFunction) -> CommandFunction:
    scopes = "A bearer token with the read scope (gate and jobs cancel: deploy and read; jobs approve|reject: approve)."
    command = click.option("--token", envvar="DEPLOY_GATE_TOKEN", show_envvar=True, help=scopes)(command)
    command = click.option(
        "--url", "base_url", envvar="DEPLOY_GATE_URL", show_envvar=True, default="http://127.0.0.1:8080", show_default=True, help="The service."
    )(command)
    return command


def service_client(output: Output, base_url: str, token: str | None, **options: Any) -> ServiceClient:
    """The client for a command; without a token, one line saying where to give it."""
    if not token:
        output.error(None, "No token: pass --token or set DEPLOY_GATE_TOKEN (a bearer token the service's config grants).", EXIT_CANNOT_RUN)
    return ServiceClient(base_url, token, **options)
