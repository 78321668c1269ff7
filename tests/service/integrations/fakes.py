"""Local stand-ins for the platforms' APIs on 127.0.0.1, for the integration tests: the plumbing, and GitHub's (Vercel's: `fake_vercel`).

Each fake records every call deploy-gate makes and validates it against the platform's documented
shape (method, path, query, headers such as `Authorization: Bearer`, body fields and their types);
what does not match is answered as the real API would (400/401/404/422) and kept in `violations`,
which a test asserts is empty. Answers follow the documented shapes too. `fail(*statuses)` makes the
next calls fail with those statuses, `lose_answer(method=...)` makes the next (such) call take effect
and then answer 502, as when an answer is lost on the way back.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
from werkzeug.datastructures import Headers


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    # Names compare without case, as HTTP's do.
    headers: Headers
    body: Any
    at: float
    status: int = 0


class _Fake:
    """The HTTP plumbing both fakes share: a threaded server, the call log, injected failures."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self._failures: deque[int] = deque()
        self._lose = 0
        self._lose_method: str | None = None
        self.lock = threading.RLock()
        self.arrived = threading.Condition(self.lock)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                call = Call(
                    self.command,
                    unquote(parts.path),
                    parse_qs(parts.query, keep_blank_values=True),
                    Headers(list(self.headers.items())),
                    body,
                    time.monotonic(),
                )
                with fake.lock:
                    if fake._failures:
                        status, answer = fake._failures.popleft(), {"error": {"code": "internal_server_error", "message": "injected"}}
                    else:
                        status, answer = fake.answer(call, raw)
                        if fake._lose and 200 <= status < 300 and fake._lose_method in (None, call.method):
                            fake._lose -= 1
                            status, answer = 502, {"error": {"code": "bad_gateway", "message": "the answer was lost"}}
                    call.status = status
                    fake.calls.append(call)
                    fake.arrived.notify_all()
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def answer(self, call: Call, raw: bytes) -> tuple[int, Any]:
        raise NotImplementedError

    def violation(self, call: Call, status: int, message: str, answer: Any) -> tuple[int, Any]:
        self.violations.append(f"{call.method} {call.path}: {message}")
        return status, answer

    def fail(self, *statuses: int) -> None:
        with self.lock:
            self._failures.extend(statuses)

    def lose_answer(self, count: int = 1, method: str | None = None) -> None:
        with self.lock:
            self._lose += count
            self._lose_method = method

    def wait_for(self, predicate, seconds: float = 20.0) -> list[Call]:
        with self.arrived:
            if not self.arrived.wait_for(lambda: predicate(self.calls), timeout=seconds):
                raise AssertionError(f"the fake did not see what was expected; calls: {[(c.method, c.path, c.status, c.body) for c in self.calls]}")
            return list(self.calls)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def _is_web_url(value: Any) -> bool:
    return isinstance(value, str) and urlsplit(value).scheme in ("http", "https") and bool(urlsplit(value).hostname)


def _shape_errors(body: Any, fields: dict[str, Any], required: set[str]) -> list[str]:
    """Type-check a JSON object against {field: type or validator}; unknown fields are errors."""
    if not isinstance(body, dict):
        return ["the body must be a JSON object"]
    errors = [f"{name} is required" for name in sorted(required - set(body))]
    for name, value in body.items():
        rule = fields.get(name)
        if rule is None:
            errors.append(f"{name} is not a known field")
        elif isinstance(rule, type):
            # bool is an int in Python; JSON keeps them apart.
            if not isinstance(value, rule) or (rule is not bool and isinstance(value, bool)):
                errors.append(f"{name} must be a {rule.__name__}")
        elif not rule(value):
            errors.append(f"{name} has a value the API does not take: {value!r}")
    return errors


