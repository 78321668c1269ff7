"""Benchmark: the HTTP API under 32 concurrent clients, beside a bare Flask endpoint, and long-poll wake-up.

One gunicorn, started as `make run` starts it (from the repository root, so with its
`gunicorn.conf.py`: 2 gevent workers), serves `bench/api_wsgi.py`: the service's own app plus a bare `GET /bench/bare` → `{"ok": true}`.
wrk (Debian's `wrk`, one thread, 32 keep-alive connections) drives each endpoint for a fixed time,
in interleaved rounds after a warm-up; we report medians over the rounds:

- bare: `GET /bench/bare` (gunicorn + Flask + the app's request hooks, nothing else)
- store: `GET /bench/store`, bare plus one `SELECT 1` on a pooled store connection (the floor of
  any endpoint that reads the store)
- insert: `POST /bench/insert` with the deploy's body, stored as one committed row and nothing
  else (the floor of any endpoint that makes a request durable before answering)
- deploy: `POST /v1/deploys` with two small migrations and a fresh `Idempotency-Key` each time
  (store the bundle, insert the job and its journal event, send the task with Celery's client)
- job: `GET /v1/jobs/{id}` over 200 jobs that each have a six-event journal (nothing changes them
  during the run, so after its first read of a job each process answers from its own copy, as
  it would for any job between two of its changes)

Beside req/s and latency, each run records where the CPU went (gunicorn, the store's PostgreSQL
backends, wrk, the rest, from /proc) and how wrk's connections landed on the two workers: they
race to accept, and a round where one worker holds (nearly) all connections runs on one core.
gunicorn runs with `--reuse-port` (as `make run` does): a listening socket per worker spreads them.

Then the long-poll: a client parks on `GET /v1/jobs/{id}?wait=10`, this process commits a
transition with `service.store.repository.transition`, and we time from the commit returning to
the response arriving, over 50 trials on an otherwise idle server. No Celery worker runs: jobs
queue in the broker (Redis), counted by the API's `/metrics`.

Last, parked long-polls: `--parked N` clients (100 by default) park long-polls on one job, and
we count how many of 10 `GET /healthz`, each on a new connection, answer within a second while
they wait. A parked long-poll holds no store connection; under gevent it holds a greenlet, under
`--worker-class gthread` a thread of the worker that accepted it (`--threads` per worker).

Everything is scratch: two databases (store and target, dropped at the end), a Redis db
(`--redis-db`, FLUSHDB at the end), a temp targets file with a random token, a free port.
Results: a Markdown table and verdicts on stdout, everything in bench/results/api.json.

    make bench-api               # or: .venv/bin/python bench/api.py --duration 5 --rounds 3
    .venv/bin/python bench/api.py --worker-class gthread --threads 8   # gthread workers instead
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_wsgi import BARE_PATH, INSERT_PATH, STORE_PATH  # noqa: E402
from service.config.records import hash_token  # noqa: E402
from service.jobs.states import JobKind, JobState  # noqa: E402
from service.store import repository  # noqa: E402

ADMIN_URL = os.environ.get("DEPLOY_GATE_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("DEPLOY_GATE_BENCH_REDIS", "redis://127.0.0.1:6379")
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
# As scripts/run-dev.sh (`make run`) starts the API; only the app and the port differ.
APP = "bench.api_wsgi:create_bench_app()"
# None: `make run`, the Procfile and docker-compose.yml take every setting from gunicorn.conf.py,
# which gunicorn reads from the directory it starts in (ROOT); options below override some.
GUNICORN_FLAGS: list[str] = []
# Not about serving: keeps gunicorn off the control socket a `make run` on this machine may hold.
BENCH_ONLY_FLAGS = ["--no-control-socket"]
TARGET = "bench"
TOKEN_NAME = "bench"  # the principal: requested_by of every job the deploy load creates
JOBS_TO_READ = 200
# The deploy's old aim of 40% of bare is withdrawn: it was missed even with hand-built messages, and
# every task now goes through Celery's client (one way to enqueue, on any broker).
AIMS = {"deploy_p99_ms": 50.0, "job_share": 0.60, "long_poll_p99_ms": 50.0}

# Two small migrations, as a build would send them.
MIGRATIONS = [
    {
        "name": "20240101000000_init",
        "sql": 'CREATE TABLE "User" (\n  "id" SERIAL NOT NULL,\n  "email" TEXT NOT NULL,\n  "name" TEXT,\n'
        '  CONSTRAINT "User_pkey" PRIMARY KEY ("id")\n);\n\nCREATE UNIQUE INDEX "User_email_key" ON "User"("email");\n',
    },
    {
        "name": "20240102000000_posts",
        "sql": 'CREATE TABLE "Post" (\n  "id" SERIAL NOT NULL,\n  "title" TEXT NOT NULL,\n  "authorId" INTEGER NOT NULL,\n'
        '  CONSTRAINT "Post_pkey" PRIMARY KEY ("id")\n);\n\nALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey"'
        ' FOREIGN KEY ("authorId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;\n',
    },
]

# --- wrk scripts: one request builder per endpoint, a shared status count and JSON summary ------

LUA_COMMON = r"""
threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end
counter = 0
invocation = ""
function init(args)
  invocation = args[1] or ""
