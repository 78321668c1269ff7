"""Which objects a migration made or changed, so that a rollback undoes its work and nothing else.

PostgreSQL runs a migration file as one simple-query string. Its statements run in implicit
transactions that end at each explicit COMMIT (or END); a statement that refuses transaction
blocks (CREATE INDEX CONCURRENTLY) runs on its own. When a statement fails, its transaction is
rolled back and the statements after it never run. So, for a failed run, an object is **owned**
(made by this migration, safe to drop) only when an unguarded CREATE of it ran in a part of the
file that committed before the failure: that CREATE succeeding proves the object did not exist
before. An `IF NOT EXISTS` create of an object that was there did nothing, so it proves nothing.

Where the file failed comes from the error position in the logs when PostgreSQL gave one. Most
DDL errors have none; then the live catalog tells: a committed part has every object its
unguarded CREATEs make, the failing part none of them. The object an already-exists error names
(42P07, 42710, 42701, 42P06, 42723) existed before, whatever else is known, and so does every
object the caller knows from the shadow's replay of the history before the migration.

For a migration that succeeded, every part committed: unguarded creates are owned, and guarded
ones only when the caller knows the object was absent before.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from functools import partial

import psycopg
from pglast import ast
from pglast.enums import TransactionStmtKind

from service.analysis.facts.records import DataChange, Effect, MigrationFacts, Reason
from service.analysis.facts.transactions import outside_transaction_reason
from service.analysis.parsing import ParsedMigration
from service.analysis.rollback import LeftOut, RollbackPlan, rollback_plan
from service.prisma.execution import DEFAULT_PRISMA_VERSION, engine_splits, outside_transaction_blocks
from service.prisma.logs import error_position, parse_failure_logs
from service.recovery.decide import SYNTAX_ERROR
from service.recovery.live_objects import ObjectRef, object_exists

# Whether an object existed before the migration ran (None: not known), e.g. from the shadow's
# replay of the history before it. A collection of the objects that existed answers the same
# (`live_objects.objects_in` makes one from a catalog fingerprint).
PreExisting = Callable[[ObjectRef], bool | None]


@dataclass(frozen=True)
class Segment:
    """Top-level statements `first`..`last` of a file that commit or roll back together."""

    first: int
    last: int
    ends: str  # commit | rollback | prepare | runs on its own | sent on its own | before a statement that runs on its own | end of file

    @property
    def commits(self) -> bool:
        """Whether its work stays once it has run (the end of the file commits only on success)."""
        return self.ends not in ("rollback", "prepare")

    def __contains__(self, statement: int) -> bool:
        return self.first <= statement <= self.last

    def to_dict(self) -> dict[str, object]:
        return {"statements": [self.first, self.last], "ends": self.ends}


_SEGMENT_ENDS = {
    TransactionStmtKind.TRANS_STMT_COMMIT: "commit",  # END is a COMMIT too
    TransactionStmtKind.TRANS_STMT_ROLLBACK: "rollback",
    TransactionStmtKind.TRANS_STMT_PREPARE: "prepare",
}


def transaction_segments(parsed: ParsedMigration, prisma_version: int = DEFAULT_PRISMA_VERSION) -> tuple[Segment, ...]:
    """The file's statements cut where PostgreSQL ends one transaction and starts the next.

    A file the engine of `prisma_version` sends statement by statement (service.prisma.execution)
    is cut after every statement outside an explicit BEGIN … COMMIT: each commits on its own.
    """
    segments: list[Segment] = []
    first = 0
    nodes = [statement.node for statement in parsed.statements]
    sent_alone = outside_transaction_blocks(nodes, prisma_version) if engine_splits(nodes, prisma_version) else [False] * len(nodes)
    for index, statement in enumerate(parsed.statements):
        node = statement.node
        if sent_alone[index]:
            if index > first:
                segments.append(Segment(first, index - 1, "before a statement that runs on its own"))
            segments.append(Segment(index, index, "sent on its own"))
            first = index + 1
        elif outside_transaction_reason(node):
            if index > first:
                segments.append(Segment(first, index - 1, "before a statement that runs on its own"))
            segments.append(Segment(index, index, "runs on its own"))
            first = index + 1
        elif isinstance(node, ast.TransactionStmt) and node.kind in _SEGMENT_ENDS:
            segments.append(Segment(first, index, _SEGMENT_ENDS[node.kind]))
            first = index + 1
    if first < len(parsed.statements):
        segments.append(Segment(first, len(parsed.statements) - 1, "end of file"))
    return tuple(segments)


def statement_at(parsed: ParsedMigration, position: int) -> int | None:
    """The top-level statement holding PostgreSQL's 1-based character `position` in the script."""
    line_starts = [0] + [index + 1 for index, char in enumerate(parsed.script) if char == "\n"]
    starts = [line_starts[s.position.line - 1] + s.position.column - 1 for s in parsed.statements]
    index = bisect_right(starts, position - 1) - 1
    return index if index >= 0 and position <= len(parsed.script) else None


