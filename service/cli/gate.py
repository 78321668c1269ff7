"""`deploy-gate gate`: a build uploads its migrations, follows the job, and passes or fails on it.

Exit 0 on `proceed`, 1 on `blocked` (the reasons printed), 2 when the gate cannot run: bad input,
a service that cannot be reached or answers with an error, a job that fails or is canceled, or
no verdict within `--timeout`.

The upload is idempotent. Its Idempotency-Key is derived from the target, the commit, the
deployment (Vercel) or workflow run attempt (GitHub Actions) and a digest of the bundle, so a
retried POST, or the same build step run again, gets the job the first one started. Outside a
build that names a deployment each run asks for a new job (and its retries reuse it). `--new`
asks for a new job in a build too: the build run again after the database was fixed wants a new
verdict, not the old job's; without it the gate says the verdict is the earlier job's.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from service.cli import EXIT_CANNOT_RUN, Output, main, migrations_option, prisma_version_option, project_prisma_version, read_local_migrations
from service.cli.follow import TERMINAL, JobFollower, exit_with_verdict
from service.cli.remote import ServiceError, client_options, service_client
from service.prisma.migrations import LocalMigrations
from service.store.repository import bundle_digest


@dataclass(frozen=True)
class BuildContext:
    """What the CI system running the gate says about the build, from its environment."""

    provider: str | None = None  # "Vercel" or "GitHub Actions"
    commit: str | None = None
    deployment_id: str | None = None
    environment: str | None = None  # Vercel's environment: production, preview, development, or a custom one


def detect_build(environ: Mapping[str, str]) -> BuildContext:
    """Vercel's and GitHub Actions' system environment variables, when the gate runs in one."""
    if environ.get("VERCEL") == "1" or environ.get("VERCEL_DEPLOYMENT_ID") or environ.get("VERCEL_GIT_COMMIT_SHA"):
        return BuildContext(
            "Vercel",
            environ.get("VERCEL_GIT_COMMIT_SHA") or None,
            environ.get("VERCEL_DEPLOYMENT_ID") or None,
            environ.get("VERCEL_TARGET_ENV") or environ.get("VERCEL_ENV") or None,
        )
    if environ.get("GITHUB_ACTIONS") == "true" or environ.get("GITHUB_RUN_ID"):
        run_id = environ.get("GITHUB_RUN_ID")
        # A re-run of the workflow is a new attempt of the same run: it asks for a new job.
        deployment = f"github-run-{run_id}-{environ.get('GITHUB_RUN_ATTEMPT') or 1}" if run_id else None
        return BuildContext("GitHub Actions", environ.get("GITHUB_SHA") or None, deployment)
    return BuildContext()


def idempotency_key(target: str, apply: bool, commit: str | None, deployment_id: str | None, digest: str, new: bool = False) -> str:
    """The same for every attempt of one build; a new one per run when no deployment is named, or with `new`."""
    if deployment_id is None or new:
        return f"gate-{uuid.uuid4().hex}"
    material = json.dumps(["pre", target, apply, commit, deployment_id, digest])
    return f"gate-{hashlib.sha256(material.encode()).hexdigest()}"


def deploy_request(
    target: str, apply: bool, commit: str | None, deployment_id: str | None, local: LocalMigrations, prisma_version: int | None = None
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "target": target,
        "phase": "pre",
        "apply": apply,
        "commit": commit,
        "deployment_id": deployment_id,
        "migrations": [{"name": m.name, "sql": m.script} for m in local],
        "lock_provider": local.lock_provider or "postgresql",
    }
    if prisma_version is not None:
        # Unknown: left out, and the target's `prisma_version` applies.
        request["prisma_version"] = prisma_version
    return request


@main.command()
@client_options
@click.option("--target", envvar="DEPLOY_GATE_TARGET", show_envvar=True, help="The target to gate on. Default in a Vercel build: its environment (VERCEL_ENV).")
@migrations_option
@click.option("--apply", is_flag=True, help="deploy-gate applies the pending migrations itself, from inside the database's network.")
@click.option("--commit", help="The commit being built. Default: VERCEL_GIT_COMMIT_SHA or GITHUB_SHA.")
@click.option("--deployment-id", help="The deployment being built. Default: VERCEL_DEPLOYMENT_ID, or GitHub's run id and attempt.")
@click.option("--new", "new_job", is_flag=True, help="Ask for a new job even if this build started one already (after fixing the database, say).")
@click.option("--timeout", type=click.FloatRange(min=1), default=1800, show_default=True, help="Seconds to wait for the verdict in all.")
@click.option("--retries", type=click.IntRange(0, 20), default=5, show_default=True, help="Times to ask again after a network error or a 429/502/503/504.")
@click.option("--backoff", type=click.FloatRange(min=0), default=1.0, show_default=True, help="Seconds before the first retry; doubles each time (at most 30).")
@prisma_version_option
def gate(
    base_url: str,
    token: str | None,
    target: str | None,
    migrations_dir: Path,
    apply: bool,
    commit: str | None,
    deployment_id: str | None,
    new_job: bool,
    timeout: float,
    retries: int,
    backoff: float,
    prisma_version: str | None,
) -> None:
    """Gate a build: upload the migrations, follow the job, exit 0 on proceed, 1 on blocked, 2 otherwise."""
    output = Output(False)
    deadline = time.monotonic() + timeout
    build = detect_build(os.environ)
    target = target or build.environment
    if not target:
        output.error(None, "No target: pass --target or set DEPLOY_GATE_TARGET.", EXIT_CANNOT_RUN)
    commit = commit or build.commit
    deployment_id = deployment_id or build.deployment_id
    local = read_local_migrations(output, migrations_dir)
    follows = project_prisma_version(output, migrations_dir, prisma_version)

    def on_retry(problem: str, delay: float, attempt: int) -> None:
        output.problem(f"{problem}; asking again in {delay:.1f} s ({attempt}/{retries})")

    client = service_client(output, base_url, token, retries=retries, backoff=backoff, on_retry=on_retry)
    output.line(_headline(build, target, apply, commit, deployment_id, local, migrations_dir, follows))
    key = idempotency_key(target, apply, commit, deployment_id, bundle_digest(local), new_job)  # the digest is the service's content address
    try:
        job = client.post("/v1/deploys", deploy_request(target, apply, commit, deployment_id, local, follows), headers={"Idempotency-Key": key})
    except ServiceError as error:
        output.error(None, str(error), EXIT_CANNOT_RUN)
    if client.last_status != 200:
        output.line(f"{job['kind']} job {job['id']}: {job['state']}" + (" (a new job, as --new asks)" if new_job and deployment_id else ""))
    elif job["state"] in TERMINAL:
        output.line(
            f"{job['kind']} job {job['id']} was started by an earlier attempt of this build: {job['state']}; its verdict stands (--new asks for a new one)"
        )
    else:
        output.line(f"{job['kind']} job {job['id']} was started by an earlier attempt of this build: {job['state']}")

    job_id = job["id"]

    def count_pending(event: dict[str, Any], followed: dict[str, Any]) -> None:
        if event["step"] == "status" and event["kind"] == "step_finished" and followed["id"] == job_id:
            output.line(_pending_line(apply, event["data"].get("to_deploy") or [], len(local)))

    follower = JobFollower(output, client, on_event=count_pending)
    job = follower.follow(job_id, deadline)
    if job["state"] not in TERMINAL:
        output.error(None, f"job {job_id} is still {job['state']} after {timeout:g} s (deploy-gate wait {job_id} follows it)", EXIT_CANNOT_RUN)
    exit_with_verdict(follower.output, job)


def _pending_line(apply: bool, pending: list[str], in_bundle: int) -> str:
    """After the job's status step: the migrations the target has yet to apply, not all the bundle's."""
    count = f"{len(pending)} pending migration{'s' if len(pending) != 1 else ''} of {in_bundle} in the bundle"
    names = f": {', '.join(pending)}" if 0 < len(pending) <= 5 else ""
    return f"gate: {'apply' if apply else 'check'} {count}{names}"


def _headline(
    build: BuildContext, target: str, apply: bool, commit: str | None, deployment_id: str | None, local: LocalMigrations, directory: Path, follows: int | None
) -> str:
    what = "apply" if apply else "check"
    parts = [f"gate: {what} the migrations in {directory} on target {target}"]
    if commit:
        parts.append(f"commit {commit[:12]}")
    if deployment_id:
        parts.append(f"deployment {deployment_id}")
    if build.provider:
        parts.append(f"in {build.provider}" + (f" ({build.environment})" if build.environment else ""))
    parts.append(f"as Prisma {follows} runs them" if follows is not None else "as the target's Prisma runs them")
    return ", ".join(parts)
