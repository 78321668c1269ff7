"""Run one case: clone its target, inject, run a real deploy job to its end, and record evidence.

The job runs as a worker runs it: `run_job` on the deploy, then on every job it enqueues (the
recover job a failed apply starts); a `Deferred` job runs again after a short pause, as its Celery
task would after its countdown. A job left waiting for approval stays waiting: nobody approves.
Everything the invariants need is read before the target is dropped.
"""

from __future__ import annotations

import dataclasses
import queue
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from pathlib import Path

import psycopg

from service.analysis.fingerprint import Fingerprint, catalog_fingerprint
from service.config.records import Config, Policy, Target
from service.jobs.runner import Deferred, RetryableError, run_job
from service.jobs.states import TERMINAL, JobKind, JobState
from service.prisma import history
from service.prisma.database import DatabaseTarget, parse_database_url
from service.prisma.migrations import migrations_from_bundle
from service.prisma.status import read_status
from service.store import repository
from tests.conftest import (
    ScratchDatabase,
    drop_scratch_database,
    write_migrations_directory,
)
from tests.interop.prisma_cli import prisma_available
from tests.interop.test_prisma_interop import assert_status_agrees
from tests.safety.cases import POLICIES, Case
from tests.safety.corpus import (
    SCHEMA,
    CorpusReplay,
    Templates,
    own_lock_timeout_seconds,
    without_schema,
)
from tests.safety.locks import LockSession, LockWatcher, PrismaLock, sessions_for
from tests.safety.oracle import (
    AUDIT_SCHEMA,
    Write,
    install_audit,
    server_time,
    writes_since,
)

# Runs of one case's jobs before it counts as not settling (a deferral is one run).
MAX_RUNS = 60
# A deferred job's task runs again after its countdown; the suite waits this long at most.
DEFERRED_PAUSE_SECONDS = 0.2
# Short, so a held lock fails a migration quickly; the retry wait, if the engine has one, short too.
LOCK_TIMEOUT_MS = 200
RETRY_WAIT_SECONDS = 1
PRISMA_LOCK_WAIT_SECONDS = 5.0
# One wait on a held lock longer than this is bounded by nothing in the policy: every bound the
# targets set on it (the lock timeout or the retry wait for a table, Prisma's lock wait) is shorter.
UNBOUNDED_TABLE_WAIT_SECONDS = max(LOCK_TIMEOUT_MS / 1000, RETRY_WAIT_SECONDS) + 1
UNBOUNDED_PRISMA_LOCK_WAIT_SECONDS = PRISMA_LOCK_WAIT_SECONDS + 1

# Every case's target is named TARGET_PREFIX + a number: its jobs, and the shadow replays the
# engine caches under the target's name, are told apart by it.
TARGET_PREFIX = "safety-"
_target_numbers = count(1)


@dataclass
class Outcome:
    """What a case did to its target and what the job said, read before the target is dropped."""

    case: Case
    target_name: str = ""
    settled: bool = False
    deploy_failed: bool = False
    not_settled_because: str = ""
    deploy_state: str = ""
    verdict: str | None = None
    waiting_job: str | None = None
    reasons: list[str] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)
    decided_at: datetime | None = None
    started_at: datetime | None = None
    before: Fingerprint | None = None
    after: Fingerprint | None = None
    applied_before: tuple[str, ...] = ()
    applied_after: tuple[str, ...] = ()
    migration_state: str | None = None
    unusable_indexes: list[str] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    lock_sessions: list[str] = field(default_factory=list)
    prisma_lock_held_from: datetime | None = None
    prisma_cli_disagrees: str | None = None
    prisma_cli_ran: bool = False
    seconds: float = 0.0

    def __repr__(self) -> str:
        return f"Outcome({self.case.id}: {self.summary[:200]})"

    @property
    def summary(self) -> str:
        """The verdict and decisions, for assertion messages."""
        said = self.verdict or ("waiting for approval" if self.waiting_job else self.deploy_state)
        decided = "; ".join(self.decisions) or "no recover decision"
        return f"verdict {said}; decisions: {decided}; reasons: {' | '.join(self.reasons)[:1500]}"


def target_fingerprint(conn: psycopg.Connection) -> Fingerprint:
    """Every user schema but the audit's."""
    return without_schema(catalog_fingerprint(conn, schemas=None), AUDIT_SCHEMA)


