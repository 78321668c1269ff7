"""The ops console in real headless Chromium, served by gunicorn as in production.

Each test gets the API under gunicorn's gevent worker (gunicorn.conf.py, one worker) on a free port,
so Server-Sent Events stream for real; a migrated scratch store; a scratch target with a shadow
server; and a targets file with three tokens (read; read and approve; deploy, read and approve), a
report-link secret and a console session secret. Tests that need a job to move on after an approval
also take `worker`: a real Celery worker (celery.contrib.testing) of the production app on this
run's Redis database (DEPLOY_GATE_TEST_REDIS_DB), taking what gunicorn enqueues. Chromium is Debian's (`make services` installs it); Playwright drives it
and never downloads a browser of its own.

Screenshots go to $DEPLOY_GATE_SCREENSHOTS (relative to the repository; `docs/console` for the
README's) or else to the test's tmp_path.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from celery.contrib.testing.worker import TestWorkController as WorkController
from celery.contrib.testing.worker import start_worker
from playwright.sync_api import Browser, Page, expect, sync_playwright

from service.config.load import load_config
from service.config.records import Config, hash_token
from service.config.settings import Settings
from service.prisma.lock import PRISMA_ADVISORY_LOCK_ID
from service.store import repository
from service.store.repository import Job
from tests.aws import REGION
from tests.browser import scenarios
from tests.conftest import ADMIN_URL, ScratchDatabase
from tests.store import migrated_store
from tests.workers.conftest import REDIS_DB
from workers import state
from workers.celery_app import make_celery

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Who signs in: the token each presents and the scopes the targets file gives it.
TOKENS = {
    "reader": ("reader-browser-token", ("read",)),
    "oncall": ("oncall-browser-token", ("read", "approve")),
    "ops": ("ops-browser-token", ("deploy", "read", "approve")),
}
REPORT_LINK_SECRET = "report-links-browser-secret"
SESSION_SECRET = "console-sessions-browser-secret"

# Pages load from a local server; a job's worker finishes in seconds. Generous, never slept on.
expect.set_options(timeout=15_000)


@dataclass
class Console:
    """The served console, the databases behind it, and the targets file's config as the worker reads it."""

    url: str
    store: ScratchDatabase
    target: ScratchDatabase
    config: Config

    def job_url(self, job_id: str) -> str:
        return f"{self.url}/console/jobs/{job_id}"

    def job(self, job_id: str) -> Job:
        with self.store.connect() as conn:
            return repository.get_job(conn, job_id)

    def blocked_deploy(self) -> Job:
        with self.store.connect() as conn:
            scenarios.deployed(conn, self.config)
            return scenarios.blocked_deploy(conn, self.config)

    def waiting_rollback(self) -> Job:
        with self.store.connect() as conn:
            return scenarios.waiting_rollback(conn, self.config, scenarios.deployed(conn, self.config))

    def waiting_restore(self) -> Job:
        with self.store.connect() as conn:
            return scenarios.waiting_restore(conn, self.config)

    def sign_in(self, page: Page, who: str) -> None:
        page.goto(f"{self.url}/console/login")
        page.locator("form#login-form input[name=token]").fill(TOKENS[who][0])
        page.locator("form#login-form [type=submit]").click()
        expect(page).to_have_url(f"{self.url}/console/")

    @contextmanager
    def holding_prisma_lock(self) -> Iterator[None]:
        """Hold Prisma's migration lock on the target: a job that must take it waits, running, until the block ends."""
        with psycopg.connect(self.target.conninfo, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (PRISMA_ADVISORY_LOCK_ID,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (PRISMA_ADVISORY_LOCK_ID,))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ready(port: int) -> bool:
    """gunicorn serves the app (not /readyz: it wants a worker's heartbeat, and most tests run none)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def _targets_file(path: Path, target_env: str, shadow_env: str) -> Path:
    tokens = "".join(f'[tokens.{name}]\nsha256 = "{hash_token(token)}"\nscopes = {json.dumps(scopes)}\n\n' for name, (token, scopes) in TOKENS.items())
    path.write_text(
        'report_link_secret_env = "DEPLOY_GATE_BROWSER_REPORT_LINK_SECRET"\n'
        'console_session_secret_env = "DEPLOY_GATE_BROWSER_SESSION_SECRET"\n\n'
        f"{tokens}"
        f'[targets.staging]\ndatabase_url_env = "{target_env}"\nshadow_url_env = "{shadow_env}"\n\n'
        # A restore's AWS calls go to moto's server (the `aws_for_jobs` fixture); other tests make none.
        f'[targets.staging.rds]\nregion = "{REGION}"\ninstance = "{scenarios.RESTORED_INSTANCE}"\n\n'
        # The approval test holds Prisma's lock for a moment: the worker waits for it, well within this.
        "[targets.staging.policy]\nlock_timeout_ms = 2000\nlock_wait_seconds = 60\nrollbacks_need_approval = true\n"
    )
    return path


@pytest.fixture
def console(scratch_db: ScratchDatabase, target_db: ScratchDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Console]:
    suffix = uuid.uuid4().hex[:8].upper()
    target_env, shadow_env = f"TARGET_URL_{suffix}", f"SHADOW_URL_{suffix}"
    environment = {
        "DEPLOY_GATE_DATABASE_URL": migrated_store(scratch_db),
        "DEPLOY_GATE_CONFIG": str(_targets_file(tmp_path / "deploy-gate.toml", target_env, shadow_env)),
        "DEPLOY_GATE_BROKER_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "DEPLOY_GATE_BROWSER_REPORT_LINK_SECRET": REPORT_LINK_SECRET,
        "DEPLOY_GATE_BROWSER_SESSION_SECRET": SESSION_SECRET,
        target_env: target_db.url,
        shadow_env: ADMIN_URL,
    }
    # The Celery worker in this process reads the same environment (workers.state, loaded on its first task).
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    state.reset()
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    served_env = {**environment, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "WEB_CONCURRENCY": "1"}
    with log.open("wb") as output:
        server = subprocess.Popen(
            [GUNICORN, "service.http.wsgi:application()", "--bind", f"127.0.0.1:{port}", "--no-control-socket"],
            env=served_env,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not _ready(port):
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "gunicorn was not ready within 60 s:\n" + log.read_text()
            time.sleep(0.1)
        yield Console(f"http://127.0.0.1:{port}", scratch_db, target_db, load_config(Path(environment["DEPLOY_GATE_CONFIG"])))
    finally:
        # Quick shutdown: a graceful one would wait out the event streams a closed page left open.
        server.send_signal(signal.SIGQUIT)
        server.wait(30)
        state.reset()


@contextmanager
def running_worker() -> Iterator[WorkController]:
    """A real Celery worker of the production app, as `deploy-gate`'s worker runs it: it takes what
    gunicorn enqueues (its queue, this run's Redis database), and reads the console's store, targets
    file and AWS endpoint from the environment the fixtures set."""
    app = make_celery(Settings.from_env(), set_as_current=False)
    with start_worker(app, pool="threads", concurrency=1, perform_ping_check=False, shutdown_timeout=30) as controller:
        yield controller


@pytest.fixture
def worker(console: Console) -> Iterator[WorkController]:
    """A worker for the whole test, for tests where a job must move on."""
    with running_worker() as controller:
        yield controller


@pytest.fixture
def aws_for_jobs(aws: Callable[[str], Any], moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Any]:
    """The jobs' AWS calls go to moto's server, which starts this test empty (tests.aws): boto3 reads
    AWS_ENDPOINT_URL, and the worker runs in this process, so the environment reaches it as the
    database URLs do (`console`). gunicorn makes no AWS call and is not told."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return aws


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `make services` installs Debian's chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


# Records each EventSource a page opens, so a test waits for the live stream before changing a job.
_RECORD_EVENT_SOURCES = """
(() => {
  const Original = window.EventSource;
  window.openedEventSources = [];
  window.EventSource = class extends Original {
    constructor(...args) {
      super(...args);
      window.openedEventSources.push(this);
    }
  };
})();
"""


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(_RECORD_EVENT_SOURCES)
    try:
        yield context.new_page()
    finally:
        context.close()


def wait_for_live_updates(page: Page, console: Console) -> None:
    """Until the page's EventSource is open and the server LISTENs on the store: from then on a job's change reaches the page."""
    page.wait_for_function("() => window.openedEventSources.some((source) => source.readyState === 1)", timeout=20_000)
    deadline = time.monotonic() + 10
    while not console.store.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN %'"):
        assert time.monotonic() < deadline, "the server did not LISTEN on the store within 10 s"
        time.sleep(0.05)


def expect_sign_in_page(page: Page, console: Console, after: str) -> None:
    """The page is the sign-in form, sending the browser on to `after` once signed in."""
    expect(page.locator("form#login-form")).to_be_visible()
    address = urlsplit(page.url)
    assert (f"{address.scheme}://{address.netloc}", address.path, parse_qs(address.query).get("next")) == (console.url, "/console/login", [after])


def csrf_token(page: Page) -> str:
    """The session's CSRF token, from the logout form every page carries."""
    return page.locator("form#logout-form input[name=csrf_token]").input_value()


Screenshot = Callable[..., Path]


@pytest.fixture
def screenshot(tmp_path: Path) -> Screenshot:
    """take(page, name, focus=None): what a person sees (the window, scrolled to `focus`), saved as name.png."""
    configured = os.environ.get("DEPLOY_GATE_SCREENSHOTS")
    directory = ROOT / configured if configured else tmp_path / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str, focus: str | None = None) -> Path:
        if focus:
            page.locator(focus).scroll_into_view_if_needed()
        path = directory / f"{name}.png"
        page.screenshot(path=str(path))
        return path

    return take
