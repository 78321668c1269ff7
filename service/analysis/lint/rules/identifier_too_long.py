"""An identifier longer than 63 bytes, which PostgreSQL silently cuts to 63.

Problem:
    PostgreSQL keeps only the first 63 bytes of a name (NAMEDATALEN - 1) and says so in a NOTICE
    nobody reads, so the index, constraint or table in the catalog is not named as the
    migration names it. Statements that write the long name again are cut the same way and still
    find it, but anything that compares the name as text does not: a DO block's guard
    `WHERE indexname = '…'` never sees the object, so the guarded statement runs again and fails;
    `information_schema` and `pg_indexes` lookups, monitoring and the next person's migration
    miss it. Two long names that share their first 63 bytes are one name: the second CREATE fails
    (42P07), or a `DROP INDEX IF EXISTS` drops the other index. Prisma refuses `map:` names over
    63 bytes in the schema, so these come from hand-written SQL.

Solution:
    Shorten the name to 63 bytes or fewer (bytes, not characters: `é` takes two), keeping the
    part that tells it apart, as Prisma does: `Appointment_patientId_scheduledAt_idx`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pglast.parser import scan

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import quoted
from service.analysis.lint.registry import rule
from service.analysis.parsing import Position, Statement

NAME_BYTES = 63  # NAMEDATALEN - 1

# A cheap look at a statement's text before the scanner reads it. A name over 63 bytes has a
# character outside ASCII, or is 64 ASCII characters in a row, quoted or not. A quoted run is
# looked for without newlines, quotes, parentheses, commas and semicolons: the SQL between two
# quoted names nearly always holds one (a run from one name's closing quote to the next one's
# opening would match otherwise), a name almost never.
_LONG_RUN = re.compile(r'[A-Za-z0-9_$]{64}|"[^"\n\'(),;]{64}')
_LONG_RUN_WITH_ESCAPES = re.compile(r'[A-Za-z0-9_$]{64}|"(?:[^"\n\'(),;]|""){64}')


@rule(
    "identifier-too-long",
    severity="warning",
    family="style",
    help="Shorten the name to 63 bytes or fewer; PostgreSQL keeps only the first 63.",
)
def identifier_too_long(context: LintContext) -> Iterator[Violation]:
    for statement in context.all_statements:
        if not _may_hold_long_name(statement.text):
            continue
        seen: set[str] = set()
        for offset, name in _long_names(statement.text):
            if name in seen:
                continue
            seen.add(name)
            stored = name.encode()[:NAME_BYTES].decode("utf-8", "ignore")
            message = f"{quoted(name)} is {len(name.encode())} bytes; PostgreSQL names it {quoted(stored)}"
            if statement.parent_index is None:
                yield Violation(message, statement, position=_position_in(statement, offset))
            else:
                yield Violation(message, statement)  # inside a DO block, statements have a line only


def _may_hold_long_name(text: str) -> bool:
    if not text.isascii():
        return True
    return (_LONG_RUN_WITH_ESCAPES if '""' in text else _LONG_RUN).search(text) is not None


def _long_names(text: str) -> Iterator[tuple[int, str]]:
    """(offset, name as PostgreSQL reads it) of each identifier in the SQL longer than 63 bytes."""
    for token in scan(text):
        if token.name != "IDENT":
            continue
        raw = text[token.start : token.end + 1]
        if raw.startswith('"'):
            name = raw[1:-1].replace('""', '"')
        else:
            name = "".join(character.lower() if character.isascii() else character for character in raw)
        if len(name.encode()) > NAME_BYTES:
            yield token.start, name


def _position_in(statement: Statement, offset: int) -> Position:
    """The file position of a character offset in a top-level statement's text."""
    newlines = statement.text.count("\n", 0, offset)
    if not newlines:
        return Position(statement.position.line, statement.position.column + offset)
    return Position(statement.position.line + newlines, offset - statement.text.rfind("\n", 0, offset))
