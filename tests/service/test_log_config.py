"""One JSON object per line, the job's context on every line logged inside it, and no password anywhere."""

import io
import json
import logging
import subprocess
import sys
import uuid

import pytest

from service.log_config import enter_step, job_context, json_formatter, step_context

PASSWORD = "Sup3r-S3cret-pw"


@pytest.fixture
def logged():
    """A logger rendered by the configuration's formatter; `logged.lines()` parses what it wrote."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    logger = logging.getLogger(f"tests.log_config.{uuid.uuid4().hex}")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.lines = lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    yield logger
    logger.removeHandler(handler)


def test_a_line_is_one_json_object_with_its_level_logger_time_and_message(logged):
    logged.warning("job %s waits %.0f s", "j-1", 2.0)
    [line] = logged.lines()
    assert line["event"] == "job j-1 waits 2 s" and line["level"] == "warning" and line["logger"] == logged.name
    assert line["timestamp"].endswith("Z")
    assert "positional_args" not in line


def test_lines_inside_a_job_name_it_and_its_step_and_none_after(logged):
    with job_context("j-1", "deploy", "staging"):
        logged.info("before any step")
        with step_context("status"):
            logged.info("in a step")
        enter_step("apply:1_init")
        logged.info("applying")
        with pytest.raises(RuntimeError), step_context("postcondition"):
            raise RuntimeError("the step failed")
        logged.info("after the failed step")
    logged.info("after the job")
    before, inside, applying, after_failure, after_job = logged.lines()
    job = {"job_id": "j-1", "kind": "deploy", "target": "staging"}
    assert before == {**before, **job, "step": None}
    assert inside == {**inside, **job, "step": "status"}
    assert applying == {**applying, **job, "step": "apply:1_init"}
    assert after_failure["step"] == "apply:1_init", "a step's context ends with it, exceptions too"
    assert not {"job_id", "kind", "target", "step"} & after_job.keys()


def test_a_job_context_ends_when_the_job_raises(logged):
    with pytest.raises(RuntimeError), job_context("j-2", "recover", "production"):
        raise RuntimeError("worker trouble")
    logged.info("the next message")
    assert "job_id" not in logged.lines()[0]


def test_extra_fields_are_fields_and_celerys_data_is_not_repeated(logged):
    logged.info("step finished", extra={"duration_ms": 1.5})
    # As celery.app.trace logs a task's end.
    celery = logging.getLogger(f"celery.{logged.name}")
    celery.handlers, celery.propagate, celery.level = logged.handlers, False, logging.DEBUG
    celery.info("Task %(name)s succeeded", {"name": "t"}, extra={"data": {"args": "('secret-arg',)"}})
    ours, celerys = logged.lines()
    assert ours["duration_ms"] == 1.5
    assert celerys["event"] == "Task t succeeded" and "data" not in celerys and "secret-arg" not in json.dumps(celerys)


def test_no_password_in_a_message_a_field_or_a_traceback(logged):
    url = f"postgresql://app:{PASSWORD}@db.internal:5432/app"
    try:
        raise ValueError(f"could not use {url}")
    except ValueError:
        logged.exception("connecting to %s failed", url, extra={"dsn": url, "urls": [url]})
    text = json.dumps(logged.lines())
    assert PASSWORD not in text
    [line] = logged.lines()
    assert "Traceback" in line["exception"] and "postgresql://app:****@db.internal" in line["exception"]
    assert line["dsn"] == line["urls"][0] == "postgresql://app:****@db.internal:5432/app"


def test_configure_logging_sends_every_logger_at_the_level_to_stderr_as_json():
    script = (
        "import logging; from service.log_config import configure_logging; configure_logging('WARNING');"
        "logging.getLogger('service.x').info('quiet'); logging.getLogger('psycopg').warning('loud %s', 1);"
        "print('for people')"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert [json.loads(line)["event"] for line in result.stderr.splitlines()] == ["loud 1"]
    assert result.stdout == "for people\n"
