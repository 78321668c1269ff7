"""Run the real, pinned Prisma CLI as a test oracle (stdlib only).

The CLI lives in ``tests/interop/prisma-cli`` (install it with
``npm ci --prefix tests/interop/prisma-cli``).  It is configured to use
Prisma's JavaScript/WebAssembly schema engine with the ``pg`` driver
adapter, so it runs fully offline -- no native engine binaries are ever
downloaded.

Caveat: the WebAssembly engine executes a migration script by splitting it
on ``;`` (so ``DO $$ ... ; ... $$`` breaks) and records failures in
``_prisma_migrations.logs`` in its own format ("external connector
error ..."), not the native engine's P3018 text.  Use this oracle for
``_prisma_migrations`` history semantics, not for how a script is executed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

PRISMA_CLI_DIR = Path(__file__).resolve().parent / "prisma-cli"
PRISMA_BIN = PRISMA_CLI_DIR / "node_modules" / ".bin" / "prisma"
PRISMA_CONFIG = PRISMA_CLI_DIR / "prisma.config.ts"
UNREF_TIMERS_PRELOAD = PRISMA_CLI_DIR / "unref-engine-timers.cjs"


def prisma_available() -> bool:
    """True if the locally installed Prisma CLI and ``node`` can be used.

    Interop tests should be skipped (not failed) when this is False, e.g.
    on machines where ``npm ci`` has not been run.
    """
    return PRISMA_BIN.exists() and shutil.which("node") is not None


def prisma_env(database_url: str, migrations_dir: Path) -> dict[str, str]:
    """Environment for a CLI run.

    - DATABASE_URL / PRISMA_MIGRATIONS_DIR are read by prisma.config.ts
      (``?schema=`` in the URL is honoured there).
    - PRISMA_SCHEMA_ENGINE_BINARY=/bin/true stops the CLI from trying to
      locate/download the native schema engine (the JS engine is used).
    - CHECKPOINT_DISABLE=1 disables Prisma's update-check network call.
    - NODE_OPTIONS preloads unref-engine-timers.cjs; without it every
      successful deploy/resolve idles ~10 s before exiting.
    - NO_COLOR / FORCE_COLOR / CI keep output plain and non-interactive.
    - LC_ALL is pinned because Prisma orders migration folders with JS
      ``localeCompare`` and Node's ICU takes its default locale from
      LC_ALL > LC_MESSAGES > LANG (e.g. da_DK changes the order).
    """
    env = dict(os.environ)
    node_options = env.get("NODE_OPTIONS", "")
    env.update(
        {
            "DATABASE_URL": database_url,
            "PRISMA_MIGRATIONS_DIR": str(Path(migrations_dir).resolve()),
            "PRISMA_SCHEMA_ENGINE_BINARY": "/bin/true",
            "CHECKPOINT_DISABLE": "1",
            "PRISMA_HIDE_UPDATE_MESSAGE": "1",
            "NODE_OPTIONS": f'{node_options} --require "{UNREF_TIMERS_PRELOAD}"'.strip(),
            "NO_COLOR": "1",
            "FORCE_COLOR": "0",
            "CI": "1",
            "LC_ALL": "C.UTF-8",
        }
    )
    return env


def run_prisma(
    args: list[str],
    database_url: str,
    migrations_dir: Path,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ``prisma <args>`` (e.g. ``["migrate", "status"]``) and capture output.

    ``migrations_dir`` is the absolute path of a ``migrations`` folder (the
    one holding ``migration_lock.toml`` and the ``<name>/migration.sql``
    folders).  The process runs with cwd set to the CLI folder and
    ``--config`` pointing at the pinned ``prisma.config.ts``.  Never raises
    on a non-zero exit code: callers assert on ``returncode``, ``stdout``
    and ``stderr`` themselves (Prisma prints P-codes such as P3009 on
    stderr).
    """
    if not prisma_available():
        raise RuntimeError(f"Prisma CLI not installed at {PRISMA_BIN}; run `npm ci --prefix tests/interop/prisma-cli`")
    return subprocess.run(
        [str(PRISMA_BIN), *args, "--config", str(PRISMA_CONFIG)],
        cwd=PRISMA_CLI_DIR,
        env=prisma_env(database_url, migrations_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
