"""The facts about a migration as plain data: its effects, data changes, and the reasons behind each fact."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from service.analysis.parsing import ParsedMigration, ParseProblem


@dataclass(frozen=True)
class Effect:
    """One object a statement creates, drops, alters or renames."""

    action: str  # create | drop | alter | rename
    kind: str  # table, column, index, constraint, type, enum_value, sequence, view, ...
    name: str  # the object's own name ("" when the SQL leaves it to PostgreSQL)
    schema: str | None = None  # None when unqualified: the target's search_path decides
    parent: str | None = None  # the table of a column/constraint/index/trigger, the type of a label
    labels: tuple[str, ...] = ()  # an enum type's labels
    detail: str | None = None  # what changes: new name, column type, constraint definition, …
    guarded: bool = False  # IF [NOT] EXISTS, OR REPLACE, or a catalog-checking DO block
    line: int = 0
    statement: int = 0  # index of the top-level statement

    @property
    def qualified(self) -> str:
        owner = f"{self.parent}." if self.parent else ""
        prefix = f"{self.schema}." if self.schema else ""
        return f"{prefix}{owner}{self.name}" if self.name else f"{prefix}{owner}<unnamed {self.kind}>"

    def to_dict(self) -> dict[str, object]:
        return {key: value for key, value in asdict(self).items() if value is not None and value != ()}


@dataclass(frozen=True)
class DataChange:
    """A statement that changes rows rather than the schema."""

    kind: str  # insert | update | delete | truncate | merge | copy
    table: str
    schema: str | None
    guarded: bool  # re-running it changes nothing more (WHERE skips done rows, ON CONFLICT, …)
    line: int
    statement: int
    columns: tuple[str, ...] = ()  # for an UPDATE: the columns it sets

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Reason:
    """One plain-words reason behind a fact, pointing at a line."""

    message: str
    line: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class MigrationFacts:
    name: str
    parses: bool
    problems: tuple[ParseProblem, ...]
    transactional: bool
    not_transactional_because: tuple[Reason, ...]
    idempotent: bool
    unguarded: tuple[Reason, ...]
    reversible: bool
    irreversible: tuple[Reason, ...]
    effects: tuple[Effect, ...]
    data_changes: tuple[DataChange, ...]
    statement_count: int = 0
    # Statements PostgreSQL will refuse whatever the data: the file fails as a whole.
    fails_because: tuple[Reason, ...] = ()
    parsed: ParsedMigration | None = field(default=None, repr=False, compare=False)
    # The Prisma major version whose engine the facts assume (service.prisma.execution), and for
    # each top-level statement whether that engine runs it outside any transaction block.
    prisma_version: int = 6
    outside_transaction_blocks: tuple[bool, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "parses": self.parses,
            "problems": [{"message": p.message, "line": p.position.line, "column": p.position.column} for p in self.problems],
            "statement_count": self.statement_count,
            "transactional": self.transactional,
            "not_transactional_because": [r.to_dict() for r in self.not_transactional_because],
            "fails_because": [r.to_dict() for r in self.fails_because],
            "idempotent": self.idempotent,
            "unguarded": [r.to_dict() for r in self.unguarded],
            "reversible": self.reversible,
            "irreversible": [r.to_dict() for r in self.irreversible],
            "effects": [e.to_dict() for e in self.effects],
            "data_changes": [d.to_dict() for d in self.data_changes],
        }
