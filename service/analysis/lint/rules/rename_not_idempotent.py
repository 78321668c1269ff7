"""RENAME fails when the migration runs a second time.

Problem:
    `ALTER TABLE … RENAME`, `RENAME COLUMN`, `RENAME CONSTRAINT`, `ALTER INDEX … RENAME` and
    `ALTER TYPE … RENAME VALUE` have no IF EXISTS for the old name. A retried migration finds the
    old name gone and fails with 42P01, 42703 or 22023, so a failed deploy cannot simply be run again.

Solution:
    Rename inside a DO block that checks the catalog for the old name:

        DO $$ BEGIN
          IF EXISTS (SELECT 1 FROM information_schema.columns
                     WHERE table_name = 'User' AND column_name = 'name') THEN
            ALTER TABLE "User" RENAME COLUMN "name" TO "fullName";
          END IF;
        END $$;
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import ObjectType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.guards import (
    INVALID_PARAMETER_VALUE,
    UNDEFINED_COLUMN,
    UNDEFINED_OBJECT,
    UNDEFINED_TABLE,
    guarded_against,
    missed_by_handlers,
)
from service.analysis.lint.nodes import quoted, relation_name
from service.analysis.lint.registry import rule
from service.analysis.parsing import names_of, required

# What renaming something whose old name is gone raises, for the kinds that differ from the rest.
_MISSING = {ObjectType.OBJECT_COLUMN: UNDEFINED_COLUMN, ObjectType.OBJECT_TABCONSTRAINT: UNDEFINED_OBJECT}


@rule(
    "rename-not-idempotent",
    severity="warning",
    family="idempotency",
    help="Rename inside a DO block that checks the catalog for the old name first.",
)
def rename_not_idempotent(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.RenameStmt, ast.AlterEnumStmt):
        if isinstance(node, ast.AlterEnumStmt):
            if node.oldVal and not guarded_against(statement, INVALID_PARAMETER_VALUE):
                type_name = quoted(*names_of(node.typeName))
                yield Violation(
                    f"RENAME VALUE '{node.oldVal}' of {type_name} fails once it is renamed{missed_by_handlers(statement, INVALID_PARAMETER_VALUE)}",
                    statement,
                )
            continue
        if node.missing_ok and node.relation is not None and not node.subname:
            # ALTER TABLE / INDEX IF EXISTS … RENAME TO skips quietly once the old name is gone.
            continue
        rename_type = required(node.renameType)
        error = _MISSING.get(rename_type, UNDEFINED_TABLE if node.relation is not None and not node.subname else UNDEFINED_OBJECT)
        if guarded_against(statement, error):
            continue
        kind = rename_type.name.removeprefix("OBJECT_").replace("_", " ").replace("TABCONSTRAINT", "CONSTRAINT")
        if node.relation is not None and node.subname:
            old = f"{quoted(node.subname)} of {relation_name(node.relation)}"
        elif node.relation is not None:
            old = relation_name(node.relation)
        else:
            old = quoted(node.subname) if node.subname else "it"
        yield Violation(f"RENAME {kind} {old} to {quoted(node.newname)} fails once it is renamed{missed_by_handlers(statement, error)}", statement)
