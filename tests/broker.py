"""The API's enqueue for tests whose jobs go through a Celery app (the session worker's, or a producer)."""


def sending_through(celery_app):
    """create_app's `enqueue(*job_ids)`: each job's task sent by `celery_app`, in order."""

    def enqueue(*job_ids: str) -> None:
        for job_id in job_ids:
            celery_app.send_task("deploy_gate.run_job", args=[job_id])

    return enqueue
