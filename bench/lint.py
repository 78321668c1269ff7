"""Benchmark: `deploy-gate lint` beside squawk, the best-known PostgreSQL migration linter, in one run.

Both run as the commands a build runs, in a fresh process each time, over the same directories:
- the test corpus (tests/service/analysis/corpus: 50 small Prisma migrations);
- a project's shape: a 0.28 MiB squashed baseline and 109 later migrations, as the production
  project of issue 16 has (110 files, 0.54 MB, one 284 KB baseline);
- a squashed Prisma baseline of 1, 2, 4 and 5 MiB (bench/prisma_baseline.py), one file each;
- 1,000 small files: renamed copies of the corpus, as a long history is.
Each is timed (median wall time of --runs) with its peak memory (the largest process's maximum
RSS, from GNU time). Settings fit for Prisma, which runs each file once in one transaction: squawk with
`--assume-in-transaction` and the target's PostgreSQL version; deploy-gate with its defaults, which
already read a file as one transaction. squawk-cli comes from PyPI (`pip install -e '.[bench]'`).
Also timed: `deploy-gate --help` and the start-up of `deploy-gate lint` on a one-file directory.

    .venv/bin/python bench/lint.py                 # or: --runs 3
    .venv/bin/python bench/lint.py --profile 1     # where lint_migration spends its time on 1 MiB
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
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.prisma_baseline import MIB, baseline_sql  # noqa: E402

CORPUS = ROOT / "tests" / "service" / "analysis" / "corpus"
BIN = Path(sys.executable).parent
DEPLOY_GATE = str(BIN / "deploy-gate")
TIME = "/usr/bin/time"  # GNU time (Debian's `time` package), for the peak memory
QUOTED_IDENTIFIER = re.compile(r'"([A-Za-z_][A-Za-z0-9_]*)"')
BASELINE_MIB = (1, 2, 4, 5)
SMALL_FILES = 1000
PROJECT_FILES = 110
PROJECT_BASELINE_MIB = 0.28
PG_VERSION = "15"

# The aims of issue 16.
CORPUS_RATIO_AIM = 3.0  # the corpus within 3x squawk's wall time
FIVE_MIB_AIM_SECONDS = 5.0
LINEAR_RATIO_AIM = 5.0  # 4 MiB over 1 MiB
CORPUS_MEMORY_AIM_MIB = 50.0
HELP_AIM_SECONDS = 0.150


@dataclass(frozen=True)
class Measured:
    seconds: float  # median wall time
    peak_mib: float  # the largest peak RSS over the runs
    exit_code: int


def squawk_binary() -> str | None:
    beside = BIN / "squawk"
    return str(beside) if beside.exists() else shutil.which("squawk")


def rename_identifiers(script: str, copy: int) -> str:
    """The script with every quoted identifier suffixed, so each copy names its own objects."""
    return QUOTED_IDENTIFIER.sub(lambda match: f'"{match.group(1)}_c{copy}"', script)


def new_directory(base: Path) -> Path:
    base.mkdir(parents=True)
    (base / "migration_lock.toml").write_text('provider = "postgresql"\n')
    return base


def write_corpus(base: Path) -> Path:
    new_directory(base)
    for folder in sorted(path.parent for path in CORPUS.glob("*/migration.sql")):
        shutil.copytree(folder, base / f"{20240101000000 + int(folder.name.split('_', 1)[0])}_{folder.name.split('_', 1)[1]}")
    return base


def write_small_files(base: Path, count: int, first: int = 0) -> Path:
    """`count` migrations: copies of the corpus, identifiers renamed per copy, as in a long history."""
    new_directory(base)
    sources = [(folder.name.split("_", 1)[1], (folder / "migration.sql").read_text()) for folder in sorted(p.parent for p in CORPUS.glob("*/migration.sql"))]
    for number in range(count):
        copy = number // len(sources)
        slug, script = sources[number % len(sources)]
        folder = base / f"{20240101000000 + first + number}_{slug}_c{copy}"
        folder.mkdir()
        (folder / "migration.sql").write_text(rename_identifiers(script, copy))
    return base


def write_project(base: Path) -> Path:
    """A squashed baseline followed by the corpus's migrations and renamed copies of them."""
    write_small_files(base, PROJECT_FILES - 1, first=1)
    (base / "20240101000000_baseline").mkdir()
    (base / "20240101000000_baseline" / "migration.sql").write_text(baseline_sql(int(PROJECT_BASELINE_MIB * MIB)))
    return base


