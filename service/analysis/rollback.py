"""Rollback SQL for a migration: the commented `ROLLBACK SQL` section people write, or a derived inverse.

The seed runbook's convention is a comment section at the bottom of `migration.sql`:

    -- ROLLBACK SQL (for reference):
    -- DROP INDEX IF EXISTS "Post_authorId_idx";
    -- ALTER TABLE "User" DROP COLUMN IF EXISTS "email";

Banners vary (`-- === ROLLBACK SQL ===`, `-- Rollback:`, `-- DOWN`, a `/* … */` block), commented
statements may span lines, and notes in prose sit between them. A hint that is only prose
(`-- Rollback: drop the new indexes`) is found but is not executable. Without a section, an
inverse is derived from the migration's effects for reversible DDL, in reverse order; a plan with
irreversible steps (drops, type changes, enum values, data changes) is marked incomplete.

A plan undoes only what the migration did. The caller says which effects it did not do (`leave_out`:
an object that existed before, a statement that never ran or was rolled back): a derived plan
leaves them alone, a section is not asked to undo them, and the plan's notes say what was left out
and why. What the migration certainly did not do keeps the plan complete; what it may have done
(`CREATE … IF NOT EXISTS` of an object that may have existed) makes it incomplete.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from pglast.parser import ParseError, scan

from service.analysis.facts.analyze import analyze_migration
from service.analysis.facts.records import DataChange, Effect, MigrationFacts, Reason
from service.analysis.parsing import ParseProblem, Position, parse_migration, position_of

_BANNER = re.compile(
    r"^[\s\-=#*/]*(?:rollback|roll\s+back|down(?:\s+migration)?|revert|undo)\b(?:\s+sql)?\s*(?:\([^)]*\))?\s*[:\-=#*]*\s*(?P<rest>.*?)[\s=#*/\-]*$",
    re.IGNORECASE,
)
_DECORATION = re.compile(r"^[\s\-=#*/_~]*$")
_SQL_START = re.compile(
    r"^(ALTER|CREATE|DROP|DELETE|UPDATE|INSERT|TRUNCATE|BEGIN|COMMIT|ROLLBACK\s*;|SET|RESET|DO|REINDEX|COMMENT|GRANT|REVOKE|WITH|SELECT|VACUUM|ANALYZE|LOCK|START\s+TRANSACTION|END\s*;)\b",
    re.IGNORECASE,
)
# Quoted literals and identifiers, whose words say nothing about whether the line is prose.
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_LABEL = re.compile(r"^[A-Za-z]+:(\s|$)")
_SENTENCE_END = re.compile(r"[.!?…]$")
_PLAIN_WORDS = re.compile(r"\b[a-z]+\s+[a-z]+\s+[a-z]+\b")


def _looks_like_sql(text: str) -> bool:
    """A line that starts a statement: a SQL keyword written as SQL rather than a sentence such as
    `drop the new indexes` or `DROP the new unique indexes …`.

    A line that ends with `;` or parses is SQL. One that does neither may be the first line of a
    statement that goes on below: it is SQL when its keyword is in upper case and it does not read
    as prose. Broken SQL thus stays SQL, and its parse error is reported.
    """
    match = _SQL_START.match(text)
    if not match:
        return False
    if text.rstrip().endswith(";"):
        return True
    if match.group(1).isupper() and not _reads_as_prose(text):
        return True
    return parse_migration(text).parses


def _reads_as_prose(text: str) -> bool:
    """A label (`Note: …`), a sentence's end (`.`, `…`), or three lower-case words in a row outside
    quotes, which SQL written with upper-case keywords does not have."""
    words = _QUOTED.sub(" ", text).strip()
    return bool(_LABEL.match(words) or _SENTENCE_END.search(words) or _PLAIN_WORDS.search(words))


@dataclass(frozen=True)
class RollbackSection:
    """The rollback comment section of a migration file."""

    line: int  # 1-based line of the banner
    sql: str  # the statements, uncommented ("" when there are none)
    prose: tuple[str, ...] = ()
    problems: tuple[ParseProblem, ...] = ()  # parse errors of `sql`, at file positions

    @property
    def executable(self) -> bool:
        return bool(self.sql.strip())


@dataclass(frozen=True)
class LeftOut:
    """Why a rollback plan leaves one effect of the migration alone."""

    reason: str  # e.g. "table Patient existed before: the migration's CREATE failed on it"
    # True: the migration certainly did not do it, so the plan is complete without it. False: it
    # may have (an IF NOT EXISTS create of an object that may have existed), so the plan is not.
    certain: bool = True


# The caller's word on each effect and data change: None to undo it, or why to leave it alone.
LeaveOut = Callable[[Effect | DataChange], LeftOut | None]


@dataclass(frozen=True)
class RollbackPlan:
    """What would undo a migration, where it came from, and whether it is complete."""

    sql: str
    source: str  # "section" | "derived" | "none"
    complete: bool
    reasons: tuple[Reason, ...] = ()  # why it is incomplete, and where a derived plan came from
    section: RollbackSection | None = field(default=None, compare=False)
    notes: tuple[Reason, ...] = ()  # what it leaves out and why, without making it incomplete

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "complete": self.complete,
            "sql": self.sql,
            "reasons": [reason.to_dict() for reason in self.reasons],
            "left_out": [note.to_dict() for note in self.notes],
            "section_line": self.section.line if self.section else None,
        }


@dataclass(frozen=True)
class _CommentLine:
    text: str  # the comment's text without its markers
    position: Position  # where that text starts in the file
    block: bool  # part of a /* … */ comment


def _comment_lines(script: str) -> list[_CommentLine | None] | None:
    """Every comment line of the file in order, None where SQL interrupts the comments.

    None as a whole when the file does not even lex (an unterminated quote, say).
    """
    try:
        tokens = scan(script)
    except ParseError:
        return None
    lines: list[_CommentLine | None] = []
    for token in tokens:
        if token.name == "SQL_COMMENT":
            start = token.start + 2
            lines.append(_CommentLine(script[start : token.end + 1], position_of(script, start), False))
        elif token.name == "C_COMMENT":
            body_start = token.start + 2
            body = script[body_start : token.end - 1]
            offset = body_start
            for raw in body.split("\n"):
                stripped = raw.lstrip(" \t*")
                lines.append(_CommentLine(stripped, position_of(script, offset + len(raw) - len(stripped)), True))
                offset += len(raw) + 1
        elif lines and lines[-1] is not None:
            # SQL after a section ends it.
            lines.append(None)
    return lines


_ANY_BANNER_WORD = re.compile(r"rollback|roll\s+back|down|revert|undo", re.IGNORECASE)


def extract_rollback_section(script: str) -> RollbackSection | None:
    """The last rollback section in the file's comments, or None when there is none."""
    if not _ANY_BANNER_WORD.search(script):
        return None  # most files have no section; scanning them would find nothing
    lines = _comment_lines(script)
    if lines is None:
        return None
    banner: tuple[int, _CommentLine] | None = None
    banner_rest = ""
    for index, line in enumerate(lines):
        if line is None:
            continue
        match = _BANNER.match(line.text)
        if match and not _looks_like_sql(line.text.strip()):
            banner, banner_rest = (index, line), match.group("rest").strip()
    if banner is None:
        return None
    banner_index, banner_line = banner

    sql_lines: list[tuple[str, Position]] = []
    prose: list[str] = []
    if banner_rest:
        rest_position = banner_line.position
        if _looks_like_sql(banner_rest):
            column = banner_line.text.find(banner_rest)
            sql_lines.append((banner_rest, Position(rest_position.line, rest_position.column + max(column, 0))))
        else:
            prose.append(banner_rest)
    in_statement = False
    for line in lines[banner_index + 1 :]:
        if line is None:
            break
        text = line.text.strip()
        if not text or _DECORATION.match(text):
            continue
        if in_statement or _looks_like_sql(text):
            column = line.text.find(text)
            sql_lines.append((text, Position(line.position.line, line.position.column + max(column, 0))))
            in_statement = not text.rstrip().endswith(";")
        else:
            prose.append(text)
    sql = "\n".join(text for text, _ in sql_lines)
    return RollbackSection(
        line=banner_line.position.line,
        sql=sql,
        prose=tuple(prose),
        problems=_problems_at_file_positions(sql, sql_lines),
    )