@dataclass(frozen=True)
class ExistingObject:
    """The object an already-exists error names (messages carry no schema)."""

    kinds: frozenset[str]
    name: str
    parent: str | None
    message: str

    def matches(self, ref: ObjectRef) -> bool:
        return ref.kind in self.kinds and ref.name == self.name and (self.parent is None or ref.parent == self.parent)


_ALREADY_EXISTS_STATES = {"42P07", "42710", "42701", "42P06", "42723"}
_ALREADY_EXISTS_MESSAGES = (
    re.compile(r'^(?P<kind>column) "(?P<name>.+)" of relation "(?P<parent>.+)" already exists$'),
    re.compile(r'^(?P<kind>constraint|trigger|policy) "(?P<name>.+)" for (?:relation|table) "(?P<parent>.+)" already exists$'),
    re.compile(r'^(?P<kind>relation|type|schema|extension|function|procedure|enum label) "(?P<name>.+)" already exists(?: with same argument types)?$'),
)
_KINDS_NAMED = {
    # A UNIQUE or PRIMARY KEY constraint's index shares its name, and so can clash as a relation.
    "relation": frozenset({"table", "index", "sequence", "view", "materialized_view", "constraint"}),
    # A table's row type is a type of the same name.
    "type": frozenset({"type", "table", "view", "materialized_view", "sequence"}),
    "procedure": frozenset({"function"}),
    "enum label": frozenset({"enum_value"}),
}


def already_existing_object(sqlstate: str | None, message: str | None) -> ExistingObject | None:
    """The object an already-exists error names, from PostgreSQL's message."""
    if not message or (sqlstate is not None and sqlstate not in _ALREADY_EXISTS_STATES):
        return None
    first_line = message.strip().splitlines()[0].strip()
    for pattern in _ALREADY_EXISTS_MESSAGES:
        match = pattern.match(first_line)
        if match:
            kind = match.group("kind")
            kinds = _KINDS_NAMED.get(kind, frozenset({kind}))
            return ExistingObject(kinds, match.group("name"), match.groupdict().get("parent"), first_line)
    return None


def _lookup(pre_existing: PreExisting | Collection[ObjectRef] | None) -> PreExisting:
    if pre_existing is None:
        return lambda ref: None
    if callable(pre_existing):
        return pre_existing
    known = frozenset(pre_existing)
    return lambda ref: ref in known


