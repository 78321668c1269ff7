"""Facts about one migration, as plain data: effects, transactional, idempotent, reversible.

- *effects*: every object the migration creates, drops, alters or renames (kind, schema, name, the
  table or type it belongs to, enum labels), and the data statements it runs.
- *transactional*: Prisma sends the file as one simple-query string, one implicit transaction, so a
  failure leaves nothing behind, unless the file controls transactions itself, or holds statements
  PostgreSQL refuses or runs outside a transaction block (CONCURRENTLY, VACUUM, …), or adds an enum
  value and uses it in the same transaction (55P04).
- *idempotent*: every statement can run twice: `IF [NOT] EXISTS`, `OR REPLACE`, a DO block that
  checks the catalog or swallows the duplicate error, DML whose WHERE skips the rows already done.
- *reversible*: each effect has a known inverse; drops, type changes, enum values and data changes
  do not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Protocol

from pglast import ast
from pglast.enums import AlterTableType, ConstrType, ObjectType, OnConflictAction, TransactionStmtKind
from pglast.stream import RawStream

from service.analysis.parsing import (
    OpaqueSql,
    ParsedMigration,
    ParseProblem,
    Statement,
    StatementNode,
    nodes_of,
    parse_migration,
    required,
    required_node,
)


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


def analyze_migration(script: str, name: str = "") -> MigrationFacts:
    """All facts about a migration's SQL. A file that does not parse has no facts but its problems."""
    parsed = parse_migration(script, name)
    if not parsed.parses and not parsed.statements:
        unknown = (Reason("the file does not parse", parsed.problems[0].position.line),)
        return MigrationFacts(name, False, parsed.problems, False, unknown, False, unknown, False, unknown, (), (), 0, (), parsed)

    effects: list[Effect] = []
    data: list[DataChange] = []
    unguarded: list[Reason] = []
    irreversible: list[Reason] = []
    dropped_if_exists: set[_EffectKey] = set()
    for index, statement in enumerate(parsed.statements):
        inner = [s for s in parsed.nested if s.parent_index == index]
        described = describe_statement(statement, index)
        for nested in inner:
            described.extend_with(describe_statement(nested, index, in_do_block=True))
        described = _guarded_by_earlier_drop(described, dropped_if_exists)
        dropped_if_exists.update(_key(e) for e in described.effects if e.action == "drop" and e.guarded)
        effects.extend(described.effects)
        data.extend(described.data)
        irreversible.extend(described.irreversible)
        if not described.idempotent:
            unguarded.append(Reason(described.unguarded_reason or f"{_label(statement)} cannot run twice", statement.position.line))
    irreversible = _without_data_undone_by_the_inverse(irreversible, effects, data)

    reasons, fails = _transaction_facts(parsed)
    return MigrationFacts(
        name=name,
        parses=parsed.parses,
        problems=parsed.problems,
        transactional=not reasons,
        not_transactional_because=tuple(reasons),
        idempotent=not unguarded and parsed.parses,
        unguarded=tuple(unguarded),
        reversible=not irreversible and parsed.parses,
        irreversible=tuple(irreversible),
        effects=tuple(effects),
        data_changes=tuple(data),
        statement_count=len(parsed.statements),
        fails_because=tuple(fails),
        parsed=parsed,
    )


_EffectKey = tuple[str, str | None, str | None, str]


def _key(effect: Effect) -> _EffectKey:
    return (effect.kind, effect.schema, effect.parent, effect.name)


def _guarded_by_earlier_drop(described: Described, dropped: set[_EffectKey]) -> Described:
    """`DROP … IF EXISTS x; CREATE x` re-runs fine: the create is guarded by the drop before it."""
    if described.idempotent or not described.effects:
        return described
    upgraded = [Effect(**{**e.__dict__, "guarded": True}) if e.action == "create" and _key(e) in dropped else e for e in described.effects]
    if all(e.guarded for e in upgraded) and all(d.guarded for d in described.data):
        return Described(upgraded, described.data, True, None, described.irreversible)
    return described