def _problems_at_file_positions(sql: str, sql_lines: list[tuple[str, Position]]) -> tuple[ParseProblem, ...]:
    if not sql.strip():
        return ()
    parsed = parse_migration(sql)
    mapped = []
    for problem in parsed.problems:
        index = min(problem.position.line, len(sql_lines)) - 1
        text_line, file_position = sql_lines[index]
        mapped.append(
            ParseProblem(
                problem.message,
                Position(file_position.line, file_position.column + problem.position.column - 1),
                problem.in_do_block,
            )
        )
    return tuple(mapped)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _qualified(schema: str | None, name: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(name)}" if schema else quote_ident(name)


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def inverse_of(effect: Effect) -> str | None:
    """The statement that undoes one effect, or None when there is no safe inverse."""
    table = _qualified(effect.schema, effect.parent) if effect.parent else None
    name = effect.name
    if effect.action == "create":
        if not name:
            return None
        simple_drops = {
            "table": "TABLE",
            "type": "TYPE",
            "domain": "DOMAIN",
            "sequence": "SEQUENCE",
            "view": "VIEW",
            "materialized_view": "MATERIALIZED VIEW",
            "schema": "SCHEMA",
            "extension": "EXTENSION",
        }
        if effect.kind in simple_drops:
            target = quote_ident(name) if effect.kind in ("schema", "extension") else _qualified(effect.schema, name)
            return f"DROP {simple_drops[effect.kind]} IF EXISTS {target};"
        if effect.kind == "index":
            return f"DROP INDEX IF EXISTS {_qualified(effect.schema, name)};"
        if effect.kind == "column":
            return f"ALTER TABLE {table} DROP COLUMN IF EXISTS {quote_ident(name)};"
        if effect.kind == "constraint":
            return f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {quote_ident(name)};"
        if effect.kind in ("function", "procedure"):
            return f"DROP {effect.kind.upper()} IF EXISTS {_qualified(effect.schema, name)}{effect.detail or ''};"
        if effect.kind in ("trigger", "policy"):
            return f"DROP {effect.kind.upper()} IF EXISTS {quote_ident(name)} ON {table};"
        return None
    if effect.action == "rename" and effect.detail:
        old, new = name, effect.detail
        if effect.kind == "column":
            return f"ALTER TABLE {table} RENAME COLUMN {quote_ident(new)} TO {quote_ident(old)};"
        if effect.kind == "constraint":
            return f"ALTER TABLE {table} RENAME CONSTRAINT {quote_ident(new)} TO {quote_ident(old)};"
        if effect.kind == "enum_value":
            return f"ALTER TYPE {table} RENAME VALUE {_quote_literal(new)} TO {_quote_literal(old)};"
        keyword = {"table": "TABLE", "index": "INDEX", "type": "TYPE", "view": "VIEW", "sequence": "SEQUENCE", "schema": "SCHEMA"}.get(effect.kind)
        if keyword:
            renamed = quote_ident(new) if effect.kind == "schema" else _qualified(effect.schema, new)
            return f"ALTER {keyword} {renamed} RENAME TO {quote_ident(old)};"
        return None
    if effect.action == "alter" and effect.kind == "column" and effect.detail in ("SET NOT NULL", "DROP NOT NULL"):
        opposite = "DROP NOT NULL" if effect.detail == "SET NOT NULL" else "SET NOT NULL"
        return f"ALTER TABLE {table} ALTER COLUMN {quote_ident(name)} {opposite};"
    return None


