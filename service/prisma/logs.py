"""The `logs` text of a failed migration: written as Prisma's native engine writes it, and parsed.

Prisma records `A migration failed to apply...`, `Migration name: X`, `Database error code: <SQLSTATE>`
and `Database error:` followed by the server's error (`ERROR: message`, DETAIL/HINT lines, a numbered
excerpt of the script around the error position, and the driver's debug rendering of the error).
Prisma's WebAssembly engine (driver adapters, `engine: 'js'`) writes `external connector error`,
`Error querying the database: ERROR: message` and a span trace instead, with no SQLSTATE; readers
take the message from either form, and the SQLSTATE when there is one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg

APPLY_FAILED_HEADER = (
    "A migration failed to apply. New migrations cannot be applied before the error is recovered "
    "from. Read more about how to resolve migration issues in a production database: "
    "https://pris.ly/d/migrate-resolve"
)

_SEVERITY_NAMES = {
    "PANIC": "Panic",
    "FATAL": "Fatal",
    "ERROR": "Error",
    "WARNING": "Warning",
    "NOTICE": "Notice",
    "DEBUG": "Debug",
    "INFO": "Info",
    "LOG": "Log",
}


@dataclass(frozen=True)
class FailureDetails:
    """What a failed migration's logs say: the SQLSTATE and the server's message."""

    sqlstate: str | None
    message: str | None

    def to_dict(self) -> dict[str, str | None]:
        return {"sqlstate": self.sqlstate, "message": self.message}


def render_apply_failure(migration_name: str, script: str, error: Exception, offset: int = 0) -> tuple[str | None, str]:
    """(SQLSTATE, logs) for a script that failed, in the text Prisma's engine stores.

    `offset`: where in `script` the failing query started, when the file was sent in pieces
    (`service.prisma.execution`); the error position is given in the file's terms.
    """
    sqlstate = getattr(error, "sqlstate", None)
    diag = getattr(error, "diag", None)
    if isinstance(error, psycopg.Error) and diag is not None and sqlstate:
        position = diag.statement_position
        if position and position.isdigit() and offset:
            position = str(int(position) + offset)
        database_error = _display(diag) + _position_excerpt(script, position) + "\n\n" + _debug(diag, position)
    else:
        database_error = str(error).strip() or type(error).__name__
    logs = f"{APPLY_FAILED_HEADER}\n\nMigration name: {migration_name}\n\nDatabase error code: {sqlstate or 'none'}\n\nDatabase error:\n{database_error}\n"
    return sqlstate, logs


_CODE = re.compile(r"^Database error code: (\S+)\s*$", re.MULTILINE)
_MESSAGE = re.compile(r"^Database error:\n(.*?)(?:\n\nPosition:\n|\n\nDbError \{|\n\n\s+0: |\Z)", re.MULTILINE | re.DOTALL)
_ADAPTER_MESSAGE = re.compile(r"^Error querying the database: (.*?)(?:\n\s+0: |\Z)", re.MULTILINE | re.DOTALL)
_SEVERITY_PREFIX = re.compile(r"^(?:ERROR|FATAL|PANIC|db error: ERROR):\s*")


def parse_failure_logs(logs: str | None) -> FailureDetails | None:
    """The SQLSTATE and message of a failed migration's logs; None when the logs are empty."""
    if not logs or not logs.strip():
        return None
    code_match = _CODE.search(logs)
    sqlstate = code_match.group(1) if code_match else None
    if sqlstate == "none":
        sqlstate = None
    message_match = _MESSAGE.search(logs) or _ADAPTER_MESSAGE.search(logs)
    message = _SEVERITY_PREFIX.sub("", message_match.group(1).strip()) if message_match else logs.strip().splitlines()[-1]
    return FailureDetails(sqlstate=sqlstate, message=message or None)


_ORIGINAL_POSITION = re.compile(r"\bposition: Some\(Original\((\d+)\)\)")


