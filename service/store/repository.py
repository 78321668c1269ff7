"""All SQL against the service's own store. Every function takes a psycopg connection.

Each state change and the journal event that records it are written in one transaction, and a
`NOTIFY deploy_gate_job` carries the job id to long-polling readers when that transaction commits.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from service.jobs.states import JobKind, JobState, Verdict, check_transition
from service.prisma.deploy import DeployOutcome, deploy
from service.prisma.migrations import LocalMigrations, migrations_from_bundle, read_migrations_directory

STORE_MIGRATIONS = Path(__file__).parent / "migrations"
JOB_CHANNEL = "deploy_gate_job"


@dataclass(frozen=True)
class Job:
    id: str
    kind: JobKind
    target: str
    state: JobState
    verdict: Verdict | None
    reasons: list[str]
    facts: dict[str, Any]
    params: dict[str, Any]
    bundle_digest: str | None
    parent_id: str | None
    requested_by: str
    idempotency_key: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Job:
        return cls(
            id=str(row["id"]),
            kind=JobKind(row["kind"]),
            target=row["target"],
            state=JobState(row["state"]),
            verdict=Verdict(row["verdict"]) if row["verdict"] else None,
            reasons=list(row["reasons"]),
            facts=dict(row["facts"]),
            params=dict(row["params"]),
            bundle_digest=row["bundle_digest"],
            parent_id=str(row["parent_id"]) if row["parent_id"] else None,
            requested_by=row["requested_by"],
            idempotency_key=row["idempotency_key"],
            attempts=row["attempts"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
        )


@dataclass(frozen=True)
class JobEvent:
    id: int
    job_id: str
    at: datetime
    kind: str
    step: str | None
    from_state: str | None
    to_state: str | None
    data: dict[str, Any] = field(default_factory=dict)


class JobNotFound(LookupError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job {job_id}")
        self.job_id = job_id


def migrate_store(conn: psycopg.Connection, schema: str = "public") -> DeployOutcome:
    """Bring the store's schema up to date with deploy-gate's own Prisma-compatible deploy."""
    outcome = deploy(conn, schema, read_migrations_directory(STORE_MIGRATIONS))
    if outcome.failure:
        raise RuntimeError(f"the store migration {outcome.failure.migration_name} failed: {outcome.failure.message}")
    return outcome


def bundle_digest(local: LocalMigrations) -> str:
    """Content address of a bundle: SHA-256 over each migration's name and checksum, in order."""
    digest = hashlib.sha256()
    for migration in local:
        digest.update(f"{migration.name}\0{migration.checksum}\n".encode())
    digest.update(f"provider\0{local.lock_provider or ''}".encode())
    return digest.hexdigest()


def store_bundle(conn: psycopg.Connection, local: LocalMigrations) -> str:
    """Keep a bundle (once per content) and return its digest."""
    values = _bundle_values(local, bundle_digest(local))
    conn.execute(
        'INSERT INTO "bundle" ("digest", "migrations", "lock_provider", "size_bytes")'
        ' VALUES (%(digest)s, %(migrations)s, %(lock_provider)s, %(size_bytes)s) ON CONFLICT ("digest") DO NOTHING',
        {**values, "migrations": Jsonb(values["migrations"])},
    )
    return values["digest"]


def _bundle_values(local: LocalMigrations, digest: str) -> dict[str, Any]:
    return {
        "digest": digest,
        "migrations": [{"name": m.name, "script": m.script} for m in local],
        "lock_provider": local.lock_provider,
        "size_bytes": sum(len(m.script.encode()) for m in local),
    }


def load_bundle(conn: psycopg.Connection, digest: str) -> LocalMigrations | None:
    row = conn.execute('SELECT "migrations", "lock_provider" FROM "bundle" WHERE "digest" = %s', (digest,)).fetchone()
    if row is None:
        return None
    migrations, provider = row
    lock_text = f'provider = "{provider}"' if provider else None
    return migrations_from_bundle([(m["name"], m["script"]) for m in migrations], lock_text)


