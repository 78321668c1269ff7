"""Job ids are UUIDs; an id that is not one names no job, and must not reach SQL as one."""

from __future__ import annotations

import uuid


class JobNotFound(LookupError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job {job_id}")
        self.job_id = job_id


def require_job_id(job_id: str) -> None:
    """Raise JobNotFound for anything that is not a UUID."""
    try:
        uuid.UUID(str(job_id))
    except ValueError:
        raise JobNotFound(job_id) from None
