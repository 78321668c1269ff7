"""Hostile JSON bodies and the limits openapi.yaml states, each enforced as it says.

Every operation that reads a JSON body answers 400 for one nested deeper than 64 levels (before this
was checked, Python's parser raised RecursionError from a few thousand levels: a 500), and for a
string holding half of a surrogate pair (PostgreSQL cannot store it). The webhooks are in
test_webhooks.py, with valid signatures.
"""

import json
import uuid
from dataclasses import replace

import pytest

from service.config.records import RdsSettings, Token, hash_token
from service.json_body import MAX_DEPTH
from tests.service.http.conftest import auth
from tests.service.http.test_deploys import MIGRATIONS
from tests.service.http.test_recovery import stored_bundle, waiting_job

JOB_ID = str(uuid.uuid4())
# Every API operation whose view parses a JSON body (the webhooks: test_webhooks.py).
BODY_OPERATIONS = [
    "/v1/deploys",
    f"/v1/jobs/{JOB_ID}/approve",
    f"/v1/jobs/{JOB_ID}/reject",
    f"/v1/jobs/{JOB_ID}/cutover",
    "/v1/targets/staging/recoveries",
    "/v1/targets/staging/rollbacks",
    "/v1/targets/staging/restores",
    "/v1/targets/staging/checks",
]
TOKEN = "all-token"


@pytest.fixture
def config(config):
    everything = Token("all", hash_token(TOKEN), frozenset({"deploy", "read", "approve"}))
    return replace(config, tokens=(*config.tokens, everything))


def nested(depth: int, innermost: object = 1) -> str:
    """A JSON object whose `target` value nests `depth` levels in all (the object counts as one)."""
    return '{"target": ' + "[" * (depth - 1) + json.dumps(innermost) + "]" * (depth - 1) + "}"


def post(client, path, body, headers=None):
    return client.post(path, data=body, headers={**auth(TOKEN), "Content-Type": "application/json", **(headers or {})})


@pytest.mark.parametrize("path", BODY_OPERATIONS)
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000])
def test_json_nested_deeper_than_64_levels_is_a_400_problem(client, enqueued, scratch_db, path, depth):
    response = post(client, path, nested(depth))
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    assert response.get_json()["detail"] == "the JSON body nests arrays and objects deeper than 64 levels"
    assert enqueued == [] and scratch_db.query("SELECT count(*) FROM job") == [(0,)]


@pytest.mark.parametrize("path", BODY_OPERATIONS)
def test_json_nested_64_levels_is_parsed_and_refused_by_the_schema_instead(client, path):
    response = post(client, path, nested(MAX_DEPTH))
    assert response.status_code != 400 or "64 levels" not in response.get_json()["detail"]
    assert response.status_code in (404, 409, 422)


def test_brackets_inside_strings_are_text_not_nesting(client, enqueued):
    sql = "SELECT '" + "[{" * 500 + "';"
    body = json.dumps({"target": "staging", "migrations": [{"name": "20240101_brackets", "sql": sql}]})
    assert post(client, "/v1/deploys", body).status_code == 202


@pytest.mark.parametrize("path", ["/v1/deploys", f"/v1/jobs/{JOB_ID}/approve"])
def test_a_lone_surrogate_is_a_400_problem_not_a_store_error(client, enqueued, scratch_db, path):
    response = post(client, path, '{"target": "staging", "commit": "\\ud800", "comment": "\\udfff"}')
    assert response.status_code == 400 and "surrogate" in response.get_json()["detail"]
    # A whole pair is one character, and welcome.
    ok = post(client, "/v1/deploys", json.dumps({"target": "staging", "commit": "\U0001f600", "migrations": MIGRATIONS}))
    assert ok.status_code == 202
    assert scratch_db.query("SELECT params->>'commit' FROM job") == [("\U0001f600",)]


# --- each limit openapi.yaml states, enforced as it says ------------------------------------------


@pytest.mark.parametrize(
    "cursor, status",
    [("", 422), ("not a cursor!", 422), ("bm90IG91cnM", 400), ("W10", 400)],
    ids=["empty", "other-characters", "well-formed-not-ours", "empty-list"],
)
def test_a_cursor_is_the_alphabet_the_contract_gives_and_one_the_service_gave_out(client, cursor, status):
    response = client.get("/v1/jobs", query_string={"cursor": cursor}, headers=auth())
    assert response.status_code == status, response.get_data(as_text=True)


@pytest.mark.parametrize(
    "key, status",
    [("!" + "~" * 199, 202), ("a" * 201, 400), ("two words", 400), ("caf\u00e9", 400), ("tab\there", 400)],
    ids=["visible-ascii-200", "too-long", "space", "non-ascii", "control"],
)
@pytest.mark.parametrize("path", ["/v1/deploys", "/v1/targets/staging/recoveries"])
def test_the_idempotency_key_is_1_to_200_visible_ascii_characters(client, enqueued, path, key, status):
    stored_bundle(client)
    body = {"target": "staging", "migrations": MIGRATIONS} if path == "/v1/deploys" else {}
    response = client.post(path, json=body, headers={**auth(), "Idempotency-Key": key})
    assert response.status_code == status, response.get_data(as_text=True)


def test_a_nul_in_an_approval_comment_is_refused_and_changes_nothing(client, app):
    job_id = waiting_job(app)
    response = client.post(f"/v1/jobs/{job_id}/approve", json={"comment": "looks\x00fine"}, headers=auth("oncall-token"))
    assert response.status_code == 422 and "NUL" in response.get_json()["detail"]
    assert client.get(f"/v1/jobs/{job_id}", headers=auth()).get_json()["state"] == "waiting_approval"


@pytest.mark.parametrize("migration", ["", "_leading", "../etc", "a/b", "x" * 256])
def test_a_rollback_names_a_migration_folder_as_the_contract_patterns_it(client, enqueued, migration):
    stored_bundle(client)
    response = client.post("/v1/targets/staging/rollbacks", json={"migration": migration}, headers=auth())
    assert response.status_code == 422 and "migration" in response.get_json()["detail"]


@pytest.mark.parametrize("path, body", [("/v1/deploys", {"target": "staging", "apply": 0}), ("/v1/targets/staging/recoveries", {"apply": 1})])
def test_booleans_are_true_or_false_only(client, enqueued, path, body):
    stored_bundle(client)
    before = list(enqueued)
    response = client.post(path, json=body, headers=auth())
    assert response.status_code == 422 and "apply" in response.get_json()["detail"]
    assert enqueued == before


@pytest.mark.parametrize(
    "identifier, accepted", [("a", True), ("a-b-1", True), ("a" * 63, True), ("a" * 64, False), ("a--b", False), ("a-", False), ("1a", False)]
)
def test_a_restore_names_its_new_instance_as_rds_allows(client, with_rds, identifier, accepted):
    body = {"use_latest_restorable_time": True, "new_identifier": identifier}
    response = client.post("/v1/targets/prod/restores", json=body, headers=auth())
    assert response.status_code == (202 if accepted else 422), response.get_data(as_text=True)


@pytest.fixture
def with_rds(config):
    config.targets["prod"] = replace(config.targets["staging"], name="prod", rds=RdsSettings(region="eu-west-1", instance="prod-db"))
    return config