def latest_bundle_digest(conn: psycopg.Connection, target: str) -> str | None:
    """The bundle of the most recent job on a target that carried one."""
    row = conn.execute(
        'SELECT "bundle_digest" FROM "job" WHERE "target" = %s AND "bundle_digest" IS NOT NULL'
        ' ORDER BY "created_at" DESC LIMIT 1',
        (target,),
    ).fetchone()
    return row[0] if row else None


_JOB_COLUMNS = (
    '"id", "kind", "target", "state", "verdict", "reasons", "facts", "params", "bundle_digest", "parent_id",'
    ' "requested_by", "idempotency_key", "attempts", "created_at", "updated_at", "started_at", "finished_at"'
)


@dataclass(frozen=True)
class NewJob:
    """A job to store, queued, with its first journal event. Its bundle is either `bundle`, stored
    (once per content) with it, or `bundle_digest` alone, the digest of one stored before. Given
    both, `bundle_digest` is `bundle`'s digest, already taken."""

    kind: JobKind
    target: str
    requested_by: str
    params: dict[str, Any] = field(default_factory=dict)
    bundle_digest: str | None = None
    idempotency_key: str | None = None
    parent_id: str | None = None
    bundle: LocalMigrations | None = None


def create_job(
    conn: psycopg.Connection,
    *,
    kind: JobKind,
    target: str,
    requested_by: str,
    params: dict[str, Any] | None = None,
    bundle_digest: str | None = None,
    idempotency_key: str | None = None,
    parent_id: str | None = None,
    bundle: LocalMigrations | None = None,
) -> tuple[Job, bool]:
    """Store one queued job with its first journal event; (job, created). See create_jobs."""
    new = NewJob(kind, target, requested_by, params or {}, bundle_digest, idempotency_key, parent_id, bundle)
    return create_jobs(conn, [new])[0]


def create_jobs(conn: psycopg.Connection, new_jobs: Sequence[NewJob]) -> list[tuple[Job, bool]]:
    """Store queued jobs with their first journal events and their bundles, in one statement;
    (job, created) for each, in order.

    With an idempotency key already used by the same requester, nothing is written for that job,
    the existing job comes back and `created` is False, so a retried request starts nothing new.
    Two jobs of one call with the same key are stored once, as two calls in turn would store them.
    """
    jobs, bundles = [], {}
    for order, new in enumerate(new_jobs):
        digest = new.bundle_digest
        if new.bundle is not None:
            digest = digest or bundle_digest(new.bundle)
            if digest not in bundles:  # the jobs of one batch often bring the same bundle
                bundles[digest] = _bundle_values(new.bundle, digest)
        jobs.append({
            "ord": order,
            "id": str(uuid.uuid4()),
            "kind": new.kind.value,
            "target": new.target,
            "state": JobState.QUEUED.value,
            "params": new.params,
            "bundle_digest": digest,
            "requested_by": new.requested_by,
            "idempotency_key": new.idempotency_key,
            "parent_id": new.parent_id,
            "event": {"kind": new.kind.value, "target": new.target},
        })
    rows = conn.execute(_CREATE_JOBS, {"jobs": Jsonb(jobs), "bundles": Jsonb(list(bundles.values()))}).fetchall()
    results = []
    for (order, created, job), new in zip(rows, new_jobs):
        if job is None:
            # The key's job was stored after this statement's snapshot was taken: by a concurrent
            # retry, or by an earlier job of this call. The conflict is settled now, and a new
            # statement sees it.
            existing = conn.execute(
                f'SELECT {_JOB_COLUMNS} FROM "job" WHERE "requested_by" = %s AND "idempotency_key" = %s',
                (new.requested_by, new.idempotency_key),
            )
            results.append((_fetch_job(existing), False))
        else:
            results.append((_job_from_json(job), created))
    return results


