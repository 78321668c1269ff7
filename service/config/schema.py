"""The targets file's keys: what each means, and the marshmallow schemas that validate them.

The targets file names each target, the environment variable holding its database URL (secrets
never sit in the file), and its policy; `[tokens.NAME]` entries hold SHA-256 hashes of bearer
tokens with their scopes. It is validated at start-up, with errors that name the file and key.

An optional `[notifications]` table sends an outbound webhook (Slack-compatible JSON, HMAC-signed;
see `service.notifications`) when a job needs attention:

| key | required | meaning |
| --- | --- | --- |
| `url_env` | yes | the environment variable holding the webhook URL (http or https; a secret, never logged) |
| `secret_env` | yes | the environment variable holding the HMAC-SHA256 key (at least 16 characters) |
| `events` | no | which of `verdict_blocked`, `approval_needed`, `restore_started`, `restore_finished`, `restore_failed`, `failover_started`, `failover_finished`, `failover_failed`, `drift_detected` to send (default all; `[]`: none) |
| `public_url` | no | the service's base URL, for links to the job and its report |

`[targets.NAME.notifications]` takes the same keys and overrides the table for that target; keys it
leaves out come from `[notifications]`.

`[targets.NAME] prisma_version` (6 or 7, default 6) says which Prisma the target's project uses:
how its engine runs a migration file, which deploy, the facts and lint follow
(`service.prisma.execution`: Prisma 7.4 and later send a file with CREATE INDEX CONCURRENTLY
statement by statement). A deploy request's own `prisma_version` takes precedence; Prisma 8 is
refused (docs/prisma-8.md).

A top-level `public_url` is the service's base URL for links it hands to Vercel and GitHub (when
absent, `[notifications].public_url` is used). A top-level `report_link_secret_env` names the
environment variable holding the key (16+ characters) that signs report links (`service.links`):
with it, the report links in Vercel checks, GitHub comments and notifications open the job's report
without a bearer token; without it they need one. A top-level `console_session_secret_env` names the environment variable
holding the key (16+ characters) that signs the ops console's session cookies (service.http.console):
the console is on when that variable holds one, off (its pages answer 404) when the key or the
variable is unset or empty. An optional `[integrations]` table takes Vercel
and GitHub webhooks (see `service.integrations`); secrets come from the environment variables it
names:

| key | required | meaning |
| --- | --- | --- |
| `integrations.vercel.webhook_secret_env` | yes | the variable holding the secret that signs Vercel's webhooks (16+ characters) |
| `integrations.vercel.token_env` | no | the variable holding the integration's access token: with it, deployment checks are reported (needs `public_url`) |
| `integrations.vercel.team_id` | no | sent as `teamId` on every Vercel API call |
| `integrations.vercel.api_url` | no | default `https://api.vercel.com` |
| `integrations.vercel.check_name` | no | the check's name in Vercel (default `deploy-gate`) |
| `integrations.vercel.checks_api` | no | `v2` (default): a check per project, a check run per deployment; `v1`: the deprecated per-deployment checks (a warning is logged at start-up) |
| `integrations.vercel.webhook_id` | no | v2: the id of the account webhook that calls deploy-gate, the check's source (with an access token); without it the source is the integration whose token is configured |
| `integrations.vercel.check_run_wait_seconds` | no | v2: how long after `deployment.created` deploy-gate waits for `deployment.checkrun.start` before it finds or creates the run itself (default 60) |
| `integrations.vercel.check_timeout_seconds` | no | v2: the check's `timeout`, after which Vercel concludes a run `timeout` (default 900, 60 to 3600) |
| `integrations.vercel.projects` | yes | `[[...projects]]`: `project_id`, `targets` from Vercel's target (`production`, `preview`, …) to ours, and (v2) `blocks`: what the check holds up, `deployment-alias` (default), `build-start`, `deployment-start` or `deployment-promotion` |
| `integrations.github.webhook_secret_env` | yes | the variable holding the GitHub App's webhook secret (16+ characters) |
| `integrations.github.app_id` | yes | the GitHub App's id |
| `integrations.github.private_key_env` | yes | the variable holding the App's private key (PEM; `\\n` escapes are read as newlines) |
| `integrations.github.api_url` | no | default `https://api.github.com` |
| `integrations.github.environments` | yes | `"owner/repo:environment" = "target"` |

An optional `[targets.NAME.drift]` table says what drift (the target's schema against the shadow's
replay of its applied migrations, service.analysis.drift) does; it needs `shadow_url_env`:

| key | default | meaning |
| --- | --- | --- |
| `mode` | `warn` | `ignore`: no drift step; `warn`: drift is among the reasons, the verdict may still be `proceed`; `block`: drift (or drift that cannot be checked) blocks |
| `ignore` | `[]` | object name patterns to leave out (service.analysis.drift_ignore: `public.audit_*`, `*_tmp_idx`, `extension:*`) |
| `schedule_minutes` | none | beat starts a `drift` job this often, and notifies `drift_detected` when drift appears |

An optional `[retention]` table says how long the store keeps what it no longer needs; a beat task
(`deploy_gate.prune_store`, hourly) deletes the rest in small batches (see `service.retention`):

| key | default | meaning |
| --- | --- | --- |
| `jobs_days` | 400 | days a finished job and its journal, approvals and reports are kept after it ended (a job still queued, running or waiting is never deleted) |
| `deliveries_days` | 30 | days a webhook delivery id is kept to recognise a redelivery |

Bundles no kept job uses are deleted with them; each target's newest job that carried a bundle is
kept whatever its age, so its bundle stays the one a deploy without `migrations` and a webhook check reuse.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service.config.records import NOTIFICATION_EVENTS, VERCEL_CHECK_BLOCKS, VERCEL_CHECKS_APIS, DriftMode
from service.prisma.execution import DEFAULT_PRISMA_VERSION, PRISMA_VERSIONS

SCOPES = ("deploy", "read", "approve")
LINT_LEVELS = ("error", "warning", "info", "off")
DRIFT_MODES = tuple(mode.value for mode in DriftMode)
_NAME = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$", error="use letters, digits, '.', '_' or '-' (at most 63)")
_RDS_IDENTIFIER = validate.Regexp(
    r"^[A-Za-z](?:-?[A-Za-z0-9]){0,62}$", error="an RDS instance identifier: 1-63 letters, digits or hyphens, starting with a letter"
)
_ENV_NAME = validate.Regexp(r"^[A-Za-z_][A-Za-z0-9_]*$", error="must be an environment variable name")


class _PolicySchema(Schema):
    max_automatic_retries = fields.Integer(validate=validate.Range(min=0, max=10))
    automatic_rollback = fields.Boolean()
    restores_need_approval = fields.Boolean()
    failovers_need_approval = fields.Boolean()
    rollbacks_need_approval = fields.Boolean()
    snapshot_before_apply = fields.Boolean()
    lock_timeout_ms = fields.Integer(validate=validate.Range(min=0), allow_none=True)
    statement_timeout_ms = fields.Integer(validate=validate.Range(min=0), allow_none=True)
    lock_wait_seconds = fields.Float(validate=validate.Range(min=0.1, max=600))
    retry_wait_seconds = fields.Float(validate=validate.Range(min=0, max=3600))
    unreachable_timeout_seconds = fields.Float(validate=validate.Range(min=0, max=86400))


class _RdsSchema(Schema):
    region = fields.String(required=True)
    instance = fields.String()
    cluster = fields.String()
    read_replica = fields.String(validate=_RDS_IDENTIFIER)

    @validates_schema
    def _one_of(self, data: dict[str, Any], **kwargs: object) -> None:
        if bool(data.get("instance")) == bool(data.get("cluster")):
            raise ValidationError("name exactly one of instance or cluster")
        replica = data.get("read_replica")
        if replica and replica.lower() == (data.get("instance") or data.get("cluster") or "").lower():
            raise ValidationError("must name the replica, not the instance or cluster itself", "read_replica")


class _NotificationsSchema(Schema):
    url_env = fields.String(validate=_ENV_NAME)
    secret_env = fields.String(validate=_ENV_NAME)
    events = fields.List(fields.String(validate=validate.OneOf(NOTIFICATION_EVENTS)))
    public_url = fields.String()


class _DefaultNotificationsSchema(_NotificationsSchema):
    url_env = fields.String(required=True, validate=_ENV_NAME)
    secret_env = fields.String(required=True, validate=_ENV_NAME)


class _DriftSchema(Schema):
    mode = fields.String(validate=validate.OneOf(DRIFT_MODES))
    ignore = fields.List(fields.String(validate=validate.Length(min=1, max=200)))
    schedule_minutes = fields.Integer(strict=True, validate=validate.Range(min=1, max=10080))


class _TargetSchema(Schema):
    database_url_env = fields.String(required=True, validate=_ENV_NAME)
    shadow_url_env = fields.String(validate=_ENV_NAME)
    policy = fields.Nested(_PolicySchema, load_default=dict)
    rds = fields.Nested(_RdsSchema)
    lint = fields.Dict(keys=fields.String(), values=fields.String(validate=validate.OneOf(LINT_LEVELS)), load_default=dict)
    notifications = fields.Nested(_NotificationsSchema)
    drift = fields.Nested(_DriftSchema, load_default=dict)
    # The Prisma major version the target's project uses: how its engine runs a file (service.prisma.execution).
    prisma_version = fields.Integer(
        strict=True,
        load_default=DEFAULT_PRISMA_VERSION,
        validate=validate.OneOf(PRISMA_VERSIONS, error="must be one of 6, 7 (Prisma 8 is not supported: docs/prisma-8.md)"),
    )


class _TokenSchema(Schema):
    sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$", error="must be 64 lowercase hex digits"))
    scopes = fields.List(fields.String(validate=validate.OneOf(SCOPES)), required=True)


class _VercelProjectSchema(Schema):
    project_id = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,100}$", error="a Vercel project id such as prj_abc123"))
    targets = fields.Dict(keys=fields.String(validate=_NAME), values=fields.String(validate=_NAME), required=True, validate=validate.Length(min=1))
    blocks = fields.String(load_default="deployment-alias", validate=validate.OneOf(VERCEL_CHECK_BLOCKS))


class _VercelSchema(Schema):
    webhook_secret_env = fields.String(required=True, validate=_ENV_NAME)
    token_env = fields.String(validate=_ENV_NAME)
    team_id = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,100}$", error="a Vercel team id such as team_abc123"))
    api_url = fields.String(load_default="https://api.vercel.com")
    check_name = fields.String(load_default="deploy-gate", validate=validate.Length(min=1, max=100))
    checks_api = fields.String(load_default="v2", validate=validate.OneOf(VERCEL_CHECKS_APIS))
    webhook_id = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,100}$", error="a Vercel webhook id such as account_hook_abc123"))
    check_run_wait_seconds = fields.Float(load_default=60.0, validate=validate.Range(min=0, max=3600))
    check_timeout_seconds = fields.Integer(load_default=900, strict=True, validate=validate.Range(min=60, max=3600))
    projects = fields.List(fields.Nested(_VercelProjectSchema), required=True, validate=validate.Length(min=1))


class _GitHubSchema(Schema):
    webhook_secret_env = fields.String(required=True, validate=_ENV_NAME)
    app_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    private_key_env = fields.String(required=True, validate=_ENV_NAME)
    api_url = fields.String(load_default="https://api.github.com")
    environments = fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+:.+$", error='use "owner/repo:environment"')),
        values=fields.String(validate=_NAME),
        required=True,
        validate=validate.Length(min=1),
    )


class _IntegrationsSchema(Schema):
    vercel = fields.Nested(_VercelSchema)
    github = fields.Nested(_GitHubSchema)


class _RetentionSchema(Schema):
    jobs_days = fields.Integer(strict=True, validate=validate.Range(min=1, max=36500))
    deliveries_days = fields.Integer(strict=True, validate=validate.Range(min=1, max=36500))


class ConfigSchema(Schema):
    targets = fields.Dict(keys=fields.String(validate=_NAME), values=fields.Nested(_TargetSchema), load_default=dict)
    tokens = fields.Dict(keys=fields.String(validate=_NAME), values=fields.Nested(_TokenSchema), load_default=dict)
    notifications = fields.Nested(_DefaultNotificationsSchema)
    public_url = fields.String()
    report_link_secret_env = fields.String(validate=_ENV_NAME)
    console_session_secret_env = fields.String(validate=_ENV_NAME)
    integrations = fields.Nested(_IntegrationsSchema)
    retention = fields.Nested(_RetentionSchema, load_default=dict)
