from service.jobs.states import JobKind
from service.store import repository


def new_job(store, **overrides):
    values = {"kind": JobKind.DEPLOY, "target": "staging", "requested_by": "ci"}
    values.update(overrides)
    job, created = repository.create_job(store, **values)
    assert created
    return job
