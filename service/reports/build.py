"""A job's report from the job and its journal (no database, no Flask): `build_report(job, events)`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from service.jobs.states import JobKind
from service.reports.base import JobReport
from service.reports.failover import FailoverReport
from service.reports.journal import Journal
from service.reports.model import IncidentReport
from service.reports.recover import RecoverReport
from service.reports.restore import RestoreReport
from service.reports.rollback import RollbackReport
from service.store.repository import Job, JobEvent

_BUILDERS: dict[JobKind, type[JobReport]] = {
    JobKind.CHECK: JobReport,
    JobKind.DEPLOY: JobReport,
    JobKind.RECOVER: RecoverReport,
    JobKind.ROLLBACK: RollbackReport,
    JobKind.RESTORE: RestoreReport,
    JobKind.FAILOVER: FailoverReport,
    JobKind.DRIFT: JobReport,
}


def build_report(job: Job, events: Sequence[JobEvent], *, now: datetime | None = None) -> IncidentReport:
    """The report of any job, from the job and its journal (see service.reports)."""
    return _BUILDERS[job.kind](job, Journal(events), now or datetime.now(UTC)).build()
