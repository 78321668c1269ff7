"""All facts about a migration's SQL, from its statements described one by one and its transactions."""

from __future__ import annotations

from collections import defaultdict

from service.analysis.facts.records import DataChange, Effect, MigrationFacts, Reason
from service.analysis.facts.statements import Described, describe_statement, label
from service.analysis.facts.transactions import transaction_facts
from service.analysis.parsing import cyclic_gc_paused, parse_migration
from service.prisma.execution import DEFAULT_PRISMA_VERSION, outside_transaction_blocks


@cyclic_gc_paused()
def analyze_migration(script: str, name: str = "", prisma_version: int = DEFAULT_PRISMA_VERSION) -> MigrationFacts:
    """All facts about a migration's SQL, as the engine of `prisma_version` would run it.

    A file that does not parse has no facts but its problems.
    """
    parsed = parse_migration(script, name)
    if not parsed.parses and not parsed.statements:
        unknown = (Reason("the file does not parse", parsed.problems[0].position.line),)
        return MigrationFacts(name, False, parsed.problems, False, unknown, False, unknown, False, unknown, (), (), 0, (), parsed, prisma_version)

    effects: list[Effect] = []
    data: list[DataChange] = []
    unguarded: list[Reason] = []
    irreversible: list[Reason] = []
    dropped_if_exists: set[_EffectKey] = set()
    for index, statement in enumerate(parsed.statements):
        described = describe_statement(statement, index)
        for nested in parsed.nested_in(index):
            described.extend_with(describe_statement(nested, index, in_do_block=True))
        described = _guarded_by_earlier_drop(described, dropped_if_exists)
        dropped_if_exists.update(_key(e) for e in described.effects if e.action == "drop" and e.guarded)
        effects.extend(described.effects)
        data.extend(described.data)
        irreversible.extend(described.irreversible)
        if not described.idempotent:
            unguarded.append(Reason(described.unguarded_reason or f"{label(statement)} cannot run twice", statement.position.line))
    irreversible = _without_data_undone_by_the_inverse(irreversible, effects, data)

    reasons, fails = transaction_facts(parsed, prisma_version)
    return MigrationFacts(
        name=name,
        parses=parsed.parses,
        problems=parsed.problems,
        transactional=not reasons,
        not_transactional_because=tuple(reasons),
        idempotent=not unguarded and parsed.parses,
        unguarded=tuple(unguarded),
        reversible=not irreversible and parsed.parses,
        irreversible=tuple(irreversible),
        effects=tuple(effects),
        data_changes=tuple(data),
        statement_count=len(parsed.statements),
        fails_because=tuple(fails),
        parsed=parsed,
        prisma_version=prisma_version,
        outside_transaction_blocks=tuple(outside_transaction_blocks([statement.node for statement in parsed.statements], prisma_version)),
    )


_EffectKey = tuple[str, str | None, str | None, str]


def _key(effect: Effect) -> _EffectKey:
    return (effect.kind, effect.schema, effect.parent, effect.name)


def _guarded_by_earlier_drop(described: Described, dropped: set[_EffectKey]) -> Described:
    """`DROP … IF EXISTS x; CREATE x` re-runs fine: the create is guarded by the drop before it."""
    if described.idempotent or not described.effects:
        return described
    upgraded = [Effect(**{**e.__dict__, "guarded": True}) if e.action == "create" and _key(e) in dropped else e for e in described.effects]
    if all(e.guarded for e in upgraded) and all(d.guarded for d in described.data):
        return Described(upgraded, described.data, True, None, described.irreversible)
    return described


def _without_data_undone_by_the_inverse(irreversible: list[Reason], effects: list[Effect], data: list[DataChange]) -> list[Reason]:
    """Rows written only into a table or columns the same migration creates go with them."""
    created_tables = {(e.schema, e.name) for e in effects if e.action == "create" and e.kind == "table"}
    added_columns = {(e.schema, e.parent, e.name) for e in effects if e.action == "create" and e.kind == "column"}
    undone: dict[int, set[str]] = defaultdict(set)
    for change in data:
        if (change.schema, change.table) in created_tables or (
            change.kind == "update" and change.columns and all((change.schema, change.table, c) in added_columns for c in change.columns)
        ):
            undone[change.line].add(f"{change.kind.upper()} on {change.table}")
    return [r for r in irreversible if not any(r.message.startswith(prefix) for prefix in undone.get(r.line, ()))]
