"""What one statement does: the objects it creates, drops, alters or renames, the rows it changes,
and whether it can run twice or be reversed."""

from __future__ import annotations

from dataclasses import dataclass, field

from pglast import ast
from pglast.enums import AlterTableType, ConstrType, ObjectType

from service.analysis.facts.dml_idempotence import dml_guarded
from service.analysis.facts.records import DataChange, Effect, Reason
from service.analysis.parsing import OpaqueSql, Statement, deparse, names_of, nodes_of, required, required_node


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


def _split(names: list[str]) -> tuple[str | None, str]:
    return (names[-2] if len(names) > 1 else None), names[-1]


def label(statement: Statement) -> str:
    first_line = statement.text.splitlines()[0] if statement.text else statement.kind
    return f"`{first_line[:80]}`"


@dataclass
class _Describing:
    """What `describe_statement` learns of one statement, recorded as it reads the statement."""

    described: Described
    line: int
    index: int
    outer_guard: bool  # inside a DO block whose guard makes the statement idempotent

    def effect(
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
    ) -> Effect:
        made = Effect(
            action, kind, name or "", schema, parent, labels=labels, detail=detail, guarded=guarded or self.outer_guard, line=self.line, statement=self.index
        )
        self.described.effects.append(made)
        return made

    def not_idempotent(self, reason: str) -> None:
        """Why the statement cannot run twice."""
        if not self.outer_guard:
            self.described.idempotent = False
            self.described.unguarded_reason = reason

    def cannot_reverse(self, reason: str) -> None:
        self.described.irreversible.append(Reason(reason, self.line))


def describe_statement(statement: Statement, index: int, in_do_block: bool = False) -> Described:
    """The effects of one statement. Inside a DO block, its guards count as IF [NOT] EXISTS."""
    node = statement.node
    line = statement.position.line
    record = _Describing(Described(), line, index, in_do_block and statement.guarded)
    described = record.described
    effect, not_idempotent, cannot_reverse = record.effect, record.not_idempotent, record.cannot_reverse

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
            _describe_alter_table(node, record)
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
            _describe_drop(node, record)
        case ast.RenameStmt():
            _describe_rename(node, record)
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
            guarded = dml_guarded(node)
            columns = tuple(t.name for t in node.targetList or ()) if isinstance(node, ast.UpdateStmt) else ()
            relation = required(node.relation)
            described.data.append(DataChange(kind, relation.relname or "", relation.schemaname, guarded or record.outer_guard, line, index, columns))
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
            cannot_reverse(f"{label(statement)} has no derived inverse")
    return described


def _describe_alter_table(node: ast.AlterTableStmt, record: _Describing) -> None:
    effect, not_idempotent, cannot_reverse = record.effect, record.not_idempotent, record.cannot_reverse
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


def _describe_drop(node: ast.DropStmt, record: _Describing) -> None:
    effect, not_idempotent, cannot_reverse = record.effect, record.not_idempotent, record.cannot_reverse
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


def _describe_rename(node: ast.RenameStmt, record: _Describing) -> None:
    effect, not_idempotent = record.effect, record.not_idempotent
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
