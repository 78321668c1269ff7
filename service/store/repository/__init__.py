"""All SQL against the service's own store, by record kind. Every function takes a psycopg connection.

- `jobs`: the job records, their creation, reads and state changes (with approvals);
- `job_messages`: when each job's next task message is due, and the messages the broker lost;
- `journal`: each job's append-only journal of events, and the NOTIFY that announces a change;
- `bundles`: migration bundles, stored once per content;
- `deliveries`: the platforms' webhook deliveries, each seen once;
- `integration_reports`: the verdicts owed to the platforms;
- `vercel_checks`: Vercel Checks v2, each project's check and the check runs owed a status;
- `retention`: deleting, in small batches, old finished jobs, old delivery ids and unused bundles;
- `target_locks`: the lock that serialises the jobs writing to one target;
- `workers`: the workers' heartbeats, and which worker runs a job right now;
- `schema`: the store's own schema (applied by `deploy-gate migrate-store`, checked by the API), and the probe that the store answers.

Callers use this package, `from service.store import repository`, and the names below; the
modules are how it is kept, not part of its interface.
"""

from service.store.repository.bundles import bundle_digest, latest_bundle_digest, load_bundle, store_bundle
from service.store.repository.deliveries import (
    delivery_events,
    delivery_job,
    delivery_jobs,
    describe_delivery,
    first_delivery,
    link_delivery,
    remember_delivery,
)
from service.store.repository.integration_reports import (
    IntegrationReport,
    abandon_integration_report,
    defer_integration_report,
    due_integration_reports,
    get_integration_report,
    latest_report_about,
    latest_report_for_remote,
    lock_integration_report,
    open_integration_report,
    open_reports_about,
    report_failed,
    report_progress,
)
from service.store.repository.job_ids import JobNotFound
from service.store.repository.job_messages import LostMessage, expect_message, expect_no_message, is_current_message, resend_lost_messages
from service.store.repository.jobs import (
    Job,
    JobWaits,
    NewJob,
    NotWaitingForApproval,
    TargetJobs,
    child_jobs,
    count_jobs,
    create_job,
    create_jobs,
    get_job,
    job_waits,
    job_with_journal,
    latest_check,
    latest_deploy,
    latest_verdict,
    list_jobs,
    previous_drift_job,
    record_approval,
    target_jobs,
    transition,
)
from service.store.repository.journal import (
    JOB_CHANNEL,
    JobEvent,
    approval_for,
    count_finished_steps,
    finished_steps,
    job_events,
    listen_for_job_changes,
    record_note,
    record_notification_outcome,
    record_step,
    step_durations,
    step_finished_at,
)
from service.store.repository.retention import PrunedJobs, prune_deliveries, prune_finished_jobs, prune_unused_bundles
from service.store.repository.schema import (
    STORE_MIGRATIONS,
    StoreNotMigrated,
    check_store_answers,
    migrate_store,
    pending_store_migrations,
    require_current_store,
)
from service.store.repository.target_locks import target_lock
from service.store.repository.vercel_checks import (
    CheckRun,
    StoredCheck,
    add_check_run,
    claim_check_runs,
    close_check_run,
    close_deployment_runs,
    defer_jobless_run,
    due_jobless_runs,
    forget_check,
    get_check_run,
    jobless_run_failed,
    lock_jobless_run,
    lock_project_check,
    reassign_check_run,
    remember_check,
    run_reported,
    runs_of_deployment,
    runs_of_job,
    skip_check_runs,
    stored_check,
)
from service.store.repository.workers import (
    OrphanedJob,
    claim_job,
    forget_worker,
    live_workers,
    prune_workers,
    record_heartbeat,
    release_job,
    release_jobs_except,
    release_orphaned_jobs,
)

__all__ = [
    # jobs
    "Job",
    "JobNotFound",
    "NewJob",
    "NotWaitingForApproval",
    "child_jobs",
    "count_jobs",
    "create_job",
    "create_jobs",
    "get_job",
    "JobWaits",
    "job_waits",
    "job_with_journal",
    "latest_check",
    "latest_deploy",
    "latest_verdict",
    "target_jobs",
    "TargetJobs",
    "list_jobs",
    "previous_drift_job",
    "record_approval",
    "transition",
    # job messages
    "LostMessage",
    "expect_message",
    "expect_no_message",
    "is_current_message",
    "resend_lost_messages",
    # journal
    "JOB_CHANNEL",
    "JobEvent",
    "approval_for",
    "count_finished_steps",
    "finished_steps",
    "job_events",
    "listen_for_job_changes",
    "record_note",
    "record_notification_outcome",
    "record_step",
    "step_durations",
    "step_finished_at",
    # bundles
    "bundle_digest",
    "latest_bundle_digest",
    "load_bundle",
    "store_bundle",
    # deliveries
    "delivery_events",
    "delivery_job",
    "first_delivery",
    "delivery_jobs",
    "describe_delivery",
    "link_delivery",
    "remember_delivery",
    # integration reports
    "IntegrationReport",
    "abandon_integration_report",
    "defer_integration_report",
    "due_integration_reports",
    "get_integration_report",
    "latest_report_about",
    "latest_report_for_remote",
    "lock_integration_report",
    "open_integration_report",
    "open_reports_about",
    "report_failed",
    "report_progress",
    # vercel checks (v2)
    "CheckRun",
    "StoredCheck",
    "add_check_run",
    "claim_check_runs",
    "close_check_run",
    "close_deployment_runs",
    "defer_jobless_run",
    "due_jobless_runs",
    "forget_check",
    "get_check_run",
    "jobless_run_failed",
    "lock_jobless_run",
    "lock_project_check",
    "reassign_check_run",
    "remember_check",
    "run_reported",
    "runs_of_deployment",
    "runs_of_job",
    "skip_check_runs",
    "stored_check",
    # retention
    "PrunedJobs",
    "prune_deliveries",
    "prune_finished_jobs",
    "prune_unused_bundles",
    # target locks
    "target_lock",
    # workers
    "OrphanedJob",
    "claim_job",
    "forget_worker",
    "live_workers",
    "prune_workers",
    "record_heartbeat",
    "release_job",
    "release_jobs_except",
    "release_orphaned_jobs",
    # schema
    "STORE_MIGRATIONS",
    "StoreNotMigrated",
    "check_store_answers",
    "migrate_store",
    "pending_store_migrations",
    "require_current_store",
]