# The jobs, their first events and their bundles are written by one statement: one round trip, no
# explicit transaction. A job not inserted is looked up by its key (a subquery, so through the
# key's index); it reads the statement's snapshot, which does not hold the rows inserted here, so
# it finds a job only when the key was used before. No NOTIFY: nobody can be waiting on a job that
# did not exist, and each would wake every API process.
_CREATE_JOBS = f"""
WITH "input" AS (
    SELECT * FROM jsonb_to_recordset(%(jobs)s) AS "i" (
        "ord" integer, "id" uuid, "kind" text, "target" text, "state" text, "params" jsonb, "bundle_digest" text,
        "requested_by" text, "idempotency_key" text, "parent_id" uuid, "event" jsonb
    )
), "new_bundle" AS (
    INSERT INTO "bundle" ("digest", "migrations", "lock_provider", "size_bytes")
    SELECT "digest", "migrations", "lock_provider", "size_bytes"
    FROM jsonb_to_recordset(%(bundles)s) AS "b" ("digest" text, "migrations" jsonb, "lock_provider" text, "size_bytes" integer)
    ON CONFLICT ("digest") DO NOTHING
), "new_job" AS (
    INSERT INTO "job" ("id", "kind", "target", "state", "params", "bundle_digest", "requested_by", "idempotency_key", "parent_id")
    SELECT "id", "kind", "target", "state", "params", "bundle_digest", "requested_by", "idempotency_key", "parent_id"
    FROM "input" ORDER BY "ord"
    ON CONFLICT ("requested_by", "idempotency_key") DO NOTHING
    RETURNING {_JOB_COLUMNS}
), "first_event" AS (
    INSERT INTO "job_event" ("job_id", "kind", "to_state", "data")
    SELECT "new_job"."id", 'transition', "new_job"."state", "input"."event" FROM "new_job" JOIN "input" USING ("id")
)
SELECT "input"."ord", "new_job"."id" IS NOT NULL, coalesce(row_to_json("new_job"), (
    SELECT row_to_json("earlier") FROM (
        SELECT {_JOB_COLUMNS} FROM "job"
        WHERE "job"."requested_by" = "input"."requested_by" AND "job"."idempotency_key" = "input"."idempotency_key"
    ) AS "earlier"
))
FROM "input" LEFT JOIN "new_job" USING ("id")
ORDER BY "input"."ord"
"""


def _fetch_job(cursor: psycopg.Cursor) -> Job | None:
    row = cursor.fetchone()
    if row is None:
        return None
    names = [column.name for column in cursor.description]
    return Job.from_row(dict(zip(names, row)))


def _require_uuid(job_id: str) -> None:
    """Job ids are UUIDs; anything else names no job (and must not reach SQL as one)."""
    try:
        uuid.UUID(str(job_id))
    except ValueError:
        raise JobNotFound(job_id) from None


def get_job(conn: psycopg.Connection, job_id: str) -> Job:
    _require_uuid(job_id)
    row = conn.execute(_JOB_AS_JSON, (job_id,)).fetchone()
    if row is None:
        raise JobNotFound(job_id)
    return _job_from_json(row[0])


_JOB_AS_JSON = f'SELECT row_to_json("job") FROM (SELECT {_JOB_COLUMNS} FROM "job" WHERE "id" = %s) AS "job"'


def job_with_journal(conn: psycopg.Connection, job_id: str) -> tuple[Job, list[JobEvent]]:
    """A job and its journal in order, read in one query (one snapshot, one round trip)."""
    _require_uuid(job_id)
    row = conn.execute(_JOB_WITH_JOURNAL, (job_id,)).fetchone()
    if row is None:
        raise JobNotFound(job_id)
    document = row[0]
    return _job_from_json(document["job"]), [JobEvent(**{**event, "at": datetime.fromisoformat(event["at"])}) for event in document["journal"]]


def _job_from_json(row: dict[str, Any]) -> Job:
    """A job from its row as one JSON object (`row_to_json`): decoded in one go, which costs less
    than a typed column each; the times come as ISO 8601 text."""
    for column in _JOB_TIMES:
        if row[column] is not None:
            row[column] = datetime.fromisoformat(row[column])
    return Job.from_row(row)


