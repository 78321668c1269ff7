"""Request and response bodies, as marshmallow schemas (the contract is `openapi.yaml`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, missing, post_load, validate

from service.jobs.states import JobKind, JobState, Verdict
from service.prisma.execution import PRISMA_VERSIONS
from service.store.repository import Job

MIGRATION_NAME = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,254}$", error="a migration folder name: letters, digits, '_', '-', '.', spaces")
TARGET_NAME = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$", error="a target name")
# PostgreSQL text cannot hold NUL; a body carrying one is refused rather than failing in the store.
NO_NUL = validate.Regexp(r"^[^\x00]*$", error="must not contain NUL characters")
# Visible ASCII (an HTTP header keeps it as sent: no spaces at either end to strip, nothing to decode).
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7E]{1,200}$")


class StrictBoolean(fields.Boolean):
    """true or false, nothing else: marshmallow's Boolean also takes 1, "yes", "on" and friends,
    which openapi.yaml's `type: boolean` does not."""

    def _deserialize(self, value: object, attr: str | None, data: Mapping[str, Any] | None, **kwargs: object) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class Migration(fields.Field[dict[str, str]]):
    """One migration of a bundle: `{"name": its folder's name, "sql": its migration.sql}`.

    A field holding its own fields rather than a nested schema: loading a schema for each item
    cost more than all the rest of a deploy request's validation. The errors are a schema's.
    """

    default_error_messages = {"invalid": "Not a valid migration: an object with a name and its sql."}
    FIELDS: ClassVar[dict[str, fields.String]] = {
        "name": fields.String(required=True, validate=MIGRATION_NAME),
        "sql": fields.String(required=True, validate=NO_NUL),
    }

    def _deserialize(self, value: object, attr: str | None, data: Mapping[str, Any] | None, **kwargs: object) -> dict[str, str]:
        if not isinstance(value, dict):
            raise self.make_error("invalid")
        loaded: dict[str, str] = {}
        errors: dict[str, object] = {key: ["Unknown field."] for key in value if key not in self.FIELDS}
        for key, field in self.FIELDS.items():
            try:
                text = field.deserialize(value.get(key, missing))
            except ValidationError as error:
                errors[key] = error.messages
            else:
                assert text is not None, "the fields do not allow null: deserializing one raises"
                loaded[key] = text
        if errors:
            raise ValidationError(errors)
        return loaded


class DeployRequestSchema(Schema):
    class Meta:
        unknown = RAISE

    target = fields.String(required=True, validate=TARGET_NAME)
    phase = fields.String(load_default="pre", validate=validate.OneOf(["pre", "post", "failed"]))
    apply = StrictBoolean(load_default=False)
    commit = fields.String(load_default=None, allow_none=True, validate=[validate.Length(max=64), NO_NUL])
    deployment_id = fields.String(load_default=None, allow_none=True, validate=[validate.Length(max=200), NO_NUL])
    migrations = fields.List(Migration(), load_default=None, allow_none=True)
    # What the bundle's migration_lock.toml names: anything but PostgreSQL is Prisma's P3019.
    lock_provider = fields.String(
        load_default="postgresql",
        validate=validate.OneOf(["postgresql"], error="P3019: migration_lock.toml names the provider {input!r}; deploy-gate gates postgresql migrations"),
    )
    # The Prisma major version the build's project uses; null: the target's `prisma_version`.
    prisma_version = fields.Integer(
        strict=True,
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(
            PRISMA_VERSIONS, error="must be 6 or 7; Prisma 8 (a database marker and migration.ts/ops.json) is not supported, see docs/prisma-8.md"
        ),
    )


class CheckRequestSchema(Schema):
    class Meta:
        unknown = RAISE

    phase = fields.String(load_default="post", validate=validate.OneOf(["pre", "post"]))


class JobListQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    target = fields.String(validate=TARGET_NAME)
    state = fields.String(validate=validate.OneOf([s.value for s in JobState]))
    kind = fields.String(validate=validate.OneOf([k.value for k in JobKind]))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_-]+={0,2}$", error="a cursor: the next_cursor of the previous page"))


class WaitQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    wait = fields.Float(load_default=0, validate=validate.Range(min=0, max=25))

    @post_load
    def _plain(self, data: dict[str, Any], **kwargs: object) -> float:
        wait: float = data["wait"]
        return wait


class JobEventSchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    kind = fields.String()
    step = fields.String(allow_none=True)
    from_state = fields.String(allow_none=True)
    to_state = fields.String(allow_none=True)
    data = fields.Dict()


class JobSchema(Schema):
    id = fields.String()
    url = fields.Method("_url")
    kind = fields.Enum(JobKind, by_value=True)
    target = fields.String()
    state = fields.Enum(JobState, by_value=True)
    verdict = fields.Enum(Verdict, by_value=True, allow_none=True)
    reasons = fields.List(fields.String())
    params = fields.Dict()
    facts = fields.Dict()
    requested_by = fields.String()
    attempts = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)

    def _url(self, job: Job) -> str:
        return f"/v1/jobs/{job.id}"


VERDICTS = [v.value for v in Verdict]


# Built once: a marshmallow schema deep-copies its fields when constructed, which costs more per
# request than the loading or dumping itself. Loading and dumping do not change the instances.
DEPLOY_REQUEST = DeployRequestSchema()
CHECK_REQUEST = CheckRequestSchema()
JOB_LIST_QUERY = JobListQuerySchema()
WAIT_QUERY = WaitQuerySchema()
JOB = JobSchema()
JOBS = JobSchema(many=True)
JOB_EVENTS = JobEventSchema(many=True)


def job_document(job: Job) -> dict[str, Any]:
    """The job as the API shows it (openapi.yaml's `Job`)."""
    document: dict[str, Any] = JOB.dump(job)
    return document
