"""Why a connection to a PostgreSQL server failed, in Prisma's codes and in plain words.

One classifier for every place that connects (the CLI, the store's migration, a job reaching its
target or shadow), so they all say the same thing. The codes are used as Prisma's engines use them
(prisma-engines `quaint` maps the server's SQLSTATE, `user-facing-errors` words them):

| failure | SQLSTATE | code |
| --- | --- | --- |
| wrong password | 28P01 | P1000 authentication failed |
| no such role, no pg_hba.conf entry | 28000 | P1010 access denied |
| no such database | 3D000 | P1003 database does not exist |
| TLS refused or failed | | P1011 TLS error |
| refused, unknown host, timeout, anything else | | P1001 can't reach the server |

libpq gives no SQLSTATE for a failed connection, only its text, so the text decides (the server's
English messages; a server speaking another language falls back to P1001 with its own words).
Nothing here repeats a password: the words name the host, port, user and database only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.prisma.database import DatabaseTarget

AUTHENTICATION_FAILED = "P1000"
CANNOT_REACH = "P1001"
DATABASE_DOES_NOT_EXIST = "P1003"
ACCESS_DENIED = "P1010"
TLS_FAILED = "P1011"

# (failure, code, pattern on libpq's text), first match wins.
_PATTERNS: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("authentication", AUTHENTICATION_FAILED, re.compile(r"password authentication failed|authentication failed for user|no password supplied", re.I)),
    ("missing_database", DATABASE_DOES_NOT_EXIST, re.compile(r'database ".*" does not exist', re.I)),
    ("access_denied", ACCESS_DENIED, re.compile(r'role ".*" does not exist|no pg_hba\.conf entry|pg_hba\.conf rejects|not permitted to log in', re.I)),
    ("tls", TLS_FAILED, re.compile(r"\bSSL\b|\bTLS\b|certificate", re.I)),
    ("refused", CANNOT_REACH, re.compile(r"connection refused", re.I)),
    ("dns", CANNOT_REACH, re.compile(r"could not translate host name|failed to resolve host|name or service not known|nodename nor servname", re.I)),
    ("timeout", CANNOT_REACH, re.compile(r"timeout expired|timed out", re.I)),
)


@dataclass(frozen=True)
class ConnectionFailure:
    """A failed connection: Prisma's code and sentence, and the reason in words for a person."""

    code: str
    failure: str  # refused | dns | timeout | authentication | access_denied | missing_database | tls | other
    reason: str  # e.g. "connection refused by 127.0.0.1:1"
    prisma: str  # Prisma's own sentence for the code

    @property
    def message(self) -> str:
        """Prisma's sentence, with the reason where the sentence alone does not say what happened."""
        return self.prisma if self.failure in ("authentication", "missing_database") else f"{self.prisma} ({self.reason})"


def classify_connection_failure(error: BaseException, target: DatabaseTarget) -> ConnectionFailure:
    """What a failed `psycopg.connect` to `target` means; secret-free."""
    from service.prisma.database import redact_text

    cause = redact_text(_libpq_cause(str(error)), target)
    params = target.params
    host = params.get("host") or params.get("hostaddr") or "localhost"
    port = params.get("port") or "5432"
    user = params.get("user") or "the default user"
    database = params.get("dbname") or params.get("user") or "the default database"
    failure, code = next(((name, code) for name, code, pattern in _PATTERNS if pattern.search(cause)), ("other", CANNOT_REACH))
    timeout = params.get("connect_timeout")
    reason = {
        "authentication": f"authentication failed for user {user} at {host}:{port}",
        "missing_database": f"database {database} does not exist on {host}:{port}",
        "access_denied": f"user {user} was denied access to {host}:{port} ({cause})",
        "tls": f"the TLS connection to {host}:{port} failed ({cause})",
        "refused": f"connection refused by {host}:{port}",
        "dns": f"the host name {host} could not be resolved",
        "timeout": f"no answer from {host}:{port} within {timeout + ' s' if timeout else 'the connect timeout'}",
    }.get(failure, f"cannot connect to {host}:{port} ({cause})")
    prisma = {
        AUTHENTICATION_FAILED: f"Authentication failed against database server at `{host}`, the provided database credentials for `{user}` are not valid.",
        DATABASE_DOES_NOT_EXIST: f"Database `{database}` does not exist on the database server at `{host}:{port}`.",
        ACCESS_DENIED: f"User `{user}` was denied access on the database `{database}.{target.schema}`",
        TLS_FAILED: f"Error opening a TLS connection: {cause}",
    }.get(code, f"Can't reach database server at `{host}`:`{port}`")
    return ConnectionFailure(code, failure, reason, prisma)


def describe_attempt(data: Mapping[str, Any]) -> str:
    """A job's journaled attempt to reach a server (service.jobs.unreachable) in one line, for the gate and the report."""
    said = f"{data.get('server')} unreachable (attempt {data.get('attempt')}, {data.get('code')}): {data.get('reason')}"
    waited, bound = float(data.get("unreachable_seconds") or 0), float(data.get("timeout_seconds") or 0)
    if data.get("outcome") == "gave_up":
        return f"{said}; giving up after {waited:.0f} s (unreachable_timeout_seconds = {bound:g})"
    return f"{said}; next try in {float(data.get('next_try_in_seconds') or 0):.1f} s ({waited:.0f} of {bound:g} s)"


def _libpq_cause(text: str) -> str:
    """libpq's cause without its preamble: `connection failed: connection to server at "h", port p failed: FATAL:  <cause>`."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    lines = [re.sub(r"^(connection failed: )?(connection to server (at|on) .*? failed: )?((FATAL|ERROR):\s+)?", "", line) for line in lines]
    return " ".join(line for line in lines if line) or "unknown error"
