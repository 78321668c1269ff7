"""Benchmark: `deploy-gate status` against `prisma migrate status` on histories of applied migrations.

For each `--count` (1,000 by default; repeatable) both commands run as subprocesses against the
same scratch database and directory, alternating, several times, so both see the same load; we
report the median wall time and the peak resident memory of each (from wait4, so each child's own
figure), and the in-process classification time of deploy-gate.

    make bench-status            # or: .venv/bin/python bench/status.py --count 100 --count 1000 --count 5000 --runs 7
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, NamedTuple

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.prisma.database import connect, parse_database_url  # noqa: E402
from service.prisma.deploy import deploy  # noqa: E402
from service.prisma.history import read_history  # noqa: E402
from service.prisma.migrations import read_migrations_directory  # noqa: E402
from service.prisma.status import classify_history  # noqa: E402
from tests.interop.prisma_cli import PRISMA_BIN, PRISMA_CLI_DIR, PRISMA_CONFIG, prisma_available, prisma_env  # noqa: E402

ADMIN_URL = os.environ.get("DEPLOY_GATE_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DEPLOY_GATE = str(Path(sys.executable).parent / "deploy-gate")
DEFAULT_COUNT = 1000


def write_migrations(base: Path, count: int) -> None:
    base.mkdir(parents=True)
    (base / "migration_lock.toml").write_text('provider = "postgresql"\n')
    for index in range(count):
        folder = base / f"{20240101000000 + index}_step_{index}"
        folder.mkdir()
        (folder / "migration.sql").write_text(f'-- step {index}\nCREATE TABLE "T{index}" ("id" SERIAL PRIMARY KEY, "name" TEXT);\n')


class Run(NamedTuple):
    wall: float  # seconds
    cpu: float  # seconds of user and system time: steadier than the wall time on a busy machine
    peak_rss_kib: int
    exit_code: int


def measure(command: list[str], env: dict[str, str], cwd: Path) -> Run:
    """One run of a command, its own resource usage (wait4), not this process's."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stderr.close()
    return Run(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, process.returncode)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--count",
        "--migrations",
        dest="counts",
        type=int,
        action="append",
        metavar="N",
        help=f"Applied migrations in the database (repeatable: one database each; default {DEFAULT_COUNT}).",
    )
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if not prisma_available():
        sys.exit(f"The Prisma CLI is not installed: run `make prisma-cli` ({PRISMA_BIN}).")
    counts = args.counts or [DEFAULT_COUNT]
    if any(count < 1 for count in counts):
        sys.exit("--count takes a positive number of migrations.")

    summaries = {count: measure_history(count, args.runs) for count in counts}
    print(f"{args.runs} runs each, alternating, {os.cpu_count()} cores")
    print("| applied migrations | `deploy-gate status` | CPU | peak memory | `prisma migrate status` 6.19.3 | CPU | peak memory | speed-up (wall) | (CPU) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for count, summary in summaries.items():
        ours, theirs = summary["deploy-gate"], summary["prisma"]
        print(
            f"| {count:,} | {ours['median_wall_ms']:.0f} ms | {ours['median_cpu_ms']:.0f} ms | {ours['peak_rss_mib']:.0f} MiB "
            f"| {theirs['median_wall_ms']:.0f} ms | {theirs['median_cpu_ms']:.0f} ms | {theirs['peak_rss_mib']:.0f} MiB "
            f"| {summary['speedup']:.1f}x | {summary['cpu_ratio']:.1f}x |"
        )
    for count, summary in summaries.items():
        print(f"{count:,}: classification in process {summary['classification_median_ms']} ms (median of 50)")
    for count, summary in summaries.items():
        print(f"{count:,}: load average {summary['load_before']} before, {summary['load_after']} after")
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(exist_ok=True)
    (results_dir / "status.json").write_text(json.dumps({str(count): summary for count, summary in summaries.items()}, indent=2))


def measure_history(count: int, runs: int) -> dict[str, Any]:
    """Both status commands, alternating, on a scratch database with `count` applied migrations."""
    name = f"dg_bench_{uuid.uuid4().hex[:8]}"
    workdir = Path(tempfile.mkdtemp(prefix="dg-bench-"))
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        params = psycopg.conninfo.conninfo_to_dict(ADMIN_URL)
        url = f"postgresql://{params.get('user', 'postgres')}@{params.get('host', '127.0.0.1')}:{params.get('port', '5432')}/{name}"
        migrations_dir = workdir / "migrations"
        write_migrations(migrations_dir, count)
        local = read_migrations_directory(migrations_dir)
        with connect(parse_database_url(url)) as conn:
            outcome = deploy(conn, "public", local)
            assert outcome.succeeded and len(outcome.applied) == count, outcome
            rows = read_history(conn, "public")

        classify_times = []
        for _ in range(50):
            started = time.perf_counter()
            report = classify_history(local, rows)
            classify_times.append(time.perf_counter() - started)
        assert report.up_to_date

        ours_cmd = [DEPLOY_GATE, "status", "--migrations", str(migrations_dir), "--database-url", url]
        prisma_cmd = [str(PRISMA_BIN), "migrate", "status", "--config", str(PRISMA_CONFIG)]
        # As installed: pip compiles the package's bytecode, so a shell's PYTHONDONTWRITEBYTECODE
        # must not make every run compile deploy-gate's modules again.
        ours_env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
        theirs_env = prisma_env(url, migrations_dir)
        # One run each first, unmeasured: bytecode written, files in the page cache, for both.
        measure(ours_cmd, ours_env, ROOT)
        measure(prisma_cmd, theirs_env, PRISMA_CLI_DIR)
        results: dict[str, list[Run]] = {"deploy-gate": [], "prisma": []}
        load_before = os.getloadavg()[0]
        for _ in range(runs):
            results["deploy-gate"].append(measure(ours_cmd, ours_env, ROOT))
            results["prisma"].append(measure(prisma_cmd, theirs_env, PRISMA_CLI_DIR))
        load_after = os.getloadavg()[0]
        for tool, tool_runs in results.items():
            codes = {run.exit_code for run in tool_runs}
            assert codes == {0}, f"{tool} status exited {codes} on an up-to-date history of {count}"

        summary: dict[str, Any] = {
            tool: {
                "median_wall_ms": round(statistics.median(run.wall for run in tool_runs) * 1000, 1),
                "median_cpu_ms": round(statistics.median(run.cpu for run in tool_runs) * 1000, 1),
                "peak_rss_mib": round(max(run.peak_rss_kib for run in tool_runs) / 1024, 1),
            }
            for tool, tool_runs in results.items()
        }
        summary["speedup"] = round(summary["prisma"]["median_wall_ms"] / summary["deploy-gate"]["median_wall_ms"], 2)
        summary["cpu_ratio"] = round(summary["prisma"]["median_cpu_ms"] / summary["deploy-gate"]["median_cpu_ms"], 2)
        summary["classification_median_ms"] = round(statistics.median(classify_times) * 1000, 2)
        summary["load_before"], summary["load_after"] = round(load_before, 2), round(load_after, 2)
        return summary
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