@dataclass(frozen=True)
class _Undo:
    """The part of a migration a plan must undo, and what it leaves out."""

    facts: MigrationFacts  # the effects to undo; irreversible steps among them only
    uncertain: tuple[Reason, ...]  # left out though the migration may have done them
    notes: tuple[Reason, ...]  # left out because the migration did not do them


def _what_to_undo(facts: MigrationFacts, leave_out: LeaveOut | None) -> _Undo:
    if leave_out is None:
        return _Undo(facts, (), ())
    kept: list[Effect] = []
    kept_data: list[DataChange] = []
    uncertain: list[Reason] = []
    notes: list[Reason] = []
    left_lines: set[int] = set()
    items: tuple[Effect | DataChange, ...] = (*facts.effects, *facts.data_changes)
    for item in items:
        left = leave_out(item)
        if left is None:
            if isinstance(item, Effect):
                kept.append(item)
            else:
                kept_data.append(item)
            continue
        left_lines.add(item.line)
        reason = Reason(left.reason, item.line)
        target = notes if left.certain else uncertain
        if reason not in target and (isinstance(item, Effect) or not left.certain):
            target.append(reason)
    # An irreversible step the migration did not take leaves nothing to undo.
    kept_lines = {effect.line for effect in kept} | {change.line for change in kept_data}
    irreversible = tuple(r for r in facts.irreversible if r.line in kept_lines or r.line not in left_lines)
    narrowed = replace(facts, effects=tuple(kept), data_changes=tuple(kept_data), irreversible=irreversible)
    return _Undo(narrowed, tuple(uncertain), tuple(notes))