_JOB_TIMES = ("created_at", "updated_at", "started_at", "finished_at")
_EVENT_COLUMNS = '"id", "job_id", "at", "kind", "step", "from_state", "to_state", "data"'
_JOB_WITH_JOURNAL = f"""
SELECT json_build_object('job', "job", 'journal', (
    SELECT coalesce(json_agg("event" ORDER BY "event"."id"), '[]')
    FROM (SELECT {_EVENT_COLUMNS} FROM "job_event" WHERE "job_id" = "job"."id") AS "event"
))
FROM (SELECT {_JOB_COLUMNS} FROM "job" WHERE "id" = %s) AS "job"
"""


def list_jobs(
    conn: psycopg.Connection,
    *,
    target: str | None = None,
    state: JobState | None = None,
    kind: JobKind | None = None,
    limit: int = 50,
    before: tuple[datetime, str] | None = None,
) -> list[Job]:
    """Newest first; `before` (created_at, id) of the last job seen pages through the rest."""
    clauses, params = [], []
    for column, value in (("target", target), ("state", state), ("kind", kind)):
        if value is not None:
            clauses.append(f'"{column}" = %s')
            params.append(str(value))
    if before is not None:
        clauses.append('("created_at", "id") < (%s, %s)')
        params.extend(before)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    cursor = conn.execute(
        f'SELECT {_JOB_COLUMNS} FROM "job" {where} ORDER BY "created_at" DESC, "id" DESC LIMIT %s',
        (*params, limit),
    )
    names = [column.name for column in cursor.description]
    return [Job.from_row(dict(zip(names, row))) for row in cursor.fetchall()]


def latest_check(conn: psycopg.Connection, target: str) -> Job | None:
    """The newest finished check or deploy job of a target that recorded the history's status."""
    cursor = conn.execute(
        f'SELECT {_JOB_COLUMNS} FROM "job" WHERE "target" = %s AND "state" = \'succeeded\''
        f' AND "kind" IN (\'check\', \'deploy\') AND "facts" ? \'status\' ORDER BY "created_at" DESC LIMIT 1',
        (target,),
    )
    return _fetch_job(cursor)


def transition(
    conn: psycopg.Connection,
    job_id: str,
    to_state: JobState,
    *,
    verdict: Verdict | None = None,
    reasons: list[str] | None = None,
    facts: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
) -> Job:
    """Move a job to another state, with its journal event, in one transaction.

    The row is locked first, so two workers cannot both move the same job; a transition the
    state table does not allow raises IllegalTransition and changes nothing.
    """
    _require_uuid(job_id)
    with conn.transaction():
        current = _fetch_job(conn.execute(f'SELECT {_JOB_COLUMNS} FROM "job" WHERE "id" = %s FOR UPDATE', (job_id,)))
        if current is None:
            raise JobNotFound(job_id)
        check_transition(job_id, current.state, to_state)
        merged_facts = {**current.facts, **(facts or {})}
        job = _fetch_job(
            conn.execute(
                f'UPDATE "job" SET "state" = %s, "verdict" = COALESCE(%s, "verdict"),'
                f' "reasons" = COALESCE(%s, "reasons"), "facts" = %s, "updated_at" = now(),'
                f' "started_at" = CASE WHEN %s = \'running\' THEN COALESCE("started_at", now()) ELSE "started_at" END,'
                f' "attempts" = "attempts" + CASE WHEN %s = \'running\' THEN 1 ELSE 0 END,'
                f' "finished_at" = CASE WHEN %s IN (\'succeeded\', \'failed\', \'canceled\') THEN now() ELSE NULL END'
                f' WHERE "id" = %s RETURNING {_JOB_COLUMNS}',
                (
                    to_state.value,
                    verdict.value if verdict else None,
                    Jsonb(reasons) if reasons is not None else None,
                    Jsonb(merged_facts),
                    to_state.value,
                    to_state.value,
                    to_state.value,
                    job_id,
                ),
            )
        )
        event_data = dict(data or {})
        if verdict:
            event_data["verdict"] = verdict.value
        if reasons:
            event_data["reasons"] = reasons
        _insert_event(conn, job_id, "transition", from_state=current.state.value, to_state=to_state.value, data=event_data)
        _notify(conn, job_id)
    return job


