"""What the targets file holds, as typed records: targets and their policies, tokens, notifications, integrations and retention.

`service.config.load` builds them from the file; secrets sit in fields kept out of `repr`.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from enum import StrEnum

from service.prisma.database import DatabaseTarget

NOTIFICATION_EVENTS = (
    "verdict_blocked",
    "approval_needed",
    "restore_started",
    "restore_finished",
    "restore_failed",
    "failover_started",
    "failover_finished",
    "failover_failed",
    "drift_detected",
)


@dataclass(frozen=True)
class Policy:
    max_automatic_retries: int = 1
    automatic_rollback: bool = False
    restores_need_approval: bool = True
    failovers_need_approval: bool = True
    rollbacks_need_approval: bool = True
    snapshot_before_apply: bool = False
    lock_timeout_ms: int | None = 5000
    statement_timeout_ms: int | None = None
    lock_wait_seconds: float = 10.0
    # How long a retry after a transient error waits for the sessions whose locks block the
    # migration's tables, looking again with backoff; still blocked after it: the verdict is blocked.
    retry_wait_seconds: float = 60.0
    # How long a job tries again to reach the target (or its shadow server) after its first failed
    # attempt, journaling each one; still unreachable after it: the verdict is blocked.
    unreachable_timeout_seconds: float = 600.0

    @property
    def session_timeouts(self) -> frozenset[str]:
        """The timeouts deploy-gate sets on the session before each migration it applies (0 sets none)."""
        timeouts = (("lock_timeout", self.lock_timeout_ms), ("statement_timeout", self.statement_timeout_ms))
        return frozenset(name for name, milliseconds in timeouts if milliseconds)


class DriftMode(StrEnum):
    IGNORE = "ignore"  # no drift step, no schedule
    WARN = "warn"  # drift is among the reasons; the verdict may still be proceed
    BLOCK = "block"  # drift, or drift that cannot be checked, blocks


@dataclass(frozen=True)
class DriftSettings:
    """`[targets.NAME.drift]`: what drift does to a verdict, what it ignores, how often beat checks."""

    mode: DriftMode = DriftMode.WARN
    # Object name patterns (service.analysis.drift_ignore) for what other tools legitimately add.
    ignore: tuple[str, ...] = ()
    # Beat starts a `drift` job this often; None: only check and deploy jobs look.
    schedule_minutes: int | None = None


@dataclass(frozen=True)
class RdsSettings:
    region: str
    instance: str | None = None
    cluster: str | None = None
    # What a `failover` job promotes: a read replica of `instance`, or a reader instance of `cluster`.
    read_replica: str | None = None


@dataclass(frozen=True)
class Target:
    name: str
    database: DatabaseTarget = field(repr=False)
    policy: Policy
    rds: RdsSettings | None = None
    shadow: DatabaseTarget | None = field(default=None, repr=False)
    lint_severities: dict[str, str] = field(default_factory=dict)
    drift: DriftSettings = field(default_factory=DriftSettings)
    # The Prisma major version its project uses (6 or 7): how the engine runs a file (service.prisma.execution).
    prisma_version: int = 6

    @property
    def checks_drift(self) -> bool:
        """Whether check and deploy jobs run a `drift` step: a shadow to replay on, and a mode that looks."""
        return self.shadow is not None and self.drift.mode is not DriftMode.IGNORE


@dataclass(frozen=True)
class LintTarget:
    """What linting for a target needs from the targets file: no database URL, no secret."""

    name: str
    policy: Policy
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


# What a Vercel check (Checks v2) may hold up, in the order a deployment reaches them.
VERCEL_CHECK_BLOCKS = ("build-start", "deployment-start", "deployment-alias", "deployment-promotion")
VERCEL_CHECKS_APIS = ("v2", "v1")


@dataclass(frozen=True)
class VercelProject:
    project_id: str
    # Vercel's target ("production", "staging"; "preview" for a deployment without one) -> a target.
    targets: dict[str, str] = field(default_factory=dict)
    # Checks v2: what the project's check holds up until it concludes. Vercel's default, and what
    # Vercel's own Terraform provider says new checks take today.
    blocks: str = "deployment-alias"


@dataclass(frozen=True)
class VercelIntegration:
    webhook_secret: str = field(repr=False)
    projects: dict[str, VercelProject] = field(default_factory=dict)
    # With a token, deployment checks are created and completed through Vercel's API.
    token: str | None = field(default=None, repr=False)
    team_id: str | None = None
    api_url: str = "https://api.vercel.com"
    check_name: str = "deploy-gate"
    # "v2": a check per project, a check run per deployment; "v1": the deprecated per-deployment checks.
    checks_api: str = "v2"
    # Checks v2: the id of the account webhook that calls deploy-gate (the check's source, so Vercel
    # announces runs to it); None: the token is an integration's, and the check's source is that integration.
    webhook_id: str | None = None
    # Checks v2: how long after deployment.created deploy-gate waits for Vercel to announce the
    # deployment's check run before it finds or creates the run itself.
    check_run_wait_seconds: float = 60.0
    # Checks v2: the check's timeout, after which Vercel concludes an unfinished run `timeout`.
    check_timeout_seconds: int = 900

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
class Retention:
    """How long the store keeps what it no longer needs (service.retention)."""

    # Finished jobs and their journals, counted from when they ended: audits ask for a year.
    jobs_days: int = 400
    # Webhook delivery ids, counted from when they arrived: well past the platforms' redelivery windows.
    deliveries_days: int = 30


@dataclass(frozen=True)
class Config:
    targets: dict[str, Target]
    tokens: tuple[Token, ...]
    notifications: Notifications = field(default_factory=Notifications)
    integrations: Integrations = field(default_factory=Integrations)
    # The key report links are signed with (service.links); None: a report needs a bearer token.
    report_link_secret: str | None = field(default=None, repr=False)
    # The key the console's session cookies are signed with; None: the console is off.
    console_session_secret: str | None = field(default=None, repr=False)
    retention: Retention = field(default_factory=Retention)

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
