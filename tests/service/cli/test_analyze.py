import json
import subprocess
import sys
from pathlib import Path

DEPLOY_GATE = str(Path(sys.executable).parent / "deploy-gate")


def run(*args):
    return subprocess.run([DEPLOY_GATE, "analyze", *args], capture_output=True, text=True, timeout=60)


def test_analyze_prints_facts_and_rollback(write_migrations):
    base = write_migrations(
        {
            "1_init": 'CREATE TABLE "Patient" ("id" INT);\n-- ROLLBACK SQL\n-- DROP TABLE "Patient";\n',
            "2_index": 'CREATE INDEX CONCURRENTLY "Patient_id_idx" ON "Patient" ("id");\n',
        }
    )
    result = run(str(base))
    assert result.returncode == 0, result.stderr
    assert "1_init" in result.stdout and "rollback       section, complete" in result.stdout
    assert "CREATE INDEX CONCURRENTLY runs outside a transaction" in result.stdout


def test_analyze_json_for_one_migration(write_migrations):
    base = write_migrations({"1_a": "SELECT 1;", "2_b": 'UPDATE "A" SET "b" = "b" + 1;'})
    result = run(str(base), "--migration", "2_b", "--json")
    document = json.loads(result.stdout)
    [migration] = document["migrations"]
    assert migration["name"] == "2_b"
    assert migration["idempotent"] is False
    assert migration["data_changes"][0]["kind"] == "update"
    assert migration["rollback"]["complete"] is False


def test_analyze_errors_are_one_line(write_migrations, tmp_path):
    assert run(str(tmp_path / "missing")).returncode == 2
    base = write_migrations({"1_a": "SELECT 1;"})
    result = run(str(base), "--migration", "9_nope")
    assert result.returncode == 2 and "No migration named 9_nope" in result.stderr
