"""What the browser tests look at, made the way the service makes it: jobs run by the job runner on real databases.

A deploy of two migrations goes first; then a deploy whose new migration drops a column is blocked by
the linter (nothing applied), and a rollback of the second migration, verified on the shadow server,
waits for a person's approval because the policy asks for one. A restore of the target's RDS instance
(on moto's server) from a snapshot to a new instance waits for approval, as restores do.
"""

from __future__ import annotations

from typing import Any

import psycopg

from service.analysis.lint import lint_migrations
from service.config.records import Config
from service.jobs.runner import run_job
from service.jobs.states import JobKind, JobState, Verdict
from service.jobs.submit_recovery import submit_restore
from service.prisma.migrations import LocalMigrations, migrations_from_bundle
from service.store import repository
from service.store.repository import Job

ROLLED_BACK = "20240102_add_email"
DROPS_A_COLUMN = "20240103_drop_name"
SCRIPTS = {
    "20240101_patients": 'CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY, "name" TEXT);\n',
    ROLLED_BACK: """ALTER TABLE "Patient" ADD COLUMN "email" TEXT;
CREATE INDEX "Patient_email_idx" ON "Patient"("email");

-- ROLLBACK SQL
-- DROP INDEX IF EXISTS "Patient_email_idx";
-- ALTER TABLE "Patient" DROP COLUMN IF EXISTS "email";
""",
}
# The target's RDS instance, the snapshot a restore brings back, and the new instance it makes.
RESTORED_INSTANCE = "staging-db"
SNAPSHOT = "staging-db-before-incident"
NEW_INSTANCE = "staging-db-recovery"
BLOCKED_SCRIPTS = {**SCRIPTS, DROPS_A_COLUMN: 'ALTER TABLE "Patient" DROP COLUMN "name";\n'}


def _lint(local: LocalMigrations, severities: dict[str, str], session_timeouts: frozenset[str], prisma_version: int) -> list[dict[str, Any]]:
    # What the worker's task lints with (workers.tasks): findings as the job's `lint` step keeps them.
    return [finding.to_dict() for finding in lint_migrations(local, severities, session_timeouts, prisma_version=prisma_version)]


def _deploy(store: psycopg.Connection, config: Config, scripts: dict[str, str]) -> Job:
    digest = repository.store_bundle(store, migrations_from_bundle(scripts))
    job, _ = repository.create_job(store, kind=JobKind.DEPLOY, target="staging", requested_by="ops", params={"apply": True}, bundle_digest=digest)
    return run_job(store, config, job.id, linter=_lint)


def deployed(store: psycopg.Connection, config: Config) -> str:
    """Apply SCRIPTS to the target with a deploy job; the bundle's digest."""
    job = _deploy(store, config, SCRIPTS)
    assert job.verdict is Verdict.PROCEED, job.reasons
    assert job.bundle_digest is not None
    return job.bundle_digest


def blocked_deploy(store: psycopg.Connection, config: Config) -> Job:
    """A deploy the linter blocks: its new migration drops a column."""
    job = _deploy(store, config, BLOCKED_SCRIPTS)
    assert (job.state, job.verdict) == (JobState.SUCCEEDED, Verdict.BLOCKED), job.reasons
    return job


def waiting_rollback(store: psycopg.Connection, config: Config, digest: str) -> Job:
    """A rollback of ROLLED_BACK, verified on the shadow server, waiting for approval."""
    job, _ = repository.create_job(store, kind=JobKind.ROLLBACK, target="staging", requested_by="ops", params={"migration": ROLLED_BACK}, bundle_digest=digest)
    waiting = run_job(store, config, job.id, linter=_lint)
    assert waiting.state is JobState.WAITING_APPROVAL, waiting.reasons
    return waiting


def waiting_restore(store: psycopg.Connection, config: Config) -> Job:
    """A restore of SNAPSHOT to NEW_INSTANCE, planned against AWS (the `aws_for_jobs` fixture's moto), waiting for approval."""
    job, _ = submit_restore(store, config, "staging", {"snapshot_id": SNAPSHOT, "new_identifier": NEW_INSTANCE}, "ops")
    waiting = run_job(store, config, job.id)
    assert waiting.state is JobState.WAITING_APPROVAL, waiting.reasons
    return waiting
