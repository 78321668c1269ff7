"""What the console's pages show, as plain records built from jobs, their journals and bundles.

No Flask here: the views read through the repository and hand these to the templates.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from service.analysis.lint.registry import load_rules
from service.jobs.states import TERMINAL, JobKind, JobState, Verdict
from service.prisma.migrations import LocalMigrations
from service.reports.build import build_report
from service.reports.model import IncidentReport, LintFinding, TimelineEntry
from service.reports.steps import FailoverFacts, mapping
from service.store.repository import Job, JobEvent

# Migration states a person should look at; an edited migration too, whatever its state.
ATTENTION_STATES = frozenset({"failed", "pending", "missing_locally"})
EXCERPT_LINES = 2  # lines of SQL shown either side of a finding's line
# The steps of a restore, cut-over or failover that asked AWS to act, or read what AWS said (service.jobs.restore, .failover).
AWS_STEP_FAMILIES = frozenset({"start", "start_instance", "poll", "endpoint", "cutover"})


@dataclass(frozen=True)
class MigrationRow:
    name: str
    state: str
    edited: bool

    @property
    def attention(self) -> bool:
        return self.edited or self.state in ATTENTION_STATES


@dataclass(frozen=True)
class TargetOverview:
    name: str
    verdict: Job | None  # the newest check or deploy job with a verdict
    status_job: Job | None  # the newest job whose `status` step read the history
    waiting: list[Job]
    last_deploy: Job | None
    drift_job: Job | None = None  # the newest job that compared the schema with the migrations

    @property
    def drift(self) -> str:
        """The newest drift comparison in a few words."""
        fact = self.drift_job.facts.get("drift") if self.drift_job else None
        if not isinstance(fact, dict):
            return "not checked yet"
        if not fact.get("checked"):
            return f"not checked: {fact.get('error')}"
        count = len(fact.get("differences") or [])
        return f"{count} difference{'' if count == 1 else 's'} from the applied migrations" if count else "none"

    @property
    def status(self) -> dict[str, Any]:
        return self.status_job.facts["status"] if self.status_job else {}

    @property
    def migrations(self) -> list[MigrationRow]:
        """The history as the status step read it, with what the same job then applied shown applied
        (a deploy reads the status before it applies)."""
        apply = self.status_job.facts.get("apply") if self.status_job else None
        applied = set(apply.get("applied") or []) if isinstance(apply, dict) else set()
        return [
            MigrationRow(m["name"], "applied" if m["name"] in applied and m["state"] == "pending" else m["state"], bool(m.get("edited")))
            for m in self.status.get("migrations", [])
        ]

    @property
    def lock_holder(self) -> str | None:
        holder = self.status.get("lock_holder")
        return readable(holder) if holder else None


@dataclass(frozen=True)
class Finding:
    finding: LintFinding
    excerpt: str  # the SQL around the finding's line ("" when the bundle is gone)
    explanation: str  # the rule's documented problem


@dataclass(frozen=True)
class JobPage:
    job: Job
    report: IncidentReport
    children: list[Job] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.job.state in TERMINAL

    @property
    def waiting(self) -> bool:
        return self.job.state is JobState.WAITING_APPROVAL

    @property
    def approval(self) -> dict[str, Any]:
        approval: dict[str, Any] = self.job.facts.get("approval") or {}
        return approval

    @property
    def plan_sql(self) -> str | None:
        """The SQL the plan would run: a rollback job's, or the rollback of a recover job's decision."""
        sql = self.approval.get("sql") or (self.approval.get("rollback") or {}).get("sql")
        return str(sql) if sql else None

    @property
    def verification(self) -> list[str]:
        """The shadow verification in words: the verdict, what the rollback had to undo, what it left."""
        verify = self._verification()
        if verify is None:
            return []
        found = verify.get("details")
        details: dict[str, Any] = found if isinstance(found, dict) else {}
        verified = verify.get("verified")
        if verified is None:
            lines = ["Not verified: the target has no shadow server to try the rollback on."]
        elif verified:
            lines = ["Verified: on a scratch copy of the history, the rollback SQL brings the schema back to what it was before the migration."]
        elif details.get("differences") or not details:
            lines = ["Not verified: on a scratch copy of the history, the rollback SQL does not bring the schema back."]
        else:
            lines = ["Not verified: the verification stopped before it could compare schemas (the error says why)."]
        if not details:
            lines += [str(problem) for problem in verify.get("problems") or []]
        lines += [
            f"{step.get('name')}: {step.get('detail')}"
            for step in details.get("steps") or []
            if isinstance(step, dict) and step.get("ok") and step.get("detail")
        ]
        lines += [f"undoes: {change.get('text')}" for change in details.get("migration_changes") or [] if isinstance(change, dict)]
        lines += [f"left different: {difference.get('text')}" for difference in details.get("differences") or [] if isinstance(difference, dict)]
        lines += [f"error: {error}" for error in details.get("errors") or []]
        lines += [f"note: {note}" for note in details.get("notes") or []]
        if details.get("seconds") is not None:
            lines.append(f"took {details['seconds']} s")
        return lines

    def _verification(self) -> dict[str, Any] | None:
        """A rollback job's `verify` step, or the verification behind a recover job's latest decision
        (its `facts:N` step), in the `verify` step's shape."""
        verify = self.job.facts.get("verify")
        if isinstance(verify, dict):
            return verify
        rounds = [name for name in self.job.facts if name.startswith("facts:") and name[6:].isdigit()]
        latest = self.job.facts[max(rounds, key=lambda name: int(name[6:]))] if rounds else None
        details = latest.get("verification") if isinstance(latest, dict) else None
        if not isinstance(details, dict):
            return None
        return {"verified": details.get("verified"), "details": details}  # its errors and differences are in the details

    @property
    def aws_steps(self) -> list[TimelineEntry]:
        """A restore's or cut-over's AWS steps as they happened, in words (the timeline's)."""
        return [
            entry for entry in self.report.timeline
            if entry.step and entry.event in ("step_finished", "step_failed") and entry.step.split(":")[0] in AWS_STEP_FAMILIES
        ]  # fmt: skip

    @property
    def endpoint_pending(self) -> str:
        """Why a restore, cut-over or failover shows no endpoint yet, in words."""
        if self.job.kind is JobKind.FAILOVER:
            what, doing = "failover", f"failing over to {self.job.params.get('replica') or 'the replica'}"
        elif self.job.params.get("action") == "cutover":
            what, doing = "cut-over", "renaming"
        else:
            what, doing = "restore", "restoring"
        if self.waiting:
            return f"none yet: the {what} starts once it is approved"
        if not self.finished:
            return f"none yet: AWS is {doing}; the endpoint shows here when it is done"
        return f"none: the {what} did not finish (the reasons above say why)"

    @property
    def offers_cutover(self) -> bool:
        """A restore that made its new instance: the next step is the cut-over, a job of its own."""
        restored = self.job.state is JobState.SUCCEEDED and self.job.verdict is Verdict.PROCEED
        return self.job.kind is JobKind.RESTORE and self.job.params.get("action") == "restore" and restored

    @staticmethod
    def drift_line_class(line: str) -> str:
        """A drift line's class, by its sign (service.analysis.drift_words)."""
        return {"+": "on-target-only", "-": "in-migrations-only", "~": "defined-otherwise"}.get(line[:1], "")

    @property
    def failed_over_to_cluster(self) -> bool:
        """A failover of an Aurora cluster: its endpoint follows the new writer (an instance's promotion needs a cut-over)."""
        return self.job.kind is JobKind.FAILOVER and FailoverFacts.from_dict(mapping(self.job.facts.get("plan"))).aurora is True

    @property
    def facts(self) -> list[tuple[str, str]]:
        return [(name, readable(value)) for name, value in self.job.facts.items()]


def job_page(
    job: Job,
    events: list[JobEvent],
    children: list[Job] | None = None,
    bundle: Callable[[], LocalMigrations | None] = lambda: None,
) -> JobPage:
    """The page's record; `bundle` is read only when there are lint findings to quote SQL for."""
    report = build_report(job, events)
    if not report.lint:
        return JobPage(job, report, children or [])
    rules = load_rules()
    migrations = bundle()
    findings = [Finding(f, sql_excerpt(migrations, f.migration, f.line), rules[f.rule].problem if f.rule in rules else "") for f in report.lint]
    return JobPage(job, report, children or [], findings)


def sql_excerpt(bundle: LocalMigrations | None, migration: str, line: int | None) -> str:
    found = bundle.get(migration) if bundle is not None else None
    if found is None or line is None:
        return ""
    lines = found.script.splitlines()
    return "\n".join(lines[max(0, line - 1 - EXCERPT_LINES) : line + EXCERPT_LINES])


def readable(value: Any) -> str:
    """A fact for people: text as it is, anything else as indented JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, sort_keys=True, default=str)