end
ok = 0
bad = 0
last_bad = 0
function response(status, headers, body)
  if status == EXPECTED then ok = ok + 1 else bad = bad + 1; last_bad = status end
end
function done(summary, latency, requests)
  local good, wrong, wrong_code = 0, 0, 0
  for _, t in ipairs(threads) do
    good = good + t:get("ok"); wrong = wrong + t:get("bad")
    if t:get("last_bad") ~= 0 then wrong_code = t:get("last_bad") end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"expected_status":%d,"wrong_status":%d,"a_wrong_status":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, good, wrong, wrong_code, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""

LUA_BARE = r"""
EXPECTED = 200
function request()
  counter = counter + 1
  return wrk.format("GET", "%(path)s")
end
"""

LUA_DEPLOY = r"""
EXPECTED = 202
local headers = {["Authorization"] = "Bearer %(token)s", ["Content-Type"] = "application/json"}
local head = '{"target":"%(target)s","phase":"pre","apply":false,"deployment_id":"bench","commit":"'
local tail = '","migrations":%(migrations)s}'
function request()
  counter = counter + 1
  headers["Idempotency-Key"] = invocation .. "-" .. thread_id .. "-" .. counter
  local commit = string.format("%%08x%%032x", thread_id, counter)
  return wrk.format("POST", "/v1/deploys", headers, head .. commit .. tail)
end
"""

LUA_INSERT = r"""
EXPECTED = 202
local headers = {["Content-Type"] = "application/json"}
local head = '{"target":"%(target)s","phase":"pre","apply":false,"deployment_id":"bench","commit":"'
local tail = '","migrations":%(migrations)s}'
function request()
  counter = counter + 1
  local commit = string.format("%%08x%%032x", thread_id, counter)
  return wrk.format("POST", "%(path)s", headers, head .. commit .. tail)
end
"""

LUA_JOB = r"""
EXPECTED = 200
local headers = {["Authorization"] = "Bearer %(token)s"}
local ids = {%(ids)s}
function request()
  counter = counter + 1
  return wrk.format("GET", "/v1/jobs/" .. ids[((counter + thread_id * 37) %% #ids) + 1], headers)
end
"""


# --- CPU accounting from /proc: where the machine's two cores went during a run -----------------


