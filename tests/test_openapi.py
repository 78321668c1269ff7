"""openapi.yaml: a valid OpenAPI 3.1 document that describes exactly what the app serves.

The responses themselves are checked in the HTTP and worker tests (tests/contract.py); here the
document is checked against the code: routes and methods, scopes, the request and query schemas,
the fields of the response schemas and the enums. The checker is also shown to reject what the
document does not describe.
"""

from __future__ import annotations

import dataclasses
import inspect
import re

import pytest
import yaml
from flask import Flask, Response, json
from marshmallow import fields, missing, validate
from openapi_spec_validator import OpenAPIV31SpecValidator
from openapi_spec_validator import validate as validate_spec

from service import integrations
from service.config.records import Config, Policy, RdsSettings
from service.config.settings import Settings
from service.http import create_app
from service.http.problems import PROBLEM_JSON
from service.http.recovery import ApprovalSchema, RecoveryRequestSchema, RestoreRequestSchema, RollbackRequestSchema
from service.http.schemas import (
    IDEMPOTENCY_KEY,
    CheckRequestSchema,
    DeployRequestSchema,
    JobEventSchema,
    JobListQuerySchema,
    JobSchema,
    Migration,
    WaitQuerySchema,
)
from service.jobs.states import JobKind, JobState, Verdict
from service.json_body import MAX_DEPTH
from tests.contract import SPEC_PATH, ContractClient, ContractViolation
from tests.store import migrated_store

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Flask answers these for every route by itself; they are not operations of the API.
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def resolve(spec: dict, node: dict) -> dict:
    """Follow local `$ref`s (`#/components/...`) until a node without one."""
    while isinstance(node, dict) and "$ref" in node:
        reference = node["$ref"]
        assert reference.startswith("#/"), f"only local references are used: {reference}"
        node = spec
        for part in reference[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item[method]


def merged_properties(spec: dict, schema: dict) -> dict:
    """A schema's properties, through `$ref` and `allOf`."""
    schema = resolve(spec, schema)
    properties = dict(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        properties.update(merged_properties(spec, part))
    return properties


def test_the_document_is_valid_openapi_3_1(spec):
    assert spec["openapi"].startswith("3.1.")
    validate_spec(spec, cls=OpenAPIV31SpecValidator)


@pytest.fixture
def app(scratch_db):
    settings = Settings(database_url=migrated_store(scratch_db), broker_url="redis://127.0.0.1:6379/15", config_file=None)
    app = create_app(settings, Config({}, ()), enqueue=lambda *job_ids: None)
    yield app
    app.extensions["deploy_gate"].pool.close()


def served_operations(app: Flask) -> dict[tuple[str, str], object]:
    """(METHOD, /path/{param}) → view function, for every route the app serves."""
    served = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":  # Flask's default static route; the app has no static folder
            continue
        if rule.endpoint.startswith("console."):  # the ops console's pages are for people, not the API's
            continue
        path = re.sub(r"<(?:[a-z]+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - IMPLICIT_METHODS:
            served[(method, path)] = app.view_functions[rule.endpoint]
    return served


def test_every_route_is_documented_and_every_documented_operation_is_served(app, spec):
    served = set(served_operations(app))
    documented = {(method.upper(), path) for path, method, _ in operations(spec)}
    assert sorted(served - documented) == [], "served but not in openapi.yaml"
    assert sorted(documented - served) == [], "in openapi.yaml but not served"


def test_each_operation_names_the_scope_its_view_requires(app, spec):
    for (method, path), view in served_operations(app).items():
        operation = spec["paths"][path][method.lower()]
        # require_scope wraps the view in a closure over the scope it checks.
        scope = inspect.getclosurevars(view).nonlocals.get("scope") if hasattr(view, "__wrapped__") else None
        security = operation.get("security", spec.get("security"))
        if scope is None:
            assert security == [], f"{method} {path} needs no token, so it must say `security: []`"
            # A webhook is authenticated by its signature instead (`x-signature-header`): 401 when it does not match.
            refusals = {"401"} if "x-signature-header" in operation else set()
            assert {"401", "403"} & set(operation["responses"]) == refusals, f"{method} {path} answers {refusals or 'neither 401 nor 403'}"
        else:
            # A report also opens with a report link's token (require_scope_or_report_link): the alternative is listed.
            expected = [{"bearerAuth": [scope]}] + ([{"reportLink": []}] if getattr(view, "accepts_report_link", False) else [])
            assert security == expected, f"{method} {path} requires the {scope!r} scope" + (" or a report link" if len(expected) > 1 else "")
            assert {"401", "403"} <= set(operation["responses"]), f"{method} {path} answers 401 and 403"


def test_only_the_report_takes_a_report_link_and_says_where(app, spec):
    scheme = spec["components"]["securitySchemes"]["reportLink"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "query", "token")
    linked = [(method, path) for (method, path), view in served_operations(app).items() if getattr(view, "accepts_report_link", False)]
    assert linked == [("GET", "/v1/jobs/{job_id}/report")]
    documented = [(method.upper(), path) for path, method, operation in operations(spec) if {"reportLink": []} in operation.get("security", [])]
    assert documented == linked
    query = [p["name"] for p in spec["paths"]["/v1/jobs/{job_id}/report"]["get"]["parameters"] if p["in"] == "query"]
    assert "token" in query


def test_every_error_is_problem_json_and_every_success_json_or_text_or_a_report(spec):
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            content = resolve(spec, response)["content"]
            if int(status) >= 400:
                assert list(content) == [PROBLEM_JSON], f"{method} {path} {status}"
                assert "Problem" in json.dumps(content[PROBLEM_JSON]["schema"]), f"{method} {path} {status}"
            else:
                assert list(content) in (["application/json"], ["text/plain"], ["application/json", "text/markdown", "text/html"]), f"{method} {path} {status}"


def test_a_problem_is_rfc_9457(spec):
    problem = resolve(spec, {"$ref": "#/components/schemas/Problem"})
    assert set(problem["required"]) == {"type", "title", "status"}
    assert {"type", "title", "status", "detail", "instance"} <= set(problem["properties"])
    assert problem.get("additionalProperties", True) is True, "extension members are allowed"


# --- the schemas in the document against the marshmallow schemas and the dataclasses -------------

_TYPES = {
    fields.String: "string",
    fields.Boolean: "boolean",
    fields.Integer: "integer",
    fields.Float: "number",
    fields.List: "array",
    fields.Dict: "object",
    fields.DateTime: "string",
}


def _code_constraints(field: fields.Field) -> dict:
    found = {
        "type": next(name for cls, name in _TYPES.items() if isinstance(field, cls)),
        "nullable": field.allow_none,
        "required": field.required,
    }
    if field.load_default is not missing and field.load_default is not None:
        found["default"] = field.load_default
    for validator in field.validators:
        if isinstance(validator, validate.OneOf):
            found["enum"] = list(validator.choices)
        elif isinstance(validator, validate.Length):
            found.update({key: value for key, value in (("minLength", validator.min), ("maxLength", validator.max)) if value is not None})
        elif isinstance(validator, validate.Range):
            low = "minimum" if validator.min_inclusive else "exclusiveMinimum"
            high = "maximum" if validator.max_inclusive else "exclusiveMaximum"
            found.update({key: value for key, value in ((low, validator.min), (high, validator.max)) if value is not None})
        elif isinstance(validator, validate.Regexp):
            found["pattern"] = validator.regex.pattern
        else:
            pytest.fail(f"no mapping for validator {validator!r}; teach this test")
    return found


def _spec_constraints(spec: dict, schema: dict, required: bool) -> dict:
    schema = resolve(spec, schema)
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    found = {"type": next(t for t in types if t != "null"), "nullable": "null" in types, "required": required}
    found.update(
        {
            key: schema[key]
            for key in ("default", "enum", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "pattern")
            if key in schema
        }
    )
    if "enum" in found and found["nullable"]:
        # JSON Schema lists null among a nullable field's values; marshmallow says it with allow_none.
        found["enum"] = [value for value in found["enum"] if value is not None]
    return found


@pytest.mark.parametrize(
    "name, code_fields",
    [
        ("DeployRequest", DeployRequestSchema().fields),
        ("Migration", Migration.FIELDS),
        ("CheckRequest", CheckRequestSchema().fields),
        ("ApprovalRequest", ApprovalSchema().fields),
        ("RecoveryRequest", RecoveryRequestSchema().fields),
        ("RollbackRequest", RollbackRequestSchema().fields),
        ("RestoreRequest", RestoreRequestSchema().fields),
    ],
)
def test_request_bodies_match_the_marshmallow_schemas(spec, name, code_fields):
    documented = resolve(spec, {"$ref": f"#/components/schemas/{name}"})
    assert documented["additionalProperties"] is False, "the schemas refuse unknown fields"
    code = {key: _code_constraints(field) for key, field in code_fields.items()}
    required = set(documented.get("required", []))
    described = {key: _spec_constraints(spec, value, key in required) for key, value in documented["properties"].items()}
    assert described == code


def test_the_limits_on_headers_and_webhook_text_are_the_code_s(spec):
    key = resolve(spec, spec["components"]["parameters"]["IdempotencyKey"])["schema"]
    assert key["pattern"] == IDEMPOTENCY_KEY.pattern
    webhook_text = spec["components"]["schemas"]["WebhookText"]
    for sample in ("d-1", "d\u00a0\u4e2d\U0001f600", "", "d\x07", "d\x7f", "d\u0085", "x" * 200, "x" * 201):
        documented = webhook_text["minLength"] <= len(sample) <= webhook_text["maxLength"] and re.fullmatch(webhook_text["pattern"], sample)
        assert bool(documented) == (len(sample) <= 200 and bool(integrations._PLAIN_TEXT.fullmatch(sample))), repr(sample)
    assert spec["components"]["schemas"]["GitHubHeaderValue"]["pattern"] == "^[\\x21-\\x7E]{1,100}$"
    assert MAX_DEPTH == 64 and "64 levels" in spec["info"]["description"]


@pytest.mark.parametrize(
    "path, method, schema",
    [("/v1/jobs", "get", JobListQuerySchema), ("/v1/jobs/{job_id}", "get", WaitQuerySchema)],
)
def test_query_parameters_match_the_marshmallow_schemas(spec, path, method, schema):
    parameters = [resolve(spec, p) for p in spec["paths"][path].get("parameters", []) + spec["paths"][path][method].get("parameters", [])]
    query = {p["name"]: _spec_constraints(spec, p["schema"], p.get("required", False)) for p in parameters if p["in"] == "query"}
    assert query == {key: _code_constraints(field) for key, field in schema().fields.items()}


@pytest.mark.parametrize(
    "name, code_fields",
    [
        ("JobFields", set(JobSchema().fields)),
        ("JobEvent", set(JobEventSchema().fields)),
        ("Policy", {f.name for f in dataclasses.fields(Policy)}),
        ("RdsSettings", {f.name for f in dataclasses.fields(RdsSettings)}),
    ],
)
def test_response_schemas_list_every_field_the_code_writes(spec, name, code_fields):
    documented = resolve(spec, {"$ref": f"#/components/schemas/{name}"})
    assert set(documented["properties"]) == code_fields
    assert set(documented["required"]) == code_fields, "every field is always written (null when empty)"


def test_job_with_events_is_a_job_plus_its_journal(spec):
    assert set(merged_properties(spec, {"$ref": "#/components/schemas/JobWithEvents"})) == set(JobSchema().fields) | {"events"}


@pytest.mark.parametrize("name, enum", [("JobState", JobState), ("JobKind", JobKind), ("Verdict", Verdict)])
def test_enums_match_the_code(spec, name, enum):
    assert resolve(spec, {"$ref": f"#/components/schemas/{name}"})["enum"] == [member.value for member in enum]


# --- the checker rejects what the document does not describe -------------------------------------

JOB_ID = "5b0c3b5e-7a55-4c1f-9a55-2f2b3c4d5e6f"
JOB = {
    "id": JOB_ID, "url": f"/v1/jobs/{JOB_ID}", "kind": "check", "target": "staging", "state": "queued", "verdict": None,
    "reasons": [], "params": {"phase": "pre", "apply": False}, "facts": {}, "requested_by": "ci", "attempts": 0,
    "created_at": "2026-01-01T00:00:00+00:00", "updated_at": "2026-01-01T00:00:00+00:00", "started_at": None, "finished_at": None,
}  # fmt: skip
EVENT = {"id": 1, "at": "2026-01-01T00:00:00+00:00", "kind": "transition", "step": None, "from_state": None, "to_state": "queued", "data": {}}


def _problem(status: int, mimetype: str = PROBLEM_JSON, **body) -> Response:
    return Response(json.dumps({"type": "about:blank", "title": "x", "status": status, **body}), status, mimetype=mimetype)


@pytest.fixture
def fake():
    """A stand-in app on the documented paths that answers whatever a test sets."""
    app = Flask("fake", static_folder=None)
    app.test_client_class = ContractClient
    answer = {}
    for rule, methods in (
        ("/healthz", ["GET", "PUT"]),
        ("/undocumented", ["GET"]),
        ("/v1/deploys", ["POST"]),
        ("/v1/jobs/<job_id>", ["GET"]),
        ("/readyz", ["GET"]),
    ):
        app.add_url_rule(rule, rule, lambda **kwargs: answer["response"], methods=methods)
    client = app.test_client()

    def request(method: str, path: str, response):
        answer["response"] = response
        return client.open(path, method=method)

    return request


@pytest.mark.parametrize(
    "method, path, response",
    [
        ("GET", "/healthz", {"status": "ok"}),
        ("POST", "/v1/deploys", (JOB, 202, {"Location": JOB["url"]})),
        ("POST", "/v1/deploys", (JOB, 200, {"Location": JOB["url"]})),
        ("POST", "/v1/deploys", _problem(422, detail="phase: Must be one of: pre, post, failed.")),
        ("GET", f"/v1/jobs/{JOB_ID}?wait=1", {**JOB, "events": [EVENT]}),
        ("GET", "/readyz", _problem(503, checks={"database": "ok", "broker": "ConnectionError", "workers": "ok"})),
    ],
)
def test_the_checker_accepts_documented_responses(fake, method, path, response):
    assert fake(method, path, response).status_code < 600


@pytest.mark.parametrize(
    "method, path, response, complaint",
    [
        ("GET", "/undocumented", {"status": "ok"}, "PathNotFound"),
        ("PUT", "/healthz", {"status": "ok"}, "OperationNotFound"),
        ("GET", "/healthz", ({"status": "ok"}, 201), "ResponseNotFound"),
        ("GET", "/healthz", Response("ok", mimetype="text/html"), "text/html"),
        ("GET", "/healthz", {"status": "ok", "extra": True}, "Additional properties"),
        ("POST", "/v1/deploys", (JOB, 202), "Location"),
        ("POST", "/v1/deploys", (JOB, 202, {"Location": "/somewhere/else"}), "Location"),
        ("POST", "/v1/deploys", ({**JOB, "verdict": "maybe"}, 202, {"Location": JOB["url"]}), "verdict"),
        ("POST", "/v1/deploys", ({**JOB, "created_at": "yesterday"}, 202, {"Location": JOB["url"]}), "created_at"),
        ("POST", "/v1/deploys", ({**JOB, "password": "x"}, 202, {"Location": JOB["url"]}), "password"),
        ("POST", "/v1/deploys", (JOB, 201, {"Location": JOB["url"]}), "ResponseNotFound"),
        ("POST", "/v1/deploys", _problem(422, mimetype="application/json"), "application/json"),
        ("POST", "/v1/deploys", Response(json.dumps({"title": "x", "status": 422}), 422, mimetype=PROBLEM_JSON), "'type' is a required"),
        ("POST", "/v1/deploys", _problem(500), "ResponseNotFound"),
        ("GET", f"/v1/jobs/{JOB_ID}", JOB, "events"),
        ("GET", f"/v1/jobs/{JOB_ID}", {**JOB, "events": [{**EVENT, "to_state": "exploded"}]}, "events/0/to_state"),
        ("GET", "/readyz", _problem(503), "checks"),
    ],
)
def test_the_checker_rejects_what_the_document_does_not_describe(fake, method, path, response, complaint):
    with pytest.raises(ContractViolation, match=re.escape(complaint)):
        fake(method, path, response)
