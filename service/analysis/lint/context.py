"""What every rule is given: the parsed migration, its facts, and questions several rules ask."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple, TypeVar, overload

from pglast import ast
from pglast.enums import AlterTableType

from service.analysis.facts.records import DataChange, Effect, MigrationFacts
from service.analysis.lint.locks import TableLock, blocking_locks
from service.analysis.lint.nodes import table_commands, typed_columns
from service.analysis.lint.suppressions import Suppressions
from service.analysis.parsing import ParsedMigration, Statement
from service.analysis.rollback import RollbackSection, extract_rollback_section
from service.prisma.execution import engine_splits

A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")
D = TypeVar("D")


class ColumnType(NamedTuple):
    """A column type the migration chooses, and the node a finding about it points at."""

    statement: Statement
    column: str | None
    type_name: ast.TypeName
    node: ast.Node


@dataclass
class LintContext:
    """One migration under lint.

    `statements` are the top-level statements; `all_statements` adds those inside DO blocks, each
    right after its DO statement, carrying the `guards` around it (see `lint.guards` for whether
    one really lets the statement run twice).
    """

    name: str
    script: str
    parsed: ParsedMigration
    facts: MigrationFacts
    suppressions: Suppressions = field(default_factory=lambda: Suppressions(()))
    enabled_rules: frozenset[str] = frozenset()
    # Timeouts (`lock_timeout`, `statement_timeout`) set on the session before the file runs.
    session_timeouts: frozenset[str] = frozenset()

    @property
    def statements(self) -> tuple[Statement, ...]:
        return self.parsed.statements

    @property
    def all_statements(self) -> tuple[Statement, ...]:
        return self.parsed.all_statements

    # One overload per number of types, so a rule gets its nodes typed as the union of what it asked for.
    @overload
    def of_type(self, a: type[A], /) -> Iterator[tuple[Statement, A]]: ...
    @overload
    def of_type(self, a: type[A], b: type[B], /) -> Iterator[tuple[Statement, A | B]]: ...
    @overload
    def of_type(self, a: type[A], b: type[B], c: type[C], /) -> Iterator[tuple[Statement, A | B | C]]: ...
    @overload
    def of_type(self, a: type[A], b: type[B], c: type[C], d: type[D], /) -> Iterator[tuple[Statement, A | B | C | D]]: ...

    def of_type(self, *node_types: type) -> Iterator[tuple[Statement, Any]]:
        """(statement, node) for the statements (top-level and inside DO blocks) whose node is one of these types."""
        return ((statement, statement.node) for statement in self.all_statements if isinstance(statement.node, node_types))

    # Several rules ask the same questions of every statement; each is answered once per migration.

    @cached_property
    def _table_commands(self) -> tuple[tuple[Statement, ast.AlterTableCmd], ...]:
        return tuple((statement, command) for statement in self.all_statements for command in table_commands(statement))

    def alter_commands(self, *subtypes: AlterTableType) -> Iterator[tuple[Statement, ast.AlterTableCmd]]:
        """(statement, command) for each ALTER TABLE subcommand of these subtypes, in file order."""
        return ((statement, command) for statement, command in self._table_commands if command.subtype in subtypes)

    def added_constraints(self) -> Iterator[tuple[Statement, ast.Constraint]]:
        """(statement, constraint) for each constraint an ALTER TABLE … ADD CONSTRAINT adds, in file order."""
        return (
            (statement, command.def_) for statement, command in self.alter_commands(AlterTableType.AT_AddConstraint) if isinstance(command.def_, ast.Constraint)
        )

    def added_columns(self) -> Iterator[tuple[Statement, ast.ColumnDef]]:
        """(statement, column) for each column an ALTER TABLE … ADD COLUMN adds, in file order."""
        return ((statement, command.def_) for statement, command in self.alter_commands(AlterTableType.AT_AddColumn) if isinstance(command.def_, ast.ColumnDef))

    @cached_property
    def column_types(self) -> tuple[ColumnType, ...]:
        """Every column type the file chooses: in CREATE TABLE, ADD COLUMN and ALTER COLUMN … TYPE."""
        return tuple(ColumnType(statement, *chosen) for statement in self.all_statements for chosen in typed_columns(statement))

    @cached_property
    def locks(self) -> tuple[tuple[Statement, tuple[TableLock, ...]], ...]:
        """Each statement with the blocking locks it takes on tables other sessions use."""
        return tuple((statement, tuple(blocking_locks(self, statement))) for statement in self.all_statements)

    @cached_property
    def _top_indexes(self) -> dict[int, int]:
        return {id(statement): index for index, statement in enumerate(self.parsed.statements)}

    def top_index(self, statement: Statement) -> int:
        """Index of the top-level statement: the statement itself, or the DO block holding it."""
        if statement.parent_index is not None:
            return statement.parent_index
        return self._top_indexes[id(statement)]

    def order(self, statement: Statement) -> tuple[int, int]:
        """Sort key giving file order, inside DO blocks too."""
        return self.top_index(statement), statement.position.line

    def before(self, effect: Effect, statement: Statement) -> bool:
        return (effect.statement, effect.line) < self.order(statement)

    @cached_property
    def rollback_section(self) -> RollbackSection | None:
        """The file's commented ROLLBACK SQL section, if it has one."""
        return extract_rollback_section(self.script)

    def runs_outside_transactions(self, statement: Statement) -> bool:
        """Whether the target's Prisma runs this statement outside any transaction block: the file's only
        statement, or with Prisma 7 one of a file it sends statement by statement (service.prisma.execution).
        A statement inside a DO block never does (a function runs in its caller's transaction)."""
        if statement.parent_index is not None:
            return False
        alone = self.facts.outside_transaction_blocks
        index = self.top_index(statement)
        return index < len(alone) and alone[index]

    @property
    def prisma_version(self) -> int:
        return self.facts.prisma_version

    @cached_property
    def sent_statement_by_statement(self) -> bool:
        """Whether the target's Prisma sends this file one statement at a time (service.prisma.execution)."""
        return engine_splits([statement.node for statement in self.statements], self.prisma_version)

    @cached_property
    def _effects_by_key(self) -> dict[tuple[str, str, str | None], tuple[Effect, ...]]:
        """The file's effects by (action, kind, name), each list in file order: asking whether an
        earlier statement created or dropped an object looks at that object's effects alone."""
        grouped: dict[tuple[str, str, str | None], list[Effect]] = defaultdict(list)
        for effect in self.facts.effects:
            grouped[(effect.action, effect.kind, effect.name)].append(effect)
        return {key: tuple(effects) for key, effects in grouped.items()}

    def created_earlier(self, kind: str, name: str | None, statement: Statement, parent: str | None = None, schema: str | None = None) -> bool:
        """Whether an earlier statement of this file creates that object (so it is new and empty)."""
        return any(
            (parent is None or effect.parent == parent) and _same_schema(effect.schema, schema) and self.before(effect, statement)
            for effect in self._effects_by_key.get(("create", kind, name), ())
        )

    def effects_named(self, action: str, kind: str, name: str | None) -> tuple[Effect, ...]:
        """The file's effects of this action on objects of this kind and name, in file order."""
        return self._effects_by_key.get((action, kind, name), ())

    @cached_property
    def _renames_by_new_name(self) -> dict[tuple[str, str | None], tuple[Effect, ...]]:
        """The file's renames by (kind, new name), each list in file order."""
        grouped: dict[tuple[str, str | None], list[Effect]] = defaultdict(list)
        for effect in self.facts.effects:
            if effect.action == "rename":
                grouped[(effect.kind, effect.detail)].append(effect)
        return {key: tuple(effects) for key, effects in grouped.items()}

    def renamed_to_earlier(self, kind: str, name: str | None, statement: Statement) -> bool:
        """Whether an earlier statement of this file renames an object of that kind to this name
        (Prisma's `"Role_old"`, which stops being the name the running application uses)."""
        return any(self.before(effect, statement) for effect in self._renames_by_new_name.get((kind, name), ()))

    def comes_back_later(self, kinds: tuple[str, ...], name: str | None, statement: Statement, schema: str | None = None, detail: str | None = None) -> bool:
        """Whether a later statement of this file creates an object of one of these kinds under this
        name, or renames one to it: the name the statement drops or renames away exists again when
        the migration commits (Prisma's enum replacement, `DROP VIEW` then `CREATE VIEW`). With
        `detail` (a function's argument types), a re-creation must have the same."""
        for kind in kinds:
            for effect in self._effects_by_key.get(("create", kind, name), ()):
                if self.after(effect, statement) and _same_schema(effect.schema, schema) and (detail is None or effect.detail in (None, detail)):
                    return True
            if any(self.after(effect, statement) for effect in self._renames_by_new_name.get((kind, name), ())):
                return True
        return False

    def after(self, effect: Effect, statement: Statement) -> bool:
        return (effect.statement, effect.line) > self.order(statement)

    def dropped_earlier_if_exists(self, kind: str, name: str | None, statement: Statement, parent: str | None = None) -> bool:
        """Whether an earlier `DROP … IF EXISTS` of this file removes that object, so creating it cannot collide."""
        return any(
            effect.guarded and (parent is None or effect.parent == parent) and self.before(effect, statement)
            for effect in self._effects_by_key.get(("drop", kind, name), ())
        )

    def is_new_table(self, relation: ast.RangeVar | None, statement: Statement) -> bool:
        """Whether the table (or materialized view) is created earlier in this file: empty, and
        invisible to other sessions until the migration commits, so locks, scans and rewrites on it
        cost nothing, and dropping it loses nothing."""
        if relation is None:
            return False
        return any(self.created_earlier(kind, relation.relname, statement, schema=relation.schemaname) for kind in ("table", "materialized_view"))

    def is_empty_table(self, relation: ast.RangeVar | None, statement: Statement) -> bool:
        """Whether the table is new, or emptied by an earlier TRUNCATE of this file. TRUNCATE holds an
        ACCESS EXCLUSIVE lock until the migration commits, so after it, scans and rewrites of the
        table are instant and further locks on it block nobody new."""
        if relation is None:
            return False
        return self.is_new_table(relation, statement) or any(
            _same_schema(change.schema, relation.schemaname) and (change.statement, change.line) < self.order(statement)
            for change in self._truncates.get(relation.relname, ())
        )

    @cached_property
    def _truncates(self) -> dict[str | None, tuple[DataChange, ...]]:
        """The file's TRUNCATEs by table name."""
        grouped: dict[str | None, list[DataChange]] = defaultdict(list)
        for change in self.facts.data_changes:
            if change.kind == "truncate":
                grouped[change.table].append(change)
        return {table: tuple(changes) for table, changes in grouped.items()}


def _same_schema(created: str | None, used: str | None) -> bool:
    # An unqualified name resolves through the search_path, which is the schema Prisma targets.
    return created is None or used is None or created == used