def error_position(logs: str | None) -> int | None:
    """Where in the script the error is: PostgreSQL's 1-based character position, from the debug
    rendering's `position: Some(Original(N))`; None when the server gave none (most DDL errors,
    errors inside a function or DO block) or the logs are not the native engine's."""
    logs = logs or ""
    match = _ORIGINAL_POSITION.search(logs, max(logs.find("DbError {"), 0))
    return int(match.group(1)) if match else None


def _display(diag: psycopg.errors.Diagnostic) -> str:
    text = f"{diag.severity}: {diag.message_primary}"
    if diag.message_detail:
        text += f"\nDETAIL: {diag.message_detail}"
    if diag.message_hint:
        text += f"\nHINT: {diag.message_hint}"
    return text


def _rust_lines(text: str) -> list[str]:
    # Rust's str::lines(): split on \n, drop one trailing \r per line, no empty last line.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _position_excerpt(script: str, position: str | None) -> str:
    """The numbered lines around the error, drawn as Prisma draws them (ANSI bold, red line)."""
    if not position or not position.isdigit():
        return ""
    target = int(position)
    previous: list[str] = [""] * 5
    byte_index = 0
    for index, line in enumerate(_rust_lines(script)):
        line_number = index + 1
        # Prisma compares PostgreSQL's character position with a byte count; kept as it is.
        byte_index += len(line.encode("utf-8")) + 1
        if target <= byte_index:
            numbered = []
            for slot, previous_line in enumerate(previous):
                number = line_number - (len(previous) - slot)
                if number < 0:
                    continue
                separator = " " if previous_line else ""
                numbered.append(f"\x1b[1m{number:>3}\x1b[0m{separator}{previous_line}")
            numbered_lines = "\n".join(numbered)
            return f"\n\nPosition:\n{numbered_lines}\n\x1b[1m{line_number:>3}\x1b[1;31m {line}\x1b[0m"
        previous = previous[1:] + [line]
    return ""


def _rust_str(value: str) -> str:
    escaped = []
    for char in value:
        if char == "\\":
            escaped.append("\\\\")
        elif char == '"':
            escaped.append('\\"')
        elif char == "\n":
            escaped.append("\\n")
        elif char == "\r":
            escaped.append("\\r")
        elif char == "\t":
            escaped.append("\\t")
        elif char == "\0":
            escaped.append("\\0")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{{{ord(char):x}}}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def _option_str(value: str | None) -> str:
    return "None" if value is None else f"Some({_rust_str(value)})"


def _debug(diag: psycopg.errors.Diagnostic, statement_position: str | None) -> str:
    """The `DbError { … }` debug rendering that tokio-postgres gives and Prisma stores."""
    severity_name = _SEVERITY_NAMES.get(diag.severity_nonlocalized or "")
    parsed_severity = f"Some({severity_name})" if severity_name else "None"
    if statement_position:
        position = f"Some(Original({statement_position}))"
    elif diag.internal_position:
        position = f"Some(Internal {{ position: {diag.internal_position}, query: {_rust_str(diag.internal_query or '')} }})"
    else:
        position = "None"
    line = f"Some({diag.source_line})" if diag.source_line else "None"
    fields = [
        f"severity: {_rust_str(diag.severity or '')}",
        f"parsed_severity: {parsed_severity}",
        f"code: SqlState(E{diag.sqlstate})",
        f"message: {_rust_str(diag.message_primary or '')}",
        f"detail: {_option_str(diag.message_detail)}",
        f"hint: {_option_str(diag.message_hint)}",
        f"position: {position}",
        f"where_: {_option_str(diag.context)}",
        f"schema: {_option_str(diag.schema_name)}",
        f"table: {_option_str(diag.table_name)}",
        f"column: {_option_str(diag.column_name)}",
        f"datatype: {_option_str(diag.datatype_name)}",
        f"constraint: {_option_str(diag.constraint_name)}",
        f"file: {_option_str(diag.source_file)}",
        f"line: {line}",
        f"routine: {_option_str(diag.source_function)}",
    ]
    return "DbError { " + ", ".join(fields) + " }"