def _without_data_undone_by_the_inverse(irreversible: list[Reason], effects: list[Effect], data: list[DataChange]) -> list[Reason]:
    """Rows written only into a table or columns the same migration creates go with them."""
    created_tables = {(e.schema, e.name) for e in effects if e.action == "create" and e.kind == "table"}
    added_columns = {(e.schema, e.parent, e.name) for e in effects if e.action == "create" and e.kind == "column"}
    undone = set()
    for change in data:
        if (change.schema, change.table) in created_tables or (
            change.kind == "update" and change.columns and all((change.schema, change.table, c) in added_columns for c in change.columns)
        ):
            undone.add((change.line, f"{change.kind.upper()} on {change.table}"))
    return [r for r in irreversible if not any(r.line == line and r.message.startswith(prefix) for line, prefix in undone)]


@dataclass
class Described:
    """What one statement does: its effects and data changes, and whether it is safe to re-run."""

    effects: list[Effect] = field(default_factory=list)
    data: list[DataChange] = field(default_factory=list)
    idempotent: bool = True
    unguarded_reason: str | None = None
    irreversible: list[Reason] = field(default_factory=list)

    def extend_with(self, other: Described) -> None:
        self.effects.extend(other.effects)
        self.data.extend(other.data)
        self.irreversible.extend(other.irreversible)
        if not other.idempotent:
            self.idempotent = False
            self.unguarded_reason = other.unguarded_reason


def names_of(items: tuple[ast.Node, ...] | None) -> list[str]:
    """The strings of a qualified name as pglast holds it (`["public", "Role"]` for `"public"."Role"`)."""
    return [item.sval for item in items or () if isinstance(item, ast.String) and item.sval is not None]


def _split(names: list[str]) -> tuple[str | None, str]:
    return (names[-2] if len(names) > 1 else None), names[-1]


def _label(statement: Statement) -> str:
    first_line = statement.text.splitlines()[0] if statement.text else statement.kind
    return f"`{first_line[:80]}`"


def deparse(node: ast.Node) -> str:
    return RawStream()(node)


class _AddEffect(Protocol):
    """Records one effect of the statement `describe_statement` describes."""

    def __call__(
        self,
        action: str,
        kind: str,
        name: str | None,
        schema: str | None = None,
        parent: str | None = None,
        guarded: bool = False,
        *,
        labels: tuple[str, ...] = (),
        detail: str | None = None,
    ) -> Effect: ...


# Records why the statement cannot run twice, or cannot be reversed.
_Note = Callable[[str], None]


