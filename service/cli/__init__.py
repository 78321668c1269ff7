"""The `deploy-gate` command line.

Exit codes: 0 success (status: up to date), 1 the history is not healthy (status not up to date,
a migration failed, or Prisma's rules refuse the command: P3005, P3008, P3009, P3011, P3012,
P3017, P3019), 2 the command cannot run (bad input, database unreachable, lock held).

Each module of this package adds its commands to `main`; all of them are imported here.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from service.prisma import errors
from service.prisma.database import DatabaseTarget, connect, parse_database_url, redact_text
from service.prisma.migrations import LocalMigrations, read_migrations_directory

if TYPE_CHECKING:
    import psycopg

EXIT_UNHEALTHY = 1
EXIT_CANNOT_RUN = 2

CommandFunction = TypeVar("CommandFunction", bound=Callable[..., Any])

# Errors that are the history's verdict rather than a failure to run the command.
_HISTORY_ERRORS = (
    errors.DatabaseSchemaNotEmpty,
    errors.FoundFailedMigrations,
    errors.MigrationAlreadyApplied,
    errors.CannotRollBackUnappliedMigration,
    errors.CannotRollBackSucceededMigration,
    errors.MigrationToMarkAppliedNotFound,
    errors.ProviderSwitched,
    errors.MigrationFileNotFound,
    errors.NoMigrationsTable,
)


class Output:
    """Human text or one JSON document, and the error line, written the same way by every command."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.target: DatabaseTarget | None = None

    def line(self, text: str = "") -> None:
        if not self.as_json:
            click.echo(self.secret_free(text))

    def lines(self, texts: Iterable[str]) -> None:
        """Many lines in one write: a lint of a large directory prints thousands."""
        if not self.as_json:
            click.echo(self.secret_free("\n".join(texts)))

    def problem(self, text: str) -> None:
        if not self.as_json:
            click.echo(self.secret_free(text), err=True)

    def document(self, payload: Mapping[str, object]) -> None:
        if self.as_json:
            click.echo(self.secret_free(json.dumps(payload, indent=2, default=str)))

    def error(self, code: str | None, message: str, exit_code: int, headline: str | None = None) -> NoReturn:
        message = self.secret_free(message)
        if self.as_json:
            click.echo(json.dumps({"error": {"code": code, "message": message}}, indent=2))
        else:
            prefix = f"{code}: " if code else ""
            click.echo(f"error: {prefix}{self.secret_free(headline or message)}", err=True)
        sys.exit(exit_code)

    def secret_free(self, text: str) -> str:
        return redact_text(text, self.target)


migrations_option = click.option(
    "--migrations",
    "migrations_dir",
    default="prisma/migrations",
    show_default=True,
    type=click.Path(path_type=Path, file_okay=True, dir_okay=True),
    help="The prisma/migrations directory.",
)


def common_options(command: CommandFunction) -> CommandFunction:
    command = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")(command)
    command = click.option(
        "--database-url",
        envvar="DATABASE_URL",
        show_envvar=True,
        help="postgresql://user:password@host:port/database?schema=public",
    )(command)
    return migrations_option(command)


@contextmanager
def target_session(output: Output, database_url: str | None, migrations_dir: Path) -> Iterator[tuple[psycopg.Connection, DatabaseTarget, LocalMigrations]]:
    """Read the migrations, connect, and turn every expected failure into one clear error line."""
    import psycopg

    try:
        if not database_url:
            raise errors.InvalidDatabaseUrl("No database URL: pass --database-url or set DATABASE_URL.")
        target = parse_database_url(database_url)
        output.target = target
        local = read_migrations_directory(migrations_dir)
        with connect(target) as conn:
            yield conn, target, local
    except _HISTORY_ERRORS as error:
        output.error(error.code, error.message, EXIT_UNHEALTHY, error.headline)
    except errors.MigrateError as error:
        output.error(error.code, error.message, EXIT_CANNOT_RUN, error.headline)
    except psycopg.Error as error:
        if error.sqlstate is None and isinstance(error, psycopg.OperationalError):
            # Connected, then the server went away (connect() itself raises CannotConnect): Prisma's P1017.
            output.error("P1017", f"Server has closed the connection: {first_line(error)}", EXIT_CANNOT_RUN)
        output.error(getattr(error, "sqlstate", None), f"Database error: {first_line(error)}", EXIT_CANNOT_RUN)


def read_local_migrations(output: Output, migrations_dir: Path) -> LocalMigrations:
    """The migrations directory for commands that need no database; errors become one line."""
    try:
        return read_migrations_directory(migrations_dir)
    except errors.MigrateError as error:
        output.error(error.code, error.message, EXIT_CANNOT_RUN, error.headline)


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="deploy-gate")
def main() -> None:
    """Gate deployments on the health of Prisma migrations in PostgreSQL."""


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