@dataclass(frozen=True)
class Ownership:
    """What one run of a migration made (`created`) or changed, and what it did not, with why."""

    schema: str
    run: str  # "failed" | "applied"
    how_known: str  # how the persisted part of the file was established, in words
    persisted: frozenset[int]  # top-level statements whose work stayed
    created: frozenset[ObjectRef]
    changed: frozenset[ObjectRef]  # altered, renamed (under the new name), or rows written
    # Objects the persisted part creates that are not owned: why, and whether certainly not.
    not_owned: dict[ObjectRef, LeftOut] = field(default_factory=dict)
    # Why each statement that did not persist left nothing (the failing part, what never ran).
    not_persisted: dict[int, LeftOut] = field(default_factory=dict)
    failing_statement: int | None = None
    existing: ExistingObject | None = None
    undone_whole: str | None = None  # why nothing at all persisted
    segments: tuple[Segment, ...] = ()
    created_at: dict[ObjectRef, int] = field(default_factory=dict)  # line of the creating statement
    not_made: dict[ObjectRef, str] = field(default_factory=dict)  # created only by statements that did not persist
    failing_segment: int | None = None
    existed: PreExisting = field(default=lambda ref: None, repr=False, compare=False)

    def leave_out(self, item: Effect | DataChange) -> LeftOut | None:
        """For a rollback plan: None to undo this effect, else why to leave it alone."""
        ref = _ref(item, self.schema) if isinstance(item, Effect) else None
        if isinstance(item, Effect) and ref is not None and item.action == "create" and ref not in self.created and (before := self._existed_before(ref)):
            return LeftOut(f"{ref} {before}")
        if item.statement not in self.persisted:
            fate = self.not_persisted.get(item.statement) or LeftOut(self.undone_whole or "its statement did not persist")
            what = f"{item.kind.upper()} on {item.table}" if isinstance(item, DataChange) else str(ref or item.qualified)
            if not fate.certain:
                return replace(fate, reason=f"{what}: {fate.reason}")
            done = (
                "took no effect"
                if isinstance(item, DataChange)
                else "was not " + {"create": "made", "drop": "dropped", "rename": "renamed"}.get(item.action, "changed")
            )
            return replace(fate, reason=f"{what} {done}; {fate.reason}")
        if ref is not None and isinstance(item, Effect) and item.action == "create":
            return self.not_owned.get(ref)
        return None

    def made(self, ref: ObjectRef, table: ObjectRef | None = None) -> tuple[bool, str]:
        """Whether this run created the object (or the `table` it is part of), so that dropping it
        drops only this migration's work; and why."""
        table = ref.table or table
        if ref in self.created:
            return True, f"this migration created it (line {self.created_at.get(ref, 0)})"
        if table is not None and table in self.created:
            return True, f"it is part of {table}, which this migration created"
        return False, self._why_not(ref)

    def touched(self, ref: ObjectRef, table: ObjectRef | None = None) -> tuple[bool, str]:
        """Whether this run created or changed the object, so that changing it back is its work."""
        owned, why = self.made(ref, table)
        if owned or ref not in self.changed:
            return owned, why
        return True, "this migration changed it"

    def _existed_before(self, ref: ObjectRef) -> str | None:
        if self.existing is not None and self.existing.matches(ref):
            return f"existed before this migration: its CREATE failed on it ({self.existing.message})"
        if self.existed(ref):
            return "existed before this migration: the shadow's replay of the history before it has it"
        return None

    def _why_not(self, ref: ObjectRef) -> str:
        """Why the object is not this run's, worded to follow "which" ("which existed before …")."""
        before = self._existed_before(ref)
        if before:
            return before
        for candidate in (ref, ref.table):
            if candidate in self.not_owned:
                phrase = self.not_owned[candidate].reason.removeprefix(f"{candidate} ")
                return phrase if candidate == ref else f"is part of {candidate}, which {phrase}"
        if ref in self.not_made:
            return self.not_made[ref]
        return "this migration did not create"

    def to_dict(self) -> dict[str, object]:
        return {
            "run": self.run,
            "how_known": self.how_known,
            "undone_whole": self.undone_whole,
            "failing_statement": self.failing_statement,
            "failing_segment": self.failing_segment,
            "persisted_statements": sorted(self.persisted),
            "segments": [segment.to_dict() for segment in self.segments],
            "created": sorted(str(ref) for ref in self.created),
            "changed": sorted(str(ref) for ref in self.changed - self.created),
            "not_owned": [{"object": str(ref), "why": left.reason, "certain": left.certain} for ref, left in sorted(self.not_owned.items())],
        }


