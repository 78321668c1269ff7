"""The ops console: server-rendered pages over the jobs, for people, at `/console/`.

On when the targets file's `console_session_secret_env` names a variable holding a key (it signs
the session cookies); off otherwise, when every `/console/...` answers 404 saying how to turn it
on. People sign in with the API's bearer tokens; the scopes are the API's.
"""

from __future__ import annotations

import logging

from flask import Flask
from flask.typing import ResponseReturnValue

from service.http.console import events  # noqa: F401 - registers the event stream on the blueprint
from service.http.console.auth import csrf_token, init_sessions, signed_in
from service.http.console.views import bp, report_page
from service.http.extension import deploy_gate
from service.http.problems import Problem

__all__ = ["bp", "init_app", "report_page"]

log = logging.getLogger(__name__)

TURN_ON = (
    "The console is off. Set console_session_secret_env in the targets file to the name of an environment variable"
    " holding a key of 16 or more characters, set that variable, and restart the service."
)


@bp.route("/<path:anything>", methods=["GET", "POST"])
def unknown(anything: str) -> ResponseReturnValue:
    raise Problem(404, "Not Found", "The console has no such page.")


@bp.before_request
def _only_when_on() -> None:
    if not deploy_gate().config.console_session_secret:
        raise Problem(404, "Not Found", TURN_ON)


@bp.context_processor
def _signed_in() -> dict[str, object]:
    return {"person": signed_in(), "csrf_token": csrf_token}


def init_app(app: Flask, secret: str | None) -> None:
    """Register the console; without a secret it answers 404 everywhere (its templates still
    render the API's HTML reports)."""
    if secret:
        init_sessions(app, secret)
    else:
        log.info("the ops console is off: no console_session_secret_env in the targets file, or its variable is empty")
    app.register_blueprint(bp)
