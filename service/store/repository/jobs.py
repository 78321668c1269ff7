"""Jobs: created queued, read, listed, moved between states, approved or rejected.

Each state change and the journal event that records it are written in one transaction, with the
NOTIFY that announces it (see journal).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from service.jobs.states import JobKind, JobState, Verdict, check_transition
from service.prisma.migrations import LocalMigrations
from service.store.repository.bundles import bundle_digest, bundle_row
from service.store.repository.job_ids import JobNotFound, require_job_id
from service.store.repository.journal import EVENT_COLUMNS, JobEvent, insert_event, notify


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


class NotWaitingForApproval(Exception):
    """An approval or rejection for a job that is not waiting for one; nothing is recorded."""

    def __init__(self, job: Job) -> None:
        super().__init__(f"job {job.id} is {job.state.value}, not waiting for approval")
        self.job = job


_JOB_COLUMNS = (
    '"id", "kind", "target", "state", "verdict", "reasons", "facts", "params", "bundle_digest", "parent_id",'
    ' "requested_by", "idempotency_key", "attempts", "created_at", "updated_at", "started_at", "finished_at"'
)
_JOB_TIMES = ("created_at", "updated_at", "started_at", "finished_at")


def _jobs(conn: psycopg.Connection, query: str, params: Sequence[object]) -> list[Job]:
    with conn.cursor(row_factory=dict_row) as cursor:
        return [Job.from_row(row) for row in cursor.execute(query, params).fetchall()]


def _job_or_none(conn: psycopg.Connection, query: str, params: Sequence[object]) -> Job | None:
    with conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(query, params).fetchone()
    return Job.from_row(row) if row is not None else None


def _job_from_json(row: dict[str, Any]) -> Job:
    """A job from its row as one JSON object (`row_to_json`): decoded in one go, which costs less
    than a typed column each; the times come as ISO 8601 text."""
    for column in _JOB_TIMES:
        if row[column] is not None:
            row[column] = datetime.fromisoformat(row[column])
    return Job.from_row(row)


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
    jobs: list[dict[str, Any]] = []
    bundles: dict[str, dict[str, Any]] = {}
    for order, new in enumerate(new_jobs):
        digest = new.bundle_digest
        if new.bundle is not None:
            digest = digest or bundle_digest(new.bundle)
            if digest not in bundles:  # the jobs of one batch often bring the same bundle
                bundles[digest] = bundle_row(new.bundle, digest)
        jobs.append(
            {
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
            }
        )
    rows = conn.execute(_CREATE_JOBS, {"jobs": Jsonb(jobs), "bundles": Jsonb(list(bundles.values()))}).fetchall()
    results = []
    for (_order, created, job), new in zip(rows, new_jobs, strict=True):
        if job is None:
            # The key's job was stored after this statement's snapshot was taken: by a concurrent
            # retry, or by an earlier job of this call. The conflict is settled now, and a new
            # statement sees it.
            results.append((_job_holding_key(conn, new), False))
        else:
            results.append((_job_from_json(job), bool(created)))
    # The console's lists show a new job at once, not only once a worker takes it.
    if created_ids := [job.id for job, created in results if created]:
        notify(conn, *created_ids)
    return results


def _job_holding_key(conn: psycopg.Connection, new: NewJob) -> Job:
    existing = _job_or_none(
        conn, f'SELECT {_JOB_COLUMNS} FROM "job" WHERE "requested_by" = %s AND "idempotency_key" = %s', (new.requested_by, new.idempotency_key)
    )
    if existing is None:  # only retention deletes jobs, long after they ended, so the job that won the key is there
        raise RuntimeError(f"no job holds the idempotency key {new.idempotency_key!r} of {new.requested_by} that a job conflicted with")
    return existing


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


def get_job(conn: psycopg.Connection, job_id: str) -> Job:
    require_job_id(job_id)
    row = conn.execute(_JOB_AS_JSON, (job_id,)).fetchone()
    if row is None:
        raise JobNotFound(job_id)
    return _job_from_json(row[0])


_JOB_AS_JSON = f'SELECT row_to_json("job") FROM (SELECT {_JOB_COLUMNS} FROM "job" WHERE "id" = %s) AS "job"'


def job_with_journal(conn: psycopg.Connection, job_id: str) -> tuple[Job, list[JobEvent]]:
    """A job and its journal in order, read in one query (one snapshot, one round trip)."""
    require_job_id(job_id)
    row = conn.execute(_JOB_WITH_JOURNAL, (job_id,)).fetchone()
    if row is None:
        raise JobNotFound(job_id)
    document = row[0]
    return _job_from_json(document["job"]), [JobEvent(**{**event, "at": datetime.fromisoformat(event["at"])}) for event in document["journal"]]


_JOB_WITH_JOURNAL = f"""
SELECT json_build_object('job', "job", 'journal', (
    SELECT coalesce(json_agg("event" ORDER BY "event"."id"), '[]')
    FROM (SELECT {EVENT_COLUMNS} FROM "job_event" WHERE "job_id" = "job"."id") AS "event"
))
FROM (SELECT {_JOB_COLUMNS} FROM "job" WHERE "id" = %s) AS "job"
"""


def list_jobs(
    conn: psycopg.Connection,
    *,
    target: str | None = None,
    state: JobState | None = None,
    kind: JobKind | None = None,
    verdict: Verdict | None = None,
    limit: int = 50,
    before: tuple[datetime, str] | None = None,
) -> list[Job]:
    """Newest first; `before` (created_at, id) of the last job seen pages through the rest."""
    clauses: list[str] = []
    params: list[object] = []
    for column, value in (("target", target), ("state", state), ("kind", kind), ("verdict", verdict)):
        if value is not None:
            clauses.append(f'"{column}" = %s')
            params.append(str(value))
    if before is not None:
        clauses.append('("created_at", "id") < (%s, %s)')
        params.extend(before)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return _jobs(conn, f'SELECT {_JOB_COLUMNS} FROM "job" {where} ORDER BY "created_at" DESC, "id" DESC LIMIT %s', (*params, limit))


# What the newest job of a target is looked up for: one condition each, used alone or for many targets.
_LATEST = {
    # the newest finished check or deploy job that recorded the history's status
    "status": "\"state\" = 'succeeded' AND \"kind\" IN ('check', 'deploy') AND \"facts\" ? 'status'",
    # the newest check or deploy job that reached a verdict
    "verdict": "\"verdict\" IS NOT NULL AND \"kind\" IN ('check', 'deploy')",
    # the newest deploy job that let its deploy proceed
    "deploy": "\"kind\" = 'deploy' AND \"verdict\" = 'proceed'",
    # the newest finished job that compared the target's schema with its migrations (service.jobs.drift)
    "drift": "\"state\" = 'succeeded' AND \"facts\" ? 'drift'",
}


def _latest(conn: psycopg.Connection, target: str, what: str) -> Job | None:
    query = f'SELECT {_JOB_COLUMNS} FROM "job" WHERE "target" = %s AND {_LATEST[what]} ORDER BY "created_at" DESC LIMIT 1'
    return _job_or_none(conn, query, (target,))


def latest_check(conn: psycopg.Connection, target: str) -> Job | None:
    """The newest finished check or deploy job of a target that recorded the history's status."""
    return _latest(conn, target, "status")