def describe_statement(statement: Statement, index: int, in_do_block: bool = False) -> Described:
    """The effects of one statement. Inside a DO block, its guards count as IF [NOT] EXISTS."""
    node = statement.node
    line = statement.position.line
    outer_guard = in_do_block and statement.guarded
    described = Described()

    def effect(
        action: str,
        kind: str,
        name: str | None,
        schema: str | None = None,
        parent: str | None = None,
        guarded: bool = False,
        *,
        labels: tuple[str, ...] = (),
        detail: str | None = None,
    ) -> Effect:
        made = Effect(action, kind, name or "", schema, parent, labels=labels, detail=detail, guarded=guarded or outer_guard, line=line, statement=index)
        described.effects.append(made)
        return made

    def not_idempotent(reason: str) -> None:
        if not outer_guard:
            described.idempotent = False
            described.unguarded_reason = reason

    def cannot_reverse(reason: str) -> None:
        described.irreversible.append(Reason(reason, line))

    match node:
        case ast.CreateStmt():
            relation = required(node.relation)
            effect("create", "table", relation.relname, relation.schemaname, guarded=bool(node.if_not_exists))
            if not node.if_not_exists:
                not_idempotent(f"CREATE TABLE {relation.relname} has no IF NOT EXISTS")
        case ast.CreateEnumStmt():
            schema, name = _split(names_of(node.typeName))
            effect("create", "type", name, schema, labels=tuple(names_of(node.vals)))
            not_idempotent(f"CREATE TYPE {name} fails if the type exists (guard it in a DO block)")
        case ast.CompositeTypeStmt():
            typevar = required(node.typevar)
            effect("create", "type", typevar.relname, typevar.schemaname)
            not_idempotent(f"CREATE TYPE {typevar.relname} fails if the type exists")
        case ast.CreateDomainStmt():
            schema, name = _split(names_of(node.domainname))
            effect("create", "domain", name, schema)
            not_idempotent(f"CREATE DOMAIN {name} fails if it exists")
        case ast.AlterEnumStmt():
            schema, type_name = _split(names_of(node.typeName))
            if node.oldVal:
                effect("rename", "enum_value", node.oldVal, schema, type_name, detail=node.newVal)
                not_idempotent(f"renaming enum value {node.oldVal} fails once it is renamed")
            else:
                effect("create", "enum_value", node.newVal, schema, type_name, guarded=bool(node.skipIfNewValExists))
                if not node.skipIfNewValExists:
                    not_idempotent(f"ALTER TYPE {type_name} ADD VALUE '{node.newVal}' has no IF NOT EXISTS")
                cannot_reverse(f"enum value '{node.newVal}' of {type_name} cannot be dropped once added")
        case ast.AlterTableStmt():
            _describe_alter_table(node, effect, not_idempotent, cannot_reverse)
        case ast.IndexStmt():
            relation = required(node.relation)
            effect(
                "create",
                "index",
                node.idxname,
                relation.schemaname,
                relation.relname,
                guarded=bool(node.if_not_exists),
                detail="unique" if node.unique else None,
            )
            if not node.if_not_exists:
                not_idempotent(f"CREATE INDEX {node.idxname or ''} has no IF NOT EXISTS".replace("  ", " "))
            if not node.idxname:
                cannot_reverse("the index has no name, so it cannot be dropped by name")
        case ast.DropStmt():
            _describe_drop(node, effect, not_idempotent, cannot_reverse)
        case ast.RenameStmt():
            _describe_rename(node, effect, not_idempotent)
        case ast.ViewStmt():
            view = required(node.view)
            effect("create", "view", view.relname, view.schemaname, guarded=bool(node.replace))
            if not node.replace:
                not_idempotent(f"CREATE VIEW {view.relname} has no OR REPLACE")
        case ast.CreateTableAsStmt():
            kind = "materialized_view" if node.objtype == ObjectType.OBJECT_MATVIEW else "table"
            relation = required(required(node.into).rel)
            effect("create", kind, relation.relname, relation.schemaname, guarded=bool(node.if_not_exists))
            if not node.if_not_exists:
                not_idempotent(f"CREATE {kind.replace('_', ' ').upper()} {relation.relname} has no IF NOT EXISTS")
        case ast.CreateSeqStmt():
            sequence = required(node.sequence)
            effect("create", "sequence", sequence.relname, sequence.schemaname, guarded=bool(node.if_not_exists))
            if not node.if_not_exists:
                not_idempotent(f"CREATE SEQUENCE {sequence.relname} has no IF NOT EXISTS")
        case ast.AlterSeqStmt():
            sequence = required(node.sequence)
            options = " ".join((option.defname or "").upper() for option in nodes_of(node.options, ast.DefElem))
            effect("alter", "sequence", sequence.relname, sequence.schemaname, guarded=bool(node.missing_ok), detail=options)
            cannot_reverse(f"the previous options of sequence {sequence.relname} are not in the file")
        case ast.CreateFunctionStmt():
            schema, name = _split(names_of(node.funcname))
            arguments = ", ".join(deparse(required(p.argType)) for p in nodes_of(node.parameters, ast.FunctionParameter) if p.mode not in ("o", "t"))
            kind = "procedure" if node.is_procedure else "function"
            effect("create", kind, name, schema, guarded=bool(node.replace), detail=f"({arguments})")
            if not node.replace:
                not_idempotent(f"CREATE {kind.upper()} {name} has no OR REPLACE")
        case ast.CreateTrigStmt():
            relation = required(node.relation)
            effect("create", "trigger", node.trigname, relation.schemaname, relation.relname, guarded=bool(node.replace))
            if not node.replace:
                not_idempotent(f"CREATE TRIGGER {node.trigname} has no OR REPLACE")
        case ast.CreateExtensionStmt():
            effect("create", "extension", node.extname, guarded=bool(node.if_not_exists))
            if not node.if_not_exists:
                not_idempotent(f"CREATE EXTENSION {node.extname} has no IF NOT EXISTS")
        case ast.CreateSchemaStmt():
            effect("create", "schema", node.schemaname, guarded=bool(node.if_not_exists))
            if not node.if_not_exists:
                not_idempotent(f"CREATE SCHEMA {node.schemaname} has no IF NOT EXISTS")
        case ast.CreatePolicyStmt():
            table = required(node.table)
            effect("create", "policy", node.policy_name, table.schemaname, table.relname)
            not_idempotent(f"CREATE POLICY {node.policy_name} fails if it exists")
        case ast.InsertStmt() | ast.UpdateStmt() | ast.DeleteStmt() | ast.MergeStmt():
            kind = type(node).__name__.removesuffix("Stmt").lower()
            guarded = _dml_guarded(node)
            columns = tuple(t.name for t in node.targetList or ()) if isinstance(node, ast.UpdateStmt) else ()
            relation = required(node.relation)
            described.data.append(DataChange(kind, relation.relname or "", relation.schemaname, guarded or outer_guard, line, index, columns))
            if not guarded:
                not_idempotent(f"{kind.upper()} on {relation.relname} would change rows again if re-run")
            cannot_reverse(f"{kind.upper()} on {relation.relname} changes data that SQL alone cannot restore")
        case ast.TruncateStmt():
            for relation in nodes_of(node.relations, ast.RangeVar):
                described.data.append(DataChange("truncate", relation.relname or "", relation.schemaname, True, line, index))
                cannot_reverse(f"TRUNCATE {relation.relname} deletes every row")
        case ast.CopyStmt() if node.is_from:
            described.data.append(DataChange("copy", (node.relation.relname if node.relation else None) or "", None, False, line, index))
            not_idempotent("COPY FROM loads the rows again if re-run")
            cannot_reverse("COPY FROM loads data that SQL alone cannot remove")
        case OpaqueSql():
            effect("alter", "other", "dynamic SQL", detail=node.text[:200])
            not_idempotent("SQL built at run time (EXECUTE of a built string) cannot be checked")
            cannot_reverse("SQL built at run time (EXECUTE of a built string) has no derived inverse")
        case ast.DoStmt():
            pass  # its statements are described one by one
        case (
            ast.TransactionStmt()
            | ast.VariableSetStmt()
            | ast.CommentStmt()
            | ast.GrantStmt()
            | ast.GrantRoleStmt()
            | ast.SelectStmt()
            | ast.LockStmt()
            | ast.NotifyStmt()
            | ast.ExplainStmt()
        ):
            pass  # no lasting effect on the schema, and safe to re-run
        case ast.RefreshMatViewStmt() | ast.VacuumStmt() | ast.ReindexStmt() | ast.ClusterStmt():
            pass  # maintenance: re-runnable, nothing to reverse
        case _:
            effect("alter", "other", statement.kind)
            cannot_reverse(f"{_label(statement)} has no derived inverse")
    return described


