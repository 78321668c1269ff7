"""DROP without IF EXISTS fails when the migration runs a second time.

Problem:
    A retried migration meets the object its first run already dropped and fails with 42P01,
    42704 or 42703 (does not exist), so a failed deploy cannot simply be run again. This covers
    `DROP TABLE`, `DROP INDEX`, `DROP TYPE` and every other DROP statement, and `ALTER TABLE …
    DROP COLUMN` and `DROP CONSTRAINT`.

Solution:
    Write `DROP … IF EXISTS`: `DROP INDEX IF EXISTS "i"`, `ALTER TABLE "T" DROP COLUMN IF EXISTS
    "c"`, `ALTER TABLE "T" DROP CONSTRAINT IF EXISTS "k"`.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import AlterTableType, ObjectType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.guards import (
    INVALID_SCHEMA_NAME,
    UNDEFINED_COLUMN,
    UNDEFINED_FUNCTION,
    UNDEFINED_OBJECT,
    UNDEFINED_TABLE,
    Condition,
    guarded_against,
    missed_by_handlers,
)
from service.analysis.lint.nodes import altered_table, dropped_names, quoted, relation_name
from service.analysis.lint.registry import rule
from service.analysis.parsing import required

# The effect kinds facts.statements gives created objects, for the object types a DROP names.
_EFFECT_KINDS = {
    ObjectType.OBJECT_TABLE: "table",
    ObjectType.OBJECT_INDEX: "index",
    ObjectType.OBJECT_TYPE: "type",
    ObjectType.OBJECT_DOMAIN: "domain",
    ObjectType.OBJECT_VIEW: "view",
    ObjectType.OBJECT_MATVIEW: "materialized_view",
    ObjectType.OBJECT_SEQUENCE: "sequence",
}

# Objects named with their table: DROP TRIGGER "t" ON "T".
_ON_TABLE = {ObjectType.OBJECT_TRIGGER, ObjectType.OBJECT_POLICY, ObjectType.OBJECT_RULE}

# What dropping an object that is already gone raises, by kind; any other kind raises 42704.
_MISSING = {
    ObjectType.OBJECT_TABLE: (UNDEFINED_TABLE,),
    ObjectType.OBJECT_VIEW: (UNDEFINED_TABLE,),
    ObjectType.OBJECT_MATVIEW: (UNDEFINED_TABLE,),
    ObjectType.OBJECT_SEQUENCE: (UNDEFINED_TABLE,),
    ObjectType.OBJECT_FOREIGN_TABLE: (UNDEFINED_TABLE,),
    ObjectType.OBJECT_FUNCTION: (UNDEFINED_FUNCTION,),
    ObjectType.OBJECT_PROCEDURE: (UNDEFINED_FUNCTION,),
    ObjectType.OBJECT_ROUTINE: (UNDEFINED_FUNCTION,),
    ObjectType.OBJECT_AGGREGATE: (UNDEFINED_FUNCTION,),
    ObjectType.OBJECT_SCHEMA: (INVALID_SCHEMA_NAME,),
    ObjectType.OBJECT_TRIGGER: (UNDEFINED_OBJECT, UNDEFINED_TABLE),
    ObjectType.OBJECT_POLICY: (UNDEFINED_OBJECT, UNDEFINED_TABLE),
    ObjectType.OBJECT_RULE: (UNDEFINED_OBJECT, UNDEFINED_TABLE),
}


@rule(
    "drop-without-if-exists",
    severity="warning",
    family="idempotency",
    help="Write DROP … IF EXISTS so a retried migration does not fail on what is already gone.",
)
def drop_without_if_exists(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.DropStmt):
        if not node.missing_ok:
            remove_type = required(node.removeType)
            errors = _MISSING.get(remove_type, (UNDEFINED_OBJECT,))
            if guarded_against(statement, *errors):
                continue
            kind = remove_type.name.removeprefix("OBJECT_").replace("_", " ")
            for name in dropped_names(node):
                if context.created_earlier(_EFFECT_KINDS.get(remove_type, ""), name[-1], statement):
                    continue
                label = f"{quoted(name[-1])} on {quoted(*name[:-1])}" if remove_type in _ON_TABLE else quoted(*name)
                yield Violation(f"DROP {kind} {label} fails if it does not exist{missed_by_handlers(statement, *errors)}", statement)
    for statement, command in context.alter_commands(AlterTableType.AT_DropColumn, AlterTableType.AT_DropConstraint):
        is_column = command.subtype == AlterTableType.AT_DropColumn
        error: Condition = UNDEFINED_COLUMN if is_column else UNDEFINED_OBJECT
        if command.missing_ok or guarded_against(statement, error):
            continue
        what = "COLUMN" if is_column else "CONSTRAINT"
        yield Violation(
            f"DROP {what} {quoted(command.name)} of {relation_name(altered_table(statement))} fails if it does not exist{missed_by_handlers(statement, error)}",
            statement,
            help=f"Write DROP {what} IF EXISTS so a retried migration does not fail on what is already gone.",
        )