def _ref(effect: Effect, schema: str) -> ObjectRef | None:
    return ObjectRef.of(effect.kind, effect.name, effect.schema, effect.parent, schema)


def _work_of(
    facts: MigrationFacts,
    schema: str,
    persisted: frozenset[int],
    why_not_created: Callable[[Effect, ObjectRef], LeftOut | None],
) -> tuple[set[ObjectRef], set[ObjectRef], dict[ObjectRef, LeftOut], dict[ObjectRef, int]]:
    """Follow the persisted statements in order: what they create, change, rename and drop."""
    created: set[ObjectRef] = set()
    changed: set[ObjectRef] = set()
    not_owned: dict[ObjectRef, LeftOut] = {}
    lines: dict[ObjectRef, int] = {}
    for effect in facts.effects:
        ref = _ref(effect, schema)
        if ref is None or effect.statement not in persisted:
            continue
        if effect.action == "create":
            left = why_not_created(effect, ref)
            if left is None:
                created.add(ref)
                lines[ref] = effect.line
            else:
                not_owned[ref] = left
        elif effect.action == "rename" and effect.detail:
            renamed = replace(ref, name=effect.detail)
            if ref in created:
                created.discard(ref)
                created.add(renamed)
                lines[renamed] = lines.pop(ref, effect.line)
            changed.add(renamed)
        elif effect.action == "alter":
            changed.add(ref)
        elif effect.action == "drop":
            created.discard(ref)
            changed.discard(ref)
    for change in facts.data_changes:
        if change.statement in persisted and change.table:
            changed.add(ObjectRef("table", change.schema or schema, change.table))
    return created, changed, not_owned, lines


def applied_migration_ownership(facts: MigrationFacts, schema: str, *, pre_existing: PreExisting | Collection[ObjectRef] | None = None) -> Ownership:
    """What a migration that succeeded made: unguarded creates; guarded ones known absent before."""
    existed = _lookup(pre_existing)
    segments = transaction_segments(facts.parsed, facts.prisma_version) if facts.parsed else ()
    persisted = frozenset(i for segment in segments if segment.commits for i in range(segment.first, segment.last + 1))
    rolled_back = _fates(facts, segments, persisted, None)

    def why_not_created(effect: Effect, ref: ObjectRef) -> LeftOut | None:
        before = existed(ref)
        if not effect.guarded:
            return None
        if before is False:
            return None
        if before:
            return LeftOut(f"{ref} existed before this migration: the shadow's replay of the history before it has it")
        return LeftOut(f"{ref} may have existed before this migration: its guarded CREATE (line {effect.line}) does nothing then", certain=False)

    created, changed, not_owned, lines = _work_of(facts, schema, persisted, why_not_created)
    return Ownership(
        schema,
        "applied",
        "the migration succeeded, so every part of it committed",
        persisted,
        frozenset(created),
        frozenset(changed),
        not_owned,
        rolled_back,
        segments=segments,
        created_at=lines,
        not_made=_not_made(facts, schema, persisted, rolled_back),
        existed=existed,
    )


