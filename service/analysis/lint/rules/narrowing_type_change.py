"""ALTER COLUMN … TYPE to a type that holds less than the old one breaks the running application's writes.

Problem:
    The previous release, still running during the deploy, writes whatever the old type took.
    Once the column is `varchar(50)` instead of `varchar(100)` or `text`, `integer` instead of
    `bigint`, `numeric(10,2)` instead of `numeric(12,2)`, or a number instead of text, its writes
    of longer strings fail with 22001, of larger numbers with 22003, of text that is no number
    with 22P02; fractions are rounded away without an error. The rows already stored must fit
    too, or the migration fails with the same errors.

    A migration file does not say what a column's type was. Prisma's warning comment does (it
    writes "The data in that column will be cast from `Text` to `VarChar(2000)`" above a risky
    change when the development database holds values in it), and this rule reads it; a change
    whose old type the file does not state is left to `column-type-change`, which reports every
    type change of an existing table.

Solution:
    Expand and contract: release code that writes only what the new type takes (validate the
    length or range in the application), fix the rows that do not fit, then change the type in
    a later migration. A `CHECK (char_length("c") <= 50) NOT VALID` constraint, validated later,
    limits new writes without a rewrite and can be dropped as easily.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from pglast import ast
from pglast.enums import AlterTableType

from service.analysis.lint.context import LintContext
from service.analysis.lint.findings import Violation
from service.analysis.lint.nodes import altered_table, quoted, relation_name, type_name
from service.analysis.lint.registry import rule
from service.analysis.parsing import deparse, nodes_of, required, required_node


class DeclaredType(NamedTuple):
    """A column type as PostgreSQL names it internally (`varchar`, `int4`, `numeric`), with its modifiers."""

    name: str
    modifiers: tuple[int, ...] = ()
    array: bool = False

    @property
    def length(self) -> int | None:
        """The most characters a string type holds; None when it has no limit."""
        if self.name == "bpchar":
            return self.modifiers[0] if self.modifiers else 1
        return self.modifiers[0] if self.name == "varchar" and self.modifiers else None


STRINGS = frozenset({"text", "varchar", "bpchar", "citext"})
INTEGER_BYTES = {"int2": 2, "int4": 4, "int8": 8}
INTEGER_DIGITS = {"int2": 5, "int4": 10, "int8": 19}
FRACTIONAL = frozenset({"numeric", "float4", "float8", "money"})

# Prisma's native type names, as its warnings write them, to PostgreSQL's.
PRISMA_NAMES = {
    "char": "bpchar",
    "integer": "int4",
    "int": "int4",
    "smallint": "int2",
    "bigint": "int8",
    "decimal": "numeric",
    "real": "float4",
    "doubleprecision": "float8",
    "boolean": "bool",
}

# Prisma's warning above a risky type change (schema-engine's RiskyCast), with or without the count of values.
PRISMA_CAST_WARNING = re.compile(r"alter the column `(?P<column>[^`]+)` on the `(?P<table>[^`]+)` table[^`]*?cast from `(?P<old>[^`]+)` to `(?P<new>[^`]+)`")
PRISMA_TYPE = re.compile(r"(?P<name>\w+)(?:\((?P<modifiers>\d+(?:\s*,\s*\d+)*)\))?(?P<array>\[\])?")


@rule(
    "narrowing-type-change",
    severity="warning",
    family="backward-compatibility",
    help="Release code that writes only what the new type takes and fix the rows first; narrow the type in a later migration.",
)
def narrowing_type_change(context: LintContext) -> Iterator[Violation]:
    stated = _old_types_stated(context.script)
    if not stated:
        return
    for statement, command in context.alter_commands(AlterTableType.AT_AlterColumnType):
        table = altered_table(statement)
        old = stated.get((table.relname or "", command.name or ""))
        if old is None or context.is_new_table(table, statement):
            continue
        old_text, old_type, written_new = old
        new_node = required(required_node(command.def_, ast.ColumnDef).typeName)
        new_type = declared(new_node)
        if written_new != new_type:
            continue  # the warning is about another change than this statement makes
        shown = deparse(new_node)
        reason = narrowing(old_type, new_type, shown)
        if reason:
            yield Violation(f"{relation_name(table)}.{quoted(command.name)} narrows from {old_text} to {shown}: {reason}", statement)


def _old_types_stated(script: str) -> dict[tuple[str, str], tuple[str, DeclaredType, DeclaredType]]:
    """(table, column) → (old type as written, old type, new type) as Prisma's warnings in the file state them."""
    stated = {}
    if "cast from" in script:
        for match in PRISMA_CAST_WARNING.finditer(script):
            old, new = prisma_type(match["old"]), prisma_type(match["new"])
            if old is not None and new is not None:
                stated[(match["table"], match["column"])] = (match["old"], old, new)
    return stated


def prisma_type(text: str) -> DeclaredType | None:
    match = PRISMA_TYPE.fullmatch(text.strip())
    if match is None:
        return None
    name = match["name"].lower()
    modifiers = tuple(int(part) for part in match["modifiers"].split(",")) if match["modifiers"] else ()
    return DeclaredType(PRISMA_NAMES.get(name, name), modifiers, bool(match["array"]))


def declared(type_node: ast.TypeName) -> DeclaredType:
    modifiers = tuple(
        constant.val.ival for constant in nodes_of(type_node.typmods, ast.A_Const) if isinstance(constant.val, ast.Integer) and constant.val.ival is not None
    )
    return DeclaredType(type_name(type_node), modifiers, bool(type_node.arrayBounds))


def narrowing(old: DeclaredType, new: DeclaredType, shown: str) -> str | None:
    """What the running application's writes meet when a column of type `old` becomes `new` (`shown`
    as the migration writes it); None if nothing."""
    if old == new or old.array != new.array:
        return None
    if new.name in STRINGS:
        limit = new.length
        if limit is None:
            return None
        if old.name in STRINGS and old.length is not None and old.length <= limit:
            return None
        return f"values longer than {limit} characters fail (22001)"
    if old.name in STRINGS:
        return f"text that does not read as {shown} fails (22P02)"
    if new.name in INTEGER_BYTES:
        if old.name in INTEGER_BYTES:
            return f"numbers beyond {shown}'s range fail (22003)" if INTEGER_BYTES[new.name] < INTEGER_BYTES[old.name] else None
        if old.name in FRACTIONAL:
            return f"fractions are rounded away, and numbers beyond {shown}'s range fail (22003)"
        return None
    if new.name == "numeric" and new.modifiers:
        precision, scale = new.modifiers[0], (new.modifiers[1] if len(new.modifiers) > 1 else 0)
        if old.name in INTEGER_DIGITS:
            return f"numbers of more than {precision - scale} digits fail (22003)" if INTEGER_DIGITS[old.name] > precision - scale else None
        if old.name == "numeric" and old.modifiers:
            old_scale = old.modifiers[1] if len(old.modifiers) > 1 else 0
            reasons = []
            if precision - scale < old.modifiers[0] - old_scale:
                reasons.append(f"numbers of more than {precision - scale} digits before the point fail (22003)")
            if scale < old_scale:
                reasons.append(f"digits after the {scale}th decimal are rounded away")
            return "; ".join(reasons) or None
        if old.name in FRACTIONAL:
            return f"numbers of more than {precision - scale} digits before the point fail (22003), and more decimals than {scale} are rounded away"
        return None
    if new.name == "float4" and old.name in ("float8", "numeric", "int8"):
        return "digits beyond real's 6 significant ones are lost, and larger numbers fail (22003)"
    return None
