"""Errors as `application/problem+json` (RFC 9457), from one table of exception → status."""

from __future__ import annotations

import psycopg
from flask import Flask, Response, json
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from service.integrations import InvalidPayload
from service.integrations.github import CallbackRefused
from service.jobs.states import IllegalTransition
from service.jobs.submit import IdempotencyKeyReused, NoBundle, UnknownTarget
from service.jobs.submit_recovery import NoRdsConfigured, NoReplicaConfigured, NotRestored
from service.json_body import UnusableJson
from service.prisma.errors import MigrateError
from service.store.repository import JobNotFound, NotWaitingForApproval

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error the HTTP layer answers directly."""

    def __init__(self, status: int, title: str, detail: str | None = None, headers: dict[str, str] | None = None, **extra: object) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


# Domain errors and the answers they get. Anything not here is a 500 that says nothing inside.
ERROR_TABLE: list[tuple[type[Exception], int, str]] = [
    (ValidationError, 422, "The request is not valid"),
    (IdempotencyKeyReused, 422, "Idempotency-Key reused for a different request"),
    (UnknownTarget, 404, "Unknown target"),
    (NoBundle, 422, "No migrations to check"),
    (JobNotFound, 404, "No such job"),
    (IllegalTransition, 409, "The job cannot do that in its current state"),
    (NotWaitingForApproval, 409, "The job is not waiting for approval"),
    (NotRestored, 409, "Nothing restored to cut over to"),
    (NoRdsConfigured, 422, "The target cannot be restored"),
    (NoReplicaConfigured, 422, "The target has no read replica to fail over to"),
    (MigrateError, 422, "The migrations are not valid"),
    (InvalidPayload, 400, "Bad Request"),
    (UnusableJson, 400, "Bad Request"),
    (CallbackRefused, 422, "The callback is not allowed"),
    # The store's connection failed or none could be had from the pool (PoolTimeout is one).
    (psycopg.OperationalError, 503, "Service Unavailable"),
]

# The driver's own message names hosts and users: it goes to nobody.
STORE_UNAVAILABLE = "The service's store cannot be reached. Try again shortly: a retry with the same Idempotency-Key never starts a second job."


def problem_response(status: int, title: str, detail: str | None = None, headers: dict[str, str] | None = None, **extra: object) -> Response:
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON, headers=headers)


def _detail(error: Exception) -> str:
    if isinstance(error, psycopg.OperationalError):
        return STORE_UNAVAILABLE
    if isinstance(error, ValidationError):
        return "; ".join(_flatten(error.messages))
    if isinstance(error, MigrateError):
        return f"{error.code}: {error.headline}" if error.code else error.headline
    return str(error)


def _flatten(messages: object, prefix: str = "") -> list[str]:
    if isinstance(messages, dict):
        return [item for key, value in messages.items() for item in _flatten(value, f"{prefix}.{key}" if prefix else str(key))]
    if isinstance(messages, list):
        return [f"{prefix}: {message}" if prefix else str(message) for message in messages if isinstance(message, str)] or [
            item for value in messages for item in _flatten(value, prefix)
        ]
    return [f"{prefix}: {messages}"]


def init_app(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(error: Problem) -> Response:
        return problem_response(error.status, error.title, error.detail, error.headers, **error.extra)

    def answer(error: Exception, status: int, title: str) -> Response:
        if status >= 500:
            app.logger.warning("%s: %s", title, type(error).__name__)
        return problem_response(status, title, _detail(error))

    for exception, status, title in ERROR_TABLE:
        app.register_error_handler(exception, lambda error, status=status, title=title: answer(error, status, title))

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        # Keep what the exception says in headers (Allow on a 405, for one).
        headers = {key: value for key, value in error.get_response().headers.items() if key.lower() not in ("content-type", "content-length")}
        return problem_response(error.code or 500, error.name, error.description, headers)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        app.logger.exception("unhandled error")
        return problem_response(500, "Internal Server Error", "The error was logged.")
