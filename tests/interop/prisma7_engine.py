"""The schema engine Prisma 7.10.1 pins, run as a test oracle for the history (stdlib only).

Prisma 7.10.1 depends on @prisma/engines-version 8.1.0-1.d1b3f377…: prisma-engines commit
d1b3f377. Its CLI cannot run `migrate` here: the native engine is downloaded at install from a
host outside the package registries, and 6.x's driver-adapter route is gone. The same engine's
WebAssembly build ships inside the prisma package (build/schema_engine_bg.wasm), and
`tests/interop/prisma7-engine/engine.mjs` drives it with the pg driver adapter (`make
prisma7-engine` installs it).

What it shows: the history semantics of the pinned engine (its table, checksums, lock, the
P-codes of deploy and resolve), which are the same commands the native engine runs. What it cannot
show: how the native engine sends a script. The WebAssembly build hands the whole script to the
driver adapter, which splits it on `;`; the native engine sends it as one simple query, or
statement by statement with CREATE INDEX CONCURRENTLY (service.prisma.execution). So the scripts
here are ones where that makes no difference.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

ENGINE_DIR = Path(__file__).resolve().parent / "prisma7-engine"
ENGINE_SCRIPT = ENGINE_DIR / "engine.mjs"
PINNED_WASM = ENGINE_DIR / "node_modules" / "prisma" / "build" / "schema_engine_bg.wasm"
PINNED_ENGINES_COMMIT = "d1b3f377ca835d73fd50954a5e22128b9ebdd6b8"


def engine_available() -> bool:
    return PINNED_WASM.exists() and shutil.which("node") is not None


def run_engine(command: str, database_url: str, migrations_dir: Path, migration_name: str | None = None, timeout: float = 60) -> dict[str, Any]:
    """One engine command's answer: {"ok": result} or {"error": {"code", "message"}}."""
    args = ["node", str(ENGINE_SCRIPT), command, str(Path(migrations_dir).resolve())] + ([migration_name] if migration_name else [])
    env = {**os.environ, "DATABASE_URL": database_url, "NO_COLOR": "1", "LC_ALL": "C.UTF-8"}
    result = subprocess.run(args, cwd=ENGINE_DIR, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"the engine did not answer (exit {result.returncode}): {result.stderr.strip()[-500:]}")
    answer: dict[str, Any] = json.loads(lines[-1])
    return answer