def derive_inverse(facts: MigrationFacts, leave_out: LeaveOut | None = None) -> RollbackPlan:
    """Undo each reversible effect in reverse order; say why the plan is incomplete if it is.

    Effects `leave_out` names are left alone (see the module docstring).
    """
    undo = _what_to_undo(facts, leave_out)
    plan = _derive(undo.facts)
    reasons = plan.reasons + undo.uncertain
    return replace(plan, complete=not reasons, reasons=reasons, notes=undo.notes)


def _derive(facts: MigrationFacts) -> RollbackPlan:
    statements: list[str] = []
    reasons = list(facts.irreversible)
    # The reasons on each line, so that asking whether one already names an effect looks at its line only.
    reasons_on_line: dict[int, list[str]] = defaultdict(list)
    for known in reasons:
        reasons_on_line[known.line].append(known.message)
    created_tables = {(e.schema, e.name) for e in facts.effects if e.action == "create" and e.kind == "table"}
    for effect in reversed(facts.effects):
        # Dropping a table created by the same migration takes its columns, indexes and constraints.
        part_of_created_table = effect.parent and (effect.schema, effect.parent) in created_tables
        if part_of_created_table and effect.kind in ("column", "index", "constraint", "trigger", "policy") and effect.action == "create":
            continue
        statement = inverse_of(effect)
        if statement is not None:
            statements.append(statement)
        elif effect.action in ("create", "rename") or (effect.action == "alter" and effect.kind == "other"):
            reason = f"no inverse for {effect.action} {effect.kind.replace('_', ' ')} {effect.qualified}"
            if not any(effect.name in message for message in reasons_on_line[effect.line]):
                reasons.append(Reason(reason, effect.line))
                reasons_on_line[effect.line].append(reason)
    if not facts.parses:
        reasons.append(Reason("the migration does not parse", facts.problems[0].position.line if facts.problems else 0))
    # A migration that changes nothing needs nothing to undo it: the empty plan is complete.
    return RollbackPlan("\n".join(statements), "derived", not reasons, tuple(reasons))


