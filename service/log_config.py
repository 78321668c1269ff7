"""Logging, configured once for every process: one JSON object per line on stderr (where gunicorn and Celery write by default).

`logging_config(level)` is the one `logging.config.dictConfig` dictionary. The API's gunicorn applies
it through its `logconfig_dict` setting (gunicorn.conf.py), so gunicorn's own lines and its access log
come out in it too; the Celery worker applies it with `configure_logging` from Celery's
`setup_logging` signal (workers/celery_app.py), so Celery installs no handlers of its own. The CLI
prints for people and configures nothing.

Code logs with the standard library (`logging.getLogger(__name__)`); fields beyond the message go in
`extra={...}` (inside a job, `job_id`, `kind`, `target` and `step` keep the job's values).
structlog's `ProcessorFormatter` renders every record, ours and libraries' alike, with the level,
the logger's name, a UTC timestamp, and the context bound with `job_context` and `step_context`
(contextvars), so every line written while a job runs names its job, kind, target and step.
Passwords written in a database URL are removed from every line, tracebacks included.
"""

from __future__ import annotations

import logging
import logging.config
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

from service.prisma.database import REDACTED, redact_text

ACCESS_LOGGER = "gunicorn.access"
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# Celery's `extra={"data": ...}` repeats its message's fields, with the task's arguments and a traceback.
_CELERY_DATA = "data"
# Query parameters that carry a capability (a report link's `token`) or a secret.
_SECRET_PARAMETER = re.compile(r"(?i)(^|&)([^&=]*(?:token|secret|password|key|sig)[^&=]*)=[^&]*")


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """The dictConfig dictionary: one JSON handler on the root logger, gunicorn's loggers sent to it."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": json_formatter}},
        "handlers": {"json": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["json"]},
        "loggers": {
            # Listed so that gunicorn's own plain-text handlers are removed: their lines go to the root's.
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            # Every request is logged, whatever the level, as gunicorn does by default.
            ACCESS_LOGGER: {"level": "INFO", "handlers": [], "propagate": True},
        },
    }


def configure_logging(level: str = "INFO") -> None:
    logging.config.dictConfig(logging_config(level))


def json_formatter() -> structlog.stdlib.ProcessorFormatter:
    """The formatter every handler uses: a record becomes one JSON object."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_logger_name,
            structlog.stdlib.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.contextvars.merge_contextvars,
            add_record_fields,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,
            structlog.processors.JSONRenderer(sort_keys=False),
        ],
        # The access log's fields come from its arguments (add_record_fields), not its format.
        pass_foreign_args=True,
    )


@contextmanager
def job_context(job_id: str, kind: str, target: str) -> Iterator[None]:
    """Every line logged inside names the job; the context before it is back on exit, exceptions too."""
    with structlog.contextvars.bound_contextvars(job_id=job_id, kind=kind, target=target, step=None):
        yield


@contextmanager
def step_context(step: str) -> Iterator[None]:
    """Every line logged inside names the job's step; the previous step is back on exit."""
    with structlog.contextvars.bound_contextvars(step=step):
        yield


def enter_step(step: str) -> None:
    """Name the step for the lines that follow, until the job's context ends or another step starts.

    For steps journaled as they go (a migration being applied) rather than run as one call.
    """
    structlog.contextvars.bind_contextvars(step=step)


def add_record_fields(logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
    """A record's `extra=` fields, and a request's fields for gunicorn's access log.

    A record's positional arguments are dropped: they are in its message already, and gunicorn's
    access arguments hold every request header, Authorization included.
    """
    arguments = event.pop("positional_args", ())
    record: logging.LogRecord | None = event.get("_record")
    if record is None:
        return event
    if record.name == ACCESS_LOGGER and isinstance(arguments, Mapping):
        return {**event, **_request_fields(arguments)}
    for name, value in vars(record).items():
        if name in _RECORD_ATTRIBUTES or name.startswith("_") or (name == _CELERY_DATA and record.name.startswith("celery")):
            continue
        event.setdefault(name, value)
    return event


def _request_fields(atoms: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of one request, from gunicorn's access-log atoms (see gunicorn.glogging.Logger.atoms)."""
    status = str(atoms.get("s", ""))
    return {
        "event": "request",
        "method": atoms.get("m"),
        "path": atoms.get("U"),
        "query": _SECRET_PARAMETER.sub(rf"\1\2={REDACTED}", str(atoms.get("q") or "")),
        "status": int(status) if status.isdigit() else status,
        "bytes": atoms.get("B"),
        "duration_ms": round(int(atoms.get("D", 0)) / 1000, 3),
        "remote_addr": atoms.get("h"),
        "user_agent": atoms.get("a"),
    }


def redact_secrets(logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
    """Passwords in database URLs, anywhere in the line (messages, fields, tracebacks), replaced."""
    return {name: _redacted(value) for name, value in event.items()}


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {name: _redacted(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return value
