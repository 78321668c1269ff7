"""`migrate-store`: bring deploy-gate's own store up to date, once per release.

The API and the workers only check that the store is current (service.store.schema); this is the
release step that applies its migrations (Procfile `release:`, compose's `migrate`, `make run`).
"""

from __future__ import annotations

import click

from service.cli import EXIT_CANNOT_RUN, Output, first_line, main


@main.command("migrate-store")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def migrate_store_command(as_json: bool) -> None:
    """Apply deploy-gate's store migrations to DEPLOY_GATE_DATABASE_URL."""
    import psycopg

    from service.config.errors import ConfigError
    from service.config.settings import Settings
    from service.prisma import errors
    from service.prisma.connection_failures import classify_connection_failure
    from service.prisma.database import parse_database_url
    from service.store.repository import migrate_store

    output = Output(as_json)
    try:
        settings = Settings.from_env()
        output.target = parse_database_url(settings.database_url)
        with psycopg.connect(settings.database_url, autocommit=True, application_name="deploy-gate-migrate-store") as conn:
            outcome = migrate_store(conn)
    except ConfigError as error:
        output.error(None, f"configuration error: {error}", EXIT_CANNOT_RUN)
    except errors.MigrateError as error:
        output.error(error.code, error.message, EXIT_CANNOT_RUN, error.headline)
    except psycopg.OperationalError as error:
        if output.target is None or error.sqlstate is not None:
            output.error(error.sqlstate, f"The store migration failed: {first_line(error)}", EXIT_CANNOT_RUN)
        failure = classify_connection_failure(error, output.target)
        output.error(failure.code, f"Cannot reach the store database: {failure.message}", EXIT_CANNOT_RUN)
    except (psycopg.Error, RuntimeError) as error:
        output.error(getattr(error, "sqlstate", None), f"The store migration failed: {first_line(error)}", EXIT_CANNOT_RUN)
    else:
        output.document({"applied": outcome.applied})
        if outcome.applied:
            output.line(f"Applied {len(outcome.applied)} store migration(s): {', '.join(outcome.applied)}")
        else:
            output.line("The store is up to date.")