def _section_gaps(section: RollbackSection, facts: MigrationFacts) -> list[Reason]:
    """What the migration does that the section leaves in place.

    Created objects must be dropped (or go with a dropped table), renames renamed back, NOT NULL
    changes reversed, dropped objects created again and column types changed back.
    """
    undone = analyze_migration(section.sql).effects
    dropped = {(e.kind, e.name, e.parent) for e in undone if e.action == "drop"}
    dropped_tables = {e.name for e in undone if e.action == "drop" and e.kind == "table"}
    created = {(e.kind, e.name, e.parent) for e in undone if e.action == "create"}
    renamed = {(e.kind, e.name, e.detail, e.parent) for e in undone if e.action == "rename"}
    altered = {(e.name, e.parent, e.detail) for e in undone if e.action == "alter" and e.kind == "column"}
    opposite = {"SET NOT NULL": "DROP NOT NULL", "DROP NOT NULL": "SET NOT NULL"}
    gaps = []
    for effect in facts.effects:
        what = f"{effect.kind.replace('_', ' ')} {effect.qualified}"
        parent = effect.parent if effect.kind in ("column", "constraint", "trigger", "policy", "enum_value") else None
        if effect.action == "create":
            if effect.parent and effect.parent in dropped_tables and effect.kind in ("column", "index", "constraint", "trigger"):
                continue
            if effect.kind == "enum_value":
                gaps.append(Reason(f"enum value '{effect.name}' of {effect.parent} stays: PostgreSQL cannot drop it", effect.line))
            elif (effect.kind, effect.name, parent) not in dropped:
                gaps.append(Reason(f"the rollback section does not undo {what}", effect.line))
        elif effect.action == "rename":
            if (effect.kind, effect.detail, effect.name, parent) not in renamed:
                gaps.append(Reason(f"the rollback section does not rename {what} back from {effect.detail}", effect.line))
        elif effect.action == "drop":
            if (effect.kind, effect.name, parent) not in created:
                gaps.append(Reason(f"the rollback section does not create the dropped {what} again", effect.line))
        elif effect.action == "alter" and effect.kind == "column" and effect.detail:
            wanted = opposite.get(effect.detail)
            if wanted and (effect.name, effect.parent, wanted) not in altered:
                gaps.append(Reason(f"the rollback section does not {wanted} on {what}", effect.line))
            elif effect.detail.startswith("TYPE") and not any(n == effect.name and p == effect.parent and (d or "").startswith("TYPE") for n, p, d in altered):
                gaps.append(Reason(f"the rollback section does not change the type of {what} back", effect.line))
    return gaps


def rollback_plan(script: str, facts: MigrationFacts | None = None, leave_out: LeaveOut | None = None) -> RollbackPlan:
    """The rollback for a migration: its executable section if it has one, else a derived inverse.

    A section is not asked to undo what `leave_out` names; whether it touches such objects anyway
    is for the caller to check against the live database.
    """
    facts = facts or analyze_migration(script)
    section = extract_rollback_section(script)
    if section is not None and section.executable:
        undo = _what_to_undo(facts, leave_out)
        reasons = [Reason(f"the rollback section does not parse: {p.message}", p.position.line) for p in section.problems]
        if not facts.parses:
            reasons.append(Reason("the migration does not parse, so what the section must undo is unknown", facts.problems[0].position.line))
        reasons.extend(_section_gaps(section, undo.facts) if not reasons else [])
        notes = undo.notes + undo.uncertain
        return RollbackPlan(section.sql, "section", not reasons, tuple(reasons), section, notes)
    derived = derive_inverse(facts, leave_out)
    if section is not None:
        hint = "; ".join(section.prose) or "(empty)"
        prose_reason = Reason(f"the rollback section is prose, not SQL: {hint}", section.line)
        return RollbackPlan(derived.sql, "derived", derived.complete, (prose_reason, *derived.reasons), section, derived.notes)
    return derived
