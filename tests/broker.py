"""The API's enqueue for tests whose jobs go through a Celery app (the session worker's, or a producer)."""

from workers.broker import Broker


def sending_through(celery_app):
    """create_app's `enqueue(*job_ids)`: the service's own, each job's task sent by `celery_app`, in order."""
    return Broker(celery_app).enqueue
