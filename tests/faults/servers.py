"""Servers of a fault test's own, on free ports, that it may kill: the shared ones are never touched.

`OwnPostgres` is a cluster `initdb`'d into a temporary directory (as the `postgres` system user when
the tests run as root: initdb refuses root), started and stopped with `pg_ctl`. `OwnRedis` is a
`redis-server` that keeps nothing on disk, so a restart comes back empty, as a broker without
persistence does after a crash.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg import sql


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.skip(f"no {name} in /usr/lib/postgresql/*/bin")
    return found[-1]


class OwnPostgres:
    """A PostgreSQL cluster of the test's own (trust auth, user postgres), run as the postgres user when the test runs as root."""

    def __init__(self) -> None:
        # Not under pytest's tmp_path: its parent is root's alone, and the server runs as postgres.
        self.directory = Path(tempfile.mkdtemp(prefix="dg-own-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as_postgres:
            os.chmod(self.directory, 0o777)

    def _run(self, *command: str) -> None:
        subprocess.run([*self._as_postgres, *command], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        if not self.data.exists():
            self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} -c fsync=off"
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.data / "log"), "-w", "start")

    def stop(self) -> None:
        """As a crash or a pulled plug would: `-m immediate`, every session cut at once."""
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def running(self) -> bool:
        return subprocess.run([*self._as_postgres, _pg_bin("pg_ctl"), "-D", str(self.data), "status"], capture_output=True).returncode == 0

    def ensure_running(self) -> None:
        if not self.running():
            self.start()

    def create_database(self) -> OwnDatabase:
        """An empty database of its own in this cluster, for one test (tests share the cluster, never a database)."""
        self.ensure_running()
        name = f"dg_fault_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return OwnDatabase(self, name)

    def remove(self) -> None:
        if self.running():
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


@dataclass(frozen=True)
class OwnDatabase:
    """One database in an `OwnPostgres` cluster: stopping it stops the whole cluster."""

    server: OwnPostgres
    name: str

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.server.port}/{self.name}"

    @property
    def port(self) -> int:
        return self.server.port

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=True)

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.start()


class OwnRedis:
    """A `redis-server` on a free port with no persistence (`--save ""`, `--appendonly no`): killed
    and started again, it is empty."""

    def __init__(self) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed")
        self.directory = Path(tempfile.mkdtemp(prefix="dg-own-redis-"))
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    raise
                time.sleep(0.05)
            finally:
                client.close()

    def ensure_running(self) -> None:
        if self._process is None or self._process.poll() is not None:
            self.start()

    def kill(self) -> None:
        """SIGKILL, as a crash would: what it held in memory is gone."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)

    def keys(self) -> int:
        """How many keys the server holds now (queues, unacknowledged messages)."""
        client = redis.Redis.from_url(self.url)
        try:
            return int(client.dbsize())
        finally:
            client.close()

    def remove(self) -> None:
        self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)
