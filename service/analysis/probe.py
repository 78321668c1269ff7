"""The effect probe: which of a migration's effects the live catalog shows now.

Each effect becomes one or more expectations about the catalog once the migration has run:
a created object exists, a dropped one does not, a renamed one is gone under its old name and
there under its new one, an altered column has the new nullability, type or default. Unqualified
names resolve in the target's Prisma schema, as Prisma runs migrations with that search_path;
names compare exactly as the parser gives them (quoted identifiers keep their case). A created
object is also compared with the statement that creates it, inside a DO block too, as far as its
SQL states its shape (`parsed_shapes`): an object of the name but another shape is `other shape`.

Later statements of the same migration change what an earlier effect should look like, so the
probe replays them first: `CREATE TABLE a; ALTER TABLE a RENAME TO b` expects `b`, a column added
to a table the migration renames is looked for on the new name, and an object created and then
dropped again (or dropped and re-created) leaves nothing to tell, so that check is unknown.

An index left INVALID by a failed `CREATE INDEX CONCURRENTLY` is never counted as done: it is
reported with status `invalid`, because a retry fails on its name until it is dropped.

The overall state covers the effects that could be checked:
- `none`: no checked effect is present, as if the migration never ran;
- `all`: every checked effect is present;
- `partial`: some are, some are not;
- `unknown`: nothing could be checked: only data statements, or effects the catalog cannot show.
Effects that cannot be checked (unnamed indexes and constraints, `ALTER … OWNER`, …) and data
statements (INSERT, UPDATE, …) do not move the state; they are listed, and `fully_probed` is
false. So schema effects all present plus an UPDATE is `all` with the UPDATE unverified: the
caller decides whether the data change matters (in a transactional migration it ran with them).

The parts: `probe_expectations` plans what each effect should look like, `probe_evaluation`
checks one expectation, `probe_catalog` runs the queries; this module combines their findings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import psycopg

from service.analysis.facts.records import DataChange, Effect, MigrationFacts
from service.analysis.probe_catalog import Catalog
from service.analysis.probe_evaluation import evaluate
from service.analysis.probe_expectations import Planned, plan
from service.prisma.database import DEFAULT_SCHEMA


class EffectState(StrEnum):
    NONE = "none"  # no checked effect is present
    ALL = "all"  # every checked effect is present
    PARTIAL = "partial"  # some checked effects are present, some are not
    UNKNOWN = "unknown"  # no effect could be checked


class CheckStatus(StrEnum):
    DONE = "done"  # the catalog shows the effect
    NOT_DONE = "not done"  # the catalog shows the state before the effect
    INVALID = "invalid"  # an INVALID index, left by a failed CREATE INDEX CONCURRENTLY
    OTHER_SHAPE = "other shape"  # an object of the name, defined otherwise: not this effect
    UNKNOWN = "unknown"  # the catalog cannot tell


@dataclass(frozen=True)
class EffectCheck:
    """What the catalog says about one effect. `present` is None when it cannot tell."""

    effect: Effect
    status: CheckStatus
    note: str = ""

    @property
    def present(self) -> bool | None:
        if self.status is CheckStatus.UNKNOWN:
            return None
        return self.status is CheckStatus.DONE

    def to_dict(self) -> dict[str, object]:
        return {
            "effect": self.effect.to_dict(),
            "present": self.present,
            "status": str(self.status),
            "note": self.note,
        }


@dataclass(frozen=True)
class EffectProbe:
    """The migration's effects checked against the live catalog, and the overall state."""

    state: EffectState
    schema: str
    checks: tuple[EffectCheck, ...]
    unverified_data_changes: tuple[DataChange, ...] = ()

    @property
    def invalid_indexes(self) -> tuple[str, ...]:
        """Schema-qualified names of the INVALID indexes the migration was creating."""
        return tuple(f"{check.effect.schema or self.schema}.{check.effect.name}" for check in self.checks if check.status is CheckStatus.INVALID)

    @property
    def unknown(self) -> tuple[EffectCheck, ...]:
        return tuple(check for check in self.checks if check.status is CheckStatus.UNKNOWN)

    @property
    def fully_probed(self) -> bool:
        """Whether the state covers everything the migration does."""
        return not self.unknown and not self.unverified_data_changes

    def to_dict(self) -> dict[str, object]:
        return {
            "state": str(self.state),
            "schema": self.schema,
            "fully_probed": self.fully_probed,
            "invalid_indexes": list(self.invalid_indexes),
            "checks": [check.to_dict() for check in self.checks],
            "unverified_data_changes": [change.to_dict() for change in self.unverified_data_changes],
        }


def probe_effects(conn: psycopg.Connection, facts: MigrationFacts, schema: str = DEFAULT_SCHEMA) -> EffectProbe:
    """Check every effect of a migration in the live catalog of `conn`; see the module docstring."""
    catalog = Catalog(conn, schema)
    planned = plan(facts, schema)
    checks = tuple(_check(catalog, each) for each in planned)
    return EffectProbe(_overall_state(checks), schema, checks, tuple(facts.data_changes))


def _overall_state(checks: Iterable[EffectCheck]) -> EffectState:
    known = [check.present for check in checks if check.present is not None]
    if not known:
        return EffectState.UNKNOWN
    if all(known):
        return EffectState.ALL
    if not any(known):
        return EffectState.NONE
    return EffectState.PARTIAL


def _check(catalog: Catalog, planned: Planned) -> EffectCheck:
    effect = planned.effect
    if planned.uncheckable:
        return EffectCheck(effect, CheckStatus.UNKNOWN, planned.uncheckable)
    if not planned.expectations:
        return EffectCheck(effect, CheckStatus.UNKNOWN, "; ".join(planned.notes) + ", so the catalog cannot tell")
    findings = [evaluate(catalog, expectation) for expectation in planned.expectations]
    notes = [finding.note for finding in findings if finding.note] + planned.notes
    if effect.guarded and effect.action == "create" and all(finding.met for finding in findings):
        notes.append("guarded by IF NOT EXISTS or OR REPLACE: it may have existed before")
    if any(finding.invalid for finding in findings):
        status = CheckStatus.INVALID
    elif any(finding.other_shape for finding in findings):
        status = CheckStatus.OTHER_SHAPE
    elif any(finding.met is False for finding in findings):
        status = CheckStatus.NOT_DONE
    elif any(finding.met is None for finding in findings):
        status = CheckStatus.UNKNOWN
    else:
        status = CheckStatus.DONE
    return EffectCheck(effect, status, "; ".join(notes))
