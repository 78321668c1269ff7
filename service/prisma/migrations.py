"""Local migrations: a `prisma/migrations` directory or an in-memory bundle, as Prisma reads them.

Prisma lists the folders of the migrations directory, sorts them with JavaScript's
`localeCompare` (ICU collation, so `20240101_b` sorts before `20240101_C` and `_` before `-`),
and reads each folder's `migration.sql` as text. Checksums are the SHA-256 of that text,
with no normalisation when stored; comparison also accepts the CRLF→LF and LF→CRLF variants.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from service.prisma.errors import (
    MigrationFileNotFound,
    MigrationFileUnreadable,
    MigrationsDirectoryError,
    Prisma8Project,
    ProviderSwitched,
)

if TYPE_CHECKING:
    import pyuca

MIGRATION_FILE_NAME = "migration.sql"
# The files of a Prisma 8 migration package, which has no migration.sql (docs/prisma-8.md).
PRISMA_8_MIGRATION_FILES = ("migration.ts", "ops.json")
LOCK_FILE_NAME = "migration_lock.toml"
POSTGRESQL_PROVIDER = "postgresql"
CHECKSUM_LENGTH = 64


def render_checksum(script: str) -> str:
    """The checksum Prisma stores for a script: lowercase, zero-padded hex SHA-256 of its UTF-8."""
    return hashlib.sha256(script.encode("utf-8")).hexdigest()


def _unpadded_checksum(script: str) -> str:
    # Old schema engines wrote each byte with `{:x}`, dropping leading zeros (prisma-engines#1887);
    # Prisma still accepts such stored values, so we must too.
    return "".join(format(byte, "x") for byte in hashlib.sha256(script.encode("utf-8")).digest())


def script_matches_checksum(script: str, checksum: str) -> bool:
    """Whether a script matches a stored checksum, as Prisma decides it."""
    variants = (script, script.replace("\r\n", "\n"), script.replace("\n", "\r\n"))
    legacy_format = bool(checksum) and len(checksum) != CHECKSUM_LENGTH
    for variant in variants:
        rendered = _unpadded_checksum(variant) if legacy_format else render_checksum(variant)
        if rendered == checksum:
            return True
    return False


@cache
def _collator() -> pyuca.Collator:
    # Loading the collation table takes ~0.1 s; do it once, and only for names that need it.
    import pyuca

    return pyuca.Collator()


# Printable ASCII in the collation's primary order (letters share a primary with their capital).
# Each of these characters is one collation element, with equal secondary weights and a tertiary
# weight that only tells case apart, so for names made of them the collation key is the primary
# sequence, then the case sequence. tests/service/prisma/test_migrations.py checks this against
# pyuca for every pair of characters; any other character falls back to pyuca.
_ASCII_PRIMARY_ORDER = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz"
_PRIMARY = {ord(char): chr(0x21 + rank) for rank, char in enumerate(_ASCII_PRIMARY_ORDER)}
_PRIMARY.update({ord(char.upper()): _PRIMARY[ord(char)] for char in "abcdefghijklmnopqrstuvwxyz"})
_CASE = {code: ("B" if chr(code).isupper() else "A") for code in _PRIMARY}


def _ascii_key(name: str) -> tuple[str, str, str]:
    return (name.translate(_PRIMARY), name.translate(_CASE), name)


def _uca_key(name: str) -> tuple[tuple[int, ...], str]:
    return (_collator().sort_key(name), name)


def sort_in_prisma_order(names: Iterable[str]) -> list[str]:
    """Names in the order of JavaScript's `names.sort((a, b) => a.localeCompare(b))`.

    Ties at every collation level (only possible outside printable ASCII) fall back to code
    points; Node keeps directory order there, which no file system promises anyway.
    """
    names = list(names)
    if all(name.isascii() and name.isprintable() for name in names):
        return sorted(names, key=_ascii_key)
    return sorted(names, key=_uca_key)


@dataclass(frozen=True)
class LocalMigration:
    """One migration folder: its name (the folder name) and the text of its migration.sql."""

    name: str
    script: str
    path: str | None = None

    @cached_property
    def checksum(self) -> str:
        return render_checksum(self.script)

    def matches_checksum(self, stored_checksum: str) -> bool:
        return script_matches_checksum(self.script, stored_checksum)


@dataclass(frozen=True)
class LocalMigrations:
    """The migrations Prisma would see, in Prisma's order, with the lock file's provider."""

    migrations: tuple[LocalMigration, ...]
    lock_provider: str | None = None
    source: str = "bundle"
    _by_name: dict[str, LocalMigration] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {m.name: m for m in self.migrations})

    def __iter__(self) -> Iterator[LocalMigration]:
        return iter(self.migrations)

    def __len__(self) -> int:
        return len(self.migrations)

    def get(self, name: str) -> LocalMigration | None:
        return self._by_name.get(name)

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.migrations]

    def check_provider(self, provider: str = POSTGRESQL_PROVIDER) -> None:
        """P3019 when migration_lock.toml names another provider; no lock file is fine."""
        if self.lock_provider is not None and self.lock_provider != provider:
            raise ProviderSwitched(provider, self.lock_provider)


def read_lock_provider(lock_file_text: str | None) -> str | None:
    """The provider in migration_lock.toml, read line by line exactly as Prisma's engine does."""
    if lock_file_text is None:
        return None
    for line in lock_file_text.splitlines():
        if line.startswith("provider"):
            value = line
            while value.startswith("provider = "):
                value = value[len("provider = ") :]
            return value.strip('"')
    return "<PROVIDER NOT FOUND>"