def _describe_alter_table(node: ast.AlterTableStmt, effect: _AddEffect, not_idempotent: _Note, cannot_reverse: _Note) -> None:
    relation = required(node.relation)
    table, schema = relation.relname, relation.schemaname
    for command in nodes_of(node.cmds, ast.AlterTableCmd):
        subtype = required(command.subtype)
        if subtype == AlterTableType.AT_AddColumn:
            column = required_node(command.def_, ast.ColumnDef)
            effect("create", "column", column.colname, schema, table, guarded=bool(command.missing_ok), detail=deparse(required(column.typeName)))
            if not command.missing_ok:
                not_idempotent(f"ADD COLUMN {column.colname} has no IF NOT EXISTS")
        elif subtype == AlterTableType.AT_DropColumn:
            effect("drop", "column", command.name, schema, table, guarded=bool(command.missing_ok))
            if not command.missing_ok:
                not_idempotent(f"DROP COLUMN {command.name} has no IF EXISTS")
            cannot_reverse(f"dropping column {table}.{command.name} loses its data")
        elif subtype == AlterTableType.AT_AlterColumnType:
            new_type = required(required_node(command.def_, ast.ColumnDef).typeName)
            effect("alter", "column", command.name, schema, table, detail=f"TYPE {deparse(new_type)}")
            cannot_reverse(f"changing the type of {table}.{command.name} may lose data and its old type is not in the file")
        elif subtype in (AlterTableType.AT_SetNotNull, AlterTableType.AT_DropNotNull):
            detail = "SET NOT NULL" if subtype == AlterTableType.AT_SetNotNull else "DROP NOT NULL"
            effect("alter", "column", command.name, schema, table, detail=detail)
        elif subtype == AlterTableType.AT_ColumnDefault:
            detail = f"SET DEFAULT {deparse(command.def_)}" if isinstance(command.def_, ast.Node) else "DROP DEFAULT"
            effect("alter", "column", command.name, schema, table, detail=detail)
            cannot_reverse(f"the previous default of {table}.{command.name} is not in the file")
        elif subtype == AlterTableType.AT_AddConstraint:
            constraint = required_node(command.def_, ast.Constraint)
            kind = {
                ConstrType.CONSTR_PRIMARY: "primary key",
                ConstrType.CONSTR_UNIQUE: "unique",
                ConstrType.CONSTR_FOREIGN: "foreign key",
                ConstrType.CONSTR_CHECK: "check",
                ConstrType.CONSTR_EXCLUSION: "exclusion",
            }.get(required(constraint.contype), "constraint")
            effect("create", "constraint", constraint.conname, schema, table, detail=kind)
            not_idempotent(f"ADD CONSTRAINT {constraint.conname or ''} fails if it exists (no IF NOT EXISTS in PostgreSQL)".replace("  ", " "))
            if not constraint.conname:
                cannot_reverse(f"the {kind} constraint on {table} has no name, so it cannot be dropped by name")
        elif subtype == AlterTableType.AT_DropConstraint:
            effect("drop", "constraint", command.name, schema, table, guarded=bool(command.missing_ok))
            if not command.missing_ok:
                not_idempotent(f"DROP CONSTRAINT {command.name} has no IF EXISTS")
            cannot_reverse(f"the definition of dropped constraint {command.name} is not in the file")
        elif subtype == AlterTableType.AT_ValidateConstraint:
            effect("alter", "constraint", command.name, schema, table, detail="VALIDATE")
        else:
            name = AlterTableType(subtype).name.removeprefix("AT_")
            effect("alter", "table", table, schema, detail=name)
            cannot_reverse(f"ALTER TABLE {table} {name} has no derived inverse")


