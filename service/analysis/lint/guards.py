"""Whether a DO block's guard really lets a statement run a second time.

A handler only helps when it catches the error the second run raises: `WHEN duplicate_object` does
not catch the 42P07 that a second `ADD CONSTRAINT … UNIQUE` raises, so that migration still fails on
a retry. Each idempotency rule names the errors a second run of its statement meets, for drops and
renames as well as creates, so that its message can say which error a handler misses. A guard counts
when it is an IF over the catalog, or a handler for one of those errors, for their class, or OTHERS.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.analysis.parsing import Statement


@dataclass(frozen=True)
class Condition:
    """A PostgreSQL error as PL/pgSQL names it in `EXCEPTION WHEN …`."""

    name: str
    sqlstate: str

    @property
    def label(self) -> str:
        return f"{self.sqlstate} ({self.name})"


DUPLICATE_TABLE = Condition("duplicate_table", "42P07")  # any relation: table, index, view, sequence
DUPLICATE_OBJECT = Condition("duplicate_object", "42710")  # type, constraint, trigger, extension, enum label
DUPLICATE_COLUMN = Condition("duplicate_column", "42701")
DUPLICATE_FUNCTION = Condition("duplicate_function", "42723")
DUPLICATE_SCHEMA = Condition("duplicate_schema", "42P06")
INVALID_TABLE_DEFINITION = Condition("invalid_table_definition", "42P16")  # a second primary key
UNDEFINED_TABLE = Condition("undefined_table", "42P01")
UNDEFINED_OBJECT = Condition("undefined_object", "42704")
UNDEFINED_COLUMN = Condition("undefined_column", "42703")
UNDEFINED_FUNCTION = Condition("undefined_function", "42883")
INVALID_SCHEMA_NAME = Condition("invalid_schema_name", "3F000")
INVALID_PARAMETER_VALUE = Condition("invalid_parameter_value", "22023")  # RENAME VALUE of a missing label

# Condition names that stand for a whole SQLSTATE class.
_CLASS_NAMES = {
    "42": "syntax_error_or_access_rule_violation",
    "22": "data_exception",
    "3F": "invalid_schema_name",
}


def _handled(text: str) -> set[str]:
    return {name.strip().lower() for name in text.split(",") if name.strip()}


def _catches(handled: set[str], condition: Condition) -> bool:
    class_code = condition.sqlstate[:2]
    names = {condition.name, condition.sqlstate.lower(), f"{class_code.lower()}000", _CLASS_NAMES.get(class_code, "")}
    return "others" in handled or bool(names & handled)


def guarded_against(statement: Statement, *conditions: Condition) -> bool:
    """Whether a guard around the statement skips it, or swallows one of `conditions`, on a second run."""
    for guard in statement.guards:
        if guard.kind == "if" and guard.checks_catalog:
            return True
        if guard.kind == "exception" and any(_catches(_handled(guard.text), condition) for condition in conditions):
            return True
    return False


def missed_by_handlers(statement: Statement, *conditions: Condition) -> str:
    """A note for a message when exception handlers surround the statement but catch none of `conditions`."""
    handlers = [guard.text for guard in statement.guards if guard.kind == "exception"]
    if not handlers or guarded_against(statement, *conditions):
        return ""
    expected = " or ".join(condition.label for condition in conditions)
    return f"; the DO block's handler for {', '.join(handlers)} does not catch {expected}"