def latest_verdict(conn: psycopg.Connection, target: str) -> Job | None:
    """The newest check or deploy job of a target that reached a verdict."""
    return _latest(conn, target, "verdict")


def latest_deploy(conn: psycopg.Connection, target: str) -> Job | None:
    """The newest deploy job of a target that let its deploy proceed."""
    return _latest(conn, target, "deploy")


@dataclass(frozen=True)
class TargetJobs:
    """A target's newest jobs of each kind `_LATEST` names, and the jobs waiting for a person."""

    status: Job | None = None
    verdict: Job | None = None
    deploy: Job | None = None
    drift: Job | None = None
    waiting: tuple[Job, ...] = ()


def target_jobs(conn: psycopg.Connection, targets: Sequence[str], *, waiting_limit: int = 50) -> dict[str, TargetJobs]:
    """`TargetJobs` for each target, in two queries whatever their number (the console's overview)."""
    lookups = " UNION ALL ".join(
        f'(SELECT \'{what}\' AS "what", {_JOB_COLUMNS} FROM "job" WHERE "target" = "t"."name" AND {condition} ORDER BY "created_at" DESC LIMIT 1)'
        for what, condition in _LATEST.items()
    )
    found: dict[str, dict[str, Any]] = {target: {} for target in targets}
    with conn.cursor(row_factory=dict_row) as cursor:
        rows = cursor.execute(f'SELECT "latest".* FROM unnest(%s::text[]) AS "t" ("name") CROSS JOIN LATERAL ({lookups}) AS "latest"', (list(targets),))
        for row in rows.fetchall():
            what = row.pop("what")
            found[row["target"]][what] = Job.from_row(row)
    waiting = _jobs(
        conn,
        f'SELECT {_JOB_COLUMNS} FROM "job" WHERE "state" = \'waiting_approval\' AND "target" = ANY(%s) ORDER BY "created_at" DESC, "id" DESC',
        (list(targets),),
    )
    for job in waiting:
        jobs = found[job.target].setdefault("waiting", [])
        if len(jobs) < waiting_limit:
            jobs.append(job)
    return {target: TargetJobs(**{**latest, "waiting": tuple(latest.get("waiting", ()))}) for target, latest in found.items()}


