"""Replay templates (service.analysis.replay) a test built on the shared PostgreSQL server, dropped afterwards."""

import psycopg
from psycopg import sql

from tests.conftest import ADMIN_URL


def drop_templates(label_part: str) -> None:
    """Drop the templates whose label contains `label_part`, except the empty history's: that one is
    the same for every history of a schema, so other tests running now may be using it."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        for (name,) in admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'dg\\_replay\\_%%' AND shobj_description(oid, 'pg_database') LIKE %s"
            " AND shobj_description(oid, 'pg_database') NOT LIKE '%%\"migrations\": 0,%%'",
            (f"%{label_part}%",),
        ).fetchall():
            admin.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(sql.Identifier(name)))
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def drop_template(name: str) -> None:
    """Drop one template, by its name (a history of the test's own)."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            admin.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(sql.Identifier(name)))
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
