"""The API contract in the tests: every response a test client receives is checked against openapi.yaml.

`ContractClient` is a Flask test client whose every request has its response validated (path
template, method, status, content type, headers, body) by openapi-core; anything undocumented
fails the test that made the request. Use it with `app.test_client_class = ContractClient`.

Only responses are checked: tests send bad requests on purpose to see the problem they get.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from flask.testing import FlaskClient
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import (
    WerkzeugOpenAPIRequest,
    WerkzeugOpenAPIResponse,
)
from openapi_core.deserializing.media_types.util import json_loads
from werkzeug.test import TestResponse

SPEC_PATH = Path(__file__).resolve().parents[1] / "openapi.yaml"


class _AnsweredRequest(WerkzeugOpenAPIRequest):
    """The request a response answered. Its body was read by the app, and checking a response needs
    only the method and the path, so the body is not read again."""

    @property
    def body(self) -> bytes | None:
        return None


class ContractViolation(AssertionError):
    """A response the contract does not describe."""


@cache
def openapi() -> OpenAPI:
    """openapi.yaml, loaded and validated as an OpenAPI document once per test session."""
    # openapi-core decodes only a fixed list of JSON media types; RFC 9457's is not among them.
    config = Config(extra_media_type_deserializers={"application/problem+json": json_loads})
    return OpenAPI.from_file_path(str(SPEC_PATH), config=config)


def response_errors(response: TestResponse) -> list[str]:
    """What is wrong with a test client's response according to openapi.yaml (empty: nothing)."""
    response.get_data()  # buffer a streamed body so both the check and the test can read it
    request = _AnsweredRequest(response.request)
    return [_describe(error) for error in openapi().iter_response_errors(request, WerkzeugOpenAPIResponse(response))]


def check_response(response: TestResponse) -> None:
    errors = response_errors(response)
    if errors:
        request = response.request
        body = response.get_data(as_text=True)
        raise ContractViolation(
            f"{request.method} {request.full_path.rstrip('?')} answered {response.status_code} {response.content_type!r},"
            f" which openapi.yaml does not allow:\n  " + "\n  ".join(errors) + f"\nbody: {body[:2000]}"
        )


def _describe(error: Exception) -> str:
    cause = error.__cause__
    schema_errors = getattr(cause, "schema_errors", None) or getattr(error, "schema_errors", None)
    if not schema_errors:
        return f"{type(error).__name__}: {error}" + (f" ({type(cause).__name__}: {cause})" if cause is not None else "")
    # The value is printed below as the body; say only where it breaks which rule.
    header = getattr(error, "name", None)
    described = f"{type(error).__name__}: {f'header {header}' if header else 'the body'} does not match its schema"
    for schema_error in schema_errors:
        where = "/".join(str(part) for part in schema_error.absolute_path) or "(root)"
        described += f"\n    at {where}: {schema_error.message}"
    return described


class ContractClient(FlaskClient):
    """A Flask test client that fails the test when a response is not one openapi.yaml describes."""

    def open(self, *args, **kwargs) -> TestResponse:
        response = super().open(*args, **kwargs)
        check_response(response)
        return response
