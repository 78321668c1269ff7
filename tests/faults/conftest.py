"""The fault suite (marker `faults`): each test kills or stops something a deploy depends on and
checks what a person sees and what happens to the job.

Servers a fault stops are the test's own (tests.faults.servers): the shared PostgreSQL and Redis
are never stopped. Intervals and timeouts are short, from the settings' environment variables, so
what takes minutes by default takes seconds here.
"""

# The workers' fixtures: the environment a worker and the API read, the embedded session worker.
from tests.workers.conftest import (  # noqa: F401
    api,
    celery_config,
    celery_includes,
    celery_worker_parameters,
    celery_worker_pool,
    service_env,
)