def _proc_cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies over all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class CpuMeter:
    """Where the machine's CPU went over one run: gunicorn (master and workers), wrk, the store's
    PostgreSQL backends, and the rest (Redis, the kernel, anything else running on the machine)."""

    HZ = os.sysconf("SC_CLK_TCK")

    def __init__(self, server_pid: int, store: psycopg.Connection, store_db: str) -> None:
        self.pids = [server_pid, *_children(server_pid)]
        self.store, self.store_db = store, store_db

    def _backends(self) -> dict[int, int]:
        rows = self.store.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.store_db,)).fetchall()
        return {pid: _proc_cpu_ticks(pid) for (pid,) in rows}

    def start(self) -> None:
        self._backends_at_start = self._backends()
        self._server = sum(_proc_cpu_ticks(pid) for pid in self.pids)
        self._machine = _machine_ticks()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._client = usage.ru_utime + usage.ru_stime
        self._wall = time.perf_counter()

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self._wall
        server = (sum(_proc_cpu_ticks(pid) for pid in self.pids) - self._server) / self.HZ
        busy = (_machine_ticks()[0] - self._machine[0]) / self.HZ
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        client = usage.ru_utime + usage.ru_stime - self._client  # wrk, reaped during the run
        # A backend the pool opened during the run counts from its start.
        database = sum(ticks - self._backends_at_start.get(pid, 0) for pid, ticks in self._backends().items()) / self.HZ
        return {
            "wall_s": round(wall, 2),
            "gunicorn_cores": round(server / wall, 2),
            "wrk_cores": round(client / wall, 2),
            "postgres_cores": round(database / wall, 2),
            "rest_cores": round(max(busy - server - client - database, 0.0) / wall, 2),
            "machine_busy_cores": round(busy / wall, 2),
            "gunicorn_cpu_s": round(server, 2),
        }


def background_cores(seconds: float = 2.0) -> float:
    """How busy the machine is with nothing of ours running (other work skews every figure)."""
    before = _machine_ticks()[0]
    time.sleep(seconds)
    return round((_machine_ticks()[0] - before) / CpuMeter.HZ / seconds, 2)


# --- scratch resources -----------------------------------------------------------------------


def _db_url(name: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(ADMIN_URL)
    return f"postgresql://{params.get('user', 'postgres')}@{params.get('host', '127.0.0.1')}:{params.get('port', '5432')}/{name}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _wait_ready(port: int, server: subprocess.Popen, log: Path, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            # /healthz: the app is loaded (its store checked); /readyz would want a Celery worker, and none runs here.
            if _get(port, "/healthz", timeout=2.0)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"gunicorn was not ready within {limit:.0f} s:\n{log.read_text()[-3000:]}")


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=35)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@dataclass
class Service:
    port: int
    token: str
    store: psycopg.Connection  # this process's own connection to the scratch store
    server: subprocess.Popen
    broker: redis.Redis
    workdir: Path
    store_db: str
    env: dict[str, str]  # what gunicorn was started with: a worker started with it serves the same stack
    target_urls: dict[str, str]  # each target's scratch database