def previous_drift_job(conn: psycopg.Connection, job: Job) -> Job | None:
    """The newest `drift` job of the same target before `job` that did compare (its step checked)."""
    return _job_or_none(
        conn,
        f'SELECT {_JOB_COLUMNS} FROM "job" WHERE "target" = %s AND "kind" = \'drift\' AND "state" = \'succeeded\''
        " AND (\"facts\" -> 'drift' ->> 'checked') = 'true' AND (\"created_at\", \"id\") < (%s, %s)"
        ' ORDER BY "created_at" DESC, "id" DESC LIMIT 1',
        (job.target, job.created_at, job.id),
    )


def child_jobs(conn: psycopg.Connection, job_id: str) -> list[Job]:
    """The jobs a job started (a deploy's recover job), oldest first."""
    require_job_id(job_id)
    return _jobs(conn, f'SELECT {_JOB_COLUMNS} FROM "job" WHERE "parent_id" = %s ORDER BY "created_at", "id"', (job_id,))


def count_jobs(conn: psycopg.Connection) -> list[tuple[str, str, str | None, int]]:
    """(kind, state, verdict, count) for the metrics endpoint."""
    rows = conn.execute('SELECT "kind", "state", "verdict", count(*) FROM "job" GROUP BY 1, 2, 3 ORDER BY 1, 2, 3').fetchall()
    return [(str(kind), str(state), verdict, int(count)) for kind, state, verdict, count in rows]


@dataclass(frozen=True)
class JobWaits:
    """How long jobs have waited, and how many ended on an unreachable target (the metrics)."""

    oldest_queued_seconds: float
    oldest_waiting_approval_seconds: float
    blocked_unreachable: int


# The reason a job blocked by a target it could not reach starts with.
UNREACHABLE_REASON = "target unreachable: "


