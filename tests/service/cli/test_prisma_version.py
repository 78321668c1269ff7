"""The local commands run files as the project's Prisma does: `--prisma-version`, else its lockfile or package.json."""

import json

from tests.service.cli.test_history import run

CONCURRENT = 'CREATE TABLE "A" ("id" int);\nCREATE INDEX CONCURRENTLY "A_id" ON "A" ("id");\n'


def test_deploy_with_prisma_7_applies_a_file_with_create_index_concurrently(scratch_db, write_migrations):
    base = write_migrations({"1_index": CONCURRENT})
    refused = run("deploy", "--migrations", str(base), "--prisma-version", "6", url=scratch_db.url)
    assert refused.returncode == 1 and "25001" in refused.stderr
    run("resolve", "--rolled-back", "1_index", "--migrations", str(base), url=scratch_db.url)
    applied = run("deploy", "--migrations", str(base), "--prisma-version", "7", "--json", url=scratch_db.url)
    assert applied.returncode == 0, applied.stderr
    document = json.loads(applied.stdout)
    assert document["prisma_version"] == 7 and document["applied"] == ["1_index"]


def test_lint_follows_the_projects_lockfile(tmp_path, write_migrations):
    base = write_migrations({"1_index": CONCURRENT})
    as_6 = run("lint", str(base), "--json")
    assert as_6.returncode == 1 and json.loads(as_6.stdout)["prisma_version"] == 6
    (base.parent / "package.json").write_text(json.dumps({"devDependencies": {"prisma": "^7.4.0"}}))
    (base.parent / "package-lock.json").write_text(json.dumps({"packages": {"node_modules/prisma": {"version": "7.10.1"}}}))
    as_7 = run("lint", str(base), "--json")
    document = json.loads(as_7.stdout)
    assert document["prisma_version"] == 7
    assert not [f for f in document["findings"] if f["rule"] == "concurrently-in-transaction"]
    assert as_7.returncode == 0, as_7.stdout
