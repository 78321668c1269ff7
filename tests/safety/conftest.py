"""Session fixtures for the safety suite, and the line that sums its matrix up."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from service.prisma.database import parse_database_url
from service.store import repository
from tests.conftest import ADMIN_URL, create_scratch_database, drop_scratch_database
from tests.safety.cases import Case
from tests.safety.corpus import Templates, corpus_replay
from tests.safety.harness import TARGET_PREFIX, BackgroundDrops, Outcome, run_case

# case id → the invariants that failed for it (empty: safe), filled as the tests report.
_RESULTS: dict[str, set[str]] = {}
_KINDS: dict[str, tuple[str, str]] = {}
# case id → what the case did, for the report file DEPLOY_GATE_SAFETY_REPORT names (JSON lines).
_OUTCOMES: dict[str, dict[str, object]] = {}


@pytest.fixture(scope="session")
def safety_store() -> Iterator[tuple[object, str]]:
    """The service's own store, one for the whole matrix: each case has a target of its own."""
    database = create_scratch_database()
    try:
        with database.connect() as conn:
            repository.migrate_store(conn)
            yield conn, database.conninfo
    finally:
        drop_scratch_database(database)


@pytest.fixture(scope="session")
def shadow_server() -> Iterator[object]:
    """A shadow server for the targets that have one: verification makes its scratch databases there.

    The engine keeps its replays there as templates labelled with the target's name (or, for a
    verification on its own, the shadow's); the ones this session left are dropped with it.
    """
    database = create_scratch_database()
    try:
        yield parse_database_url(database.url)
    finally:
        drop_scratch_database(database)
        _drop_replays_labelled(TARGET_PREFIX + "%", f"%/{database.name} %")


def _drop_replays_labelled(*patterns: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT datname FROM pg_catalog.pg_database WHERE datistemplate AND datname LIKE 'dg\\_replay\\_%%'"
            " AND shobj_description(oid, 'pg_database')::jsonb ->> 'label' LIKE ANY(%s)",
            (list(patterns),),
        ).fetchall()
        for (name,) in rows:
            admin.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(sql.Identifier(name)))
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def templates() -> Iterator[Templates]:
    built = Templates(corpus_replay())
    try:
        yield built
    finally:
        built.drop()


@pytest.fixture(scope="session")
def background_drops() -> Iterator[BackgroundDrops]:
    drops = BackgroundDrops()
    try:
        yield drops
    finally:
        drops.close()


@pytest.fixture(scope="session")
def outcome_of(safety_store, shadow_server, templates, background_drops) -> Callable[[Case], Outcome]:
    """Runs each case once, however many invariant tests read it."""
    store, store_conninfo = safety_store
    outcomes: dict[str, Outcome] = {}

    def outcome(case: Case) -> Outcome:
        if case.id not in outcomes:
            outcomes.clear()  # the tests of a case run together; an older case's evidence is done with
            ran = outcomes[case.id] = run_case(case, corpus_replay(), templates, store, store_conninfo, shadow_server, background_drops)
            _OUTCOMES[case.id] = {
                "case": case.id,
                "migration": case.migration,
                "injection": case.injection,
                "policy": case.policy,
                "verdict": ran.verdict,
                "waiting_for_approval": ran.waiting_job is not None,
                "decisions": ran.decisions,
                "not_settled_because": ran.not_settled_because or None,
                "seconds": round(ran.seconds, 2),
            }
        return outcomes[case.id]

    return outcome


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    properties = dict(report.user_properties)
    if "safety_case" not in properties or report.when != "call":
        return
    failed = _RESULTS.setdefault(properties["safety_case"], set())
    _KINDS[properties["safety_case"]] = (properties["safety_migration"], properties["safety_injection"])
    if report.failed:
        failed.add(properties["safety_invariant"])


def pytest_terminal_summary(terminalreporter) -> None:
    if not _RESULTS:
        return
    migrations = {migration for migration, _ in _KINDS.values()}
    kinds = {injection for _, injection in _KINDS.values() if injection != "none"}
    unsafe = sorted(case for case, failed in _RESULTS.items() if failed - {"settles"})
    unsettled = sorted(case for case, failed in _RESULTS.items() if "settles" in failed)
    terminalreporter.write_line(
        f"safety: {len(migrations)} migrations x {len(kinds)} injection kinds (and each migration as it is)"
        f" = {len(_RESULTS)} cases, {len(unsafe)} unsafe, {len(unsettled)} did not settle"
    )
    report = os.environ.get("DEPLOY_GATE_SAFETY_REPORT")
    if report:
        with Path(report).open("w", encoding="utf-8") as lines:
            lines.writelines(json.dumps({**outcome, "failed_invariants": sorted(_RESULTS.get(case, ()))}) + "\n" for case, outcome in _OUTCOMES.items())
