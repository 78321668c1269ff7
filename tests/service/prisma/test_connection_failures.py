"""Each way a connection fails, met for real, gets Prisma's code and secret-free words."""

import socket
import threading

import pytest

from service.prisma.database import connect, parse_database_url
from service.prisma.errors import CannotConnect
from tests.password_postgres import password_postgres  # noqa: F401 (a fixture)


def failure_of(url):
    with pytest.raises(CannotConnect) as raised:
        connect(parse_database_url(url))
    assert "hunter2" not in str(raised.value) + raised.value.failure.reason
    return raised.value


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SilentServer:
    """Accepts connections and never answers: libpq's connect_timeout runs out."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.accepted = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                self.accepted.append(self.listener.accept()[0])
            except OSError:
                return

    def close(self):
        self.listener.close()
        for client in self.accepted:
            client.close()


def test_refused_is_p1001_with_the_address():
    port = closed_port()
    error = failure_of(f"postgresql://u:hunter2@127.0.0.1:{port}/d")
    assert (error.code, error.failure.failure, error.failure.reason) == ("P1001", "refused", f"connection refused by 127.0.0.1:{port}")
    assert error.message == f"Can't reach database server at `127.0.0.1`:`{port}` (connection refused by 127.0.0.1:{port})"


def test_an_unknown_host_is_p1001_dns():
    error = failure_of("postgresql://u:hunter2@no-such-host.invalid:5432/d")
    assert (error.code, error.failure.failure, error.failure.reason) == ("P1001", "dns", "the host name no-such-host.invalid could not be resolved")


def test_a_server_that_never_answers_is_p1001_timeout():
    server = SilentServer()
    try:
        error = failure_of(f"postgresql://u:hunter2@127.0.0.1:{server.port}/d?connect_timeout=1&sslmode=disable")
    finally:
        server.close()
    assert (error.code, error.failure.failure, error.failure.reason) == ("P1001", "timeout", f"no answer from 127.0.0.1:{server.port} within 1 s")


def test_a_wrong_password_is_p1000(password_postgres):
    error = failure_of(password_postgres.url(password="hunter2"))
    assert (error.code, error.failure.failure) == ("P1000", "authentication")
    assert error.failure.reason == f"authentication failed for user postgres at 127.0.0.1:{password_postgres.port}"
    assert error.message == "Authentication failed against database server at `127.0.0.1`, the provided database credentials for `postgres` are not valid."


def test_a_missing_database_is_p1003(scratch_db):
    error = failure_of(scratch_db.url.replace("postgresql://postgres@", "postgresql://postgres:hunter2@") + "_gone")
    assert (error.code, error.failure.failure) == ("P1003", "missing_database")
    assert error.message == f"Database `{scratch_db.name}_gone` does not exist on the database server at `127.0.0.1:5432`."


def test_an_unknown_role_is_p1010_access_denied():
    error = failure_of("postgresql://nobody_here:hunter2@127.0.0.1:5432/postgres")
    assert (error.code, error.failure.failure) == ("P1010", "access_denied")
    assert error.message.startswith("User `nobody_here` was denied access on the database `postgres.public`")


def test_tls_refused_by_the_server_is_p1011():
    # The shared server speaks no TLS; requiring it fails the TLS negotiation.
    error = failure_of("postgresql://postgres:hunter2@127.0.0.1:5432/postgres?sslmode=require")
    assert (error.code, error.failure.failure) == ("P1011", "tls")
    assert error.message.startswith("Error opening a TLS connection: ")
