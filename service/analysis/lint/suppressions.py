"""`-- deploy-gate-ignore` comments: which rules they silence, for which statement, and which went unused.

    ALTER TABLE "User" DROP COLUMN "legacy"; -- deploy-gate-ignore drop-column
    -- deploy-gate-ignore drop-table, truncate -- the archive table was copied in 20240101_copy
    DROP TABLE "Archive";
    -- deploy-gate-ignore-file prefer-timestamptz

A directive names rule ids separated by commas; text after a further `--` is the reason. It applies
to the statement on its line or around it, or, on a line of its own, to the statement that starts
right below it (other comment lines may sit between them, a blank line may not). The `-file` form
applies to the whole migration. Comments are found with PostgreSQL's own scanner, so text inside strings and
dollar-quoted DO bodies is never mistaken for one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pglast.parser import ParseError, Token, scan

from service.analysis.parsing import ParsedMigration, Position, position_of

_DIRECTIVE = re.compile(r"^--\s*deploy-gate-ignore(?P<file>-file)?(?=\s|$)(?P<rest>.*)$", re.IGNORECASE)
_SEPARATOR = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class Suppression:
    """One directive: the rule ids it names, where it is, and the statement it covers."""

    rule_ids: tuple[str, ...]
    whole_file: bool
    position: Position
    # Indexes of the top-level statements it covers: none for the whole file, or when it is not
    # next to a statement.
    statements: tuple[int, ...]


class Suppressions:
    """The directives of one migration, recording which of them silenced a finding."""

    def __init__(self, directives: tuple[Suppression, ...]) -> None:
        self.directives = directives
        self._used: set[tuple[int, str]] = set()

    def __iter__(self) -> Iterator[Suppression]:
        return iter(self.directives)

    def silence(self, rule_id: str, statement: int | None) -> bool:
        """Whether a finding of `rule_id` in that top-level statement is suppressed; remembers the use."""
        silenced = False
        for index, directive in enumerate(self.directives):
            covers = directive.whole_file or statement in directive.statements
            if covers and rule_id in directive.rule_ids:
                self._used.add((index, rule_id))
                silenced = True
        return silenced

    def used(self, directive: Suppression, rule_id: str) -> bool:
        return (self.directives.index(directive), rule_id) in self._used


def find_suppressions(parsed: ParsedMigration) -> Suppressions:
    """Every directive in the migration's comments. A file that does not even lex has none."""
    script = parsed.script
    if "deploy-gate-ignore" not in script.lower():
        # Most files have no directive; scanning them would find nothing.
        return Suppressions(())
    try:
        tokens = scan(script)
    except ParseError:
        return Suppressions(())
    spans = _statement_spans(parsed)
    directives = []
    for position, token in enumerate(tokens):
        if token.name != "SQL_COMMENT":
            continue
        match = _DIRECTIVE.match(script[token.start : token.end + 1])
        if not match:
            continue
        names = match.group("rest").split("--", 1)[0]
        rule_ids = tuple(name for name in _SEPARATOR.split(names) if name)
        whole_file = bool(match.group("file"))
        statements = () if whole_file else _covered_statements(script, tokens, position, spans)
        directives.append(Suppression(rule_ids, whole_file, position_of(script, token.start), statements))
    return Suppressions(tuple(directives))


def _statement_spans(parsed: ParsedMigration) -> list[tuple[int, int]]:
    """(start, end) character offsets of each top-level statement."""
    line_starts = [0] + [match.end() for match in re.finditer("\n", parsed.script)]
    spans = []
    for statement in parsed.statements:
        start = line_starts[statement.position.line - 1] + statement.position.column - 1
        spans.append((start, start + len(statement.text)))
    return spans


def _covered_statements(script: str, tokens: Sequence[Token], index: int, spans: list[tuple[int, int]]) -> tuple[int, ...]:
    comment = tokens[index]
    inside = tuple(number for number, (start, end) in enumerate(spans) if start < comment.start < end)
    if inside:
        # Between the lines of a long statement, such as a CREATE TABLE's columns.
        return inside
    line_start = script.rfind("\n", 0, comment.start) + 1
    if script[line_start : comment.start].strip():
        # A trailing comment: the statements whose text runs through this line.
        return tuple(number for number, (start, end) in enumerate(spans) if start < comment.start and end > line_start)
    following = next(((number, start) for number, (start, _) in enumerate(spans) if start > comment.end), None)
    if following is None:
        return ()
    number, start = following
    # Tokens come in file order: the ones before the statement are the next few, not a scan to the end.
    after = index + 1
    while after < len(tokens) and tokens[after].start < start:
        after += 1
    between = tokens[index + 1 : after]
    if any(token.name not in ("SQL_COMMENT", "C_COMMENT") for token in between):
        return ()
    # Blank out the comments in between; what is left must not hold an empty line.
    gap = list(script[comment.end + 1 : start])
    for token in between:
        for offset in range(token.start, token.end + 1):
            if gap[offset - comment.end - 1] != "\n":
                gap[offset - comment.end - 1] = "c"
    return () if re.search(r"\n[ \t\r]*\n", "".join(gap)) else (number,)
