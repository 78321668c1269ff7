"""Schemathesis hooks for tests/test_schemathesis.py (loaded by its CLI through SCHEMATHESIS_HOOKS).

A webhook is authenticated by a signature over its raw body, which schemathesis cannot make: each
generated webhook body is signed here, as it will be serialised, with the secret the served app is
configured with, so the fuzzed deliveries reach the parsing and the store instead of stopping at 401.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import schemathesis

from service.integrations import github, vercel

VERCEL_SECRET = "fuzz-vercel-webhook-secret"
GITHUB_SECRET = "fuzz-github-webhook-secret"


def _as_a_client_would(case: Any) -> None:
    """A valid request as a client sends it: a cursor is one the service gave out (it is opaque: a
    string of its alphabet is well formed, not necessarily one of its cursors), and an
    Idempotency-Key is never reused for a different request (that is a 422 by design)."""
    if case.query and "cursor" in case.query:
        position = json.dumps(["2026-01-01T00:00:00+00:00", str(uuid.uuid4())]).encode()
        case.query = {**case.query, "cursor": base64.urlsafe_b64encode(position).decode().rstrip("=")}
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers = {**case.headers, "Idempotency-Key": f"{case.headers['Idempotency-Key'][:160]}.{uuid.uuid4().hex}"}


_SIGNERS = {
    "/v1/webhooks/vercel": (vercel.SIGNATURE_HEADER, lambda body: vercel.signature(VERCEL_SECRET, body)),
    "/v1/webhooks/github": (github.SIGNATURE_HEADER, lambda body: github.signature(GITHUB_SECRET, body)),
}


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if case.meta is not None and case.meta.generation.mode.is_positive:
        _as_a_client_would(case)
    signer = _SIGNERS.get(case.operation.path)
    if signer is None:
        return
    if isinstance(case.body, bytes):
        raw = case.body
    else:
        # Signed as sent: the requests transport serialises a JSON body with json.dumps(allow_nan=False).
        # The body itself stays as generated (replacing it would change what the case is checked as).
        try:
            raw = json.dumps(case.body, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError):
            return  # not JSON (binary, or a NaN): sent unsigned, answered 401
    header, sign = signer
    case.headers = {**(case.headers or {}), header: sign(raw)}


@schemathesis.deserializer("text/markdown", "text/html")
def as_text(context: Any, response: Any) -> str:
    """A report as Markdown or HTML is text: openapi.yaml's schema for it is a string."""
    return str(response.content.decode("utf-8"))