_DROP_KINDS = {
    ObjectType.OBJECT_TABLE: "table",
    ObjectType.OBJECT_INDEX: "index",
    ObjectType.OBJECT_TYPE: "type",
    ObjectType.OBJECT_DOMAIN: "domain",
    ObjectType.OBJECT_VIEW: "view",
    ObjectType.OBJECT_MATVIEW: "materialized_view",
    ObjectType.OBJECT_SEQUENCE: "sequence",
    ObjectType.OBJECT_SCHEMA: "schema",
    ObjectType.OBJECT_EXTENSION: "extension",
    ObjectType.OBJECT_FUNCTION: "function",
    ObjectType.OBJECT_PROCEDURE: "procedure",
    ObjectType.OBJECT_TRIGGER: "trigger",
    ObjectType.OBJECT_POLICY: "policy",
}


def _describe_drop(node: ast.DropStmt, effect: _AddEffect, not_idempotent: _Note, cannot_reverse: _Note) -> None:
    kind = _object_kind(_DROP_KINDS, node.removeType)
    for target in node.objects or ():
        parent = None
        detail = None
        if isinstance(target, ast.ObjectWithArgs):
            names = names_of(target.objname)
            if not target.args_unspecified:
                detail = "(" + ", ".join(deparse(argument) for argument in nodes_of(target.objargs, ast.TypeName)) + ")"
        elif isinstance(target, ast.TypeName):
            names = names_of(target.names)
        elif isinstance(target, ast.String):
            names = names_of((target,))
        else:
            names = names_of(target)
        if kind in ("trigger", "policy") and len(names) >= 2:
            parent, names = names[-2], names[:-2] + names[-1:]
        schema, name = _split(names) if names else (None, "")
        effect("drop", kind, name, schema, parent, guarded=bool(node.missing_ok), detail=detail)
        if not node.missing_ok:
            not_idempotent(f"DROP {kind.upper().replace('_', ' ')} {name} has no IF EXISTS")
        cannot_reverse(f"dropping {kind.replace('_', ' ')} {name} cannot be undone from the file")