def record_step(
    conn: psycopg.Connection, job_id: str, step: str, phase: str, data: dict[str, Any] | None = None
) -> None:
    """Journal a step boundary: phase is started, finished or failed."""
    with conn.transaction():
        _insert_event(conn, job_id, f"step_{phase}", step=step, data=data or {})
        conn.execute('UPDATE "job" SET "updated_at" = now() WHERE "id" = %s', (job_id,))
        _notify(conn, job_id)


def finished_steps(conn: psycopg.Connection, job_id: str) -> dict[str, dict[str, Any]]:
    """Steps already done for a job, with what they recorded, so a resumed job skips them."""
    rows = conn.execute(
        'SELECT "step", "data" FROM "job_event" WHERE "job_id" = %s AND "kind" = \'step_finished\' ORDER BY "id"',
        (job_id,),
    ).fetchall()
    return {step: data for step, data in rows}


def job_events(conn: psycopg.Connection, job_id: str, after_id: int = 0) -> list[JobEvent]:
    with conn.cursor(row_factory=dict_row) as cursor:
        rows = cursor.execute(
            f'SELECT {_EVENT_COLUMNS} FROM "job_event" WHERE "job_id" = %s AND "id" > %s ORDER BY "id"',
            (job_id, after_id),
        ).fetchall()
    return [JobEvent(**{**row, "job_id": str(row["job_id"])}) for row in rows]


def stale_jobs(conn: psycopg.Connection, *, queued_for_seconds: float, running_quiet_for_seconds: float) -> list[Job]:
    """Jobs the reconciler should look at: queued too long (a lost message) or running but quiet."""
    cursor = conn.execute(
        f'SELECT {_JOB_COLUMNS} FROM "job" WHERE ("state" = \'queued\' AND "updated_at" < now() - make_interval(secs => %s))'
        f' OR ("state" = \'running\' AND "updated_at" < now() - make_interval(secs => %s)) ORDER BY "created_at"',
        (queued_for_seconds, running_quiet_for_seconds),
    )
    names = [column.name for column in cursor.description]
    return [Job.from_row(dict(zip(names, row))) for row in cursor.fetchall()]


def remember_delivery(conn: psycopg.Connection, source: str, delivery_id: str) -> bool:
    """True the first time a webhook delivery id is seen, False for a redelivery."""
    row = conn.execute(
        'INSERT INTO "webhook_delivery" ("source", "delivery_id") VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING 1',
        (source, delivery_id),
    ).fetchone()
    return row is not None


def link_delivery(conn: psycopg.Connection, source: str, delivery_id: str, job_id: str) -> None:
    conn.execute(
        'UPDATE "webhook_delivery" SET "job_id" = %s WHERE "source" = %s AND "delivery_id" = %s',
        (job_id, source, delivery_id),
    )


def count_jobs(conn: psycopg.Connection) -> list[tuple[str, str, str | None, int]]:
    """(kind, state, verdict, count) for the metrics endpoint."""
    return conn.execute(
        'SELECT "kind", "state", "verdict", count(*) FROM "job" GROUP BY 1, 2, 3 ORDER BY 1, 2, 3'
    ).fetchall()


def step_durations(conn: psycopg.Connection) -> list[tuple[str, float]]:
    """Average seconds from a step's start to its end over the last day, by step kind."""
    return conn.execute(
        """
        SELECT split_part(s."step", ':', 1), avg(extract(epoch FROM f."at" - s."at"))::float
        FROM "job_event" s
        JOIN "job_event" f ON f."job_id" = s."job_id" AND f."step" = s."step" AND f."kind" = 'step_finished'
        WHERE s."kind" = 'step_started' AND s."at" > now() - interval '1 day'
        GROUP BY 1 ORDER BY 1
        """
    ).fetchall()


