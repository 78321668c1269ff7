"""The `deploy-gate` command line.

Exit codes: 0 success (status: up to date), 1 the history is not healthy (status not up to date,
a migration failed, or Prisma's rules refuse the command: P3005, P3008, P3009, P3011, P3012,
P3017, P3019), 2 the command cannot run (bad input, database unreachable, lock held).

Each module of this package adds its commands to `main`, and is imported only when one of them
runs (`LazyGroup`): `lint` loads no database driver and no HTTP client, `--help` no command at all.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import json
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

# A command ends with the process: the collection the interpreter runs as it shuts down would
# walk every object the imports made (psycopg's, click's) only to free memory the OS frees anyway.
# Frozen objects are left out of it: 30-50 ms less for each run of `status` (bench/status.py).
atexit.register(gc.freeze)

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


prisma_version_option = click.option(
    "--prisma-version",
    type=click.Choice(["6", "7"]),
    default=None,
    help="The Prisma major version whose engine runs the files. Default: the project's `prisma` dependency "
    "(its lockfile or package.json, found from the migrations directory up), else 6.",
)


def project_prisma_version(output: Output, migrations_dir: Path, chosen: str | None) -> int | None:
    """The Prisma major version to follow: `chosen`, else the project's, else None (unknown).

    A project on Prisma 8 is refused in one line (exit 2).
    """
    from service.prisma.project import UnsupportedPrisma, find_project_prisma

    if chosen is not None:
        return int(chosen)
    try:
        found = find_project_prisma(migrations_dir)
        return found.prisma_version if found is not None else None
    except UnsupportedPrisma as error:
        output.error(error.code, error.message, EXIT_CANNOT_RUN, error.headline)


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that subcommand is asked for.

    click's "Lazily Loading Subcommands" pattern, with each module still adding its commands with
    `@main.command()`. The listing in `--help` shows each command's summary from here, so it imports
    nothing (tests/service/cli/test_startup.py checks the summaries against the commands').
    """

    def __init__(self, *args: Any, lazy_subcommands: Mapping[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # name -> (module that adds it, its help's first sentence)
        self.lazy_subcommands = dict(lazy_subcommands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_subcommands:
            importlib.import_module(self.lazy_subcommands[cmd_name][0])
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, self.summary_command(name).get_short_help_str(limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def summary_command(self, name: str) -> click.Command:
        """The command if it is loaded, else a stand-in carrying its summary."""
        if name in self.commands:
            return self.commands[name]
        return click.Command(name, help=self.lazy_subcommands[name][1])


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    lazy_subcommands={
        "analyze": ("service.cli.analyze", "Facts per migration: transactional, idempotent, reversible, effects, rollback plan."),
        "deploy": ("service.cli.history", "Apply pending migrations as `prisma migrate deploy` does; exit 1 if one fails."),
        "drift": (
            "service.cli.drift",
            "Compare the target's schema with the shadow's replay of its applied migrations; exit 0 with no drift, 1 with drift.",
        ),
        "gate": ("service.cli.gate", "Gate a build: upload the migrations, follow the job, exit 0 on proceed, 1 on blocked, 2 otherwise."),
        "jobs": ("service.cli.jobs", "Jobs on the deploy-gate service."),
        "lint": ("service.cli.lint", "Lint every migration; exit 0 with no error-level finding, 1 with one, 2 when it cannot run."),
        "migrate-store": ("service.cli.store", "Apply deploy-gate's store migrations to DEPLOY_GATE_DATABASE_URL."),
        "resolve": ("service.cli.history", "Resolve a failed migration as `prisma migrate resolve` does."),
        "status": ("service.cli.history", "Classify every migration; exit 0 when up to date, 1 otherwise (as `prisma migrate status`)."),
        "verify-rollback": (
            "service.cli.verify",
            "Replay the migrations before NAME on a scratch database, apply NAME and its rollback, "
            "and compare the schema with the one before; exit 0 when they match.",
        ),
        "wait": ("service.cli.jobs", "Follow a job to its verdict: exit 0 on proceed, 1 on blocked, 2 otherwise."),
    },
)
@click.version_option(package_name="deploy-gate")
def main() -> None:
    """Gate deployments on the health of Prisma migrations in PostgreSQL."""
