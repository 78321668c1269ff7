"""The one outbound HTTP client, against real HTTP servers on 127.0.0.1: redirects refused, answers
capped, Retry-After read in both forms, timeouts, errors that never name the URL."""

from __future__ import annotations

import email.utils
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from service import outbound

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    """Answers every request with `status`, `headers` and `body`, and records what it got."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"{}"
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)

    def __enter__(self) -> Server:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                server.requests.append((self.command, self.path, dict(self.headers.items()), self.rfile.read(length) if length else b""))
                self.send_response(server.status)
                for name, value in {"Content-Length": str(len(server.body)), **server.headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(server.body)

            do_GET = do_POST = _handle

            def log_message(self, format, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}"
        self.thread = threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.thread.join()


def test_an_answer_comes_back_with_its_status_body_and_headers():
    with Server(status=201, headers={"X-Request-Id": "r-1"}, body=b'{"ok": true}') as server:
        answer = outbound.request("POST", f"{server.url}/things?a=1", headers={"Authorization": "Bearer t"}, body=b'{"x": 1}')
    assert (answer.status, answer.body, answer.headers["x-request-id"]) == (201, b'{"ok": true}', "r-1")
    [(method, path, headers, body)] = server.requests
    assert (method, path, body) == ("POST", "/things?a=1", b'{"x": 1}')
    assert headers["Authorization"] == "Bearer t" and headers["User-Agent"] == outbound.USER_AGENT


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_returned_and_never_followed(status):
    with Server() as elsewhere, Server(status=status, headers={"Location": f"{elsewhere.url}/steal"}) as server:
        answer = outbound.request("POST", f"{server.url}/hook", headers={"Authorization": "Bearer secret-token"}, body=b"signed")
        assert answer.status == status and answer.headers["Location"] == f"{elsewhere.url}/steal"
        assert len(server.requests) == 1
        assert elsewhere.requests == [], "the token and the signed body went where the redirect pointed"


def test_an_answer_over_the_cap_is_refused_unread():
    with Server(body=b"x" * 1001) as server:
        assert outbound.request("GET", server.url, max_body=1001).body == b"x" * 1001
        with pytest.raises(outbound.ResponseTooLarge, match=r"the answer \(200\) is over 1000 bytes") as raised:
            outbound.request("GET", server.url, max_body=1000)
        assert raised.value.status == 200
        # The connection the unread rest was on is not used again.
        assert outbound.request("GET", server.url).body == b"x" * 1001


def test_retry_after_in_seconds_and_as_an_http_date():
    with Server(status=429, headers={"Retry-After": "7"}) as server:
        assert outbound.request("GET", server.url).retry_after == 7.0
        server.headers["Retry-After"] = email.utils.formatdate(time.time() + 30, usegmt=True)
        assert 28 <= outbound.request("GET", server.url).retry_after <= 30
        server.headers["Retry-After"] = email.utils.formatdate(time.time() - 30, usegmt=True)
        assert outbound.request("GET", server.url).retry_after == 0
        server.headers["Retry-After"] = "soon"
        assert outbound.request("GET", server.url).retry_after is None
        del server.headers["Retry-After"]
        assert outbound.request("GET", server.url).retry_after is None


def test_a_server_that_never_answers_times_out():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the connection is made, and nothing is ever said on it
        started = time.monotonic()
        with pytest.raises(outbound.Unreachable) as raised:
            outbound.request("GET", f"http://127.0.0.1:{silent.getsockname()[1]}/", timeout=0.3)
    assert time.monotonic() - started < 3
    assert (str(raised.value), raised.value.reason) == ("network error (timed out)", "timed out")


def test_errors_name_the_failure_never_the_url():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        url = f"http://ops:Sup3r-S3cret@127.0.0.1:{unused.getsockname()[1]}/hooks/secret-path"
    with pytest.raises(outbound.Unreachable) as raised:
        outbound.request("GET", url)
    assert str(raised.value) == "network error (ConnectionRefusedError)" and "Connection refused" in raised.value.reason
    with pytest.raises(outbound.UnusableUrl) as unusable:
        outbound.request("GET", "ftp://ops:Sup3r-S3cret@example.com/secret-path")
    for error in (raised.value, unusable.value):
        assert "Sup3r-S3cret" not in f"{error} {getattr(error, 'reason', '')}" and "secret-path" not in str(error)


def test_lint_does_not_import_the_http_client(tmp_path):
    """The command line's lint never calls out: it must not pay for urllib3 (nor Celery)."""
    (tmp_path / "20240101_patients").mkdir()
    (tmp_path / "20240101_patients" / "migration.sql").write_text('CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY);')
    (tmp_path / "migration_lock.toml").write_text('provider = "postgresql"\n')
    program = (
        "import sys\n"
        "from service.cli import main\n"
        "try:\n"
        "    main(['lint', sys.argv[1]])\n"
        "except SystemExit as exit:\n"
        "    print('exit', exit.code)\n"
        "print(sorted({name.split('.')[0] for name in sys.modules} & {'urllib3', 'celery', 'service'}))\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", program, str(tmp_path)], capture_output=True, text=True, env=environment, timeout=60)
    assert result.stdout.splitlines()[-2:] == ["exit 0", "['service']"], result.stdout + result.stderr
