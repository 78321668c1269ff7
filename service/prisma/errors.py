"""Errors of the Prisma history core, carrying Prisma's own error codes where Prisma has one.

Messages follow Prisma's user-facing texts so that a person who knows Prisma recognises them;
each error keeps its data as attributes so the CLI and the HTTP layer can map it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.prisma.connection_failures import ConnectionFailure
    from service.prisma.database import DatabaseTarget


class MigrateError(Exception):
    """Base of every error the history core raises on purpose."""

    code: str | None = None

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message

    @property
    def headline(self) -> str:
        """The error in one line, for a terminal."""
        return self.message.strip().splitlines()[0] if self.message.strip() else type(self).__name__


class MigrationsDirectoryError(MigrateError):
    """The migrations directory is missing or cannot be read."""


class MigrationFileNotFound(MigrateError):
    code = "P3015"

    def __init__(self, migration_file_path: str) -> None:
        super().__init__(
            f"Could not find the migration file at {migration_file_path}. Please delete the directory or restore the migration file.",
            migration_file_path=migration_file_path,
        )


class MigrationFileUnreadable(MigrateError):
    """A migration.sql exists but cannot be read as UTF-8 text."""


class ProviderSwitched(MigrateError):
    code = "P3019"

    def __init__(self, provider: str, expected_provider: str) -> None:
        super().__init__(
            f"The datasource provider `{provider}` specified in your schema does not match the one "
            f"specified in the migration_lock.toml, `{expected_provider}`. Please remove your current "
            "migration directory and start a new migration history with prisma migrate dev. "
            "Read more: https://pris.ly/d/migrate-provider-switch",
            provider=provider,
            expected_provider=expected_provider,
        )


class DatabaseSchemaNotEmpty(MigrateError):
    code = "P3005"

    def __init__(self, schema: str, tables: list[str]) -> None:
        shown = ", ".join(tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")
        super().__init__(
            "The database schema is not empty. Read more about how to baseline an existing "
            "production database: https://pris.ly/d/migrate-baseline\n"
            f"Schema `{schema}` has no _prisma_migrations table but has tables ({shown}). "
            "To baseline it, mark the migrations already reflected in it as applied with "
            "`deploy-gate resolve --applied NAME`, then deploy.",
            schema=schema,
            tables=tables,
        )

    @property
    def headline(self) -> str:
        return self.message.replace("\n", " ")


class FoundFailedMigrations(MigrateError):
    code = "P3009"

    def __init__(self, details: str, failures: list[tuple[str, str | None, str | None]]) -> None:
        super().__init__(
            "migrate found failed migrations in the target database, new migrations will not be "
            "applied. Read more about how to resolve migration issues in a production database: "
            f"https://pris.ly/d/migrate-resolve\n{details}",
            names=[name for name, _, _ in failures],
        )
        self.failures = failures

    @property
    def headline(self) -> str:
        described = ", ".join(f"`{name}` ({sqlstate or 'no SQLSTATE'}: {message or 'no logs'})" for name, sqlstate, message in self.failures)
        return (
            f"found failed migrations in the target database, new migrations will not be applied: "
            f"{described}. Resolve them first: https://pris.ly/d/migrate-resolve"
        )


class MigrationAlreadyApplied(MigrateError):
    code = "P3008"

    def __init__(self, migration_name: str) -> None:
        super().__init__(
            f"The migration `{migration_name}` is already recorded as applied in the database.",
            migration_name=migration_name,
        )


class CannotRollBackUnappliedMigration(MigrateError):
    code = "P3011"

    def __init__(self, migration_name: str) -> None:
        super().__init__(
            f"Migration `{migration_name}` cannot be rolled back because it was never applied to "
            "the database. Hint: did you pass in the whole migration name? (example: "
            '"20201207184859_initial_migration")',
            migration_name=migration_name,
        )


class CannotRollBackSucceededMigration(MigrateError):
    code = "P3012"

    def __init__(self, migration_name: str) -> None:
        super().__init__(
            f"Migration `{migration_name}` cannot be rolled back because it is not in a failed state.",
            migration_name=migration_name,
        )


class MigrationToMarkAppliedNotFound(MigrateError):
    code = "P3017"

    def __init__(self, migration_name: str) -> None:
        super().__init__(
            f"The migration {migration_name} could not be found. Please make sure that the "
            "migration exists, and that you included the whole name of the directory. "
            '(example: "20201207184859_initial_migration")',
            migration_name=migration_name,
        )


class MigrationFailedToApply(MigrateError):
    """Deploy stopped at a migration that failed; `logs` is what was written to the history."""

    code = "P3018"

    def __init__(self, migration_name: str, logs: str, sqlstate: str | None) -> None:
        super().__init__(logs.rstrip("\n"), migration_name=migration_name, sqlstate=sqlstate)
        self.migration_name = migration_name
        self.logs = logs
        self.sqlstate = sqlstate


class AdvisoryLockTimeout(MigrateError):
    """Another session held Prisma's advisory lock for longer than we were willing to wait."""

    code = "P1002"

    def __init__(self, waited_seconds: float, holder: object | None) -> None:
        holder_text = f" It is held by {holder}." if holder else ""
        super().__init__(
            f"Timed out trying to acquire a postgres advisory lock (SELECT pg_advisory_lock(72707369)). Timeout: {int(waited_seconds * 1000)}ms.{holder_text}",
            holder=holder,
        )
        self.holder = holder


class NoMigrationsTable(MigrateError):
    """The database has never been migrated: no _prisma_migrations table in the schema."""


class DatabaseUnavailable(MigrateError):
    """The database cannot be reached or refused the connection; the message is secret-free."""

    code = "P1001"


class CannotConnect(DatabaseUnavailable):
    """A connection to `database` failed; `failure` says why, with Prisma's code for it
    (service.prisma.connection_failures)."""

    def __init__(self, database: DatabaseTarget, failure: ConnectionFailure) -> None:
        super().__init__(failure.message, database=database.display)
        self.code = failure.code
        self.database = database
        self.failure = failure


class InvalidDatabaseUrl(MigrateError):
    """The database URL cannot be parsed; the message never repeats the URL's password."""

    code = "P1013"


PRISMA_8_DOC = "docs/prisma-8.md"


class Prisma8Project(MigrateError):
    """A migrations directory laid out for Prisma 8 (`migration.ts`, `ops.json`), which has no `migration.sql` to run."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"{path} is a Prisma 8 migration (migration.ts / ops.json): deploy-gate supports Prisma 6 and 7 "
            f"(_prisma_migrations and migration.sql) only; see {PRISMA_8_DOC}.",
            path=path,
        )


class Prisma8Database(MigrateError):
    """A database Prisma 8 manages: its marker table `prisma_contract.marker` replaces `_prisma_migrations`."""

    def __init__(self) -> None:
        super().__init__(
            "the database has Prisma 8's marker table prisma_contract.marker: Prisma 8 manages its migrations, and "
            f"deploy-gate supports Prisma 6 and 7 (_prisma_migrations) only; see {PRISMA_8_DOC}.",
        )
