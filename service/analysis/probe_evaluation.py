"""One expectation checked against the live catalog: met, not met, or the catalog cannot tell.

A created object is compared with the statement that creates it as far as its SQL states its shape
(`parsed_shapes`): an object of the name but another shape is a finding of another shape. An index
left INVALID by a failed `CREATE INDEX CONCURRENTLY` (or a half-done `DROP INDEX CONCURRENTLY`) is
never met: the finding says it is invalid, because a retry fails on its name until it is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pglast import ast, parse_sql
from pglast.parser import ParseError

from service.analysis.parsed_shapes import constraint_matches, index_matches, routine_body_matches, sequence_differences
from service.analysis.parsing import deparse
from service.analysis.probe_catalog import Catalog, Column
from service.analysis.probe_expectations import RELKINDS, ROUTINE_KINDS, Expectation, Ref

_RELKIND_NAMES = {
    "r": "table",
    "p": "partitioned table",
    "f": "foreign table",
    "v": "view",
    "m": "materialized view",
    "S": "sequence",
    "i": "index",
    "I": "partitioned index",
    "c": "composite type",
}


@dataclass(frozen=True)
class Finding:
    met: bool | None
    note: str = ""
    invalid: bool = False
    other_shape: bool = False


def evaluate(catalog: Catalog, expectation: Expectation) -> Finding:
    """The expectation checked where the whole migration puts the object, else where it was before
    a later rename that may not have run."""
    finding = _evaluate_at(catalog, expectation)
    if finding.met:
        return finding
    for earlier in reversed(expectation.earlier_refs):
        before_rename = _evaluate_at(catalog, replace(expectation, ref=earlier))
        if before_rename.met:
            return Finding(True, f"checked as {earlier.describe()}: a later rename in this migration has not run")
        if finding.met is None and before_rename.met is False:
            finding = before_rename
    return finding


def _evaluate_at(catalog: Catalog, expectation: Expectation) -> Finding:
    ref = expectation.ref
    if ref.kind == "index":
        return _evaluate_index(catalog, expectation)
    if ref.kind in RELKINDS:
        return _evaluate_relation(catalog, expectation)
    if ref.kind == "column":
        return _evaluate_column(catalog, expectation)
    if ref.kind in ("constraint", "trigger", "policy"):
        return _evaluate_table_child(catalog, expectation)
    if ref.kind in ("type", "domain"):
        return _evaluate_type(catalog, expectation)
    if ref.kind == "enum_value":
        return _evaluate_enum_value(catalog, expectation)
    if ref.kind in ROUTINE_KINDS:
        return _evaluate_routine(catalog, expectation)
    exists = catalog.extension_exists(ref.name) if ref.kind == "extension" else catalog.schema_exists(ref.name)
    return _existence(expectation, exists)


def _existence(expectation: Expectation, exists: bool, note: str = "") -> Finding:
    if exists == expectation.exists:
        return Finding(True)
    where = "exists" if exists else "does not exist"
    return Finding(False, note or f"{expectation.ref.describe()} {where}")


def _evaluate_relation(catalog: Catalog, expectation: Expectation) -> Finding:
    ref = expectation.ref
    relkind = catalog.relkind(ref.schema, ref.name)
    if relkind is not None and relkind not in RELKINDS[ref.kind]:
        other = f"{ref.schema}.{ref.name} is a {_RELKIND_NAMES.get(relkind, relkind)}, not a {ref.kind.replace('_', ' ')}"
        return Finding(not expectation.exists, other)
    if relkind == "S" and expectation.exists and expectation.attribute is None:
        differences = sequence_differences(expectation.node, catalog.sequence(ref.schema, ref.name))
        if differences:
            return Finding(False, f"{ref.describe()} exists but is not the sequence the migration creates: {'; '.join(differences)}", other_shape=True)
    if expectation.attribute is not None and relkind is not None:
        security = catalog.row_security(ref.schema, ref.name)
        actual = security[0] if expectation.attribute == "row_security" else security[1]
        if actual == expectation.value:
            return Finding(True)
        return Finding(False, f"{expectation.attribute.replace('_', ' ')} of {ref.describe()} is {'on' if actual else 'off'}")
    return _existence(expectation, relkind is not None)


def _evaluate_index(catalog: Catalog, expectation: Expectation) -> Finding:
    ref = expectation.ref
    index = catalog.index(ref.schema, ref.name)
    if index is None:
        return _existence(expectation, False)
    usable, table, definition = index
    if not expectation.exists:
        if not usable:
            # A DROP INDEX CONCURRENTLY that failed half way: the index stays, INVALID.
            return Finding(False, f"{ref.describe()} exists (INVALID: a concurrent drop stopped half way); dropping it finishes the drop", invalid=True)
        return Finding(False, f"{ref.describe()} exists")
    if ref.parent is not None and table != ref.parent:
        return Finding(False, f"{ref.describe()} exists on table {table}, not on {ref.parent}", other_shape=True)
    matches = index_matches(expectation.node, definition)
    if matches is False:
        return Finding(False, f"{ref.describe()} exists but is not the index the migration creates: {definition}", other_shape=True)
    if not usable:
        return Finding(
            False,
            f"{ref.describe()} is INVALID or not ready (left by a failed CREATE INDEX CONCURRENTLY); drop it before the migration can be retried",
            invalid=True,
        )
    if matches is None:
        return Finding(True, f"{ref.describe()} compared by name and table only (expressions, a predicate or operator classes): {definition}")
    return Finding(True)


def _missing_table(catalog: Catalog, expectation: Expectation) -> Finding | None:
    """The finding when a table child's table is gone; None when the table exists."""
    ref = expectation.ref
    if catalog.relkind(ref.schema, ref.parent) is not None:
        return None
    missing = f"table {ref.schema}.{ref.parent} does not exist"
    if expectation.exists and expectation.attribute is None:
        return Finding(False, missing)
    return Finding(None, f"{missing}, so {ref.describe()} cannot be checked")