class FakeGitHub(_Fake):
    """GitHub's API for an App: installation tokens (JWT checked with the App's public key) and the
    review of a workflow run's custom deployment protection rule."""

    def __init__(self, app_id: int, public_key, installation_id: int, repository: str) -> None:
        super().__init__()
        self.app_id = app_id
        self.public_key = public_key
        self.installation_id = installation_id
        self.repository = repository
        self.tokens: dict[str, dict[str, Any]] = {}
        # (run id, environment) of the rules waiting for an answer; the answers given.
        self.pending: set[tuple[int, str]] = set()
        self.reviews: list[dict[str, Any]] = []
        self.jwt_claims: list[dict[str, Any]] = []

    def add_pending(self, run_id: int, environment: str) -> None:
        self.pending.add((run_id, environment))

    def _github_headers(self, call: Call) -> str | None:
        if call.headers.get("Accept") != "application/vnd.github+json":
            return "Accept is not application/vnd.github+json"
        if call.headers.get("X-GitHub-Api-Version") != "2022-11-28":
            return "no X-GitHub-Api-Version: 2022-11-28"
        if not call.headers.get("User-Agent"):
            return "GitHub refuses requests without a User-Agent"
        if not (call.headers.get("Content-Type") or "").startswith("application/json"):
            return "the body is not sent as application/json"
        return None

    def answer(self, call: Call, raw: bytes) -> tuple[int, Any]:
        problem = self._github_headers(call)
        if problem:
            return self.violation(call, 400, problem, {"message": "Bad request"})
        if call.method != "POST" or call.query:
            return self.violation(call, 404, "no such endpoint", {"message": "Not Found"})
        parts = call.path.strip("/").split("/")
        if len(parts) == 4 and parts[0] == "app" and parts[1] == "installations" and parts[3] == "access_tokens":
            return self._access_token(call, parts[2])
        owner_repo = "/".join(parts[1:3]) if len(parts) == 7 else ""
        if len(parts) == 7 and parts[0] == "repos" and parts[3:5] == ["actions", "runs"] and parts[6] == "deployment_protection_rule":
            return self._review(call, owner_repo, parts[5])
        return self.violation(call, 404, "no such endpoint", {"message": "Not Found"})

    def _access_token(self, call: Call, installation: str) -> tuple[int, Any]:
        scheme, _, credential = (call.headers.get("Authorization") or "").partition(" ")
        if scheme != "Bearer":
            return self.violation(call, 401, "no Authorization: Bearer <JWT>", {"message": "A JSON web token could not be decoded"})
        try:
            claims = jwt.decode(credential, self.public_key, algorithms=["RS256"], options={"require": ["iat", "exp", "iss"]}, leeway=0)
        except jwt.PyJWTError as error:
            return self.violation(call, 401, f"the JWT does not verify: {error}", {"message": "A JSON web token could not be decoded"})
        self.jwt_claims.append(claims)
        if str(claims["iss"]) != str(self.app_id):
            return self.violation(call, 401, f"iss {claims['iss']!r} is not the App id", {"message": "Integration not found"})
        if claims["exp"] - claims["iat"] > 600 or claims["iat"] > time.time() + 1:
            return self.violation(
                call,
                401,
                "exp is more than ten minutes after iat, or iat is in the future",
                {"message": "Expiration time' claim ('exp') is too far in the future"},
            )
        if installation != str(self.installation_id):
            return 404, {"message": "Not Found"}
        fields = {
            "repositories": lambda v: isinstance(v, list) and all(isinstance(r, str) and "/" not in r for r in v),
            "repository_ids": lambda v: isinstance(v, list) and all(isinstance(r, int) for r in v),
            "permissions": lambda v: isinstance(v, dict) and all(p in ("read", "write") for p in v.values()),
        }
        errors = _shape_errors(call.body or {}, fields, set())
        if errors:
            return self.violation(call, 422, "; ".join(errors), {"message": "Validation Failed"})
        if call.body and call.body.get("repositories") not in (None, [self.repository.split("/")[1]]):
            return self.violation(call, 422, "the token is asked for another repository", {"message": "There is at least one repository that does not exist"})
        token = f"ghs_{secrets.token_hex(16)}"
        self.tokens[token] = {"permissions": (call.body or {}).get("permissions", {"deployments": "write"})}
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        return 201, {"token": token, "expires_at": expires, "permissions": self.tokens[token]["permissions"], "repository_selection": "selected"}

    def _review(self, call: Call, owner_repo: str, run_id: str) -> tuple[int, Any]:
        scheme, _, credential = (call.headers.get("Authorization") or "").partition(" ")
        granted = self.tokens.get(credential) if scheme in ("Bearer", "token") else None
        if granted is None:
            return self.violation(call, 401, "not an installation token this fake issued", {"message": "Bad credentials"})
        if granted["permissions"].get("deployments") != "write":
            return self.violation(call, 403, "the token lacks deployments: write", {"message": "Resource not accessible by integration"})
        if owner_repo != self.repository:
            return 404, {"message": "Not Found"}
        fields = {"environment_name": str, "state": lambda v: v in ("approved", "rejected"), "comment": str}
        errors = _shape_errors(call.body, fields, {"environment_name", "state"})
        if errors:
            return self.violation(call, 422, "; ".join(errors), {"message": "Validation Failed"})
        key = (int(run_id), call.body["environment_name"])
        if key not in self.pending:
            return 422, {"message": "No pending deployment requests to approve or reject"}
        self.pending.discard(key)
        self.reviews.append({"run_id": int(run_id), **call.body})
        return 204, None


@dataclass
class RsaKey:
    private_pem: str
    public_key: Any = field(repr=False)


def rsa_key() -> RsaKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return RsaKey(pem, key.public_key())
