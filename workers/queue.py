"""Enqueue a job's task by name, so the web process needs no task code."""

from __future__ import annotations


def enqueue_job(job_id: str) -> None:
    from workers.celery_app import celery

    celery.send_task("deploy_gate.run_job", args=[job_id])
