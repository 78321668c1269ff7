"""Capacity: 1,000 builds, each POSTing a deploy to one of 50 targets and long-polling until its verdict.

The stack is bench/api.py's (`scratch_service`: gunicorn with gunicorn.conf.py, scratch store and
target databases, a Redis db as broker) plus real Celery workers started as `make run` starts them
(`celery -A workers.celery_app worker --beat -Q deploy_gate`, `--concurrency` prefork processes).
Each build sends the same three small migrations for its target (20 builds per target race to
apply them) with an Idempotency-Key of its own, then long-polls `GET /v1/jobs/{id}?wait=25` until
the job is finished. Two runs, each on a fresh stack:

- burst: all 1,000 builds at once;
- steady: the builds arriving evenly over `--spread` seconds (100).

For each: every request answered (the POST's p50/p99); every job finished exactly once (one
terminal transition in its journal) with `proceed`, and on every target each migration applied
exactly once; from a job's finish (its terminal journal entry) to its poller's wake, p50/p99;
from POST to verdict, p50/p99; the API's memory (gunicorn's processes, RSS summed, peak).
The builds are greenlets in this process (gevent), so 1,000 of them cost little CPU of their own.

    .venv/bin/python bench/capacity.py            # both runs; figures on stdout and in bench/results/capacity.json
    .venv/bin/python bench/capacity.py --runs steady --spread 20 --builds 200
"""

from gevent import monkey

monkey.patch_all()  # before anything opens a socket: the builds are greenlets

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import psycopg  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api import _children, _percentile, scratch_service  # noqa: E402

CELERY = str(Path(sys.executable).parent / "celery")
APPS = {"service": "service.http.wsgi:application()", "uncombined": "bench.api_wsgi:create_uncombined_app()"}
TARGETS = tuple(f"t{index:02d}" for index in range(50))
WARMUP_TARGET = "warmup"  # one deploy there before the clock starts: the workers are up and warm
TERMINAL = ("succeeded", "failed", "canceled")
MIGRATIONS = [
    {
        "name": "20240101000000_users",
        "sql": 'CREATE TABLE "User" ("id" SERIAL PRIMARY KEY, "email" TEXT NOT NULL);\nCREATE UNIQUE INDEX "User_email_key" ON "User"("email");\n',
    },
    {
        "name": "20240102000000_posts",
        "sql": 'CREATE TABLE "Post" ("id" SERIAL PRIMARY KEY, "title" TEXT NOT NULL, "authorId" INTEGER NOT NULL REFERENCES "User"("id"));\n',
    },
    {"name": "20240103000000_post_index", "sql": 'CREATE INDEX "Post_authorId_idx" ON "Post"("authorId");\n'},
]
AIMS = {"post_p99_ms": 250.0, "wake_p99_ms": 250.0, "verdict_p99_s": 5.0, "memory_mib": 400.0}


def build(port: int, token: str, index: int, start_at: float, target: str) -> dict:
    """One build: POST its deploy at `start_at`, then long-poll until the job is finished."""
    gevent.sleep(max(0.0, start_at - time.time()))
    outcome: dict = {"index": index, "target": target}
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": f"build-{index}-{uuid.uuid4().hex[:8]}"}
    body = json.dumps({"target": target, "apply": True, "commit": f"{index:040x}", "deployment_id": f"build-{index}", "migrations": MIGRATIONS})
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        outcome["posted_at"] = time.time()
        client.request("POST", "/v1/deploys", body, headers)
        response = client.getresponse()
        document = json.loads(response.read())
        outcome["answered_at"] = time.time()
        outcome["post_status"] = response.status
        if response.status != 202:
            outcome["error"] = f"POST {response.status}: {document.get('detail')}"
            return outcome
        outcome["job"] = job_id = document["id"]
        while True:
            client.request("GET", f"/v1/jobs/{job_id}?wait=25", headers={"Authorization": headers["Authorization"]})
            response = client.getresponse()
            document = json.loads(response.read())
            if response.status != 200:
                outcome["error"] = f"GET {response.status}"
                return outcome
            if document["state"] in TERMINAL:
                outcome["woke_at"] = time.time()
                outcome["state"], outcome["verdict"] = document["state"], document["verdict"]
                return outcome
    except Exception as error:  # noqa: BLE001 - a build that got no answer is a finding, not a crash
        outcome["error"] = repr(error)
        return outcome
    finally:
        client.close()


class MemoryMeter:
    """The API's memory: RSS of gunicorn's master and workers, summed, sampled every half second."""

    def __init__(self, server_pid: int) -> None:
        self.pids = [server_pid, *_children(server_pid)]
        self.peak_mib = 0.0
        self._sampler = gevent.spawn(self._sample)

    def now_mib(self) -> float:
        total = 0
        for pid in self.pids:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        return total / 1024

    def _sample(self) -> None:
        while True:
            self.peak_mib = max(self.peak_mib, self.now_mib())
            gevent.sleep(0.5)

    def stop(self) -> float:
        self._sampler.kill()
        return round(max(self.peak_mib, self.now_mib()), 1)


