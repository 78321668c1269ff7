"""ALTER FUNCTION … RENAME TO breaks the application version still running during the deploy.

Problem:
    The moment the migration commits, every call of the old name from the running application
    fails with 42883 (function does not exist): raw queries (`$queryRaw`) and anything else that
    calls it by name. Triggers and column defaults keep working, since they hold the function
    itself rather than its name.

Solution:
    Expand and contract: create the function under its new name beside the old one (or make the
    old one call the new), release code that calls the new name, then drop the old one in a later
    migration. Functions created earlier in the same migration, and a rename whose old name is
    taken again later in the file, are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import ObjectType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import quoted
from service.analysis.lint.registry import rule
from service.analysis.parsing import names_of

_KINDS = {ObjectType.OBJECT_FUNCTION: "function", ObjectType.OBJECT_PROCEDURE: "procedure"}


@rule(
    "rename-function",
    severity="warning",
    family="backward-compatibility",
    help="Create the new name beside the old one, move callers over, and drop the old name in a later migration.",
)
def rename_function(context: LintContext) -> Iterator[Violation]:
    for statement, node in context.of_type(ast.RenameStmt):
        kind = _KINDS.get(node.renameType) if node.renameType is not None else None
        if kind is None or not isinstance(node.object, ast.ObjectWithArgs):
            continue
        names = names_of(node.object.objname)
        if not names:
            continue
        schema, name = (names[-2] if len(names) > 1 else None), names[-1]
        if context.created_earlier(kind, name, statement, schema=schema) or context.comes_back_later((kind,), name, statement, schema):
            continue
        yield Violation(
            f"renaming {kind} {quoted(*names)} to {quoted(node.newname)} breaks the running application's calls to it (42883)",
            statement,
        )
