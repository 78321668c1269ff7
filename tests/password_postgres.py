"""A PostgreSQL server of the test's own that asks for a password (SCRAM), for authentication failures.

The machine's shared server trusts local connections, so a wrong password cannot be shown there.
This one is `initdb`'d into a temporary directory (as the `postgres` system user when the tests run
as root: initdb refuses root) and started on a free port; it is stopped when the session ends.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PASSWORD = "right-password-9f2c"


@dataclass(frozen=True)
class PasswordServer:
    port: int
    user: str = "postgres"

    def url(self, password: str = PASSWORD, database: str = "postgres") -> str:
        return f"postgresql://{self.user}:{password}@127.0.0.1:{self.port}/{database}"


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or ([shutil.which(name)] if shutil.which(name) else [])
    if not found or not found[-1]:
        pytest.skip(f"{name} is not installed")
    return str(found[-1])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def password_postgres() -> Iterator[PasswordServer]:
    directory = Path(tempfile.mkdtemp(prefix="dg_password_pg_"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    password_file = directory / "password"
    password_file.write_text(PASSWORD + "\n")
    os.chmod(password_file, 0o644)
    data = directory / "data"
    port = _free_port()
    subprocess.run(
        [*as_user, _bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=scram-sha-256", f"--pwfile={password_file}", "-N"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*as_user, _bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(directory / "log"), "-w", "start"], check=True, capture_output=True)
    try:
        yield PasswordServer(port)
    finally:
        subprocess.run([*as_user, _bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)