def start_workers(env: dict[str, str], workdir: Path, concurrency: int) -> subprocess.Popen:
    log = (workdir / "worker.log").open("wb")
    return subprocess.Popen(
        [CELERY, "-A", "workers.celery_app", "worker", "--beat", "--schedule", str(workdir / "beat-schedule"), f"--concurrency={concurrency}",
         "-Q", "deploy_gate", "--loglevel=warning"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def stop_workers(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)


def check_store(store: psycopg.Connection, job_ids: list[str]) -> dict:
    """Each job finished once (one terminal transition), and when; and how each ended."""
    rows = store.execute(
        """SELECT j."id"::text, j."state", j."verdict",
                  count(e."id") FILTER (WHERE e."kind" = 'transition' AND e."to_state" = ANY(%s)),
                  extract(epoch FROM min(e."at") FILTER (WHERE e."kind" = 'transition' AND e."to_state" = ANY(%s)))::float8
           FROM "job" j LEFT JOIN "job_event" e ON e."job_id" = j."id" WHERE j."id" = ANY(%s::uuid[]) GROUP BY 1, 2, 3""",
        (list(TERMINAL), list(TERMINAL), job_ids),
    ).fetchall()
    return {job_id: {"state": state, "verdict": verdict, "terminal_transitions": count, "finished_at": at} for job_id, state, verdict, count, at in rows}


def check_targets(target_urls: dict[str, str]) -> dict:
    """On each target, how often each migration was applied (finished, not rolled back), and rows of any other kind."""
    applied_twice, missing, other_rows = [], [], 0
    expected = [migration["name"] for migration in MIGRATIONS]
    for target, url in target_urls.items():
        if target == WARMUP_TARGET:
            continue
        with psycopg.connect(url) as conn:
            rows = conn.execute('SELECT "migration_name", "finished_at" IS NOT NULL AND "rolled_back_at" IS NULL FROM "_prisma_migrations"').fetchall()
        counts = {name: sum(1 for row_name, ok in rows if ok and row_name == name) for name in expected}
        applied_twice += [f"{target}:{name}" for name, count in counts.items() if count > 1]
        missing += [f"{target}:{name}" for name, count in counts.items() if count == 0]
        other_rows += sum(1 for _, ok in rows if not ok)
    return {"applied_twice": applied_twice, "not_applied": missing, "unfinished_or_rolled_back_rows": other_rows}


def figures(values: list[float], scale: float = 1.0, digits: int = 1) -> dict:
    ordered = sorted(value * scale for value in values)
    if not ordered:
        return {"n": 0}
    return {
        "n": len(ordered),
        "p50": round(_percentile(ordered, 50), digits),
        "p99": round(_percentile(ordered, 99), digits),
        "max": round(ordered[-1], digits),
    }


def run(name: str, builds: int, spread: float, concurrency: int, redis_db: int, deadline_s: float, app: str) -> dict:
    with scratch_service(redis_db, app=APPS[app], targets=(*TARGETS, WARMUP_TARGET)) as service:
        worker = start_workers(service.env, service.workdir, concurrency)
        try:
            warm = build(service.port, service.token, -1, time.time(), WARMUP_TARGET)
            assert warm.get("verdict") == "proceed", f"the warm-up deploy did not proceed: {warm}"
            meter = MemoryMeter(service.server.pid)
            idle_mib = meter.now_mib()
            started = time.time() + 0.5
            greenlets = [
                gevent.spawn(build, service.port, service.token, index, started + (spread * index / builds), TARGETS[index % len(TARGETS)])
                for index in range(builds)
            ]
            gevent.joinall(greenlets, timeout=spread + deadline_s)
            elapsed = time.time() - started
            memory_peak = meter.stop()
            outcomes = [greenlet.value if greenlet.ready() else {"error": "no verdict before the deadline"} for greenlet in greenlets]
            jobs = check_store(service.store, [o["job"] for o in outcomes if "job" in o])
            targets = check_targets(service.target_urls)
        finally:
            stop_workers(worker)
    answered = [o for o in outcomes if o.get("post_status") == 202]
    finished = [o for o in answered if "woke_at" in o]
    finish_to_wake = [o["woke_at"] - jobs[o["job"]]["finished_at"] for o in finished if jobs.get(o["job"], {}).get("finished_at")]
    result = {
        "run": name,
        "app": app,
        "builds": builds,
        "spread_s": spread,
        "elapsed_s": round(elapsed, 1),
        "posts_answered_202": len(answered),
        "errors": sorted({o["error"] for o in outcomes if "error" in o})[:5],
        "error_count": sum(1 for o in outcomes if "error" in o),
        "post_ms": figures([o["answered_at"] - o["posted_at"] for o in answered], 1000),
        "verdicts": {verdict: sum(1 for o in finished if o["verdict"] == verdict) for verdict in {o["verdict"] for o in finished}},
        "jobs_finished_exactly_once": sum(1 for job in jobs.values() if job["terminal_transitions"] == 1),
        "jobs_finished_more_than_once": sum(1 for job in jobs.values() if job["terminal_transitions"] > 1),
        "jobs_in_store": len(jobs),
        "targets": targets,
        "finish_to_wake_ms": figures(finish_to_wake, 1000),
        "post_to_verdict_s": figures([o["woke_at"] - o["posted_at"] for o in finished], 1, 2),
        "api_memory_mib": {"idle_after_warmup": round(idle_mib, 1), "peak": memory_peak},
    }
    result["clean"] = (
        len(answered) == builds
        and result["error_count"] == 0
        and result["verdicts"] == {"proceed": builds}
        and result["jobs_finished_exactly_once"] == builds
        and not targets["applied_twice"]
        and not targets["not_applied"]
    )
    return result


def report(result: dict) -> None:
    post, wake, verdict, memory = result["post_ms"], result["finish_to_wake_ms"], result["post_to_verdict_s"], result["api_memory_mib"]
    targets = result["targets"]
    print(f"## {result['run']} ({result['app']} app): {result['builds']} builds over {result['spread_s']:g} s (all done in {result['elapsed_s']} s)")
    print(f"- answered: {result['posts_answered_202']}/{result['builds']} POSTs 202, {result['error_count']} errors {result['errors'] or ''}")
    print(f"- POST: p50 {post.get('p50')} ms, p99 {post.get('p99')} ms, max {post.get('max')} ms")
    once, twice = result["jobs_finished_exactly_once"], result["jobs_finished_more_than_once"]
    print(f"- jobs: {once} finished exactly once, {twice} more than once; verdicts {result['verdicts']}")
    twice, never, other = len(targets["applied_twice"]), len(targets["not_applied"]), targets["unfinished_or_rolled_back_rows"]
    print(f"- migrations: applied twice {twice}, never {never}, other rows {other}")
    print(f"- job finish → poller wakes: p50 {wake.get('p50')} ms, p99 {wake.get('p99')} ms, max {wake.get('max')} ms")
    print(f"- POST → verdict: p50 {verdict.get('p50')} s, p99 {verdict.get('p99')} s, max {verdict.get('max')} s")
    print(f"- API memory (gunicorn RSS, summed): {memory['idle_after_warmup']} MiB idle, peak {memory['peak']} MiB")
    print(f"- clean: {result['clean']}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", choices=["burst", "steady"], default=["steady", "burst"])
    parser.add_argument("--builds", type=int, default=1000)
    parser.add_argument("--spread", type=float, default=100.0, help="seconds the steady run's builds arrive over")
    parser.add_argument("--concurrency", type=int, default=4, help="Celery worker processes")
    parser.add_argument("--redis-db", type=int, default=12)
    parser.add_argument("--uncombined", action="store_true", help="each request stores its job alone (bench.api_wsgi.create_uncombined_app)")
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds after the last arrival before unfinished builds count as lost")
    args = parser.parse_args()
    if not (1 <= args.builds <= 5000 and 0 < args.spread <= 1000 and 1 <= args.concurrency <= 16):
        sys.exit("keep --builds within 1..5000, --spread within 1000 s and --concurrency within 1..16")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still drop the databases and stop the processes
    results = []
    for name in args.runs:
        result = run(
            name,
            args.builds,
            args.spread if name == "steady" else 0.0,
            args.concurrency,
            args.redis_db,
            args.deadline,
            "uncombined" if args.uncombined else "service",
        )
        report(result)
        results.append(result)
    steady = next((r for r in results if r["run"] == "steady"), None)
    if steady:
        checks = {
            "post_p99_ms": steady["post_ms"].get("p99"),
            "wake_p99_ms": steady["finish_to_wake_ms"].get("p99"),
            "verdict_p99_s": steady["post_to_verdict_s"].get("p99"),
            "memory_mib": steady["api_memory_mib"]["peak"],
        }
        for key, aim in AIMS.items():
            value = checks[key]
            print(f"- steady {key} {value} (aim < {aim:g}): {'met' if value is not None and value < aim else 'MISSED'}")
    burst = next((r for r in results if r["run"] == "burst"), None)
    if burst:
        print(f"- burst loses nothing: {'met' if burst['clean'] else 'MISSED'}")
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(exist_ok=True)
    (results_dir / ("capacity-uncombined.json" if args.uncombined else "capacity.json")).write_text(
        json.dumps({"args": vars(args), "aims": AIMS, "runs": results}, indent=2)
    )


if __name__ == "__main__":
    main()