def _insert_event(
    conn: psycopg.Connection,
    job_id: str,
    kind: str,
    *,
    step: str | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        'INSERT INTO "job_event" ("job_id", "kind", "step", "from_state", "to_state", "data") VALUES (%s, %s, %s, %s, %s, %s)',
        (job_id, kind, step, from_state, to_state, Jsonb(data or {})),
    )


def _notify(conn: psycopg.Connection, job_id: str) -> None:
    conn.execute("SELECT pg_notify(%s, %s)", (JOB_CHANNEL, job_id))


class NotWaitingForApproval(Exception):
    """An approval or rejection for a job that is not waiting for one; nothing is recorded."""

    def __init__(self, job: Job) -> None:
        super().__init__(f"job {job.id} is {job.state.value}, not waiting for approval")
        self.job = job


def record_approval(
    conn: psycopg.Connection, job_id: str, *, approved: bool, by: str, comment: str | None, reasons: list[str] | None = None
) -> Job:
    """A person's decision on the plan a job waits with, and the state change it causes, in one transaction.

    Approved, the job goes back to `running` (its task is enqueued after commit); rejected, it
    ends `succeeded` with a `blocked` verdict.
    """
    _require_uuid(job_id)
    with conn.transaction():
        job = _fetch_job(conn.execute(f'SELECT {_JOB_COLUMNS} FROM "job" WHERE "id" = %s FOR UPDATE', (job_id,)))
        if job is None:
            raise JobNotFound(job_id)
        if job.state is not JobState.WAITING_APPROVAL:
            raise NotWaitingForApproval(job)
        step = (job.facts.get("approval") or {}).get("step")
        _insert_event(conn, job_id, "approval", step=step, data={"approved": approved, "by": by, "comment": comment})
        if approved:
            return transition(conn, job_id, JobState.RUNNING, data={"approved_by": by})
        return transition(conn, job_id, JobState.SUCCEEDED, verdict=Verdict.BLOCKED, reasons=reasons, data={"rejected_by": by})


def approval_for(conn: psycopg.Connection, job_id: str, step: str) -> dict[str, Any] | None:
    """The latest approval decision recorded for a step of a job, with its time."""
    row = conn.execute(
        'SELECT "data", "at" FROM "job_event" WHERE "job_id" = %s AND "kind" = \'approval\' AND "step" = %s ORDER BY "id" DESC LIMIT 1',
        (job_id, step),
    ).fetchone()
    return {**row[0], "at": row[1].isoformat()} if row else None


def count_finished_steps(conn: psycopg.Connection, job_id: str, prefix: str) -> int:
    row = conn.execute(
        'SELECT count(*) FROM "job_event" WHERE "job_id" = %s AND "kind" = \'step_finished\' AND starts_with("step", %s)',
        (job_id, prefix),
    ).fetchone()
    return row[0]


def step_finished_at(conn: psycopg.Connection, job_id: str, step: str) -> datetime | None:
    row = conn.execute(
        'SELECT "at" FROM "job_event" WHERE "job_id" = %s AND "kind" = \'step_finished\' AND "step" = %s ORDER BY "id" LIMIT 1',
        (job_id, step),
    ).fetchone()
    return row[0] if row else None


def describe_delivery(conn: psycopg.Connection, source: str, delivery_id: str, *, event: str, subject: str | None) -> None:
    """Record what a remembered webhook delivery was: its event type and the deployment it concerns."""
    conn.execute(
        'UPDATE "webhook_delivery" SET "event" = %s, "subject" = %s WHERE "source" = %s AND "delivery_id" = %s',
        (event, subject, source, delivery_id),
    )


