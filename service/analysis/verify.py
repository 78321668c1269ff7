"""Verify a rollback before running it: replay, apply, roll back, compare, on a shadow server.

On the shadow server (never the target), the replay of the migrations before the one to roll back
(service.analysis.replay: a template database kept for the next run, with its fingerprint) is
cloned into a scratch database with a unique name; the migration is applied with deploy-gate's own
`deploy`, then the rollback SQL as one simple-query string (one implicit transaction, as a
migration file runs); and the catalog is fingerprinted again. The same fingerprint as the replay's:
the rollback is verified. The scratch database is always dropped.

A migration that failed on the target (`failed_with`: its SQLSTATE and message) is expected to fail
the same way on the copy, leaving behind what it left on the target; the rollback must then undo that. A
migration that fails otherwise while replaying or applying, or a rollback that errors, makes the
rollback unverified with the error; failures to reach or use the shadow server itself raise (the
command cannot run).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import psycopg
from psycopg import sql

from service.analysis.fingerprint import Difference, Fingerprint, catalog_fingerprint, diff
from service.analysis.replay import ReplayCache, ReplayFailed
from service.prisma.database import DatabaseTarget, connect, parse_database_url
from service.prisma.deploy import deploy
from service.prisma.errors import DatabaseUnavailable, MigrateError
from service.prisma.migrations import LocalMigrations

SCRATCH_DATABASE_PREFIX = "dg_verify_"
_LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


class ShadowIsTarget(MigrateError):
    """The shadow database is the target itself: verification would change the target."""

    def __init__(self, display: str) -> None:
        super().__init__(
            f"The shadow database {display} is the target database; verification creates and drops "
            "databases and replays migrations, so it needs a separate shadow database.",
            shadow=display,
        )


class MigrationToVerifyNotFound(MigrateError):
    def __init__(self, migration_name: str, source: str) -> None:
        super().__init__(f"Migration {migration_name} is not in {source}.", migration_name=migration_name)


@dataclass(frozen=True)
class TargetFailure:
    """How a migration failed on the target: the same error on the copy means the same statement failed."""

    sqlstate: str | None
    message: str | None


@dataclass(frozen=True)
class Step:
    """One step of a verification run, as it happened."""

    name: str
    ok: bool
    seconds: float
    detail: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "seconds": round(self.seconds, 3), "detail": self.detail}


@dataclass(frozen=True)
class RollbackVerification:
    """Whether the rollback SQL brings the schema back to what it was before the migration."""

    migration_name: str
    verified: bool
    shadow: str  # the shadow server, secret-free
    scratch_database: str | None  # None when the run stopped before creating one
    scratch_left_behind: bool  # the drop failed: the database must be dropped by hand
    # What the rollback leaves different from before the migration (empty when verified).
    differences: tuple[Difference, ...] = ()
    # What the migration itself changed: what the rollback had to undo.
    migration_changes: tuple[Difference, ...] = ()
    steps: tuple[Step, ...] = ()
    # Why it is not verified (a replay or rollback error), and a scratch database that would not
    # drop (which does not change the verdict).
    errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def seconds(self) -> float:
        return sum(step.seconds for step in self.steps)

    def to_dict(self) -> dict[str, object]:
        return {
            "migration": self.migration_name,
            "verified": self.verified,
            "shadow": self.shadow,
            "scratch_database": self.scratch_database,
            "scratch_left_behind": self.scratch_left_behind,
            "differences": [difference.to_dict() for difference in self.differences],
            "migration_changes": [difference.to_dict() for difference in self.migration_changes],
            "errors": list(self.errors),
            "notes": list(self.notes),
            "steps": [step.to_dict() for step in self.steps],
            "seconds": round(self.seconds, 3),
        }


def verify_rollback(
    shadow: DatabaseTarget | str,
    local: LocalMigrations,
    migration_name: str,
    rollback_sql: str,
    *,
    target: DatabaseTarget | None = None,
    replays: ReplayCache | None = None,
    failed_with: TargetFailure | None = None,
) -> RollbackVerification:
    """Replay up to `migration_name` in a scratch database on `shadow`, apply it, run
    `rollback_sql`, and compare catalogs; see the module docstring. `failed_with`: how the migration
    failed on the target, if it did.

    The migrations run with the target's Prisma schema as search_path (the shadow URL's `schema`
    when no target is given). `replays` is the target's cache of replays on `shadow` (one of its
    own by default). Raises ShadowIsTarget, MigrationToVerifyNotFound, and DatabaseUnavailable or
    ShadowUnusable (service.analysis.replay) when the shadow server cannot be used.
    """
    shadow = parse_database_url(shadow) if isinstance(shadow, str) else shadow
    if target is not None and same_database(shadow, target):
        raise ShadowIsTarget(shadow.display)
    names = local.names
    if migration_name not in names:
        raise MigrationToVerifyNotFound(migration_name, local.source)
    schema = target.schema if target is not None else shadow.schema
    position = names.index(migration_name)
    run = _Run(migration_name, shadow)
    if not rollback_sql.strip():
        return run.result(_Outcome(verified=False, errors=("The rollback SQL is empty.",)))

    replays = replays or ReplayCache(shadow, schema, label=f"verify {shadow.display}")
    with run.step(f"replay {position} earlier migration{'' if position == 1 else 's'}") as step:
        try:
            before = replays.replay(local, position)
        except ReplayFailed as failure:
            error = f"Migration {failure.details['migration_name']} failed while replaying (SQLSTATE {failure.details['sqlstate']}): {failure.details['error']}"
            step.fail(error)
            return run.result(_Outcome(verified=False, errors=(error,)))
    with run.scratch_database(replays, before.template) as scratch, connect(scratch) as conn:
        outcome = _apply_and_roll_back(run, conn, schema, local, position, rollback_sql, before.fingerprint, failed_with)
    return run.result(outcome)


@dataclass(frozen=True)
class _Outcome:
    verified: bool
    errors: tuple[str, ...] = ()
    differences: tuple[Difference, ...] = ()
    migration_changes: tuple[Difference, ...] = ()
    notes: tuple[str, ...] = ()


def _apply_and_roll_back(
    run: _Run,
    conn: psycopg.Connection,
    schema: str,
    local: LocalMigrations,
    position: int,
    rollback_sql: str,
    before: Fingerprint,
    failed_with: TargetFailure | None,
) -> _Outcome:
    migrations = local.migrations
    with run.step(f"apply {run.migration_name}") as step:
        deployed = deploy(conn, schema, replace(local, migrations=migrations[: position + 1]))
        failure = deployed.failure
        if failure is not None and failed_with == TargetFailure(failure.sqlstate, failure.message):
            # The copy now holds what the failed run left on the target: the rollback must undo it.
            step.note(f"fails as it did on the target (SQLSTATE {failure.sqlstate}): {failure.message}")
        elif failure is not None:
            error = f"Migration {run.migration_name} fails to apply (SQLSTATE {failure.sqlstate}): {failure.message}"
            if failed_with is not None:
                error += (
                    f"; on the target it failed otherwise (SQLSTATE {failed_with.sqlstate}: {failed_with.message}), so the copy is not in the target's state"
                )
            step.fail(error)
            return _Outcome(verified=False, errors=(error,))
        elif failed_with is not None:
            step.note(f"applies in full here, although it failed on the target (SQLSTATE {failed_with.sqlstate})")
    with run.step("fingerprint after the migration"):
        applied = catalog_fingerprint(conn, schemas=None)
    migration_changes = tuple(diff(before, applied))

    with run.step("run the rollback SQL") as step:
        try:
            # No parameters: sent as one simple-query string, which PostgreSQL runs as one implicit
            # transaction, like a migration file.
            conn.execute(rollback_sql.encode("utf-8"))
        except psycopg.Error as error:
            if conn.broken:
                raise DatabaseUnavailable(f"Lost the connection to the shadow server: {_message(error)}") from None
            text = f"The rollback SQL failed (SQLSTATE {error.sqlstate}): {_message(error)}"
            step.fail(text)
            return _Outcome(verified=False, errors=(text,), migration_changes=migration_changes)
    with run.step("fingerprint after the rollback"):
        rolled_back = catalog_fingerprint(conn, schemas=None)

    differences = tuple(diff(before, rolled_back))
    notes: tuple[str, ...] = ()
    if not migration_changes:
        notes = ("The migration changes nothing the catalog fingerprint sees (data changes are not compared).",)
    return _Outcome(not differences, differences=differences, migration_changes=migration_changes, notes=notes)


def new_scratch_database_name() -> str:
    """A name no other run picks, with a prefix that tells an operator where it comes from."""
    return f"{SCRATCH_DATABASE_PREFIX}{uuid.uuid4().hex[:16]}"


def same_database(first: DatabaseTarget, second: DatabaseTarget) -> bool:
    """Whether two targets name the same database on the same server (loopback names are one host)."""

    def identity(target: DatabaseTarget) -> tuple[str, str, str]:
        params = target.params
        host = (params.get("hostaddr") or params.get("host") or "").lower()
        if host.startswith("/") or host in _LOCAL_HOSTS:
            host = "localhost"
        database = params.get("dbname") or params.get("user") or ""
        return host, params.get("port") or "5432", database

    return identity(first) == identity(second)


def _message(error: psycopg.Error) -> str:
    diag = getattr(error, "diag", None)
    primary = diag.message_primary if diag is not None else None
    text = primary or str(error).strip() or type(error).__name__
    return text.splitlines()[0]


class _StepRecorder:
    def __init__(self) -> None:
        self.failure: str | None = None
        self.detail = ""

    def fail(self, detail: str) -> None:
        self.failure = detail

    def note(self, detail: str) -> None:
        """What a step that went as expected should say all the same."""
        self.detail = detail


@dataclass
class _Run:
    """The steps of one verification run and its scratch database."""

    migration_name: str
    shadow: DatabaseTarget
    steps: list[Step] = field(default_factory=list)
    scratch_name: str | None = None
    cleanup_errors: list[str] = field(default_factory=list)

    @contextmanager
    def step(self, name: str) -> Iterator[_StepRecorder]:
        recorder = _StepRecorder()
        started = time.perf_counter()
        try:
            yield recorder
        except BaseException as error:
            self.steps.append(Step(name, False, time.perf_counter() - started, self.shadow.redact(_describe(error))))
            raise
        self.steps.append(Step(name, recorder.failure is None, time.perf_counter() - started, recorder.failure or recorder.detail))

    @contextmanager
    def scratch_database(self, replays: ReplayCache, template: str) -> Iterator[DatabaseTarget]:
        """A copy of a replay on the shadow server, dropped (WITH FORCE) whatever happens inside."""
        name = new_scratch_database_name()
        with self.step(f"create scratch database {name}"):
            copy = replays.copy(template, name)
        self.scratch_name = name
        try:
            yield copy
        finally:
            self._drop(name)

    def _drop(self, name: str) -> None:
        # A fresh connection: the run may be long enough for an idle one to have been cut.
        with self.step(f"drop scratch database {name}") as step:
            try:
                with connect(self.shadow) as admin:
                    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            except (psycopg.Error, MigrateError) as error:
                text = f"Could not drop scratch database {name}: {_describe(error)}"
                self.cleanup_errors.append(text)
                step.fail(text)

    def result(self, outcome: _Outcome) -> RollbackVerification:
        """The run's result, once the scratch database is dropped (or failed to drop)."""
        return RollbackVerification(
            migration_name=self.migration_name,
            verified=outcome.verified,
            shadow=self.shadow.display,
            scratch_database=self.scratch_name,
            scratch_left_behind=bool(self.cleanup_errors),
            differences=outcome.differences,
            migration_changes=outcome.migration_changes,
            steps=tuple(self.steps),
            errors=tuple(self.shadow.redact(error) for error in (*outcome.errors, *self.cleanup_errors)),
            notes=outcome.notes,
        )


def _describe(error: BaseException) -> str:
    if isinstance(error, MigrateError):
        return error.headline
    if isinstance(error, psycopg.Error):
        return _message(error)
    return type(error).__name__
