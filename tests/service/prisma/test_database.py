import socket
import struct
import threading

import pytest

from service.prisma.database import connect, current_setting, parse_database_url, redact_text
from service.prisma.errors import DatabaseUnavailable, InvalidDatabaseUrl


def test_prisma_parameters_are_taken_or_dropped():
    target = parse_database_url("postgresql://app:s3cret@db.internal:6543/shop?schema=Sales&connection_limit=5&pgbouncer=true&sslmode=require")
    assert target.schema == "Sales"
    assert target.params["host"] == "db.internal"
    assert target.params["port"] == "6543"
    assert target.params["dbname"] == "shop"
    assert target.params["sslmode"] == "require"
    assert "connection_limit" not in target.params and "pgbouncer" not in target.params
    assert target.display == "app@db.internal:6543/shop (schema Sales)"
    assert "s3cret" not in target.display and "s3cret" not in repr(target)


def test_default_schema_is_public_and_postgres_scheme_is_accepted():
    target = parse_database_url("postgres://u@h/d")
    assert target.schema == "public"


@pytest.mark.parametrize(
    "url, message",
    [
        ("", "empty"),
        ("mysql://u:p@h/d", "must start with postgresql://"),
        ("postgresql://u:hunter2@h:notaport/d", "not valid"),
    ],
)
def test_invalid_urls_are_clear_and_secret_free(url, message):
    with pytest.raises(InvalidDatabaseUrl) as raised:
        parse_database_url(url)
    assert message in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_redaction_covers_plain_and_encoded_passwords():
    target = parse_database_url("postgresql://u:p%40ss%2Fw0rd@h/d")
    assert target.params["password"] == "p@ss/w0rd"
    text = "failed for postgresql://u:p%40ss%2Fw0rd@h/d and p@ss/w0rd"
    assert "w0rd" not in redact_text(text, target)


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_database_down_is_a_clear_error():
    target = parse_database_url(f"postgresql://u:hunter2@127.0.0.1:{unused_port()}/d")
    with pytest.raises(DatabaseUnavailable) as raised:
        connect(target)
    assert raised.value.code == "P1001"
    assert "Can't reach database server at `127.0.0.1`" in str(raised.value) and "connection refused by 127.0.0.1:" in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_unknown_database_is_a_clear_error(scratch_db):
    target = parse_database_url(scratch_db.url + "_nope")
    with pytest.raises(DatabaseUnavailable) as raised:
        connect(target)
    assert raised.value.code == "P1003"
    assert str(raised.value) == f"P1003: Database `{scratch_db.name}_nope` does not exist on the database server at `127.0.0.1:5432`."


class PasswordRefusingServer:
    """A stand-in PostgreSQL server that asks for a cleartext password and rejects it (28P01).

    The machine's PostgreSQL trusts local connections, so a wrong password cannot be shown there.
    """

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.received_passwords: list[bytes] = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with client:
                length = struct.unpack("!I", client.recv(4))[0]
                startup = client.recv(length - 4)
                if struct.unpack("!I", startup[:4])[0] == 80877103:  # SSLRequest: say no, read startup
                    client.sendall(b"N")
                    length = struct.unpack("!I", client.recv(4))[0]
                    client.recv(length - 4)
                client.sendall(b"R" + struct.pack("!II", 8, 3))
                kind = client.recv(1)
                length = struct.unpack("!I", client.recv(4))[0]
                payload = client.recv(length - 4)
                if kind == b"p":
                    self.received_passwords.append(payload.rstrip(b"\0"))
                fields = b'SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "app"\0\0'
                client.sendall(b"E" + struct.pack("!I", len(fields) + 4) + fields)

    def close(self) -> None:
        self.listener.close()


def test_wrong_password_is_a_clear_error_without_the_password():
    server = PasswordRefusingServer()
    try:
        target = parse_database_url(f"postgresql://app:hunter2@127.0.0.1:{server.port}/d?sslmode=disable")
        with pytest.raises(DatabaseUnavailable) as raised:
            connect(target)
    finally:
        server.close()
    assert server.received_passwords == [b"hunter2"]
    assert raised.value.code == "P1000"
    assert "Authentication failed against database server at `127.0.0.1`, the provided database credentials for `app` are not valid." in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_connection_uses_the_schema_as_search_path(scratch_db):
    scratch_db.query('CREATE SCHEMA "Tenant"')
    with connect(parse_database_url(scratch_db.url + "?schema=Tenant")) as conn:
        assert conn.execute("SHOW search_path").fetchone()[0] == '"Tenant"'
        assert conn.autocommit


def test_a_password_with_spaces_quotes_and_backslashes_reaches_libpq_intact(scratch_db):
    target = parse_database_url(scratch_db.url.replace("@", ":it%27s%20a%20p%5Css@", 1))
    with connect(target) as conn:
        assert conn.info.password == "it's a p\\ss"


def test_current_setting_reads_the_sessions_value(conn):
    conn.execute("SET lock_timeout = '1234ms'")
    assert current_setting(conn, "lock_timeout") == "1234ms"