def failed_run_ownership(
    conn: psycopg.Connection,
    schema: str,
    facts: MigrationFacts,
    logs: str | None,
    *,
    pre_existing: PreExisting | Collection[ObjectRef] | None = None,
) -> Ownership:
    """What a failed run of a migration left that is its own work (see the module docstring).

    `logs` is the failed history row's; `conn` reaches the target, whose catalog locates the
    failure when the logs give no position.
    """
    details = parse_failure_logs(logs)
    sqlstate = details.sqlstate if details else None
    existing = already_existing_object(sqlstate, details.message if details else None)
    existed = _lookup(pre_existing)
    parsed = facts.parsed
    base = partial(Ownership, schema=schema, run="failed", created=frozenset(), changed=frozenset(), existing=existing, existed=existed)
    if sqlstate == SYNTAX_ERROR:
        why = "PostgreSQL rejected the file before running any of it (a syntax error)"
        return base(how_known=why, persisted=frozenset(), undone_whole=why)
    if details is not None and facts.transactional and facts.parses:
        why = "PostgreSQL undid the whole file: it has no transaction control, so it ran as one transaction"
        return base(how_known=why, persisted=frozenset(), undone_whole=why)
    if parsed is None or not facts.parses or not parsed.statements:
        why = "the file does not parse, so which of its statements ran is unknown"
        return base(how_known=why, persisted=frozenset(), not_persisted=_unknown(parsed, why))

    segments = transaction_segments(parsed, facts.prisma_version)
    position = error_position(logs)
    failing = statement_at(parsed, position) if position else None
    failing_segment: int | None
    if failing is not None:
        failing_segment = next(i for i, segment in enumerate(segments) if failing in segment)
        how = f"the error position in the logs (character {position}) is in the statement at line {_line(facts, failing)}"
        committed = [segment for segment in segments[:failing_segment] if segment.commits]
        uncommitted = None
    else:
        failing_segment, committed, how, uncommitted = _committed_by_catalog(conn, schema, facts, segments, existing, errored=details is not None)
    persisted = frozenset(i for segment in committed for i in range(segment.first, segment.last + 1))
    not_persisted = _fates(facts, segments, persisted, failing_segment, uncommitted if failing is None else None)

    def why_not_created(effect: Effect, ref: ObjectRef) -> LeftOut | None:
        if existing is not None and existing.matches(ref):
            return LeftOut(f"{ref} existed before this migration: its CREATE failed on it ({existing.message})")
        if existed(ref):
            return LeftOut(f"{ref} existed before this migration: the shadow's replay of the history before it has it")
        if effect.guarded:
            return LeftOut(f"{ref} may have existed before this migration: its guarded CREATE (line {effect.line}) does nothing then", certain=False)
        return None

    created, changed, not_owned, lines = _work_of(facts, schema, persisted, why_not_created)
    return base(
        created=frozenset(created),
        changed=frozenset(changed),
        how_known=how,
        persisted=persisted,
        not_owned=not_owned,
        not_persisted=not_persisted,
        failing_statement=failing,
        segments=segments,
        created_at=lines,
        not_made=_not_made(facts, schema, persisted, not_persisted),
        failing_segment=failing_segment,
    )


def _not_made(facts: MigrationFacts, schema: str, persisted: frozenset[int], fates: dict[int, LeftOut]) -> dict[ObjectRef, str]:
    not_made = {}
    for effect in facts.effects:
        ref = _ref(effect, schema)
        if ref is not None and effect.action == "create" and effect.statement not in persisted and effect.statement in fates:
            fate = fates[effect.statement]
            not_made[ref] = f"this run may not have made: {fate.reason}" if not fate.certain else f"this run did not make: {fate.reason}"
    return not_made


def _line(facts: MigrationFacts, statement: int) -> int:
    return facts.parsed.statements[statement].position.line if facts.parsed and statement < len(facts.parsed.statements) else 0


def _unknown(parsed: ParsedMigration | None, why: str) -> dict[int, LeftOut]:
    count = len(parsed.statements) if parsed else 0
    return {i: LeftOut(why, certain=False) for i in range(count)}


