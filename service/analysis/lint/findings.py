"""What a lint reports: plain data that callers print, count or turn into annotations."""

from __future__ import annotations

from dataclasses import dataclass

from pglast import ast

from service.analysis.parsing import Position, Statement

ERROR = "error"
WARNING = "warning"
INFO = "info"
OFF = "off"

# Most severe first; the order findings are counted and summarised in.
SEVERITIES = (ERROR, WARNING, INFO)
# What a caller may set a rule to: one of the severities, or off.
LEVELS = (*SEVERITIES, OFF)


@dataclass(frozen=True)
class Finding:
    """One rule's complaint about one place in one migration."""

    rule: str  # the rule's kebab-case id
    severity: str  # error | warning | info
    message: str  # what is wrong, here
    line: int  # 1-based, in the migration file
    column: int  # 1-based, in characters
    help: str  # how to fix it, in one line
    migration: str  # the migration's folder name ("" for a lone script)
    family: str  # the rule's family (service.analysis.lint.registry.FAMILIES)

    def to_dict(self) -> dict[str, object]:
        # Written out rather than dataclasses.asdict, which deep-copies: thousands of findings.
        return {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "line": self.line,
            "column": self.column,
            "help": self.help,
            "migration": self.migration,
            "family": self.family,
        }


@dataclass(frozen=True)
class Violation:
    """What a rule yields: the message and where; the engine adds the rule, severity and migration.

    The place is, from most to least precise: an explicit `position`; the `node`'s own location
    inside a top-level `statement`; the `statement`'s start; the top of the file.
    """

    message: str
    statement: Statement | None = None
    node: ast.Node | None = None
    position: Position | None = None
    help: str | None = None  # replaces the rule's own one-line help when the fix differs here
