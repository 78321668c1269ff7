"""Benchmark: analysis and lint throughput on a migrations directory of at least 1 MiB.

The directory is built at run time from the test corpus (tests/service/analysis/corpus), copy after
copy with every quoted identifier renamed and numbered folder names, until it reaches the size
asked for. We time, median over several runs: `analyze_migration` and `lint_migration` in process
over every file, and the whole `deploy-gate lint DIR` command as a subprocess (interpreter start,
imports, reading the directory, printing). The aim is a 1 MiB corpus in under a second.

    .venv/bin/python bench/lint.py                  # or: --size-mib 1 --runs 7
    .venv/bin/python bench/lint.py --profile        # where lint_migration spends its time
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.analysis.facts.analyze import analyze_migration  # noqa: E402
from service.analysis.lint import lint_migration  # noqa: E402

CORPUS = ROOT / "tests" / "service" / "analysis" / "corpus"
DEPLOY_GATE = str(Path(sys.executable).parent / "deploy-gate")
AIM_SECONDS = 1.0
MIB = 1024 * 1024
QUOTED_IDENTIFIER = re.compile(r'"([A-Za-z_][A-Za-z0-9_]*)"')


def corpus_scripts() -> list[tuple[str, str]]:
    """(name without its NN_ prefix, SQL) of every corpus migration, in folder order."""
    folders = sorted(path.parent for path in CORPUS.glob("*/migration.sql"))
    return [(folder.name.split("_", 1)[1], (folder / "migration.sql").read_text(encoding="utf-8")) for folder in folders]


def rename_identifiers(script: str, copy: int) -> str:
    """The script with every quoted identifier suffixed, so each copy names its own objects."""
    return QUOTED_IDENTIFIER.sub(lambda match: f'"{match.group(1)}_c{copy}"', script)


def write_migrations(base: Path, target_bytes: int) -> list[tuple[str, str]]:
    """Copies of the corpus, identifiers renamed per copy, until the SQL reaches `target_bytes`."""
    base.mkdir(parents=True)
    (base / "migration_lock.toml").write_text('provider = "postgresql"\n')
    sources = corpus_scripts()
    written: list[tuple[str, str]] = []
    total = 0
    copy = 0
    while total < target_bytes:
        copy += 1
        for slug, script in sources:
            # As in a long history, no two files are equal.
            renamed = rename_identifiers(script, copy)
            name = f"{20240101000000 + len(written)}_{slug}_c{copy}"
            (base / name).mkdir()
            (base / name / "migration.sql").write_text(renamed, encoding="utf-8")
            written.append((name, renamed))
            total += len(renamed.encode("utf-8"))
            if total >= target_bytes:
                break
    return written


def median_seconds(work: Callable[[], object], runs: int) -> float:
    work()  # warm-up: imports, caches, the first allocation of everything
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def command_seconds(command: list[str], runs: int) -> tuple[float, int]:
    """(median wall seconds, exit code) of a command; it exits 1 when it finds errors, as it should here."""
    codes = set()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        completed = subprocess.run(command, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
        timings.append(time.perf_counter() - started)
        codes.add(completed.returncode)
        if completed.returncode not in (0, 1):
            sys.exit(f"{' '.join(command)} could not run (exit {completed.returncode}): {completed.stderr.decode()}")
    return statistics.median(timings), max(codes)


def profile_lint(scripts: list[tuple[str, str]], top: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for name, script in scripts:
        lint_migration(script, name)
    profiler.disable()
    report = io.StringIO()
    stats = pstats.Stats(profiler, stream=report)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return report.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=float, default=1.0, help="size of the generated corpus (default 1 MiB)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of lint_migration over the corpus")
    parser.add_argument("--top", type=int, default=25, help="functions to show in the profile")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="dg-bench-lint-"))
    try:
        migrations_dir = workdir / "migrations"
        scripts = write_migrations(migrations_dir, int(args.size_mib * MIB))
        size = sum(len(script.encode("utf-8")) for _, script in scripts)
        files = len(scripts)

        def analyze_all() -> None:
            for name, script in scripts:
                analyze_migration(script, name)

        def lint_all() -> None:
            for name, script in scripts:
                lint_migration(script, name)

        results = {
            "analyze_migration": median_seconds(analyze_all, args.runs),
            "lint_migration": median_seconds(lint_all, args.runs),
        }
        exit_code = None
        if Path(DEPLOY_GATE).exists():
            results["deploy-gate lint DIR"], exit_code = command_seconds([DEPLOY_GATE, "lint", str(migrations_dir)], args.runs)

        print(f"{files} migrations, {size:,} bytes ({size / MIB:.2f} MiB), median of {args.runs} runs, {os.cpu_count()} cores")
        print("| measurement | median | files/s | MiB/s |")
        print("| --- | --- | --- | --- |")
        summary: dict[str, object] = {"files": files, "bytes": size, "runs": args.runs, "results": {}}
        for label, seconds in results.items():
            print(f"| `{label}` | {seconds * 1000:.0f} ms | {files / seconds:,.0f} | {size / MIB / seconds:.2f} |")
            summary["results"][label] = {
                "median_seconds": round(seconds, 4),
                "files_per_second": round(files / seconds, 1),
                "mib_per_second": round(size / MIB / seconds, 3),
            }
        whole = "deploy-gate lint DIR" if "deploy-gate lint DIR" in results else "lint_migration"
        per_mib = results[whole] / (size / MIB)
        verdict = "meets" if per_mib < AIM_SECONDS else "misses"
        print(
            f"`{whole}` {verdict} the aim of a 1 MiB corpus in under {AIM_SECONDS:.0f} s: {per_mib:.2f} s per MiB"
            + (f" (exit code {exit_code}: the corpus has error-level findings on purpose)" if exit_code is not None else "")
        )
        summary["verdict"] = {"measurement": whole, "seconds_per_mib": round(per_mib, 3), "meets_aim": per_mib < AIM_SECONDS}

        if args.profile:
            print(profile_lint(scripts, args.top))

        results_dir = ROOT / "bench" / "results"
        results_dir.mkdir(exist_ok=True)
        (results_dir / "lint.json").write_text(json.dumps(summary, indent=2))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