_RENAME_KINDS = {
    ObjectType.OBJECT_TABLE: "table",
    ObjectType.OBJECT_COLUMN: "column",
    ObjectType.OBJECT_INDEX: "index",
    ObjectType.OBJECT_TABCONSTRAINT: "constraint",
    ObjectType.OBJECT_TYPE: "type",
    ObjectType.OBJECT_VIEW: "view",
    ObjectType.OBJECT_MATVIEW: "materialized_view",
    ObjectType.OBJECT_SEQUENCE: "sequence",
    ObjectType.OBJECT_SCHEMA: "schema",
    ObjectType.OBJECT_FUNCTION: "function",
    ObjectType.OBJECT_PROCEDURE: "procedure",
    ObjectType.OBJECT_DOMAIN: "domain",
}


def _object_kind(kinds: dict[ObjectType, str], object_type: ObjectType | None) -> str:
    """The effect kind for a DROP or RENAME of `object_type`: from `kinds`, else PostgreSQL's name in lower case."""
    object_type = required(object_type)
    return kinds.get(object_type, object_type.name.removeprefix("OBJECT_").lower())


def _describe_rename(node: ast.RenameStmt, effect: _AddEffect, not_idempotent: _Note) -> None:
    kind = _object_kind(_RENAME_KINDS, node.renameType)
    relation = node.relation
    if kind in ("column", "constraint"):
        relation = required(relation)
        effect("rename", kind, node.subname, relation.schemaname, relation.relname, detail=node.newname)
    elif relation is not None:
        effect("rename", kind, relation.relname, relation.schemaname, detail=node.newname)
    elif node.subname:
        effect("rename", kind, node.subname, detail=node.newname)
    else:
        target = node.object
        if isinstance(target, ast.ObjectWithArgs):
            names = names_of(target.objname)
        elif isinstance(target, ast.TypeName):
            names = names_of(target.names)
        elif isinstance(target, tuple):
            names = names_of(target)
        else:
            names = names_of(getattr(target, "names", ()))
        schema, name = _split(names) if names else (None, "")
        effect("rename", kind, name, schema, detail=node.newname)
    not_idempotent(f"RENAME of {kind} fails once it is renamed")


def _column_refs(node: object) -> set[str]:
    """The (unqualified) names of the columns `node` refers to."""
    return {name for ref in iter_nodes(node) if isinstance(ref, ast.ColumnRef) for name in names_of((ref.fields or ())[-1:])}


