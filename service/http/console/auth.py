"""Who is signed in to the console: a signed session cookie holding the token's name and scopes
(never the token), a CSRF token bound to the session, and the scope checks the API makes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import Flask, current_app, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from werkzeug.wrappers import Response

from service.http.extension import deploy_gate
from service.http.problems import Problem

P = ParamSpec("P")
R = TypeVar("R")

SESSION_LIFETIME = timedelta(hours=12)
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Person:
    """The signed-in token's name and scopes."""

    name: str
    scopes: frozenset[str]

    def may(self, scope: str) -> bool:
        return scope in self.scopes


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, Secure whenever the request came over https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure


def init_sessions(app: Flask, secret: str) -> None:
    app.secret_key = secret
    app.session_interface = ConsoleSessionInterface()
    # Only the console reads the cookie: the API takes bearer tokens, never a cookie.
    app.config.update(
        SESSION_COOKIE_NAME="deploy_gate_console",
        SESSION_COOKIE_PATH="/console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        SESSION_REFRESH_EACH_REQUEST=False,  # 12 hours from signing in, however busy the person is
    )


def sign_in(token: str) -> Person | None:
    """Check a presented token like the API does; on success a fresh session names its owner."""
    found = deploy_gate().config.token_for(token.strip())
    if found is None:
        return None
    session.clear()  # a new session id: one known before signing in is worth nothing after
    session.permanent = True
    session.update(name=found.name, scopes=sorted(found.scopes), sid=secrets.token_urlsafe(16))
    return Person(found.name, found.scopes)


def sign_out() -> None:
    session.clear()


def signed_in() -> Person | None:
    name = session.get("name")
    if not isinstance(name, str):
        return None
    # The targets file may have dropped the token, or its scopes, since the session began.
    token = next((t for t in deploy_gate().config.tokens if t.name == name), None)
    if token is None:
        return None
    return Person(name, token.scopes & frozenset(session.get("scopes", ())))


def csrf_token() -> str:
    """The session's CSRF token (an HMAC of its id), starting a session when there is none yet."""
    if "sid" not in session:
        session["sid"] = secrets.token_urlsafe(16)
    return _csrf_for(session["sid"])


def _csrf_for(sid: str) -> str:
    return hmac.new(str(current_app.secret_key).encode(), sid.encode(), hashlib.sha256).hexdigest()


def check_csrf() -> None:
    sid = session.get("sid")
    presented = request.form.get(CSRF_FIELD, "")
    if not isinstance(sid, str) or not hmac.compare_digest(presented, _csrf_for(sid)):
        raise Problem(400, "Bad Request", "CSRF token missing or invalid.")


def require(scope: str) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
    """Signed in with `scope`: a GET without a session goes to the sign-in page, a POST gets 401;
    then a POST needs the session's CSRF token; a missing scope is 403 naming it."""

    def decorate(view: Callable[P, R]) -> Callable[P, R | Response]:
        @wraps(view)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            person = signed_in()
            if person is None:
                if request.method == "GET":
                    return redirect(url_for("console.login", next=request.full_path.rstrip("?")), 303)
                raise Problem(401, "Unauthorized", "Sign in to the console first.")
            if request.method == "POST":
                check_csrf()
            if not person.may(scope):
                raise Problem(403, "Forbidden", f"Your token lacks the `{scope}` scope.")
            return view(*args, **kwargs)

        return checked

    return decorate