def job_waits(conn: psycopg.Connection) -> JobWaits:
    """A queued job waits since it was created; a job waiting for approval since it last changed
    (its move to waiting_approval). Both through the index of active jobs."""
    row = conn.execute(
        """
        SELECT
            coalesce((SELECT extract(epoch FROM now() - min("created_at")) FROM "job" WHERE "state" = 'queued'), 0)::float,
            coalesce((SELECT extract(epoch FROM now() - min("updated_at")) FROM "job" WHERE "state" = 'waiting_approval'), 0)::float,
            (SELECT count(*) FROM "job" WHERE "verdict" = 'blocked'
                AND EXISTS (SELECT 1 FROM jsonb_array_elements_text("reasons") AS "reason" WHERE starts_with("reason", %s)))
        """,
        (UNREACHABLE_REASON,),
    ).fetchone()
    assert row is not None  # an aggregate answers one row
    return JobWaits(max(0.0, float(row[0])), max(0.0, float(row[1])), int(row[2]))


def _locked_job(conn: psycopg.Connection, job_id: str) -> Job:
    """The job, its row locked until the caller's transaction ends."""
    job = _job_or_none(conn, f'SELECT {_JOB_COLUMNS} FROM "job" WHERE "id" = %s FOR UPDATE', (job_id,))
    if job is None:
        raise JobNotFound(job_id)
    return job


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
    require_job_id(job_id)
    with conn.transaction():
        current = _locked_job(conn, job_id)
        check_transition(job_id, current.state, to_state)
        merged_facts = {**current.facts, **(facts or {})}
        job = _job_or_none(
            conn,
            'UPDATE "job" SET "state" = %s, "verdict" = COALESCE(%s, "verdict"),'
            ' "reasons" = COALESCE(%s, "reasons"), "facts" = %s, "updated_at" = now(),'
            ' "started_at" = CASE WHEN %s = \'running\' THEN COALESCE("started_at", now()) ELSE "started_at" END,'
            ' "attempts" = "attempts" + CASE WHEN %s = \'running\' THEN 1 ELSE 0 END,'
            # Sent on to running (approved), its message is due now (job_messages).
            ' "next_run_at" = CASE WHEN %s = \'running\' THEN now() ELSE "next_run_at" END,'
            " \"finished_at\" = CASE WHEN %s IN ('succeeded', 'failed', 'canceled') THEN now() ELSE NULL END"
            f' WHERE "id" = %s RETURNING {_JOB_COLUMNS}',
            (
                to_state.value,
                verdict.value if verdict else None,
                Jsonb(reasons) if reasons is not None else None,
                Jsonb(merged_facts),
                to_state.value,
                to_state.value,
                to_state.value,
                to_state.value,
                job_id,
            ),
        )
        if job is None:  # the row is locked above, so it is still there
            raise JobNotFound(job_id)
        event_data = dict(data or {})
        if verdict:
            event_data["verdict"] = verdict.value
        if reasons:
            event_data["reasons"] = reasons
        insert_event(conn, job_id, "transition", from_state=current.state.value, to_state=to_state.value, data=event_data)
        notify(conn, job_id)
    return job


def record_approval(conn: psycopg.Connection, job_id: str, *, approved: bool, by: str, comment: str | None, reasons: list[str] | None = None) -> Job:
    """A person's decision on the plan a job waits with, and the state change it causes, in one transaction.

    Approved, the job goes back to `running` (its task is enqueued after commit); rejected, it
    ends `succeeded` with a `blocked` verdict, and its reasons are `reasons` (who rejected it) followed
    by the reasons it waited with, so whoever reads the verdict later learns what was at stake.
    """
    require_job_id(job_id)
    with conn.transaction():
        job = _locked_job(conn, job_id)
        if job.state is not JobState.WAITING_APPROVAL:
            raise NotWaitingForApproval(job)
        step = (job.facts.get("approval") or {}).get("step")
        insert_event(conn, job_id, "approval", step=step, data={"approved": approved, "by": by, "comment": comment})
        if approved:
            return transition(conn, job_id, JobState.RUNNING, data={"approved_by": by})
        kept = [f"{reason} (while it waited for approval)" for reason in job.reasons]
        return transition(conn, job_id, JobState.SUCCEEDED, verdict=Verdict.BLOCKED, reasons=[*(reasons or []), *kept], data={"rejected_by": by})
