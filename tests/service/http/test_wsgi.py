import subprocess
import sys
from pathlib import Path

GUNICORN = str(Path(sys.executable).parent / "gunicorn")


def test_a_bad_targets_file_stops_gunicorn_with_one_clear_line(tmp_path, scratch_db):
    config = tmp_path / "deploy-gate.toml"
    config.write_text('[targets.prod]\ndatabase_url_env = "NOT_SET_ANYWHERE"\n')
    env = {"PATH": "/usr/bin:/bin", "DEPLOY_GATE_CONFIG": str(config), "DEPLOY_GATE_DATABASE_URL": scratch_db.url}
    result = subprocess.run(
        [GUNICORN, "service.http.wsgi:application()", "--bind", "127.0.0.1:0", "--workers", "1"],
        capture_output=True, text=True, env=env, timeout=60, cwd=Path(__file__).resolve().parents[3],
    )
    assert result.returncode != 0
    assert f"deploy-gate: configuration error: {config}: targets.prod.database_url_env: environment variable NOT_SET_ANYWHERE is not set" in result.stderr
    assert "Traceback" not in result.stderr
