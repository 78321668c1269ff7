"""Configuration: one settings object from the environment, and the targets file it points to.

Settings (12-factor, shared by the web process and the workers):

| variable | default | meaning |
| --- | --- | --- |
| `DEPLOY_GATE_DATABASE_URL` | `postgresql://postgres@127.0.0.1:5432/deploy_gate` | the service's own store |
| `DEPLOY_GATE_BROKER_URL` | `redis://127.0.0.1:6379/0` | the Celery broker, any kombu URL (`redis://`, `rediss://`, `amqp://`, `sqs://`, ...) |
| `DEPLOY_GATE_REDIS_URL` | | the broker's former name, read when `DEPLOY_GATE_BROKER_URL` is unset |
| `DEPLOY_GATE_BROKER_TRANSPORT_OPTIONS` | `{}` | kombu transport options (a JSON object) over those set per broker (workers.celery_app) |
| `DEPLOY_GATE_CONFIG` | `deploy-gate.toml` | the targets and tokens file |
| `DEPLOY_GATE_MAX_BUNDLE_BYTES` | 10485760 | the largest migrations bundle a request may carry |
| `DEPLOY_GATE_VISIBILITY_TIMEOUT` | 7200 | seconds before an unacknowledged task goes to another worker |
| `DEPLOY_GATE_LOG_LEVEL` | `INFO` | the lowest level logged by the API and the workers: `DEBUG`, `INFO`, `WARNING`, `ERROR` or `CRITICAL` |

The targets file names each target, the environment variable holding its database URL (secrets
never sit in the file), and its policy; `[tokens.NAME]` entries hold SHA-256 hashes of bearer
tokens with their scopes. It is validated at start-up, with errors that name the file and key.

An optional `[notifications]` table sends an outbound webhook (Slack-compatible JSON, HMAC-signed;
see `service.notifications`) when a job needs attention:

| key | required | meaning |
| --- | --- | --- |
| `url_env` | yes | the environment variable holding the webhook URL (http or https; a secret, never logged) |
| `secret_env` | yes | the environment variable holding the HMAC-SHA256 key (at least 16 characters) |
| `events` | no | which of `verdict_blocked`, `approval_needed`, `restore_started`, `restore_finished`, `restore_failed` to send (default all; `[]`: none) |
| `public_url` | no | the service's base URL, for links to the job and its report |

`[targets.NAME.notifications]` takes the same keys and overrides the table for that target; keys it
leaves out come from `[notifications]`.

A top-level `public_url` is the service's base URL for links it hands to Vercel and GitHub (when
absent, `[notifications].public_url` is used). A top-level `report_link_secret_env` names the
environment variable holding the key (16+ characters) that signs report links (`service.links`):
with it, the report links in Vercel checks, GitHub comments and notifications open the job's report
without a bearer token; without it they need one. An optional `[integrations]` table takes Vercel
and GitHub webhooks (see `service.integrations`); secrets come from the environment variables it
names:

| key | required | meaning |
| --- | --- | --- |
| `integrations.vercel.webhook_secret_env` | yes | the variable holding the secret that signs Vercel's webhooks (16+ characters) |
| `integrations.vercel.token_env` | no | the variable holding the integration's access token: with it, deployment checks are reported (needs `public_url`) |
| `integrations.vercel.team_id` | no | sent as `teamId` on every Vercel API call |
| `integrations.vercel.api_url` | no | default `https://api.vercel.com` |
| `integrations.vercel.check_name` | no | the check's name in Vercel (default `deploy-gate`) |
| `integrations.vercel.projects` | yes | `[[...projects]]`: `project_id`, and `targets` from Vercel's target (`production`, `preview`, …) to ours |
| `integrations.github.webhook_secret_env` | yes | the variable holding the GitHub App's webhook secret (16+ characters) |
| `integrations.github.app_id` | yes | the GitHub App's id |
| `integrations.github.private_key_env` | yes | the variable holding the App's private key (PEM; `\\n` escapes are read as newlines) |
| `integrations.github.api_url` | no | default `https://api.github.com` |
| `integrations.github.environments` | yes | `"owner/repo:environment" = "target"` |
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service.prisma.database import DatabaseTarget, parse_database_url
from service.prisma.errors import InvalidDatabaseUrl

SCOPES = ("deploy", "read", "approve")
# The broker queue jobs travel on; the API reports its depth.
TASK_QUEUE = "deploy_gate"
LINT_LEVELS = ("error", "warning", "info", "off")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
NOTIFICATION_EVENTS = ("verdict_blocked", "approval_needed", "restore_started", "restore_finished", "restore_failed")
# An HMAC key shorter than this is guessable enough to forge signatures offline.
MIN_WEBHOOK_SECRET_LENGTH = 16
_NAME = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$", error="use letters, digits, '.', '_' or '-' (at most 63)")
_ENV_NAME = validate.Regexp(r"^[A-Za-z_][A-Za-z0-9_]*$", error="must be an environment variable name")


class ConfigError(Exception):
    """The settings or the targets file are wrong; the message says where, never a secret."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    broker_url: str
    config_file: Path
    max_bundle_bytes: int = 10 * 1024 * 1024
    long_poll_max_seconds: float = 25.0
    # How long a process may serve a job document it rendered before (0: never). Each entry is also
    # dropped by the job's change notification, so this only bounds a listener that went deaf.
    job_cache_seconds: float = 5.0
    # A task unacknowledged this long is handed to another worker: above the longest step.
    visibility_timeout_seconds: int = 2 * 60 * 60
    log_level: str = "INFO"
    # kombu transport options over the ones workers.celery_app sets for the broker's kind.
    broker_transport_options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ

        def whole_number(name: str, default: int) -> int:
            try:
                return int(environ.get(name, default))
            except ValueError:
                raise ConfigError(f"{name} must be a whole number") from None

        def seconds(name: str, default: float) -> float:
            try:
                value = float(environ.get(name, default))
            except ValueError:
                raise ConfigError(f"{name} must be a number of seconds") from None
            if not 0 <= value <= 3600:
                raise ConfigError(f"{name} must be between 0 and 3600 seconds")
            return value

        def log_level(name: str, default: str) -> str:
            value = environ.get(name, default).strip().upper()
            if value not in LOG_LEVELS:
                raise ConfigError(f"{name} must be one of {', '.join(LOG_LEVELS)}")
            return value

        return cls(
            database_url=environ.get("DEPLOY_GATE_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/deploy_gate"),
            broker_url=environ.get("DEPLOY_GATE_BROKER_URL") or environ.get("DEPLOY_GATE_REDIS_URL") or "redis://127.0.0.1:6379/0",
            config_file=Path(environ.get("DEPLOY_GATE_CONFIG", "deploy-gate.toml")),
            max_bundle_bytes=whole_number("DEPLOY_GATE_MAX_BUNDLE_BYTES", 10 * 1024 * 1024),
            visibility_timeout_seconds=whole_number("DEPLOY_GATE_VISIBILITY_TIMEOUT", 2 * 60 * 60),
            job_cache_seconds=seconds("DEPLOY_GATE_JOB_CACHE_SECONDS", 5.0),
            log_level=log_level("DEPLOY_GATE_LOG_LEVEL", "INFO"),
            broker_transport_options=_json_object(environ, "DEPLOY_GATE_BROKER_TRANSPORT_OPTIONS"),
        )