@contextmanager
def scratch_service(
    redis_db: int, gunicorn_flags: list[str] = GUNICORN_FLAGS, env_extra: dict[str, str] | None = None, app: str = APP, targets: tuple[str, ...] = (TARGET,)
) -> Iterator[Service]:
    """Scratch store and target databases (one per target), a targets file with a fresh token,
    gunicorn on a free port, ready; afterwards gunicorn stopped, the databases dropped and the
    Redis db flushed."""
    tag = uuid.uuid4().hex[:8]
    store_db = f"dg_bench_api_{tag}"
    target_dbs = {target: f"dg_bench_api_{tag}_target" + (f"_{index}" if index else "") for index, target in enumerate(targets)}
    workdir = Path(tempfile.mkdtemp(prefix="dg-bench-api-"))
    redis_url = f"{REDIS_BASE}/{redis_db}"
    broker = redis.Redis.from_url(redis_url, socket_timeout=5)
    if broker.dbsize():
        print(f"note: Redis db {redis_db} is not empty; it is flushed at the end", file=sys.stderr)
    server: subprocess.Popen | None = None
    store: psycopg.Connection | None = None
    created: list[str] = []
    try:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            for name in (store_db, *target_dbs.values()):
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                created.append(name)
        with psycopg.connect(_db_url(store_db), autocommit=True) as conn:
            repository.migrate_store(conn)  # the release step, before the API starts
        token = secrets.token_urlsafe(24)
        config_file = workdir / "targets.toml"
        variables = {target: f"BENCH_TARGET_{index}_DATABASE_URL" if index else "BENCH_TARGET_DATABASE_URL" for index, target in enumerate(targets)}
        config_file.write_text(
            f'[tokens.{TOKEN_NAME}]\nsha256 = "{hash_token(token)}"\nscopes = ["deploy", "read"]\n\n'
            + "".join(f'[targets.{target}]\ndatabase_url_env = "{variables[target]}"\n\n' for target in targets)
        )
        port = _free_port()
        target_urls = {target: _db_url(name) for target, name in target_dbs.items()}
        env = {
            **os.environ,
            "DEPLOY_GATE_DATABASE_URL": _db_url(store_db),
            "DEPLOY_GATE_BROKER_URL": redis_url,
            "DEPLOY_GATE_CONFIG": str(config_file),
            **{variables[target]: url for target, url in target_urls.items()},
            **(env_extra or {}),
        }
        log = workdir / "gunicorn.log"
        with log.open("wb") as log_file:
            server = subprocess.Popen(
                [GUNICORN, app, "--bind", f"127.0.0.1:{port}", *gunicorn_flags, *BENCH_ONLY_FLAGS],
                cwd=ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        _wait_ready(port, server, log)
        store = psycopg.connect(_db_url(store_db), autocommit=True)
        yield Service(port, token, store, server, broker, workdir, store_db, env, target_urls)
    finally:
        if store is not None:
            store.close()
        if server is not None:
            _stop(server)
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            for name in created:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        try:
            broker.flushdb()
        finally:
            broker.close()
        shutil.rmtree(workdir, ignore_errors=True)


def write_scripts(workdir: Path, token: str, job_ids: list[str]) -> dict[str, Path]:
    """One wrk script per endpoint, in the order they run in each round."""
    migrations = json.dumps(MIGRATIONS).replace("\\", "\\\\").replace("'", "\\'")  # inside a '...' Lua string
    scripts = {
        "bare": LUA_BARE % {"path": BARE_PATH},
        "store": LUA_BARE % {"path": STORE_PATH},
        "insert": LUA_INSERT % {"path": INSERT_PATH, "target": TARGET, "migrations": migrations},
        "deploy": LUA_DEPLOY % {"token": token, "target": TARGET, "migrations": migrations},
        "job": LUA_JOB % {"token": token, "ids": ", ".join(f'"{i}"' for i in job_ids)},
    }
    paths = {}
    for name, text in scripts.items():
        paths[name] = workdir / f"{name}.lua"
        paths[name].write_text(text + LUA_COMMON)
    return paths


# --- the measurements ------------------------------------------------------------------------


def connections_per_worker(port: int, workers: list[int]) -> list[int]:
    """How many established client connections each gunicorn worker holds on the port."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # ESTABLISHED, our side
                inodes.add(fields[9])
    counts = []
    for pid in workers:
        held = 0
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    held += 1
        except OSError:
            pass
        counts.append(held)
    return counts


def run_wrk(script: Path, port: int, seconds: int, connections: int, workers: list[int] | None = None) -> dict:
    """One wrk run; with `workers`, also how its keep-alive connections landed on them (sampled 1 s in)."""
    # The argument after `--` makes each run's Idempotency-Keys its own.
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{int(seconds)}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}",
        "--",
        uuid.uuid4().hex[:12],
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        spread = None
        if workers:
            time.sleep(min(1.0, seconds / 3))
            spread = connections_per_worker(port, workers)
        stdout, stderr = process.communicate(timeout=seconds + 30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    match = re.search(r"^WRK_JSON (\{.*\})$", stdout, re.MULTILINE)
    if process.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({process.returncode}): {stdout}\n{stderr}")
    raw = json.loads(match.group(1))
    seconds_run = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"],
        "rps": round(raw["requests"] / seconds_run, 1),
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "mean_ms": round(raw["mean_us"] / 1000, 3),
        "wrong_status": raw["wrong_status"],
        "a_wrong_status": raw["a_wrong_status"] or None,
        "socket_errors": {k: v for k, v in raw["errors"].items() if k != "status" and v},
        "connections_per_worker": spread,
    }


def queue_depth(port: int, token: str) -> float | None:
    """The tasks waiting in the broker, as the API's `/metrics` reports them (through kombu)."""
    status, body = _get(port, "/metrics", {"Authorization": f"Bearer {token}"})
    match = re.search(rb"^deploy_gate_queue_depth (\S+)$", body, re.MULTILINE) if status == 200 else None
    return float(match.group(1)) if match else None


def seed_jobs(conn: psycopg.Connection, count: int) -> list[str]:
    """Jobs as a poller sees them mid-run: queued, running, two steps started and finished."""
    ids = []
    for index in range(count):
        job, _ = repository.create_job(conn, kind=JobKind.CHECK, target=TARGET, requested_by="seed", params={"phase": "pre", "commit": f"{index:040x}"})
        repository.transition(conn, job.id, JobState.RUNNING, data={"worker": "bench@localhost"})
        for step in ("status", "lint"):
            repository.record_step(conn, job.id, step, "started")
            repository.record_step(conn, job.id, step, "finished", {"seconds": 0.01, "findings": 0})
        ids.append(job.id)
    return ids


def long_poll_trials(conn: psycopg.Connection, port: int, token: str, trials: int, wait: float, park: float) -> dict:
    """Park a long-poll, commit a transition, time until the response is in; `trials` times."""
    delays, commit_ms, problems = [], [], []
    for _ in range(trials):
        job, _ = repository.create_job(conn, kind=JobKind.CHECK, target=TARGET, requested_by="seed")
        outcome: dict = {}
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=wait + 5)
        client.connect()

        def poll(client=client, job_id=job.id, outcome=outcome) -> None:
            try:
                client.request("GET", f"/v1/jobs/{job_id}?wait={wait:g}", headers={"Authorization": f"Bearer {token}"})
                response = client.getresponse()
                body = response.read()
                outcome["at"] = time.perf_counter()
                outcome["status"] = response.status
                outcome["state"] = json.loads(body).get("state") if response.status == 200 else body[:200]
            except Exception as error:  # noqa: BLE001 - reported as a failed trial
                outcome["error"] = repr(error)

        poller = threading.Thread(target=poll, daemon=True)
        sent = time.perf_counter()
        poller.start()
        time.sleep(park)  # long enough for the request to reach LISTEN and park on an idle server
        before = time.perf_counter()
        repository.transition(conn, job.id, JobState.RUNNING, data={"by": "bench"})
        committed = time.perf_counter()
        poller.join(wait + 10)
        client.close()
        if "at" not in outcome:
            problems.append(outcome.get("error", "no answer"))
        elif outcome["status"] != 200 or outcome["state"] != "running":
            problems.append(f"status {outcome['status']}, state {outcome['state']}")
        elif outcome["at"] < before:
            problems.append("answered before the transition was committed")
        elif outcome["at"] - sent >= wait:
            problems.append("timed out instead of waking")
        else:
            delays.append((outcome["at"] - committed) * 1000)
            commit_ms.append((committed - before) * 1000)
    delays_sorted = sorted(delays)
    return {
        "trials": trials,
        "woken": len(delays),
        "problems": problems[:5],
        "p50_ms": round(_percentile(delays_sorted, 50), 2) if delays else None,
        "p99_ms": round(_percentile(delays_sorted, 99), 2) if delays else None,
        "max_ms": round(delays_sorted[-1], 2) if delays else None,
        "transition_call_p50_ms": round(statistics.median(commit_ms), 2) if commit_ms else None,
    }


