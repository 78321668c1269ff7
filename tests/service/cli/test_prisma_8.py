"""Prisma 8 projects and databases are refused with one clear line (exit 2), never half-read.

Prisma 8's layout and marker, from its packages (prisma@8.0.0-rc.19 and the
@prisma/orm-*@8.0.0-rc.13 packages it installs; docs/prisma-8.md):
- migrations live in `migrations/<space>/<name>/` as `migration.ts`, `ops.json` and
  `migration.json` (@prisma/orm-toolchain dist/cli.mjs `migrationsDirFor`, dist/*io* `OPS_FILE`);
- the database keeps its state in schema `prisma_contract`, tables `marker`, `ledger` and
  `contract` (@prisma/orm-target-postgres dist/contract-free-ChOK2nXj.mjs `markerTable`).
"""

import json

import pytest

from tests.service.cli.test_history import INIT, run

# The marker table as Prisma 8's Postgres target creates it (contract-free-ChOK2nXj.mjs, `markerColumns`).
PRISMA_8_MARKER = """
CREATE SCHEMA IF NOT EXISTS prisma_contract;
CREATE TABLE IF NOT EXISTS prisma_contract.marker (
  space text NOT NULL PRIMARY KEY DEFAULT 'app',
  core_hash text NOT NULL,
  profile_hash text NOT NULL,
  contract_json jsonb,
  canonical_version int,
  updated_at timestamptz NOT NULL DEFAULT now(),
  app_tag text,
  meta jsonb NOT NULL DEFAULT '{}',
  invariants text[] NOT NULL DEFAULT '{}'
);
INSERT INTO prisma_contract.marker (core_hash, profile_hash) VALUES ('sha256:core', 'sha256:profile');
"""


@pytest.fixture
def prisma_8_project(tmp_path):
    package = tmp_path / "migrations" / "app" / "20260901120000_init"
    package.mkdir(parents=True)
    (package / "migration.ts").write_text("export default class extends Migration {}\n")
    (package / "ops.json").write_text(json.dumps([{"op": "createTable", "table": "User"}]))
    (package / "migration.json").write_text(json.dumps({"name": "20260901120000_init"}))
    return tmp_path / "migrations"


@pytest.mark.parametrize("command", ["status", "deploy", "lint"])
def test_a_prisma_8_project_is_refused_in_one_line(scratch_db, prisma_8_project, command):
    args = [command, str(prisma_8_project)] if command == "lint" else [command, "--migrations", str(prisma_8_project)]
    result = run(*args, url=None if command == "lint" else scratch_db.url)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "is a Prisma 8 migration (migration.ts / ops.json)" in lines[0] and "docs/prisma-8.md" in lines[0]
    with scratch_db.connect() as conn:
        assert conn.execute("SELECT to_regclass('_prisma_migrations')").fetchone()[0] is None, "nothing written"


@pytest.mark.parametrize("command", ["status", "deploy"])
def test_a_database_with_prisma_8_marker_is_refused_in_one_line(scratch_db, write_migrations, command):
    with scratch_db.connect() as conn:
        conn.execute(PRISMA_8_MARKER)
    base = write_migrations({"1_init": INIT})
    result = run(command, "--migrations", str(base), url=scratch_db.url)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "error: the database has Prisma 8's marker table prisma_contract.marker: Prisma 8 manages its migrations, "
        "and deploy-gate supports Prisma 6 and 7 (_prisma_migrations) only; see docs/prisma-8.md."
    ]
    with scratch_db.connect() as conn:
        assert conn.execute("SELECT to_regclass('\"User\"'), to_regclass('_prisma_migrations')").fetchone() == (None, None)