def applied_history(conn: psycopg.Connection) -> tuple[str, ...]:
    """The history's applied migrations in the order their rows started: a finished row, not rolled back."""
    applied: list[str] = []
    for row in history.read_history(conn, SCHEMA) or []:
        if row.finished_at is not None and row.rolled_back_at is None and row.migration_name not in applied:
            applied.append(row.migration_name)
    return tuple(applied)


def make_config(name: str, database: ScratchDatabase, policy_label: str, shadow: DatabaseTarget) -> Config:
    settings = {
        "max_automatic_retries": 1,
        "lock_timeout_ms": LOCK_TIMEOUT_MS,
        "lock_wait_seconds": PRISMA_LOCK_WAIT_SECONDS,
        "automatic_rollback": POLICIES[policy_label]["automatic_rollback"],
    }
    # The engine's lock-aware retries (issue 12) add this key; older engines do not know it.
    if "retry_wait_seconds" in {policy_field.name for policy_field in dataclasses.fields(Policy)}:
        settings["retry_wait_seconds"] = RETRY_WAIT_SECONDS
    target = Target(name, parse_database_url(database.url), Policy(**settings), shadow=shadow if POLICIES[policy_label]["shadow"] else None)
    return Config({name: target}, ())


class BackgroundDrops:
    """Drops scratch databases on a thread of its own, so the next case need not wait for it."""

    def __init__(self) -> None:
        self.pending: queue.Queue[ScratchDatabase | None] = queue.Queue()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, name="safety-drops", daemon=True)
        self.thread.start()

    def drop(self, database: ScratchDatabase) -> None:
        self.pending.put(database)

    def close(self) -> None:
        """Wait until every database handed over is dropped."""
        self.pending.put(None)
        self.thread.join()
        if self.errors:
            raise self.errors[0]

    def _run(self) -> None:
        while (database := self.pending.get()) is not None:
            try:
                drop_scratch_database(database)
            except BaseException as error:  # noqa: BLE001 - raised again by close()
                self.errors.append(error)


def run_case(
    case: Case,
    replay: CorpusReplay,
    templates: Templates,
    store: psycopg.Connection,
    store_conninfo: str,
    shadow: DatabaseTarget,
    drops: BackgroundDrops,
) -> Outcome:
    started = time.monotonic()
    step = replay.steps[case.migration]
    outcome = Outcome(case, target_name=f"{TARGET_PREFIX}{next(_target_numbers)}")
    database = templates.clone(step)
    try:
        with psycopg.connect(database.conninfo, autocommit=True) as conn:
            install_audit(conn)
            if case.setup:
                # FK triggers off, so injected rows need no parent rows.
                conn.execute("SET session_replication_role = replica")
                for statement in case.setup:
                    conn.execute(statement.encode("utf-8"))
                conn.execute("RESET session_replication_role")
            outcome.before = target_fingerprint(conn)
            outcome.applied_before = applied_history(conn)
            outcome.started_at = server_time(conn)
        config = make_config(outcome.target_name, database, case.policy, shadow)
        bundle = replay.bundle(step)
        table_wait_bound = max(UNBOUNDED_TABLE_WAIT_SECONDS, own_lock_timeout_seconds(step.script) + 1)
        sessions, after_failure = sessions_for(database, case.lock, case.prisma_lock, table_wait_bound, UNBOUNDED_PRISMA_LOCK_WAIT_SECONDS)
        with LockWatcher(database, store_conninfo, outcome.target_name, sessions) as watcher:
            _drive(store, config, outcome, bundle, watcher, after_failure)
        if watcher.error is not None:
            raise watcher.error
        unbounded = [session.unbounded_wait for session in sessions if session.unbounded_wait]
        if unbounded:
            outcome.settled = False
            outcome.not_settled_because = "a wait without a bound, ended by letting the lock go: " + "; ".join(unbounded)
        _read_evidence(database, bundle, outcome, sessions)
        if case.prisma_cli:
            _ask_prisma(database, bundle, outcome)
    finally:
        drops.drop(database)
    outcome.seconds = time.monotonic() - started
    return outcome