def write_baseline(base: Path, mib: float) -> Path:
    new_directory(base)
    (base / "20240101000000_baseline").mkdir()
    (base / "20240101000000_baseline" / "migration.sql").write_text(baseline_sql(int(mib * MIB)))
    return base


def run_once(command: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MiB of the largest process, exit code) of one run."""
    # GNU time reports the command's maximum RSS (for a command that forks workers, the largest
    # process's). Read from this process's own wait4 instead, it would count this benchmark's
    # memory: a forked child's high-water mark survives its exec.
    with tempfile.NamedTemporaryFile("r") as peak:
        started = time.perf_counter()
        completed = subprocess.run([TIME, "-f", "%M", "-o", peak.name, *command], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, check=False)
        seconds = time.perf_counter() - started
        peak_kib = int(peak.read().split()[-1])
    if completed.returncode not in (0, 1):
        sys.exit(f"{' '.join(command[:3])} … could not run (exit {completed.returncode}): {completed.stderr.decode()[-2000:]}")
    return seconds, peak_kib / 1024, completed.returncode


def measure(command: list[str], runs: int) -> Measured:
    run_once(command)  # warm-up: the file cache, the interpreter's .pyc files
    results = [run_once(command) for _ in range(runs)]
    return Measured(statistics.median(r[0] for r in results), max(r[1] for r in results), max(r[2] for r in results))


def deploy_gate_lint(directory: Path) -> list[str]:
    return [DEPLOY_GATE, "lint", str(directory)]


def squawk_lint(squawk: str, directory: Path) -> list[str]:
    files = sorted(str(path) for path in directory.glob("*/migration.sql"))
    return [squawk, "--assume-in-transaction", f"--pg-version={PG_VERSION}", "--reporter=gcc", *files]


def size_of(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.glob("*/migration.sql"))


def profile_lint(mib: float, top: int) -> str:
    from service.analysis.lint import lint_migration

    script = baseline_sql(int(mib * MIB))
    lint_migration("SELECT 1;")  # the rule catalogue loaded before the profile starts
    profiler = cProfile.Profile()
    profiler.enable()
    lint_migration(script, "baseline")
    profiler.disable()
    report = io.StringIO()
    stats = pstats.Stats(profiler, stream=report)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return report.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baselines", type=float, nargs="*", default=BASELINE_MIB, metavar="MIB", help="baseline sizes (default 1 2 4 5)")
    parser.add_argument("--small-files", type=int, default=SMALL_FILES, help="files in the directory of small files (0: none)")
    parser.add_argument("--profile", type=float, metavar="MIB", help="only print a cProfile of lint_migration on a baseline of this size")
    parser.add_argument("--top", type=int, default=25, help="functions to show in the profile")
    args = parser.parse_args()
    if args.profile:
        print(profile_lint(args.profile, args.top))
        return
    squawk = squawk_binary()
    if squawk is None:
        print("squawk is not installed (pip install -e '.[bench]'): deploy-gate alone", file=sys.stderr)

    workdir = Path(tempfile.mkdtemp(prefix="dg-bench-lint-"))
    try:
        one_file = new_directory(workdir / "one")
        (one_file / "20240101000000_init").mkdir()
        (one_file / "20240101000000_init" / "migration.sql").write_text('CREATE TABLE "A" ("id" TEXT NOT NULL, CONSTRAINT "A_pkey" PRIMARY KEY ("id"));\n')
        start_up = {
            "deploy-gate --help": measure([DEPLOY_GATE, "--help"], args.runs),
            "deploy-gate lint (one small file)": measure(deploy_gate_lint(one_file), args.runs),
        }
        corpora = {
            "test corpus (50 files)": write_corpus(workdir / "corpus"),
            f"project: baseline + {PROJECT_FILES - 1} files": write_project(workdir / "project"),
        }
        for mib in args.baselines:
            corpora[f"baseline {mib:g} MiB (1 file)"] = write_baseline(workdir / f"baseline-{mib:g}", mib)
        if args.small_files:
            corpora[f"{args.small_files:,} small files"] = write_small_files(workdir / "small", args.small_files)

        rows = []
        for label, directory in corpora.items():
            ours = measure(deploy_gate_lint(directory), args.runs)
            theirs = measure(squawk_lint(squawk, directory), args.runs) if squawk else None
            rows.append((label, size_of(directory), ours, theirs))

        load = os.getloadavg()
        print(f"median of {args.runs} runs, {os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
        print()
        print("| corpus | size | deploy-gate lint | peak memory | squawk | peak memory | time ratio |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for label, size, ours, theirs in rows:
            them = f"{theirs.seconds:.2f} s | {theirs.peak_mib:.0f} MiB | {ours.seconds / theirs.seconds:.1f}x" if theirs else "— | — | —"
            print(f"| {label} | {size / MIB:.2f} MiB | {ours.seconds:.2f} s | {ours.peak_mib:.0f} MiB | {them} |")
        print()
        for label, measured in start_up.items():
            print(f"`{label}`: {measured.seconds * 1000:.0f} ms, {measured.peak_mib:.0f} MiB")

        by_label = {label: (ours, theirs) for label, _, ours, theirs in rows}
        corpus_ours, corpus_theirs = by_label["test corpus (50 files)"]
        project_ours, project_theirs = by_label[f"project: baseline + {PROJECT_FILES - 1} files"]
        baseline = {mib: by_label[f"baseline {mib:g} MiB (1 file)"][0] for mib in args.baselines}
        aims = {
            "test corpus within 3x squawk": (corpus_ours.seconds / corpus_theirs.seconds if corpus_theirs else None, CORPUS_RATIO_AIM),
            "project within 3x squawk": (project_ours.seconds / project_theirs.seconds if project_theirs else None, CORPUS_RATIO_AIM),
            "5 MiB baseline in under 5 s": (baseline[5].seconds if 5 in baseline else None, FIVE_MIB_AIM_SECONDS),
            "4 MiB / 1 MiB under 5 (linear)": (baseline[4].seconds / baseline[1].seconds if {1, 4} <= set(baseline) else None, LINEAR_RATIO_AIM),
            "peak memory on the test corpus under 50 MiB": (corpus_ours.peak_mib, CORPUS_MEMORY_AIM_MIB),
            "peak memory on the project under 50 MiB": (project_ours.peak_mib, CORPUS_MEMORY_AIM_MIB),
            "deploy-gate --help under 150 ms": (start_up["deploy-gate --help"].seconds, HELP_AIM_SECONDS),
        }
        print()
        for aim, (value, limit) in aims.items():
            verdict = "not measured" if value is None else f"{value:.3g}, " + ("met" if value < limit else "missed")
            print(f"- {aim}: {verdict}")

        results_dir = ROOT / "bench" / "results"
        results_dir.mkdir(exist_ok=True)
        summary = {
            "runs": args.runs,
            "cores": os.cpu_count(),
            "load_average": load,
            "corpora": {
                label: {
                    "bytes": size,
                    "deploy_gate": {"median_seconds": round(ours.seconds, 4), "peak_mib": round(ours.peak_mib, 1)},
                    "squawk": {"median_seconds": round(theirs.seconds, 4), "peak_mib": round(theirs.peak_mib, 1)} if theirs else None,
                }
                for label, size, ours, theirs in rows
            },
            "start_up": {label: {"median_seconds": round(m.seconds, 4), "peak_mib": round(m.peak_mib, 1)} for label, m in start_up.items()},
            "aims": {aim: {"value": value, "limit": limit, "met": value is not None and value < limit} for aim, (value, limit) in aims.items()},
        }
        (results_dir / "lint.json").write_text(json.dumps(summary, indent=2))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
