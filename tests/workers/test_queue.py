"""The task message, built from an envelope dumped once: each message's own values in their places."""

import base64
import json

from workers.queue import task_message


def test_each_message_carries_its_own_values_escaped_as_json():
    awkward = ['quote " backslash \\ nul \0 é']
    first, second = (json.loads(task_message("deploy_gate.run_job", args, "q")) for args in (awkward, ["plain"]))
    assert json.loads(base64.b64decode(first["body"]))[0] == awkward
    assert first["headers"]["argsrepr"] == repr(awkward)
    assert json.loads(base64.b64decode(second["body"]))[0] == ["plain"] and second["headers"]["argsrepr"] == "['plain']"
    for message in (first, second):
        task_id = message["headers"]["id"]
        assert message["headers"]["root_id"] == message["properties"]["correlation_id"] == task_id
        assert message["headers"]["task"] == "deploy_gate.run_job"
        assert message["properties"]["delivery_info"] == {"exchange": "", "routing_key": "q"}
    assert first["headers"]["id"] != second["headers"]["id"]
    assert first["properties"]["delivery_tag"] != second["properties"]["delivery_tag"]
