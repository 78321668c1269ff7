"""The console's pages and forms: each view reads through the repository, or calls the domain
function the API's view calls, and renders a template."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markdown_it import MarkdownIt
from markupsafe import Markup

from service.http.console.auth import Person, check_csrf, require, sign_in, sign_out, signed_in
from service.http.console.pages import TargetOverview, job_page
from service.http.extension import deploy_gate
from service.http.jobs import decode_cursor, encode_cursor
from service.http.problems import Problem
from service.http.recovery import APPROVAL
from service.http.store import store
from service.jobs import decisions
from service.jobs.states import JobKind, JobState, Verdict
from service.jobs.submit_recovery import submit_cutover
from service.prisma.migrations import LocalMigrations
from service.reports.build import build_report
from service.store import repository

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates", static_folder="static")

E = TypeVar("E", bound=StrEnum)

PAGE_SIZE = 50
FILTERS = {"state": JobState, "kind": JobKind, "verdict": Verdict}
# The report's Markdown as HTML: raw HTML in it (SQL, error messages) is escaped, not passed through.
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


def _person() -> Person:
    person = signed_in()
    assert person is not None  # the view is behind `require`
    return person


@bp.get("/login")
def login() -> ResponseReturnValue:
    return render_template("console/login.html", next=_safe_next())


@bp.post("/login")
def login_submit() -> ResponseReturnValue:
    check_csrf()
    if sign_in(request.form.get("token", "")) is None:
        return render_template("console/login.html", next=_safe_next(), error="That token is not valid."), 401
    return redirect(_safe_next(), 303)


def _safe_next() -> str:
    """Where to go after signing in: a console path only, never another site."""
    wanted = request.values.get("next", "")
    return wanted if wanted.startswith("/console/") and not wanted.startswith("/console//") else url_for("console.overview")


@bp.post("/logout")
@require("read")
def logout() -> ResponseReturnValue:
    sign_out()
    return redirect(url_for("console.login"), 303)


@bp.get("/")
@require("read")
def overview() -> ResponseReturnValue:
    names = list(deploy_gate().config.targets)
    latest = repository.target_jobs(store(), names, waiting_limit=PAGE_SIZE)
    targets = [
        TargetOverview(
            name,
            verdict=latest[name].verdict,
            status_job=latest[name].status,
            waiting=list(latest[name].waiting),
            last_deploy=latest[name].deploy,
            drift_job=latest[name].drift,
        )
        for name in names
    ]
    return render_template("console/overview.html", targets=targets)


@bp.get("/jobs")
@require("read")
def jobs() -> ResponseReturnValue:
    target = request.args.get("target") or None
    cursor = request.args.get("cursor")
    found = repository.list_jobs(
        store(),
        target=target,
        state=_choice("state", JobState),
        kind=_choice("kind", JobKind),
        verdict=_choice("verdict", Verdict),
        limit=PAGE_SIZE + 1,
        before=decode_cursor(cursor) if cursor else None,
    )
    page, more = found[:PAGE_SIZE], len(found) > PAGE_SIZE
    next_query = {**request.args, "cursor": encode_cursor(page[-1])} if more else None
    template = "console/_jobs_table.html" if request.args.get("fragment") == "live" else "console/jobs.html"
    return render_template(template, jobs=page, next_query=next_query, targets=list(deploy_gate().config.targets), filters=FILTERS)


def _choice(name: str, choices: type[E]) -> E | None:
    value = request.args.get(name)
    if not value:
        return None
    try:
        return choices(value)
    except ValueError:
        raise Problem(422, "The request is not valid", f"{name}: must be one of {', '.join(choices)}.") from None


@bp.get("/jobs/<job_id>")
@require("read")
def job(job_id: str) -> ResponseReturnValue:
    conn = store()
    found, events = repository.job_with_journal(conn, job_id)
    if request.args.get("fragment") == "live":
        # The part a live update swaps in shows neither the child jobs nor the lint's SQL excerpts.
        return render_template("console/_job_live.html", page=job_page(found, events), job=found)

    def bundle() -> LocalMigrations | None:
        return repository.load_bundle(conn, found.bundle_digest) if found.bundle_digest else None

    page = job_page(found, events, repository.child_jobs(conn, job_id), bundle)
    return render_template("console/job.html", page=page, job=found)


@bp.post("/jobs/<job_id>/approve")
@require("approve")
def approve(job_id: str) -> ResponseReturnValue:
    decisions.approve(store(), job_id, _person().name, _comment(), deploy_gate().enqueue)
    return redirect(url_for("console.job", job_id=job_id), 303)


@bp.post("/jobs/<job_id>/reject")
@require("approve")
def reject(job_id: str) -> ResponseReturnValue:
    decisions.reject(store(), job_id, _person().name, _comment())
    return redirect(url_for("console.job", job_id=job_id), 303)


@bp.post("/jobs/<job_id>/cancel")
@require("deploy")
def cancel(job_id: str) -> ResponseReturnValue:
    decisions.cancel(store(), job_id, _person().name)
    return redirect(url_for("console.job", job_id=job_id), 303)


@bp.post("/jobs/<job_id>/cutover")
@require("deploy")
def cutover(job_id: str) -> ResponseReturnValue:
    """Ask for the restore's cut-over, as `POST /v1/jobs/{id}/cutover` does; its page shows it waiting for approval."""
    extension = deploy_gate()
    job, created = submit_cutover(store(), extension.config, job_id, _person().name)
    if created:
        extension.enqueue(job.id)
    return redirect(url_for("console.job", job_id=job.id), 303)


def _comment() -> str | None:
    """The form's comment, held to the API's rules for an approval's comment."""
    comment: str | None = APPROVAL.load({"comment": request.form.get("comment", "").strip() or None})["comment"]
    return comment


@bp.get("/jobs/<job_id>/report")
@require("read")
def report(job_id: str) -> ResponseReturnValue:
    found, events = repository.job_with_journal(store(), job_id)
    return report_page(build_report(found, events).to_markdown())


def report_page(markdown: str) -> Response:
    """The incident report's Markdown as an HTML page in the console's layout."""
    body = Markup(_markdown.render(markdown))  # noqa: S704 - markdown-it escapes: html=False
    response = Response(render_template("console/report.html", body=body), mimetype="text/html")
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
