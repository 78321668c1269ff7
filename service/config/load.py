"""Reading the targets file: TOML checked against `schema`, built into `records`, secrets from the environment it names."""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from marshmallow import ValidationError

from service.config.errors import ConfigError
from service.config.records import (
    NOTIFICATION_EVENTS,
    Config,
    DriftMode,
    DriftSettings,
    GitHubIntegration,
    Integrations,
    LintTarget,
    Notifications,
    Policy,
    RdsSettings,
    Retention,
    Target,
    Token,
    VercelIntegration,
    VercelProject,
    Webhook,
)
from service.config.schema import ConfigSchema
from service.prisma.database import DatabaseTarget, parse_database_url
from service.prisma.errors import InvalidDatabaseUrl

log = logging.getLogger(__name__)

# An HMAC key shorter than this is guessable enough to forge signatures offline.
MIN_WEBHOOK_SECRET_LENGTH = 16


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


def _read_validated(path: Path) -> dict[str, Any]:
    """The targets file's keys, checked against the schema; nothing is read from the environment."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (set DEPLOY_GATE_CONFIG)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read it ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    try:
        data: dict[str, Any] = ConfigSchema().load(raw)
    except ValidationError as error:
        raise ConfigError(f"{path}: " + "; ".join(_flatten(error.messages))) from None
    return data


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the targets file; database URLs come from the environment it names."""
    environ = os.environ if environ is None else environ
    data = _read_validated(path)
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
        drift = _drift(spec["drift"], f"{where}.drift", has_shadow=shadow is not None)
        targets[name] = Target(name, database, Policy(**spec["policy"]), rds, shadow, dict(spec["lint"]), drift, spec["prisma_version"])
    tokens = tuple(Token(name, spec["sha256"], frozenset(spec["scopes"])) for name, spec in data["tokens"].items())
    link_secret = None
    if "report_link_secret_env" in data:
        link_secret = _signing_secret(data["report_link_secret_env"], f"{path}: report_link_secret_env", environ)
    notifications = _notifications(data, path, environ, link_secret)
    console_secret = None
    if environ.get(data.get("console_session_secret_env", "")):  # unset or empty: the console is off
        console_secret = _signing_secret(data["console_session_secret_env"], f"{path}: console_session_secret_env", environ)
    integrations = _integrations(data, path, environ, notifications, link_secret)
    return Config(targets, tokens, notifications, integrations, link_secret, console_secret, Retention(**data["retention"]))


def load_lint_target(path: Path, name: str) -> LintTarget:
    """One target's policy and lint levels, from a file validated as `load_config` validates it, but
    with nothing taken from the environment: linting for a target needs none of its secrets."""
    data = _read_validated(path)
    spec = data["targets"].get(name)
    if spec is None:
        configured = ", ".join(sorted(data["targets"])) or "none"
        raise ConfigError(f"{path}: no target named {name!r} is configured (targets: {configured})")
    return LintTarget(name, Policy(**spec["policy"]), dict(spec["lint"]))


def _drift(spec: Mapping[str, Any], where: str, *, has_shadow: bool) -> DriftSettings:
    from service.analysis.drift_ignore import InvalidIgnorePattern, parse_ignore_rules

    mode = DriftMode(spec.get("mode", DriftMode.WARN))
    patterns = tuple(spec.get("ignore", ()))
    try:
        parse_ignore_rules(patterns)
    except InvalidIgnorePattern as error:
        raise ConfigError(f"{where}.ignore: {error}") from None
    schedule = spec.get("schedule_minutes")
    if schedule is not None and mode is DriftMode.IGNORE:
        raise ConfigError(f"{where}.schedule_minutes: drift mode ignore checks nothing to schedule; use warn or block")
    if not has_shadow and (mode is DriftMode.BLOCK or schedule is not None):
        what = "mode block" if mode is DriftMode.BLOCK else "schedule_minutes"
        raise ConfigError(f"{where}: {what} needs shadow_url_env, the server the applied migrations are replayed on")
    return DriftSettings(mode, patterns, schedule)


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
        projects[project["project_id"]] = VercelProject(project["project_id"], mapped, project["blocks"])
    if spec["checks_api"] == "v1":
        # Once per process: the web process and each worker read the file at start-up.
        log.warning(
            "vercel_checks_v1_deprecated",
            extra={
                "detail": 'integrations.vercel.checks_api = "v1": Vercel\'s v1 checks API is deprecated and refuses tokens that are not an OAuth2 integration\'s; use "v2"'
            },
        )
    return VercelIntegration(
        webhook_secret=secret,
        projects=projects,
        token=token,
        team_id=spec.get("team_id"),
        api_url=_api_url(spec["api_url"], f"{where}.api_url"),
        check_name=spec["check_name"],
        checks_api=spec["checks_api"],
        webhook_id=spec.get("webhook_id"),
        check_run_wait_seconds=spec["check_run_wait_seconds"],
        check_timeout_seconds=spec["check_timeout_seconds"],
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