def _dml_guarded(node: ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt | ast.MergeStmt) -> bool:
    """Whether re-running the statement changes nothing more than the first run did."""
    if isinstance(node, ast.DeleteStmt):
        return True
    if isinstance(node, ast.UpdateStmt):
        targets = {target.name for target in nodes_of(node.targetList, ast.ResTarget)}
        values = [target.val for target in nodes_of(node.targetList, ast.ResTarget)]
        if targets & _column_refs(values):
            return False  # `SET price = price * 100` compounds on every run, whatever the WHERE says
        if node.whereClause is not None and targets & _column_refs(node.whereClause):
            return True  # `WHERE mrn IS NULL` skips the rows already done
        # Values that depend neither on the row, the clock nor chance give the same rows again.
        return not _calls_volatile(values) and node.fromClause is None
    if isinstance(node, ast.InsertStmt):
        conflict = node.onConflictClause
        if conflict is not None and conflict.action == OnConflictAction.ONCONFLICT_NOTHING:
            return True
        if conflict is not None:
            # DO UPDATE is idempotent when it sets what was proposed, not when it adds to the row.
            values = [target.val for target in nodes_of(conflict.targetList, ast.ResTarget)]
            return not any(
                isinstance(ref, ast.ColumnRef) and not (ref.fields and len(ref.fields) > 1 and names_of(ref.fields[:1]) == ["excluded"])
                for ref in iter_nodes(values)
            )
        select = node.selectStmt
        return isinstance(select, ast.SelectStmt) and any(
            isinstance(sub, ast.SubLink) and _negated(select.whereClause, sub) for sub in iter_nodes(select.whereClause)
        )
    return False


_VOLATILE_FUNCTIONS = {
    "now",
    "random",
    "gen_random_uuid",
    "uuid_generate_v4",
    "nextval",
    "clock_timestamp",
    "statement_timestamp",
    "timeofday",
    "current_timestamp",
}


def _calls_volatile(node: object) -> bool:
    for found in iter_nodes(node):
        if isinstance(found, ast.FuncCall) and any(name.lower() in _VOLATILE_FUNCTIONS for name in names_of(found.funcname)[-1:]):
            return True
        if isinstance(found, ast.SQLValueFunction):
            return True
    return False


def _negated(where: ast.Node | None, sublink: ast.SubLink) -> bool:
    return any(isinstance(expr, ast.BoolExpr) and expr.boolop == 2 and sublink in (expr.args or ()) for expr in iter_nodes(where))


def iter_nodes(node: object) -> Iterator[ast.Node]:
    """Every AST node below `node` (a node, a tuple or list of them, or anything else: none), depth first."""
    if node is None:
        return
    if isinstance(node, (tuple, list)):
        for item in node:
            yield from iter_nodes(item)
        return
    if not isinstance(node, ast.Node):
        return
    yield node
    for attribute in node:
        yield from iter_nodes(getattr(node, attribute))


_OUTSIDE_TRANSACTION = {
    ast.VacuumStmt: "VACUUM cannot run inside a transaction block",
    ast.CreatedbStmt: "CREATE DATABASE cannot run inside a transaction block",
    ast.DropdbStmt: "DROP DATABASE cannot run inside a transaction block",
    ast.AlterSystemStmt: "ALTER SYSTEM cannot run inside a transaction block",
    ast.CreateTableSpaceStmt: "CREATE TABLESPACE cannot run inside a transaction block",
    ast.DropTableSpaceStmt: "DROP TABLESPACE cannot run inside a transaction block",
    ast.CreateSubscriptionStmt: "CREATE SUBSCRIPTION cannot run inside a transaction block",
}


def outside_transaction_reason(node: StatementNode) -> str | None:
    """Why a statement runs outside any transaction block, if it must."""
    if isinstance(node, ast.IndexStmt) and node.concurrent:
        return "CREATE INDEX CONCURRENTLY runs outside a transaction; a failure leaves an INVALID index"
    if isinstance(node, ast.DropStmt) and node.concurrent:
        return "DROP INDEX CONCURRENTLY cannot run inside a transaction block"
    if isinstance(node, ast.ReindexStmt) and any(p.defname == "concurrently" for p in nodes_of(node.params, ast.DefElem)):
        return "REINDEX CONCURRENTLY cannot run inside a transaction block"
    if isinstance(node, ast.AlterTableStmt):
        for command in nodes_of(node.cmds, ast.AlterTableCmd):
            partition = command.def_
            if command.subtype == AlterTableType.AT_DetachPartition and isinstance(partition, ast.PartitionCmd) and partition.concurrent:
                return "DETACH PARTITION CONCURRENTLY cannot run inside a transaction block"
    if isinstance(node, ast.VacuumStmt) and not node.is_vacuumcmd:
        return None  # ANALYZE shares the node but runs inside a transaction
    for node_type, reason in _OUTSIDE_TRANSACTION.items():
        if isinstance(node, node_type):
            return reason
    return None


