"""Bearer tokens with scopes (`deploy`, `read`, `approve`), checked against hashes in the config;
and report links, whose `?token=` opens one job's report (service.links)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import g, request

from service.http.extension import deploy_gate
from service.http.problems import Problem
from service.links import report_token_valid

P = ParamSpec("P")
R = TypeVar("R")


def authenticate(scope: str) -> None:
    """The request's bearer token must be known and have `scope`: 401 otherwise, 403 without the scope."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "Unauthorized", "Send `Authorization: Bearer <token>`.", headers={"WWW-Authenticate": "Bearer"})
    found = deploy_gate().config.token_for(token.strip())
    if found is None:
        raise Problem(401, "Unauthorized", "The token is not valid.", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if scope not in found.scopes:
        raise Problem(403, "Forbidden", f"The token lacks the `{scope}` scope.")
    g.principal = found.name


def require_scope(scope: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            authenticate(scope)
            return view(*args, **kwargs)

        return checked

    return decorate


def require_scope_or_report_link(scope: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A bearer token with `scope`, or, without an Authorization header, `?token=` signed for the
    `job_id` in the path (a report link). A link token that does not match, or any link token when
    no report-link secret is configured, is 401 like a missing bearer token."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            presented = request.args.get("token")
            if presented is None or "Authorization" in request.headers:
                authenticate(scope)
            else:
                secret = deploy_gate().config.report_link_secret
                job_id = str(kwargs["job_id"])  # the route's <job_id>: Flask passes path variables by name
                if not report_token_valid(secret, job_id, presented):
                    detail = "The link's token does not open this report; or send `Authorization: Bearer <token>`."
                    raise Problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})
            return view(*args, **kwargs)

        # tests/test_openapi.py reads the mark; mypy does not model attributes set on a function.
        checked.accepts_report_link = True  # type: ignore[attr-defined]
        return checked

    return decorate