def parked_polls_probe(conn: psycopg.Connection, port: int, token: str, parked: int, probes: int = 10) -> dict:
    """Park `parked` long-polls on one job, then count the `GET /healthz` that answer within 1 s."""
    job, _ = repository.create_job(conn, kind=JobKind.CHECK, target=TARGET, requested_by="seed")
    answers: list[int] = []

    def poll() -> None:
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=40)
        try:
            client.request("GET", f"/v1/jobs/{job.id}?wait=25", headers={"Authorization": f"Bearer {token}"})
            response = client.getresponse()
            response.read()
            answers.append(response.status)
        except OSError:
            answers.append(0)
        finally:
            client.close()

    polls = [threading.Thread(target=poll, daemon=True) for _ in range(parked)]
    for thread in polls:
        thread.start()
    time.sleep(1.0)  # let every request reach the server and park
    answered, latencies = 0, []
    for _ in range(probes):
        started = time.perf_counter()
        try:
            status, _ = _get(port, "/healthz", timeout=1.0)
            if status == 200:
                answered += 1
                latencies.append((time.perf_counter() - started) * 1000)
        except OSError:
            pass  # a timeout: no thread was free to answer
    released = time.perf_counter()
    repository.transition(conn, job.id, JobState.RUNNING, data={"by": "bench"})
    # A poll that queued behind the parked ones starts after they answer; a finished job
    # answers it at once instead of parking it in turn.
    time.sleep(0.5)
    repository.transition(conn, job.id, JobState.SUCCEEDED, data={"by": "bench"})
    for thread in polls:
        thread.join(40)
    return {
        "parked": parked,
        "healthz_probes": probes,
        "healthz_answered_within_1s": answered,
        "healthz_p50_ms": round(statistics.median(latencies), 2) if latencies else None,
        "polls_answered_200": answers.count(200),
        "release_s": round(time.perf_counter() - released, 2),
    }