_ENDS_TRANSACTION = (
    TransactionStmtKind.TRANS_STMT_COMMIT,
    TransactionStmtKind.TRANS_STMT_ROLLBACK,
    TransactionStmtKind.TRANS_STMT_PREPARE,
    TransactionStmtKind.TRANS_STMT_COMMIT_PREPARED,
)
_STARTS_TRANSACTION = (TransactionStmtKind.TRANS_STMT_BEGIN, TransactionStmtKind.TRANS_STMT_START)


def _transaction_facts(parsed: ParsedMigration) -> tuple[list[Reason], list[Reason]]:
    """(why a failure could leave effects behind, why the file fails whatever the data).

    PostgreSQL runs a multi-statement simple query as one implicit transaction; a BEGIN in it
    takes the statements before it along, and only a COMMIT (or ROLLBACK) followed by more
    statements splits the file. Statements that refuse transaction blocks fail with 25001 in a
    multi-statement file, and run outside any transaction when they are the file's only statement.
    """
    not_transactional: list[Reason] = []
    fails: list[Reason] = []
    statements = parsed.statements
    open_transaction: Statement | None = None
    for position, statement in enumerate(statements):
        node = statement.node
        if isinstance(node, ast.TransactionStmt):
            if node.kind in _STARTS_TRANSACTION:
                open_transaction = statement
            elif node.kind in _ENDS_TRANSACTION:
                open_transaction = None
                if position + 1 < len(statements):
                    keyword = statement.text.split()[0].upper() if statement.text else "COMMIT"
                    not_transactional.append(
                        Reason(f"explicit transaction control: {keyword} commits the statements before it on their own", statement.position.line)
                    )
        reason = outside_transaction_reason(node)
        if reason:
            if len(statements) == 1:
                not_transactional.append(Reason(reason, statement.position.line))
            else:
                keyword = " ".join(statement.text.split()[:4])
                fails.append(Reason(f"{keyword} cannot run in the transaction of a multi-statement file (25001)", statement.position.line))
    if open_transaction is not None:
        leaves_open = "BEGIN without COMMIT leaves the transaction open; deploy-gate rolls it back and records a failure"
        fails.append(Reason(leaves_open, open_transaction.position.line))
    fails.extend(_enum_values_used_early(parsed))
    return not_transactional, fails


def _enum_values_used_early(parsed: ParsedMigration) -> list[Reason]:
    """ALTER TYPE … ADD VALUE whose label a later statement of the same transaction uses (55P04)."""
    reasons = []
    statements = parsed.all_statements
    for position, statement in enumerate(statements):
        node = statement.node
        if not (isinstance(node, ast.AlterEnumStmt) and node.newVal and not node.oldVal):
            continue
        for later in statements[position + 1 :]:
            if isinstance(later.node, ast.TransactionStmt) and later.node.kind == TransactionStmtKind.TRANS_STMT_COMMIT:
                break
            # Only a string literal uses the label; a column that happens to share its name does not.
            literals = (n.val for n in iter_nodes(later.node) if isinstance(n, ast.A_Const) and isinstance(n.val, ast.String))
            if not isinstance(later.node, ast.AlterEnumStmt) and any(literal.sval == node.newVal for literal in literals):
                reasons.append(
                    Reason(
                        f"enum value '{node.newVal}' is added and used in the same transaction (line {later.position.line}), which PostgreSQL refuses (55P04)",
                        statement.position.line,
                    )
                )
                break
    return reasons
