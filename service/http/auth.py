"""Bearer tokens with scopes (`deploy`, `read`, `approve`), checked against hashes in the config;
and report links, whose `?token=` opens one job's report (service.links)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import current_app, g, request

from service.http.problems import Problem
from service.links import report_token_valid


def authenticate(scope: str) -> None:
    """The request's bearer token must be known and have `scope`: 401 otherwise, 403 without the scope."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "Unauthorized", "Send `Authorization: Bearer <token>`.", headers={"WWW-Authenticate": "Bearer"})
    found = current_app.extensions["deploy_gate"].config.token_for(token.strip())
    if found is None:
        raise Problem(401, "Unauthorized", "The token is not valid.", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if scope not in found.scopes:
        raise Problem(403, "Forbidden", f"The token lacks the `{scope}` scope.")
    g.principal = found.name


def require_scope(scope: str) -> Callable:
    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def checked(*args, **kwargs):
            authenticate(scope)
            return view(*args, **kwargs)

        return checked

    return decorate


def require_scope_or_report_link(scope: str) -> Callable:
    """A bearer token with `scope`, or, without an Authorization header, `?token=` signed for the
    `job_id` in the path (a report link). A link token that does not match, or any link token when
    no report-link secret is configured, is 401 like a missing bearer token."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def checked(*args, job_id: str, **kwargs):
            presented = request.args.get("token")
            if presented is None or "Authorization" in request.headers:
                authenticate(scope)
            else:
                secret = current_app.extensions["deploy_gate"].config.report_link_secret
                if not report_token_valid(secret, job_id, presented):
                    detail = "The link's token does not open this report; or send `Authorization: Bearer <token>`."
                    raise Problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})
            return view(*args, job_id=job_id, **kwargs)

        checked.accepts_report_link = True
        return checked

    return decorate