def _evaluate_column(catalog: Catalog, expectation: Expectation) -> Finding:
    ref = expectation.ref
    column = catalog.column(ref.schema, ref.parent, ref.name)
    if column is None:
        if expectation.shape:
            return Finding(None)  # whether the column exists is its own expectation
        missing = _missing_table(catalog, expectation)
        if missing is not None:
            return missing
        if expectation.attribute is not None:
            return Finding(None, f"{ref.describe()} does not exist, so its {expectation.attribute.replace('_', ' ')} cannot be checked")
        return _existence(expectation, False)
    if not expectation.exists:
        return _existence(expectation, True)
    if expectation.attribute == "not_null":
        nullability = f"{ref.describe()} is {'NOT NULL' if column.not_null else 'nullable'}"
        finding = Finding(column.not_null == expectation.value, "" if column.not_null == expectation.value else nullability)
    elif expectation.attribute == "type":
        finding = _compare_column_type(catalog, ref, column, str(expectation.value))
    elif expectation.attribute == "default":
        finding = _compare_default(ref, column.default, expectation.value)
    else:
        return Finding(True)
    if not expectation.shape or finding.met:
        return finding
    if finding.met is None:
        return Finding(True, f"{finding.note} (compared as far as the SQL allows)")
    return Finding(False, f"{finding.note}, so it is not the column the migration adds", other_shape=True)


def _compare_column_type(catalog: Catalog, ref: Ref, column: Column, wanted: str) -> Finding:
    resolved = catalog.resolve_type(_parse_type_name(wanted))
    if resolved is None:
        return Finding(None, f"cannot resolve type {wanted} to compare it with {ref.describe()} ({column.type})")
    type_oid, typmod = resolved
    if (type_oid, typmod) == (column.type_oid, column.typmod):
        return Finding(True)
    return Finding(False, f"{ref.describe()} has type {column.type}, not {wanted}")


def _compare_default(ref: Ref, actual: str | None, wanted: object) -> Finding:
    if wanted is None:
        return Finding(actual is None, f"{ref.describe()} still has default {actual}" if actual is not None else "")
    if actual is None:
        return Finding(False, f"{ref.describe()} has no default")
    if _normalized_default(actual) == _normalized_default(str(wanted)):
        return Finding(True)
    return Finding(None, f"{ref.describe()} has default {actual}; cannot tell whether that is {wanted}")


