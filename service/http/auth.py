"""Bearer tokens with scopes (`deploy`, `read`, `approve`), checked against hashes in the config."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import current_app, g, request

from service.http.problems import Problem


def require_scope(scope: str) -> Callable:
    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def checked(*args, **kwargs):
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
            return view(*args, **kwargs)

        return checked

    return decorate