def _json_object(environ: Mapping[str, str], name: str) -> dict[str, Any]:
    """A JSON object from the environment; the error names the variable, never its value (it may hold a password)."""
    try:
        value = json.loads(environ.get(name) or "{}")
    except ValueError:
        raise ConfigError(f"{name} must be a JSON object") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be a JSON object")
    return value


@dataclass(frozen=True)
class Policy:
    max_automatic_retries: int = 1
    automatic_rollback: bool = False
    restores_need_approval: bool = True
    rollbacks_need_approval: bool = True
    snapshot_before_apply: bool = False
    lock_timeout_ms: int | None = 5000
    statement_timeout_ms: int | None = None
    lock_wait_seconds: float = 10.0
    # How long a retry after a transient error waits for the sessions whose locks block the
    # migration's tables, looking again with backoff; still blocked after it: the verdict is blocked.
    retry_wait_seconds: float = 60.0


@dataclass(frozen=True)
class RdsSettings:
    region: str
    instance: str | None = None
    cluster: str | None = None


@dataclass(frozen=True)
class Target:
    name: str
    database: DatabaseTarget = field(repr=False)
    policy: Policy
    rds: RdsSettings | None = None
    shadow: DatabaseTarget | None = field(default=None, repr=False)
    lint_severities: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Token:
    name: str
    sha256: str = field(repr=False)
    scopes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Webhook:
    """Where a target's notifications go; the URL and the key come from the environment."""

    url: str = field(repr=False)
    secret: str = field(repr=False)
    events: frozenset[str] = frozenset(NOTIFICATION_EVENTS)
    public_url: str = ""
    # Signs the report link in each message (service.links); None: a plain link.
    report_link_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Notifications:
    default: Webhook | None = None
    # Targets with their own [targets.NAME.notifications] table, already merged over the default.
    per_target: dict[str, Webhook] = field(default_factory=dict)

    def for_target(self, name: str) -> Webhook | None:
        return self.per_target.get(name, self.default)


