"""A worker process started as `make run` and the Procfile start it, for the tests that need a real one."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

CELERY = str(Path(sys.executable).parent / "celery")
ROOT = Path(__file__).resolve().parents[2]


def start_worker(*flags: str, stderr: int | IO[bytes] = subprocess.DEVNULL) -> subprocess.Popen:
    """`celery -A workers.celery_app worker -Q deploy_gate`, one process, in a session of its own (stop it with killpg).

    Its environment is this process's (the test's store, broker and targets file); `flags` go on its
    command line. stdout has Celery's banner, for people; the logs go to stderr.
    """
    return subprocess.Popen(
        [
            CELERY,
            "-A",
            "workers.celery_app",
            "worker",
            "--pool=solo",
            "-Q",
            "deploy_gate",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            *flags,
        ],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        start_new_session=True,
    )


def stop(worker: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stop a process start_worker started, and its children (SIGTERM: a clean stop; SIGKILL: a death)."""
    if worker.poll() is None:
        os.killpg(worker.pid, sig)
        worker.wait(timeout=30)


def wait_until(condition, seconds: float = 30) -> bool:
    """Whether `condition()` came true within `seconds` (looked at ten times a second)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False
