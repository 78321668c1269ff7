import psycopg
import pytest

from service.prisma.logs import APPLY_FAILED_HEADER, parse_failure_logs, render_apply_failure


def failing(conn, script):
    with pytest.raises(psycopg.Error) as raised:
        conn.execute(script)
    return raised.value


def test_rendered_logs_follow_prismas_layout(conn):
    error = failing(conn, "SELECT * FROM missing_table;")
    sqlstate, logs = render_apply_failure("20240101_x", "SELECT * FROM missing_table;", error)
    assert sqlstate == "42P01"
    assert logs.startswith(
        APPLY_FAILED_HEADER + '\n\nMigration name: 20240101_x\n\nDatabase error code: 42P01\n\nDatabase error:\nERROR: relation "missing_table" does not exist'
    )
    assert logs.endswith(" }\n")


def test_detail_and_hint_are_kept(conn):
    conn.execute("CREATE TABLE t (id int primary key)")
    conn.execute("INSERT INTO t VALUES (1)")
    error = failing(conn, "INSERT INTO t VALUES (1)")
    _, logs = render_apply_failure("x", "INSERT INTO t VALUES (1)", error)
    assert "\nDETAIL: Key (id)=(1) already exists." in logs
    assert 'constraint: Some("t_pkey")' in logs


def test_position_excerpt_numbers_the_lines_before_the_error(conn):
    script = "-- one\n-- two\nSELEC 1;\n"
    error = failing(conn, script)
    _, logs = render_apply_failure("x", script, error)
    excerpt = logs.split("\n\nPosition:\n", 1)[1].split("\n\nDbError", 1)[0]
    assert excerpt.splitlines() == [
        "\x1b[1m  0\x1b[0m",
        "\x1b[1m  1\x1b[0m -- one",
        "\x1b[1m  2\x1b[0m -- two",
        "\x1b[1m  3\x1b[1;31m SELEC 1;\x1b[0m",
    ]


@pytest.mark.parametrize(
    "script, sqlstate",
    [("SELECT 1/0;", "22012"), ("CREATE TABLE t (id int); CREATE TABLE t (id int);", "42P07"), ("SELEC 1", "42601")],
)
def test_parse_gives_back_what_render_wrote(conn, script, sqlstate):
    error = failing(conn, script)
    _, logs = render_apply_failure("m", script, error)
    parsed = parse_failure_logs(logs)
    assert parsed.sqlstate == sqlstate
    assert parsed.message == error.diag.message_primary


def test_parse_accepts_logs_without_details():
    logs = f'{APPLY_FAILED_HEADER}\n\nMigration name: m\n\nDatabase error code: 23505\n\nDatabase error:\nERROR: duplicate key value violates unique constraint "u"\n'
    parsed = parse_failure_logs(logs)
    assert parsed.sqlstate == "23505"
    assert parsed.message == 'duplicate key value violates unique constraint "u"'


@pytest.mark.parametrize("logs", [None, "", "   \n"])
def test_parse_of_empty_logs_is_none(logs):
    assert parse_failure_logs(logs) is None


def test_parse_of_unstructured_logs_keeps_the_last_line():
    parsed = parse_failure_logs("something went wrong\nconnection reset")
    assert parsed.sqlstate is None
    assert parsed.message == "connection reset"


def test_parse_reads_the_webassembly_engines_logs():
    logs = (
        "external connector error\n"
        'Error querying the database: ERROR: relation "a" already exists\n'
        "   0: sql_schema_connector::apply_migration::apply_script\n"
        '           with migration_name="2_b"\n'
        "             at schema-engine/connectors/sql-schema-connector/src/apply_migration.rs:113\n"
    )
    parsed = parse_failure_logs(logs)
    assert parsed.sqlstate is None
    assert parsed.message == 'relation "a" already exists'
