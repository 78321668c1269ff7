"""Connecting to a target database from a Prisma-style DATABASE_URL, without leaking secrets.

Prisma URLs carry parameters libpq does not know (`schema`, `connection_limit`, `pgbouncer`, …).
We keep the ones libpq understands, take `schema` (default `public`) as the schema that holds
`_prisma_migrations` and the search_path migrations run with, and drop the rest as Prisma's own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from service.prisma.connection_failures import classify_connection_failure
from service.prisma.errors import CannotConnect, InvalidDatabaseUrl

if TYPE_CHECKING:
    import psycopg

DEFAULT_SCHEMA = "public"
DEFAULT_APPLICATION_NAME = "deploy-gate"
REDACTED = "****"


# psycopg is imported where it is used: commands that never connect (lint, analyze) start faster.


@cache
def _libpq_keywords() -> frozenset[str]:
    import psycopg

    return frozenset(option.keyword.decode() for option in psycopg.pq.Conninfo.get_defaults())


@dataclass(frozen=True)
class DatabaseTarget:
    """Where a target's history lives: libpq connection parameters and the Prisma schema."""

    params: dict[str, str] = field(repr=False)
    schema: str = DEFAULT_SCHEMA
    display: str = ""

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(value for key, value in self.params.items() if key == "password" and value)

    def redact(self, text: str) -> str:
        """Text with every secret of this target replaced, for messages and logs."""
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
            encoded = quote(secret, safe="")
            if encoded != secret:
                text = text.replace(encoded, REDACTED)
        return text

    def __str__(self) -> str:
        return self.display


def parse_database_url(url: str) -> DatabaseTarget:
    """Parse `postgresql://user:pass@host:port/db?schema=app&sslmode=require` (or libpq key=value)."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidDatabaseUrl("The database URL is empty.")
    url = url.strip()
    schema = DEFAULT_SCHEMA
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise InvalidDatabaseUrl(f"The database URL must start with postgresql:// or postgres://, not {parts.scheme}://.")
        try:
            _ = parts.port  # urlsplit checks the port only when it is read
        except ValueError:
            raise InvalidDatabaseUrl("The database URL is not valid: its port is not a number from 0 to 65535.") from None
        kept = []
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if key == "schema":
                schema = value or DEFAULT_SCHEMA
            elif key in _libpq_keywords():
                kept.append((key, value))
        libpq_url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), ""))
        password = unquote(parts.password) if parts.password else None
    else:
        libpq_url = url
        password = None
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = {key: str(value) for key, value in conninfo_to_dict(libpq_url).items()}
    except psycopg.ProgrammingError as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else "unparsable"
        for secret in filter(None, (password,)):
            message = message.replace(secret, REDACTED)
        raise InvalidDatabaseUrl(f"The database URL is not valid: {_redact_url_text(message)}") from None
    params.setdefault("application_name", DEFAULT_APPLICATION_NAME)
    return DatabaseTarget(params=params, schema=schema, display=describe(params, schema))


def describe(params: dict[str, str], schema: str) -> str:
    """A secret-free description such as `postgres@127.0.0.1:5432/app (schema public)`."""
    user = params.get("user", "")
    host = params.get("host", "") or "localhost"
    port = params.get("port", "5432")
    database = params.get("dbname", "") or user
    who = f"{user}@" if user else ""
    return f"{who}{host}:{port}/{database} (schema {schema})"


_URL_PASSWORD = re.compile(r"(postgres(?:ql)?://[^:/@\s]*:)[^@\s]*@")


def _redact_url_text(text: str) -> str:
    return _URL_PASSWORD.sub(rf"\1{REDACTED}@", text)


def redact_text(text: str, target: DatabaseTarget | None = None) -> str:
    """Remove passwords from any text: this target's, and any written inside a URL."""
    text = _redact_url_text(text)
    return target.redact(text) if target is not None else text


def connect(target: DatabaseTarget, *, connect_timeout: int = 10) -> psycopg.Connection:
    """An autocommit connection with search_path set to the target's schema, as Prisma sets it.

    Autocommit matters: Prisma commits each history write on its own, and sends a migration as
    one simple-query string that PostgreSQL runs as one implicit transaction.
    """
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    params = dict(target.params)
    params.setdefault("connect_timeout", str(connect_timeout))
    # Prisma's driver always speaks UTF-8, and migration files are UTF-8 text.
    params["client_encoding"] = "UTF8"
    try:
        conn = psycopg.connect(make_conninfo(**params), autocommit=True)
    except psycopg.OperationalError as error:
        raise CannotConnect(target, classify_connection_failure(error, target)) from None
    conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(target.schema)))
    return conn


def current_setting(conn: psycopg.Connection, name: str) -> str:
    """The session's value of the setting `name` (`lock_timeout`, `statement_timeout`, …)."""
    row = conn.execute("SELECT current_setting(%s)", (name,)).fetchone()
    assert row is not None, "a SELECT without FROM answers exactly one row"
    return str(row[0])