def _committed_by_catalog(
    conn: psycopg.Connection,
    schema: str,
    facts: MigrationFacts,
    segments: tuple[Segment, ...],
    existing: ExistingObject | None,
    *,
    errored: bool,
) -> tuple[int | None, list[Segment], str, int | None]:
    """(the failing segment if known, the segments proven committed, how, the first segment that
    cannot have committed) from the live catalog.

    A segment is proven committed when its unguarded CREATEs made objects and every one of them is
    there, none the object the error names. The first segment with such a create missing (or
    named by the error) cannot have committed: the file failed there or before. Segments up to the
    last proven one committed; after it nothing is proven, so it counts as not run. A run that
    recorded an error failed somewhere, so its last segment never counts as committed.
    """
    candidates = segments[:-1] if errored else segments
    last_proven = -1
    stop: int | None = None
    for index, segment in enumerate(candidates):
        effects = [(effect, ref) for effect in facts.effects if effect.statement in segment and (ref := _ref(effect, schema)) is not None]
        creates = [ref for effect, ref in effects if effect.action == "create" and not effect.guarded]
        renamed_onto = [replace(ref, name=effect.detail) for effect, ref in effects if effect.action == "rename" and effect.detail]
        if existing is not None and any(existing.matches(ref) for ref in creates + renamed_onto):
            stop = index
            break
        if not segment.commits:
            continue  # its work is undone whatever happened
        present = [object_exists(conn, ref) for ref in creates]
        if False in present:
            stop = index
            break
        if present and all(present):
            last_proven = index
    if stop is None and errored:
        stop = len(segments) - 1
    unproven = [i for i in range(last_proven + 1, stop if stop is not None else len(segments)) if segments[i].commits]
    committed = [segment for segment in segments[: last_proven + 1] if segment.commits]
    if stop is not None and not unproven:
        line = _line(facts, segments[stop].first)
        how = f"the live catalog: the part of the file from line {line} left nothing, each part before it is all there"
        failing = stop
    elif committed:
        how = f"the live catalog shows the file committed up to line {_line(facts, committed[-1].last)}; what ran after that is unknown"
        failing = None
    elif stop is None:
        how = "the live catalog shows nothing of the file, and the run recorded no error"
        failing = None
    else:
        how = "the logs give no error position and the live catalog proves no part of the file committed"
        failing = None
    if stop is None and not unproven and committed and committed[-1] is segments[-1]:
        how = "the live catalog shows every part of the file: PostgreSQL committed it before the run was interrupted"
    if existing is not None:
        how += f"; the error says {existing.message}"
    return failing, committed, how, stop


def _fates(
    facts: MigrationFacts, segments: tuple[Segment, ...], persisted: frozenset[int], failing_segment: int | None, uncommitted: int | None = None
) -> dict[int, LeftOut]:
    """Why each statement that did not persist left nothing behind. From segment `uncommitted` on,
    nothing committed, even where the failing segment is not known."""
    fates: dict[int, LeftOut] = {}
    for index, segment in enumerate(segments):
        for statement in range(segment.first, segment.last + 1):
            if statement in persisted:
                continue
            line = _line(facts, statement)
            if failing_segment is not None and index == failing_segment:
                fates[statement] = LeftOut(f"its statement (line {line}) was in the failing part of the file, which PostgreSQL rolled back")
            elif failing_segment is not None and index > failing_segment:
                fates[statement] = LeftOut(f"its statement (line {line}) never ran: the file failed before it")
            elif not segment.commits:
                fates[statement] = LeftOut(f"its statement (line {line}) did not commit: the file's own {segment.ends.upper()} ends its transaction")
            elif uncommitted is not None and index >= uncommitted:
                fates[statement] = LeftOut(f"its statement (line {line}) did not commit: the file failed there or before")
            else:
                fates[statement] = LeftOut(f"whether its statement (line {line}) committed is unknown", certain=False)
    return fates


def owned_rollback_plan(script: str, facts: MigrationFacts, ownership: Ownership) -> RollbackPlan:
    """The migration's rollback plan, undoing only what this run of it made or changed."""
    if ownership.undone_whole:
        return RollbackPlan("", "none", True, notes=(Reason(f"nothing to roll back: {ownership.undone_whole}", 0),))
    return rollback_plan(script, facts, ownership.leave_out)
