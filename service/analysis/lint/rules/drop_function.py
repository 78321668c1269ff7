"""DROP FUNCTION or DROP PROCEDURE removes a routine the running application may still call.

Problem:
    The application version still running during the deploy fails with 42883 (function does not
    exist) on every call: raw queries (`$queryRaw`), and column defaults Prisma reads as
    `dbgenerated("…")`. Without CASCADE the drop fails (2BP01) while a trigger, default or view
    uses the function; with CASCADE those go too, silently: a default that was dropped leaves
    the running application's inserts with NULL.

Solution:
    Expand and contract: release code that no longer calls the function, then drop it in a later
    migration, without CASCADE. To change a function's body, use `CREATE OR REPLACE FUNCTION`
    with the same arguments; to change its arguments, create the new signature beside the old
    one and drop the old one once nothing calls it. Functions created earlier in the same
    migration, and a drop followed later in the file by a `CREATE FUNCTION` of the same name and
    arguments (without CASCADE), are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import DropBehavior, ObjectType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import quoted
from service.analysis.lint.registry import rule
from service.analysis.parsing import deparse, names_of, nodes_of

_KINDS = {ObjectType.OBJECT_FUNCTION: "function", ObjectType.OBJECT_PROCEDURE: "procedure"}


@rule(
    "drop-function",
    severity="warning",
    family="backward-compatibility",
    help="Release code that no longer calls the function first, then drop it (without CASCADE) in a later migration.",
)
def drop_function(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.DropStmt):
        kind = _KINDS.get(node.removeType) if node.removeType is not None else None
        if kind is None:
            continue
        cascade = node.behavior == DropBehavior.DROP_CASCADE
        for target in nodes_of(node.objects, ast.ObjectWithArgs):
            names = names_of(target.objname)
            if not names:
                continue
            schema, name = (names[-2] if len(names) > 1 else None), names[-1]
            arguments = None if target.args_unspecified else "(" + ", ".join(deparse(a) for a in nodes_of(target.objargs, ast.TypeName)) + ")"
            if context.created_earlier(kind, name, statement, schema=schema):
                continue
            if not cascade and context.comes_back_later((kind,), name, statement, schema, detail=arguments):
                continue
            also = ", and CASCADE drops the triggers, defaults and views that use it" if cascade else ""
            label = f"{quoted(*names)}{arguments or ''}"
            yield Violation(f"DROP {kind.upper()} {label} breaks the running application's calls to it (42883){also}", statement)