def delivery_events(conn: psycopg.Connection, source: str, subject: str) -> set[str]:
    """The event types already received about a deployment (whatever order they came in)."""
    rows = conn.execute(
        'SELECT DISTINCT "event" FROM "webhook_delivery" WHERE "source" = %s AND "subject" = %s AND "event" IS NOT NULL',
        (source, subject),
    ).fetchall()
    return {row[0] for row in rows}


def delivery_jobs(conn: psycopg.Connection, source: str, subject: str) -> list[str]:
    """The jobs that deliveries about a deployment started, oldest first."""
    rows = conn.execute(
        'SELECT "job_id" FROM "webhook_delivery" WHERE "source" = %s AND "subject" = %s AND "job_id" IS NOT NULL'
        ' GROUP BY "job_id" ORDER BY min("received_at"), "job_id"',
        (source, subject),
    ).fetchall()
    return [str(row[0]) for row in rows]


def record_note(conn: psycopg.Connection, job_id: str, data: dict[str, Any]) -> None:
    """Journal something that happened around a job without changing it (a platform's event)."""
    _require_uuid(job_id)
    with conn.transaction():
        _insert_event(conn, job_id, "note", data=data)
        _notify(conn, job_id)


def record_notification_outcome(
    conn: psycopg.Connection, job_id: str, *, notification: str, delivery_id: str | None, outcome: str, **details: Any
) -> None:
    """Journal what became of a notification about a job (service.notifications.Delivery).

    A note, so it is appended in any state, after the job ended too (a verdict's notification is
    delivered then), and changes neither the job's state nor its times.
    """
    record_note(conn, job_id, {"notification": notification, "delivery_id": delivery_id, "outcome": outcome, **details})


@dataclass(frozen=True)
class IntegrationReport:
    """A job's verdict owed to a platform (see the integration_report table)."""

    job_id: str
    source: str
    subject: str
    remote_id: str | None
    details: dict[str, Any]
    status: str
    reported_state: str | None
    reported_at: datetime | None
    attempts: int
    last_error: str | None
    created_at: datetime


_REPORT_COLUMNS = (
    '"job_id", "source", "subject", "remote_id", "details", "status", "reported_state", "reported_at",'
    ' "attempts", "last_error", "created_at"'
)


def _report(row: tuple | None) -> IntegrationReport | None:
    if row is None:
        return None
    job_id, *rest = row
    return IntegrationReport(str(job_id), *rest)


def open_integration_report(
    conn: psycopg.Connection, *, job_id: str, source: str, subject: str, remote_id: str | None = None, details: dict[str, Any] | None = None
) -> bool:
    """Owe a platform this job's verdict; False when the job already has a report for that source."""
    row = conn.execute(
        'INSERT INTO "integration_report" ("job_id", "source", "subject", "remote_id", "details") VALUES (%s, %s, %s, %s, %s)'
        ' ON CONFLICT DO NOTHING RETURNING 1',
        (job_id, source, subject, remote_id, Jsonb(details or {})),
    ).fetchone()
    return row is not None


def get_integration_report(conn: psycopg.Connection, job_id: str, source: str) -> IntegrationReport | None:
    return _report(
        conn.execute(f'SELECT {_REPORT_COLUMNS} FROM "integration_report" WHERE "job_id" = %s AND "source" = %s', (job_id, source)).fetchone()
    )


def lock_integration_report(conn: psycopg.Connection, job_id: str, source: str) -> IntegrationReport | None:
    """An open report, locked until the caller's transaction ends; None if closed, or busy elsewhere."""
    return _report(
        conn.execute(
            f'SELECT {_REPORT_COLUMNS} FROM "integration_report" WHERE "job_id" = %s AND "source" = %s AND "status" = \'open\''
            ' FOR UPDATE SKIP LOCKED',
            (job_id, source),
        ).fetchone()
    )


