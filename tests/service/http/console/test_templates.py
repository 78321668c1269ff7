"""The console's templates escape what jobs carry: SQL and error messages with `<script>` and quotes are text."""

import pytest
from flask import render_template
from markupsafe import escape

from service.http.console.pages import job_page
from service.http.console.views import report_page
from service.jobs.states import JobKind, JobState, Verdict
from service.reports.build import build_report
from service.store import repository

HOSTILE = """<script>alert("x")</script> it's "quoted" & <b>bold</b>"""
HOSTILE_SQL = f"""DELETE FROM "Patient" WHERE "name" = '{HOSTILE}';"""


@pytest.fixture
def hostile_job(store):
    job, _ = repository.create_job(store, kind=JobKind.ROLLBACK, target="staging", requested_by="ops", params={"migration": "20240102_x"})
    repository.transition(store, job.id, JobState.RUNNING)
    approval = {"step": "execute", "plan": [f"run {HOSTILE}"], "migration": "20240102_x", "sql": HOSTILE_SQL}
    repository.record_step(store, job.id, f"verify{HOSTILE}", "failed", {"error": HOSTILE})
    return repository.transition(store, job.id, JobState.WAITING_APPROVAL, reasons=[HOSTILE], facts={"approval": approval, "verify": {"problems": [HOSTILE]}})


def assert_only_escaped(html):
    assert "<script>" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def render_job(app, store, job_id, template):
    job, events = repository.job_with_journal(store, job_id)
    with app.test_request_context(f"/console/jobs/{job_id}"):
        return render_template(template, page=job_page(job, events), job=job)


def test_the_job_page_shows_reasons_plan_sql_verification_and_timeline_as_text(app, store, hostile_job):
    html = render_job(app, store, hostile_job.id, "console/job.html")
    assert_only_escaped(html)
    assert f'<pre class="sql">{escape(HOSTILE_SQL)}</pre>' in html  # the SQL exactly, as text
    assert "<li>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; it&#39;s &#34;quoted&#34; &amp; &lt;b&gt;bold&lt;/b&gt;</li>" in html


def test_the_live_fragment_escapes_too(app, store, hostile_job):
    assert_only_escaped(render_job(app, store, hostile_job.id, "console/_job_live.html"))


def test_the_jobs_table_escapes_a_target_name(app, store):
    job, _ = repository.create_job(store, kind=JobKind.CHECK, target='<script>alert("x")</script>', requested_by="ci")
    with app.test_request_context("/console/jobs"):
        html = render_template("console/_jobs_table.html", jobs=[job], next_query=None)
    assert_only_escaped(html)


def test_the_html_report_keeps_raw_html_in_sql_and_messages_as_text(app, store, hostile_job):
    repository.transition(store, hostile_job.id, JobState.SUCCEEDED, verdict=Verdict.BLOCKED, reasons=[HOSTILE])
    job, events = repository.job_with_journal(store, hostile_job.id)
    markdown = build_report(job, events).to_markdown()
    assert "<script>" in markdown  # Markdown passes it on; the HTML must not
    with app.test_request_context("/console/"):
        html = report_page(markdown).get_data(as_text=True)
    assert "<script>alert" not in html and "<b>bold</b>" not in html and "&lt;script&gt;" in html
