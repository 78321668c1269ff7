"""Which Prisma a project uses: the major version of its `prisma` dependency, from its lockfile or `package.json`.

`deploy-gate gate` sends it with the deploy (the body's `prisma_version`), and the local commands
default to it, so a target follows the Prisma its project really runs (service.prisma.execution).
The lockfile says what is installed; `package.json` only what is allowed, so it is read last, for
the first version number its range names. The project is the nearest folder, from the migrations
directory up, that holds a `package.json`.

A resolved 7.0 to 7.3 counts as 6: their engines send every file whole, as Prisma 6's does (the
split came with 7.4, prisma-engines #5767). Prisma 8 is refused (docs/prisma-8.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from service.prisma.errors import MigrateError
from service.prisma.execution import DEFAULT_PRISMA_VERSION, PRISMA_VERSIONS

_LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "yarn.lock")
_VERSION = re.compile(r"(\d+)(?:\.(\d+))?")
# The engine of 7.4 and later splits a file with CREATE INDEX CONCURRENTLY (service.prisma.execution).
_SPLITTING_SINCE = (7, 4)


class UnsupportedPrisma(MigrateError):
    """The project's `prisma` dependency is a version deploy-gate does not follow (8 and later)."""


@dataclass(frozen=True)
class ProjectPrisma:
    """The Prisma version a project uses: `version` as found (`7.10.1`, or a range's `^7.4.0`), and the file that says so."""

    version: str
    source: str
    major: int
    minor: int | None

    @property
    def prisma_version(self) -> int:
        """The value deploy-gate follows: 6 or 7."""
        if self.major >= 8:
            raise UnsupportedPrisma(
                f"{self.source} names prisma {self.version}: Prisma 8 (a database marker and migration.ts/ops.json migrations) "
                "is not supported; see docs/prisma-8.md."
            )
        if self.major == 7 and self.minor is not None and (self.major, self.minor) < _SPLITTING_SINCE and not self.is_range:
            return 6
        return self.major if self.major in PRISMA_VERSIONS else DEFAULT_PRISMA_VERSION

    @property
    def is_range(self) -> bool:
        return not self.version[:1].isdigit()


def find_project_prisma(start: Path) -> ProjectPrisma | None:
    """The `prisma` dependency of the nearest project at or above `start`; None when none names it."""
    for folder in [start.resolve(), *start.resolve().parents]:
        manifest = folder / "package.json"
        if not manifest.is_file():
            continue
        for name in _LOCKFILES:
            lockfile = folder / name
            if lockfile.is_file():
                found = _from_lockfile(lockfile)
                if found is not None:
                    return found
        return _from_manifest(manifest)
    return None


def _parsed(version: str, source: Path) -> ProjectPrisma | None:
    match = _VERSION.search(version)
    if match is None:
        return None  # "latest", a git URL, a workspace link: nothing to go by
    minor = int(match.group(2)) if match.group(2) is not None else None
    return ProjectPrisma(version.strip(), source.name, int(match.group(1)), minor)


def _from_manifest(manifest: Path) -> ProjectPrisma | None:
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for section in ("dependencies", "devDependencies"):
        spec = (data.get(section) or {}).get("prisma") if isinstance(data, dict) else None
        if isinstance(spec, str):
            return _parsed(spec.removeprefix("npm:prisma@"), manifest)
    return None


def _from_lockfile(lockfile: Path) -> ProjectPrisma | None:
    try:
        text = lockfile.read_text(encoding="utf-8")
    except OSError:
        return None
    if lockfile.suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError:
            return None
        entry = (data.get("packages") or {}).get("node_modules/prisma") or (data.get("dependencies") or {}).get("prisma") or {}
        version = entry.get("version") if isinstance(entry, dict) else None
        return _parsed(version, lockfile) if isinstance(version, str) else None
    if lockfile.name == "pnpm-lock.yaml":
        # importers: .: devDependencies: prisma: {specifier: ^7.4.0, version: 7.10.1(typescript@5.9.3)}
        # or, in older lockfiles, a package key: /prisma@7.10.1 or /prisma/7.10.1.
        match = re.search(r"^[ \t]+prisma:[ \t]*\n[ \t]+specifier:[^\n]*\n[ \t]+version:[ \t]*'?(\d[^\s('\n]*)", text, re.MULTILINE) or re.search(
            r"^[ \t]+'?/?prisma[@/](\d[^\s:('\n]*)'?:", text, re.MULTILINE
        )
        return _parsed(match.group(1), lockfile) if match else None
    # yarn.lock, classic (`prisma@^7.4.0:` then `  version "7.10.1"`) or berry (`"prisma@npm:^7.4.0":` then `  version: 7.10.1`).
    match = re.search(r'^"?prisma@[^\n]*:[ \t]*\n(?:[ \t]+[^\n]*\n)*?[ \t]+version:?[ \t]+"?(\d[^"\s]*)', text, re.MULTILINE)
    return _parsed(match.group(1), lockfile) if match else None