def report_progress(
    conn: psycopg.Connection, job_id: str, source: str, *, reported_state: str, remote_id: str | None = None, done: bool = False
) -> None:
    """The platform now knows `reported_state`; a done report is closed. Clears past failures."""
    conn.execute(
        'UPDATE "integration_report" SET "reported_state" = %s, "remote_id" = COALESCE(%s, "remote_id"), "reported_at" = now(),'
        ' "status" = CASE WHEN %s THEN \'done\' ELSE "status" END, "attempts" = 0, "last_error" = NULL, "retry_at" = NULL,'
        ' "updated_at" = now() WHERE "job_id" = %s AND "source" = %s',
        (reported_state, remote_id, done, job_id, source),
    )


def report_failed(conn: psycopg.Connection, job_id: str, source: str, *, error: str, retry_in_seconds: float) -> None:
    """A failed attempt: counted, its error kept, and no scheduled retry before `retry_in_seconds`."""
    conn.execute(
        'UPDATE "integration_report" SET "attempts" = "attempts" + 1, "last_error" = %s,'
        ' "retry_at" = now() + make_interval(secs => %s), "updated_at" = now() WHERE "job_id" = %s AND "source" = %s',
        (error, retry_in_seconds, job_id, source),
    )


def abandon_integration_report(conn: psycopg.Connection, job_id: str, source: str, *, reason: str) -> None:
    """Stop reporting (the platform refused, or the deployment ended): the reason stays on the row."""
    conn.execute(
        'UPDATE "integration_report" SET "status" = \'abandoned\', "last_error" = %s, "retry_at" = NULL, "updated_at" = now()'
        ' WHERE "job_id" = %s AND "source" = %s AND "status" = \'open\'',
        (reason, job_id, source),
    )


def open_reports_about(conn: psycopg.Connection, source: str, subject: str) -> list[IntegrationReport]:
    rows = conn.execute(
        f'SELECT {_REPORT_COLUMNS} FROM "integration_report" WHERE "source" = %s AND "subject" = %s AND "status" = \'open\''
        ' ORDER BY "created_at"',
        (source, subject),
    ).fetchall()
    return [_report(row) for row in rows]


def latest_report_for_remote(conn: psycopg.Connection, source: str, remote_id: str) -> IntegrationReport | None:
    """The newest report on a platform's object (a Vercel check is reported again when re-requested)."""
    return _report(
        conn.execute(
            f'SELECT {_REPORT_COLUMNS} FROM "integration_report" WHERE "source" = %s AND "remote_id" = %s'
            ' ORDER BY "created_at" DESC LIMIT 1',
            (source, remote_id),
        ).fetchone()
    )


def due_integration_reports(conn: psycopg.Connection, *, fresh_seconds: float, limit: int = 200) -> list[tuple[str, str]]:
    """(job id, source) of open reports with something to tell: a Vercel check not created yet, not
    running yet or about to go stale, or a job that has ended. Reports waiting out a retry are left."""
    rows = conn.execute(
        'SELECT "r"."job_id", "r"."source" FROM "integration_report" "r" JOIN "job" "j" ON "j"."id" = "r"."job_id"'
        ' WHERE "r"."status" = \'open\' AND ("r"."retry_at" IS NULL OR "r"."retry_at" <= now())'
        ' AND ("j"."state" IN (\'succeeded\', \'failed\', \'canceled\') OR ("r"."source" = \'vercel\' AND ("r"."remote_id" IS NULL'
        ' OR "r"."reported_state" IS DISTINCT FROM \'running\' OR "r"."reported_at" < now() - make_interval(secs => %s))))'
        ' ORDER BY "r"."created_at" LIMIT %s',
        (fresh_seconds, limit),
    ).fetchall()
    return [(str(job_id), source) for job_id, source in rows]


def delivery_job(conn: psycopg.Connection, source: str, delivery_id: str) -> str | None:
    """The job a remembered webhook delivery started, if any."""
    row = conn.execute(
        'SELECT "job_id" FROM "webhook_delivery" WHERE "source" = %s AND "delivery_id" = %s', (source, delivery_id)
    ).fetchone()
    return str(row[0]) if row and row[0] else None