@dataclass(frozen=True)
class VercelProject:
    project_id: str
    # Vercel's target ("production", "staging"; "preview" for a deployment without one) -> a target.
    targets: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class VercelIntegration:
    webhook_secret: str = field(repr=False)
    projects: dict[str, VercelProject] = field(default_factory=dict)
    # With a token, deployment checks are created and completed through Vercel's API.
    token: str | None = field(default=None, repr=False)
    team_id: str | None = None
    api_url: str = "https://api.vercel.com"
    check_name: str = "deploy-gate"

    def target_for(self, project_id: str, vercel_target: str | None) -> str | None:
        project = self.projects.get(project_id)
        return project.targets.get(vercel_target or "preview") if project else None


@dataclass(frozen=True)
class GitHubIntegration:
    webhook_secret: str = field(repr=False)
    app_id: int
    private_key: str = field(repr=False)
    # "owner/repo:environment", casefolded (GitHub compares both without case) -> a target.
    environments: dict[str, str] = field(default_factory=dict)
    api_url: str = "https://api.github.com"

    def target_for(self, repository: str, environment: str) -> str | None:
        return self.environments.get(f"{repository}:{environment}".casefold())


@dataclass(frozen=True)
class Integrations:
    vercel: VercelIntegration | None = None
    github: GitHubIntegration | None = None
    # The service's base URL, for the links handed to Vercel and GitHub ("" when not configured).
    public_url: str = ""
    # Signs the report links handed to them (service.links); None: plain links.
    report_link_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Config:
    targets: dict[str, Target]
    tokens: tuple[Token, ...]
    notifications: Notifications = field(default_factory=Notifications)
    integrations: Integrations = field(default_factory=Integrations)
    # The key report links are signed with (service.links); None: a report needs a bearer token.
    report_link_secret: str | None = field(default=None, repr=False)

    def token_for(self, presented: str) -> Token | None:
        """The configured token matching a presented bearer token, compared in constant time."""
        digest = hash_token(presented)
        found = None
        for token in self.tokens:
            if hmac.compare_digest(token.sha256, digest):
                found = token
        return found


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class _PolicySchema(Schema):
    max_automatic_retries = fields.Integer(validate=validate.Range(min=0, max=10))
    automatic_rollback = fields.Boolean()
    restores_need_approval = fields.Boolean()
    rollbacks_need_approval = fields.Boolean()
    snapshot_before_apply = fields.Boolean()
    lock_timeout_ms = fields.Integer(validate=validate.Range(min=0), allow_none=True)
    statement_timeout_ms = fields.Integer(validate=validate.Range(min=0), allow_none=True)
    lock_wait_seconds = fields.Float(validate=validate.Range(min=0.1, max=600))
    retry_wait_seconds = fields.Float(validate=validate.Range(min=0, max=3600))


