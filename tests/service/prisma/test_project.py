"""Which Prisma a project uses, from its lockfile or package.json (service.prisma.project)."""

import json

import pytest

from service.prisma.project import UnsupportedPrisma, find_project_prisma

PNPM = """lockfileVersion: '9.0'

importers:

  .:
    devDependencies:
      '@prisma/client':
        specifier: ^7.4.0
        version: 6.19.3
      prisma:
        specifier: ^7.4.0
        version: 7.10.1(typescript@5.9.3)
"""

YARN_CLASSIC = """# yarn lockfile v1

"@prisma/engines@7.10.1":
  version "6.19.3"

prisma@^7.4.0:
  version "7.10.1"
  resolved "https://registry.yarnpkg.com/prisma/-/prisma-7.10.1.tgz"
"""

YARN_BERRY = """__metadata:
  version: 8

"prisma@npm:^7.2.0":
  version: 7.2.3
  resolution: "prisma@npm:7.2.3"
"""


def project(folder, manifest_prisma=None, lockfiles=None):
    """A project folder with package.json (naming `manifest_prisma`), `lockfiles` by name, and prisma/migrations."""
    migrations = folder / "prisma" / "migrations"
    migrations.mkdir(parents=True)
    dependencies = {"prisma": manifest_prisma} if manifest_prisma else {}
    (folder / "package.json").write_text(json.dumps({"devDependencies": dependencies}))
    for name, text in (lockfiles or {}).items():
        (folder / name).write_text(text)
    return migrations


def test_the_lockfile_says_what_is_installed(tmp_path):
    lock = json.dumps({"packages": {"node_modules/prisma": {"version": "7.10.1"}}})
    found = find_project_prisma(project(tmp_path, "^6.0.0", {"package-lock.json": lock}))
    assert (found.version, found.source, found.prisma_version) == ("7.10.1", "package-lock.json", 7)


@pytest.mark.parametrize(
    "lockfiles, expected",
    [({"pnpm-lock.yaml": PNPM}, ("7.10.1", "pnpm-lock.yaml", 7)), ({"yarn.lock": YARN_CLASSIC}, ("7.10.1", "yarn.lock", 7))],
)
def test_pnpm_and_yarn_lockfiles(tmp_path, lockfiles, expected):
    found = find_project_prisma(project(tmp_path, "^7.4.0", lockfiles))
    assert (found.version, found.source, found.prisma_version) == expected


def test_prisma_7_before_7_4_runs_files_as_prisma_6(tmp_path):
    """prisma-engines #5767 (CREATE INDEX CONCURRENTLY split) came with 7.4.0."""
    found = find_project_prisma(project(tmp_path, "^7.2.0", {"yarn.lock": YARN_BERRY}))
    assert (found.version, found.prisma_version) == ("7.2.3", 6)


def test_without_a_lockfile_package_json_names_the_range(tmp_path):
    found = find_project_prisma(project(tmp_path, "~6.19.3"))
    assert (found.version, found.source, found.prisma_version) == ("~6.19.3", "package.json", 6)
    assert find_project_prisma(project(tmp_path / "range", "^7.2.0")).prisma_version == 7  # a range may install 7.4 or later


def test_prisma_8_is_refused(tmp_path):
    found = find_project_prisma(project(tmp_path, "8.0.0-rc.19"))
    with pytest.raises(UnsupportedPrisma, match="Prisma 8 .* is not supported; see docs/prisma-8.md"):
        assert found.prisma_version is None  # never reached: reading it raises


def test_no_project_or_no_prisma_dependency(tmp_path):
    assert find_project_prisma(project(tmp_path / "none")) is None
    assert find_project_prisma(project(tmp_path / "latest", "latest")) is None