def _balanced(spread: list[int] | None, connections: int) -> bool:
    """Every worker holds at least a quarter of its fair share of the connections (else: lopsided)."""
    return not spread or min(spread) * 4 * len(spread) >= connections


def _percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of a sorted list."""
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def _summarise(rounds: list[dict], connections: int) -> dict:
    keys = ("rps", "p50_ms", "p90_ms", "p99_ms")
    summary = {key: round(statistics.median(r[key] for r in rounds), 2) for key in keys}
    summary["max_ms"] = max(r["max_ms"] for r in rounds)
    summary["requests"] = sum(r["requests"] for r in rounds)
    summary["wrong_status"] = sum(r["wrong_status"] for r in rounds)
    summary["socket_errors"] = sum(sum(r["socket_errors"].values()) for r in rounds)
    summary["cpu"] = {key: round(statistics.median(r["cpu"][key] for r in rounds), 2) for key in rounds[0]["cpu"] if key.endswith("_cores")}
    cpu_s = sum(r["cpu"]["gunicorn_cpu_s"] for r in rounds)
    summary["gunicorn_cpu_ms_per_request"] = round(cpu_s * 1000 / summary["requests"], 3) if summary["requests"] else None
    summary["rps_range"] = [min(r["rps"] for r in rounds), max(r["rps"] for r in rounds)]
    summary["lopsided_rounds"] = sum(not _balanced(r["connections_per_worker"], connections) for r in rounds)
    summary["rounds"] = rounds
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=4, help="whole seconds per endpoint per round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of bare, store, insert, deploy, job")
    parser.add_argument("--warmup", type=int, default=2, help="whole seconds per endpoint before measuring")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--trials", type=int, default=50, help="long-poll wake-up trials")
    parser.add_argument("--wait", type=float, default=10.0, help="the long-poll's ?wait=")
    parser.add_argument("--park", type=float, default=0.2, help="seconds a long-poll parks before the transition")
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--worker-class", help="gunicorn worker class (gunicorn.conf.py: gevent)")
    parser.add_argument("--workers", type=int, help="gunicorn worker processes (gunicorn.conf.py: 2)")
    parser.add_argument("--threads", type=int, help="threads per gthread worker")
    parser.add_argument("--parked", type=int, default=100, help="long-polls parked while /healthz is probed")
    args = parser.parse_args()
    if not (0 < args.duration <= 60 and 1 <= args.rounds <= 10 and 0 <= args.warmup <= 30 and 1 <= args.trials <= 500):
        sys.exit("keep --duration within 60 s, --rounds within 10, --warmup within 30 s and --trials within 500")
    if not ((args.threads is None or 1 <= args.threads <= 256) and (args.workers is None or 1 <= args.workers <= 16) and 0 <= args.parked <= 500):
        sys.exit("keep --threads within 1..256, --workers within 1..16 and --parked within 0..500")
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk (or `make bench-api`, which installs it)")
    # A SIGTERM should still drop the databases and stop gunicorn.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    chosen = {"--worker-class": args.worker_class, "--workers": args.workers, "--threads": args.threads}
    flags = [*GUNICORN_FLAGS, *(part for flag, value in chosen.items() if value is not None for part in (flag, str(value)))]
    with scratch_service(args.redis_db, flags) as service:
        port, token, store = service.port, service.token, service.store
        meter = CpuMeter(service.server.pid, store, service.store_db)
        background = background_cores()
        job_ids = seed_jobs(store, JOBS_TO_READ)
        paths = write_scripts(service.workdir, token, job_ids)

        # Check each request once by hand before loading it.
        for name, (status, _) in {
            "bare": _get(port, BARE_PATH),
            "store": _get(port, STORE_PATH),
            "job": _get(port, f"/v1/jobs/{job_ids[0]}", {"Authorization": f"Bearer {token}"}),
        }.items():
            assert status == 200, f"{name}: {status}"

        if args.warmup:
            for name in paths:
                run_wrk(paths[name], port, args.warmup, args.connections)
        # wrk opens its keep-alive connections all at once and the workers race to accept
        # them: a run may leave one worker with (nearly) all of them. Each round draws anew, so
        # medians over rounds are typical figures; each round's split is recorded.
        workers = _children(service.server.pid)
        results: dict[str, list[dict]] = {name: [] for name in paths}
        for _ in range(args.rounds):
            for name in paths:
                meter.start()
                outcome = run_wrk(paths[name], port, args.duration, args.connections, workers)
                outcome["cpu"] = meter.stop()
                results[name].append(outcome)
        posted = store.execute('SELECT count(*) FROM "job" WHERE "requested_by" = %s', (TOKEN_NAME,)).fetchone()[0]
        queued = queue_depth(port, token)

        long_poll = long_poll_trials(store, port, token, args.trials, args.wait, args.park)
        parked = parked_polls_probe(store, port, token, args.parked) if args.parked else None

    summary = {name: _summarise(rounds, args.connections) for name, rounds in results.items()}
    bare = summary["bare"]["rps"]
    bare_cpu = summary["bare"]["gunicorn_cpu_ms_per_request"]
    for figures in summary.values():
        figures["share_of_bare"] = round(figures["rps"] / bare, 3)
        # The share gunicorn's CPU cost alone would allow: steadier than req/s when other work shares the cores.
        figures["cpu_share_of_bare"] = round(bare_cpu / figures["gunicorn_cpu_ms_per_request"], 3)
    deploy, job = summary["deploy"], summary["job"]
    verdicts = {
        "deploy_p99": deploy["p99_ms"] < AIMS["deploy_p99_ms"],
        "job_throughput": job["share_of_bare"] >= AIMS["job_share"],
        "long_poll_wake": long_poll["p99_ms"] is not None and long_poll["p99_ms"] <= AIMS["long_poll_p99_ms"] and not long_poll["problems"],
    }
    clean = all(s["wrong_status"] == 0 and s["socket_errors"] == 0 for s in summary.values())

    labels = {
        "bare": f"bare Flask `GET {BARE_PATH}`",
        "store": f"one store round trip `GET {STORE_PATH}`",
        "insert": f"the deploy's body stored as one row `POST {INSERT_PATH}`",
        "deploy": "`POST /v1/deploys` (2 migrations)",
        "job": "`GET /v1/jobs/{id}` (6 events)",
    }
    print(
        f"{args.connections} connections (wrk, 1 thread, keep-alive), {args.rounds} interleaved rounds of {args.duration:g} s per endpoint "
        f"after {args.warmup:g} s warm-up; gunicorn with gunicorn.conf.py {' '.join(flags)}; {os.cpu_count()} cores shared by wrk, gunicorn, "
        f"PostgreSQL and Redis; background load before the run: {background:.2f} cores"
    )
    print()
    print("| endpoint | req/s | req/s range | p50 | p99 | % of bare | gunicorn CPU per request | cores used: gunicorn / PostgreSQL / wrk / rest |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, s in summary.items():
        cpu = s["cpu"]
        print(
            f"| {labels[name]} | {s['rps']:.0f} | {s['rps_range'][0]:.0f}–{s['rps_range'][1]:.0f} | {s['p50_ms']:.1f} ms | {s['p99_ms']:.1f} ms | {s['share_of_bare'] * 100:.0f}% "
            f"| {s['gunicorn_cpu_ms_per_request']:.2f} ms "
            f"| {cpu['gunicorn_cores']:.2f} / {cpu['postgres_cores']:.2f} / {cpu['wrk_cores']:.2f} / {cpu['rest_cores']:.2f} |"
        )
    lp = long_poll
    print(
        f"| long-poll `GET /v1/jobs/{{id}}?wait={args.wait:g}`: commit → response ({lp['woken']}/{lp['trials']} woke) "
        f"| | | {lp['p50_ms']} ms | {lp['p99_ms']} ms | | | |"
    )
    print()
    print(
        "req/s, p50 and p99: medians over the rounds (all rounds are in bench/results/api.json). Cores: CPU time over wall time "
        "while each endpoint ran; PostgreSQL is the store's backends; rest is Redis, the kernel and anything else on the machine."
    )
    if background > 0.2:
        print(f"WARNING: the machine was {background:.2f} cores busy before the run; figures are skewed by other work")
    if not clean:
        print("WARNING: some responses had an unexpected status or socket errors; see bench/results/api.json")
    if lp["problems"]:
        print(f"WARNING: long-poll trials that did not wake cleanly: {lp['problems']}")
    if parked:
        print(
            f"With {parked['parked']} long-polls parked: {parked['healthz_answered_within_1s']}/"
            f"{parked['healthz_probes']} `GET /healthz` answered within 1 s (p50 {parked['healthz_p50_ms']} ms); "
            f"{parked['polls_answered_200']}/{parked['parked']} polls answered 200 once the job moved."
        )
    spreads = "; ".join(f"{name} {' '.join('/'.join(map(str, r['connections_per_worker'] or [])) for r in s['rounds'])}" for name, s in summary.items())
    print(
        f"wrk connections per gunicorn worker, round by round: {spreads}. A lopsided split (a worker under a quarter of "
        f"its share) leaves a worker idle and lowers that round's req/s."
    )
    print(f"Share of bare from gunicorn CPU per request alone: deploy {deploy['cpu_share_of_bare'] * 100:.0f}%, job {job['cpu_share_of_bare'] * 100:.0f}%.")
    print(
        f"Jobs: {posted} created by the deploy load, warm-up included ({deploy['requests'] - deploy['wrong_status']} measured 202s), "
        f"{queued} tasks waiting in the broker (`/metrics`); a long-poll trial's transition call took {lp['transition_call_p50_ms']} ms (p50)."
    )
    print()

    def mark(passed: bool) -> str:
        return "met" if passed else "MISSED"

    print(f"- deploy throughput {deploy['share_of_bare'] * 100:.0f}% of bare (no aim)")
    print(f"- deploy p99 {deploy['p99_ms']:.1f} ms (aim < {AIMS['deploy_p99_ms']:.0f} ms): {mark(verdicts['deploy_p99'])}")
    print(f"- job throughput {job['share_of_bare'] * 100:.0f}% of bare (aim ≥ {AIMS['job_share'] * 100:.0f}%): {mark(verdicts['job_throughput'])}")
    print(f"- long-poll wake p99 {lp['p99_ms']} ms (aim ≤ {AIMS['long_poll_p99_ms']:.0f} ms): {mark(verdicts['long_poll_wake'])}")

    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(exist_ok=True)
    (results_dir / "api.json").write_text(
        json.dumps(
            {
                "method": {
                    "load_generator": "wrk 1 thread, keep-alive",
                    "connections": args.connections,
                    "duration_s": args.duration,
                    "rounds": args.rounds,
                    "warmup_s": args.warmup,
                    "gunicorn": ["-c", "gunicorn.conf.py", *flags],
                    "cores": os.cpu_count(),
                    "seeded_jobs": JOBS_TO_READ,
                    "long_poll_wait_s": args.wait,
                    "long_poll_park_s": args.park,
                    "background_cores": background,
                },
                "endpoints": summary,
                "long_poll": long_poll,
                "parked_long_polls": parked,
                "jobs_created_by_deploy_load": posted,
                "tasks_queued": queued,
                "aims": AIMS,
                "verdicts": verdicts,
                "clean": clean,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