def _decode(path: str | os.PathLike[str], data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MigrationFileUnreadable(f"{path} is not valid UTF-8 text (byte {error.start}); Prisma reads migration files as UTF-8.") from None


def read_migrations_directory(directory: str | os.PathLike[str]) -> LocalMigrations:
    """Read a `prisma/migrations` directory as Prisma lists it."""
    base = Path(directory)
    try:
        entries = list(os.scandir(base))
    except FileNotFoundError:
        raise MigrationsDirectoryError(f"The migrations directory {base} does not exist.") from None
    except NotADirectoryError:
        raise MigrationsDirectoryError(f"{base} is not a directory.") from None
    except OSError as error:
        raise MigrationsDirectoryError(f"Cannot read the migrations directory {base}: {error.strerror}.") from None

    lock_text = None
    lock_path = base / LOCK_FILE_NAME
    if lock_path.is_file():
        lock_text = _read_bytes(lock_path).decode("utf-8", errors="replace")

    # Node's Dirent.isDirectory() is false for a symbolic link, so Prisma skips linked folders.
    folders = sort_in_prisma_order(entry.name for entry in entries if entry.is_dir(follow_symlinks=False))
    # Plain string paths: a history of thousands of folders is read at every `status`.
    prefix = str(base)
    migrations = []
    for name in folders:
        script_path = os.path.join(prefix, name, MIGRATION_FILE_NAME)
        try:
            content = _read_migration_file(name, script_path)
        except MigrationFileNotFound:
            # A folder without migration.sql: a Prisma 8 project says so in one line, anything else is P3015.
            _refuse_prisma_8(base / name)
            raise
        script = _decode(script_path, content)
        migrations.append(LocalMigration(name=name, script=script, path=script_path))
    return LocalMigrations(tuple(migrations), read_lock_provider(lock_text), source=prefix)


def _refuse_prisma_8(folder: Path) -> None:
    """A Prisma 8 migration package in a folder without migration.sql, or one level down in a space folder (`migrations/app/…`)."""
    candidates = [folder, *(entry for entry in folder.iterdir() if entry.is_dir() and not entry.is_symlink())] if os.access(folder, os.R_OK) else [folder]
    for candidate in candidates:
        if any((candidate / file_name).is_file() for file_name in PRISMA_8_MIGRATION_FILES):
            raise Prisma8Project(str(candidate))


def _read_migration_file(name: str, path: str) -> bytes:
    """The bytes of a folder's migration.sql, which must be a regular file (P3015 when there is none)."""
    try:
        found = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise MigrationFileNotFound(path) from None
    except OSError as error:
        raise MigrationFileUnreadable(f"Cannot read {path}: {error.strerror}.") from None
    if stat.S_ISLNK(found.st_mode):
        # A link may point anywhere (a key, /etc/shadow): refused unread, so no error or
        # finding can quote what it points at.
        raise MigrationFileUnreadable(f"Migration {name}: {MIGRATION_FILE_NAME} is a symbolic link; deploy-gate reads only regular files and did not read it.")
    if not stat.S_ISREG(found.st_mode):
        raise MigrationFileNotFound(path)
    return _read_bytes(path, follow_links=False, size=found.st_size)


def _read_bytes(path: str | os.PathLike[str], *, follow_links: bool = True, size: int = 64 * 1024) -> bytes:
    """The whole file, read with plain system calls (`size`: what it is expected to hold)."""
    try:
        # O_NOFOLLOW: a file swapped for a link after the check above is refused, not followed.
        descriptor = os.open(path, os.O_RDONLY | (0 if follow_links else getattr(os, "O_NOFOLLOW", 0)))
        try:
            chunks = []
            # One byte more than expected, so a file of the expected size ends in one read and a test for end.
            while chunk := os.read(descriptor, size + 1):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(descriptor)
    except OSError as error:
        raise MigrationFileUnreadable(f"Cannot read {path}: {error.strerror}.") from None


def migrations_from_bundle(
    scripts: Mapping[str, str] | Iterable[tuple[str, str]],
    lock_file_text: str | None = None,
) -> LocalMigrations:
    """Build the local migrations from an in-memory bundle of folder name → migration.sql text."""
    items = list(scripts.items() if isinstance(scripts, Mapping) else scripts)
    seen: set[str] = set()
    for name, script in items:
        if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
            raise MigrationsDirectoryError(f"{name!r} is not a valid migration folder name.")
        if name in seen:
            raise MigrationsDirectoryError(f"The bundle names migration {name!r} twice.")
        if script is None:
            raise MigrationFileNotFound(f"{name}/{MIGRATION_FILE_NAME}")
        if not isinstance(script, str):
            raise MigrationFileUnreadable(f"The script of {name} is not text.")
        seen.add(name)
    scripts_by_name = dict(items)
    return LocalMigrations(
        tuple(LocalMigration(name=name, script=scripts_by_name[name]) for name in sort_in_prisma_order(scripts_by_name)),
        read_lock_provider(lock_file_text),
    )