def _normalized_default(expression: str) -> str:
    """A default as SQL text, without the cast PostgreSQL adds to coerce a constant to the column's type."""
    node = _selected_expression(expression)
    if node is None:
        return expression
    if isinstance(node, ast.TypeCast) and isinstance(node.arg, ast.A_Const):
        node = node.arg
    return deparse(node)


def _evaluate_table_child(catalog: Catalog, expectation: Expectation) -> Finding:
    ref = expectation.ref
    found = catalog.table_child(ref.kind, ref.schema, ref.parent, ref.name)
    if found is None:
        missing = _missing_table(catalog, expectation)
        if missing is not None:
            return missing
        if expectation.attribute is not None:
            return Finding(None, f"{ref.describe()} does not exist, so whether it is validated cannot be checked")
        return _existence(expectation, False)
    if expectation.attribute == "validated":
        return Finding(True) if found.validated else Finding(False, f"{ref.describe()} is NOT VALID")
    if expectation.exists and ref.kind == "constraint":
        matches = constraint_matches(expectation.node, ref.name, found.definition)
        if matches is False:
            return Finding(False, f"{ref.describe()} exists but is not the constraint the migration adds: {found.definition}", other_shape=True)
        if matches is None:
            return Finding(True, f"{ref.describe()} compared by name only: {found.definition}")
    return _existence(expectation, True)


def _evaluate_type(catalog: Catalog, expectation: Expectation) -> Finding:
    ref = expectation.ref
    found = catalog.type(ref.schema, ref.name)
    exists = found is not None and (ref.kind != "domain" or found.typtype == "d")
    if found is None or not exists or not expectation.exists:
        return _existence(expectation, exists)
    if expectation.labels:
        if found.typtype != "e":
            return Finding(False, f"{ref.describe()} exists but is not an enum")
        missing = [label for label in expectation.labels if label not in found.labels]
        if missing:
            return Finding(False, f"{ref.describe()} lacks labels {', '.join(missing)}", other_shape=True)
        # Labels added later may sit among them, but those the migration creates keep its order.
        if [label for label in found.labels if label in expectation.labels] != list(expectation.labels):
            return Finding(False, f"{ref.describe()} has its labels in another order: {', '.join(found.labels)}", other_shape=True)
    return Finding(True)


def _evaluate_enum_value(catalog: Catalog, expectation: Expectation) -> Finding:
    ref = expectation.ref
    found = catalog.type(ref.schema, ref.parent)
    if found is None or found.typtype != "e":
        type_missing = f"enum type {ref.schema}.{ref.parent} does not exist"
        return Finding(False, type_missing) if expectation.exists else Finding(None, f"{type_missing}, so {ref.describe()} cannot be checked")
    return _existence(expectation, ref.name in found.labels)


def _evaluate_routine(catalog: Catalog, expectation: Expectation) -> Finding:
    ref = expectation.ref
    overloads = catalog.routines(ref.schema, ref.name, ROUTINE_KINDS[ref.kind])
    if not overloads or not expectation.exists or expectation.arguments is None:
        return _existence(expectation, bool(overloads))
    wanted = catalog.resolve_arguments(expectation.arguments)
    if wanted is None:
        return Finding(None, f"{ref.describe()} exists; cannot resolve the argument types {expectation.arguments} to compare")
    bodies = [body for argument_types, _, body in overloads if argument_types == wanted]
    if bodies:
        if routine_body_matches(expectation.node, bodies[0]) is False:
            return Finding(False, f"{ref.describe()}{expectation.arguments} exists with another body", other_shape=True)
        return Finding(True)
    signatures = ", ".join(f"({text})" for _, text, _ in overloads)
    return Finding(False, f"{ref.describe()} exists only as {signatures}, not {expectation.arguments}")


def _selected_expression(expression: str) -> ast.Node | None:
    """The expression of `SELECT <expression>`; None when that is not one expression."""
    try:
        statement = parse_sql(f"SELECT {expression}")[0].stmt
    except (ParseError, IndexError):
        return None
    if not isinstance(statement, ast.SelectStmt) or not statement.targetList:
        return None
    target = statement.targetList[0]
    return target.val if isinstance(target, ast.ResTarget) else None


def _parse_type_name(text: str) -> ast.TypeName | None:
    cast = _selected_expression(f"NULL::{text}")
    return cast.typeName if isinstance(cast, ast.TypeCast) else None