class _RdsSchema(Schema):
    region = fields.String(required=True)
    instance = fields.String()
    cluster = fields.String()

    @validates_schema
    def _one_of(self, data: dict[str, Any], **kwargs: object) -> None:
        if bool(data.get("instance")) == bool(data.get("cluster")):
            raise ValidationError("name exactly one of instance or cluster")


class _NotificationsSchema(Schema):
    url_env = fields.String(validate=_ENV_NAME)
    secret_env = fields.String(validate=_ENV_NAME)
    events = fields.List(fields.String(validate=validate.OneOf(NOTIFICATION_EVENTS)))
    public_url = fields.String()


class _DefaultNotificationsSchema(_NotificationsSchema):
    url_env = fields.String(required=True, validate=_ENV_NAME)
    secret_env = fields.String(required=True, validate=_ENV_NAME)


class _TargetSchema(Schema):
    database_url_env = fields.String(required=True, validate=_ENV_NAME)
    shadow_url_env = fields.String(validate=_ENV_NAME)
    policy = fields.Nested(_PolicySchema, load_default=dict)
    rds = fields.Nested(_RdsSchema)
    lint = fields.Dict(keys=fields.String(), values=fields.String(validate=validate.OneOf(LINT_LEVELS)), load_default=dict)
    notifications = fields.Nested(_NotificationsSchema)


class _TokenSchema(Schema):
    sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$", error="must be 64 lowercase hex digits"))
    scopes = fields.List(fields.String(validate=validate.OneOf(SCOPES)), required=True)


class _VercelProjectSchema(Schema):
    project_id = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,100}$", error="a Vercel project id such as prj_abc123"))
    targets = fields.Dict(keys=fields.String(validate=_NAME), values=fields.String(validate=_NAME), required=True, validate=validate.Length(min=1))


class _VercelSchema(Schema):
    webhook_secret_env = fields.String(required=True, validate=_ENV_NAME)
    token_env = fields.String(validate=_ENV_NAME)
    team_id = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,100}$", error="a Vercel team id such as team_abc123"))
    api_url = fields.String(load_default="https://api.vercel.com")
    check_name = fields.String(load_default="deploy-gate", validate=validate.Length(min=1, max=100))
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


class _ConfigSchema(Schema):
    targets = fields.Dict(keys=fields.String(validate=_NAME), values=fields.Nested(_TargetSchema), load_default=dict)
    tokens = fields.Dict(keys=fields.String(validate=_NAME), values=fields.Nested(_TokenSchema), load_default=dict)
    notifications = fields.Nested(_DefaultNotificationsSchema)
    public_url = fields.String()
    report_link_secret_env = fields.String(validate=_ENV_NAME)
    integrations = fields.Nested(_IntegrationsSchema)