def _drive(store, config: Config, outcome: Outcome, bundle: dict[str, str], watcher: LockWatcher, after_failure) -> None:
    digest = repository.store_bundle(store, migrations_from_bundle(bundle))
    deploy_job, _ = repository.create_job(
        store,
        kind=JobKind.DEPLOY,
        target=outcome.target_name,
        requested_by="safety-suite",
        params={"apply": True},
        bundle_digest=digest,
    )
    to_run = [str(deploy_job.id)]

    def enqueue(job_id: str) -> None:
        # The deploy starts a recover job once its failure is journaled: the moment the
        # injections that wait for the failure act.
        to_run.append(job_id)
        if not outcome.deploy_failed:
            outcome.deploy_failed = True
            after_failure()

    runs = 0
    while to_run:
        job_id = to_run.pop(0)
        runs += 1
        if runs > MAX_RUNS:
            outcome.not_settled_because = f"still deferring after {MAX_RUNS} runs"
            return
        try:
            job = run_job(store, config, job_id, enqueue=enqueue)
        except Deferred as deferred:
            watcher.engine_waits()
            time.sleep(min(deferred.seconds, DEFERRED_PAUSE_SECONDS))
            to_run.append(job_id)
            continue
        except RetryableError as error:
            outcome.not_settled_because = f"infrastructure error: {error}"
            return
        except Exception:  # noqa: BLE001 - a crash is a finding: the case reports it as not settling
            outcome.not_settled_because = "the job raised: " + traceback.format_exc(limit=8)
            return
        if job.state is JobState.WAITING_APPROVAL:
            outcome.waiting_job = job_id
    deploy_job = repository.get_job(store, str(deploy_job.id))
    outcome.deploy_state = deploy_job.state.value
    outcome.verdict = deploy_job.verdict.value if deploy_job.verdict else None
    outcome.reasons = list(deploy_job.reasons)
    outcome.settled = deploy_job.state in TERMINAL and deploy_job.verdict is not None or outcome.waiting_job is not None
    if not outcome.settled and not outcome.not_settled_because:
        outcome.not_settled_because = f"the deploy job ended {deploy_job.state.value} without a verdict"
    for job in reversed(repository.list_jobs(store, target=outcome.target_name, kind=JobKind.RECOVER)):
        events = repository.job_events(store, str(job.id))
        decided = [event for event in events if event.kind == "step_finished" and (event.step or "").startswith("decide:")]
        outcome.decisions += [f"{event.step} {event.data.get('action')}" for event in decided]
        if str(job.id) == outcome.waiting_job:
            outcome.reasons = list(job.reasons) + outcome.reasons
            # The decision the job waits on: its last; without one, the moment it began to wait.
            waits = [event for event in events if event.to_state == JobState.WAITING_APPROVAL.value]
            outcome.decided_at = (decided or waits)[-1].at


def _read_evidence(database: ScratchDatabase, bundle: dict[str, str], outcome: Outcome, sessions: list[LockSession]) -> None:
    with psycopg.connect(database.conninfo, autocommit=True) as conn:
        outcome.after = target_fingerprint(conn)
        outcome.applied_after = applied_history(conn)
        state = read_status(conn, SCHEMA, migrations_from_bundle(bundle)).get(outcome.case.migration)
        outcome.migration_state = state.state.value if state else None
        outcome.unusable_indexes = [
            f"{name} (valid: {valid}, ready: {ready})"
            for name, valid, ready in conn.execute(
                "SELECT i.indexrelid::regclass::text, i.indisvalid, i.indisready FROM pg_catalog.pg_index i"
                " JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                " WHERE NOT (i.indisvalid AND i.indisready) AND n.nspname <> %s",
                (AUDIT_SCHEMA,),
            ).fetchall()
        ]
        outcome.writes = writes_since(conn, outcome.started_at)
    outcome.lock_sessions = [session.describe() for session in sessions]
    prisma = [session for session in sessions if isinstance(session, PrismaLock)]
    outcome.prisma_lock_held_from = prisma[0].held_from if prisma else None


def _ask_prisma(database: ScratchDatabase, bundle: dict[str, str], outcome: Outcome) -> None:
    """Invariant 4, read now: the real CLI's `migrate status` on this target agrees with ours."""
    if not prisma_available():
        return
    outcome.prisma_cli_ran = True
    with tempfile.TemporaryDirectory() as directory:
        migrations = write_migrations_directory(Path(directory) / "migrations", bundle)
        with psycopg.connect(database.conninfo, autocommit=True) as conn:
            try:
                assert_status_agrees(conn, database.url, migrations)
            except AssertionError as disagreement:
                outcome.prisma_cli_disagrees = str(disagreement) or "the exit codes or classes differ"