def _flatten(messages: object, prefix: str = "") -> list[str]:
    if isinstance(messages, dict):
        flat: list[str] = []
        for key, value in messages.items():
            # marshmallow files a Dict field's errors under "key" and "value"; people think in paths.
            if key == "value":
                flat.extend(_flatten(value, prefix))
            elif key == "key":
                flat.extend(_flatten(value, f"{prefix} (the name)"))
            else:
                flat.extend(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [f"{prefix}: {'; '.join(messages)}"]
    return [f"{prefix}: {messages}"]


def _database_from_env(env_name: str, where: str, environ: Mapping[str, str]) -> DatabaseTarget:
    value = environ.get(env_name)
    if not value:
        raise ConfigError(f"{where}: environment variable {env_name} is not set")
    try:
        return parse_database_url(value)
    except InvalidDatabaseUrl as error:
        raise ConfigError(f"{where}: {env_name} {error.message[0].lower()}{error.message[1:]}") from None


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the targets file; database URLs come from the environment it names."""
    environ = os.environ if environ is None else environ
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (set DEPLOY_GATE_CONFIG)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read it ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    try:
        data = _ConfigSchema().load(raw)
    except ValidationError as error:
        raise ConfigError(f"{path}: " + "; ".join(_flatten(error.messages))) from None

    targets = {}
    for name, spec in data["targets"].items():
        where = f"{path}: targets.{name}"
        database = _database_from_env(spec["database_url_env"], f"{where}.database_url_env", environ)
        shadow = None
        if spec.get("shadow_url_env"):
            shadow = _database_from_env(spec["shadow_url_env"], f"{where}.shadow_url_env", environ)
            if _same_database(shadow, database):
                raise ConfigError(f"{where}.shadow_url_env: the shadow database must not be the target itself")
        rds = RdsSettings(**spec["rds"]) if spec.get("rds") else None
        targets[name] = Target(name, database, Policy(**spec["policy"]), rds, shadow, dict(spec["lint"]))
    tokens = tuple(Token(name, spec["sha256"], frozenset(spec["scopes"])) for name, spec in data["tokens"].items())
    link_secret = None
    if "report_link_secret_env" in data:
        link_secret = _signing_secret(data["report_link_secret_env"], f"{path}: report_link_secret_env", environ)
    notifications = _notifications(data, path, environ, link_secret)
    return Config(targets, tokens, notifications, _integrations(data, path, environ, notifications, link_secret), link_secret)


def _notifications(data: Mapping[str, Any], path: Path, environ: Mapping[str, str], link_secret: str | None) -> Notifications:
    default_spec = data.get("notifications")
    default = _webhook(default_spec, f"{path}: notifications", environ, link_secret) if default_spec else None
    per_target = {}
    for name, spec in data["targets"].items():
        if "notifications" in spec:
            # Keys the target leaves out come from [notifications].
            merged = {**(default_spec or {}), **spec["notifications"]}
            per_target[name] = _webhook(merged, f"{path}: targets.{name}.notifications", environ, link_secret)
    return Notifications(default, per_target)


def _webhook(spec: Mapping[str, Any], where: str, environ: Mapping[str, str], link_secret: str | None) -> Webhook:
    for key in ("url_env", "secret_env"):
        if key not in spec:
            raise ConfigError(f"{where}.{key}: Missing data for required field (and no [notifications] table gives it).")
    url_env, secret_env = spec["url_env"], spec["secret_env"]
    url = environ.get(url_env)
    if not url:
        raise ConfigError(f"{where}.url_env: environment variable {url_env} is not set")
    if not _is_web_url(url):
        raise ConfigError(f"{where}.url_env: {url_env} must be an http:// or https:// URL with a host")
    secret = environ.get(secret_env)
    if not secret:
        raise ConfigError(f"{where}.secret_env: environment variable {secret_env} is not set")
    if len(secret) < MIN_WEBHOOK_SECRET_LENGTH:
        raise ConfigError(f"{where}.secret_env: {secret_env} must hold at least {MIN_WEBHOOK_SECRET_LENGTH} characters")
    public_url = spec.get("public_url", "")
    if public_url and not _is_web_url(public_url, base=True):
        raise ConfigError(f"{where}.public_url: must be an http:// or https:// URL with a host, no credentials, query or fragment")
    return Webhook(url, secret, frozenset(spec.get("events", NOTIFICATION_EVENTS)), public_url.rstrip("/"), link_secret)


def _is_web_url(text: str, *, base: bool = False) -> bool:
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in text):
        return False
    return not (base and (parts.username or parts.password or parts.query or parts.fragment))


def _same_database(one: DatabaseTarget, other: DatabaseTarget) -> bool:
    def key(target: DatabaseTarget) -> tuple[str, str, str]:
        params = target.params
        return (params.get("host", ""), params.get("port", "5432"), params.get("dbname", params.get("user", "")))

    return key(one) == key(other)


def _integrations(data: Mapping[str, Any], path: Path, environ: Mapping[str, str], notifications: Notifications, link_secret: str | None) -> Integrations:
    public_url = data.get("public_url", "")
    if public_url and not _is_web_url(public_url, base=True):
        raise ConfigError(f"{path}: public_url: must be an http:// or https:// URL with a host, no credentials, query or fragment")
    if not public_url and notifications.default is not None:
        public_url = notifications.default.public_url
    spec = data.get("integrations") or {}
    where = f"{path}: integrations"
    vercel = _vercel(spec["vercel"], f"{where}.vercel", data["targets"], environ) if "vercel" in spec else None
    if vercel is not None and vercel.token and not public_url:
        raise ConfigError(f"{path}: public_url: required with integrations.vercel.token_env (a check links to its job's report)")
    github = _github(spec["github"], f"{where}.github", data["targets"], environ) if "github" in spec else None
    return Integrations(vercel, github, public_url.rstrip("/"), link_secret)


def _signing_secret(env_name: str, where: str, environ: Mapping[str, str]) -> str:
    secret = environ.get(env_name)
    if not secret:
        raise ConfigError(f"{where}: environment variable {env_name} is not set")
    if len(secret) < MIN_WEBHOOK_SECRET_LENGTH:
        raise ConfigError(f"{where}: {env_name} must hold at least {MIN_WEBHOOK_SECRET_LENGTH} characters")
    return secret


def _api_url(url: str, where: str) -> str:
    if not _is_web_url(url, base=True):
        raise ConfigError(f"{where}: must be an http:// or https:// URL with a host, no credentials, query or fragment")
    return url.rstrip("/")


def _known_target(name: str, where: str, targets: Mapping[str, object]) -> str:
    if name not in targets:
        raise ConfigError(f"{where}: no target named {name!r} is configured")
    return name


def _vercel(spec: Mapping[str, Any], where: str, targets: Mapping[str, object], environ: Mapping[str, str]) -> VercelIntegration:
    secret = _signing_secret(spec["webhook_secret_env"], f"{where}.webhook_secret_env", environ)
    token = None
    if "token_env" in spec:
        token = environ.get(spec["token_env"])
        if not token:
            raise ConfigError(f"{where}.token_env: environment variable {spec['token_env']} is not set")
    projects = {}
    for index, project in enumerate(spec["projects"]):
        if project["project_id"] in projects:
            raise ConfigError(f"{where}.projects.{index}.project_id: {project['project_id']} is listed twice")
        mapped = {key: _known_target(value, f"{where}.projects.{index}.targets.{key}", targets) for key, value in project["targets"].items()}
        projects[project["project_id"]] = VercelProject(project["project_id"], mapped)
    return VercelIntegration(
        webhook_secret=secret,
        projects=projects,
        token=token,
        team_id=spec.get("team_id"),
        api_url=_api_url(spec["api_url"], f"{where}.api_url"),
        check_name=spec["check_name"],
    )


def _github(spec: Mapping[str, Any], where: str, targets: Mapping[str, object], environ: Mapping[str, str]) -> GitHubIntegration:
    secret = _signing_secret(spec["webhook_secret_env"], f"{where}.webhook_secret_env", environ)
    key_env = spec["private_key_env"]
    private_key = environ.get(key_env, "")
    if not private_key:
        raise ConfigError(f"{where}.private_key_env: environment variable {key_env} is not set")
    if "\n" not in private_key and "\\n" in private_key:
        # Platforms that hold one-line variables often keep a PEM with its newlines escaped.
        private_key = private_key.replace("\\n", "\n")
    try:
        loaded = load_pem_private_key(private_key.encode("utf-8"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        loaded = None
    if not isinstance(loaded, RSAPrivateKey):
        raise ConfigError(f"{where}.private_key_env: {key_env} does not hold an unencrypted PEM RSA private key")
    environments = {}
    for key, value in spec["environments"].items():
        environments[key.casefold()] = _known_target(value, f"{where}.environments.{key}", targets)
    return GitHubIntegration(
        webhook_secret=secret,
        app_id=spec["app_id"],
        private_key=private_key,
        environments=environments,
        api_url=_api_url(spec["api_url"], f"{where}.api_url"),
    )
