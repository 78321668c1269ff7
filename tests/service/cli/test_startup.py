"""Each command imports only what it uses: `lint` no database driver or HTTP client, `--help` no command.

Each check runs the command in a fresh interpreter and reads `sys.modules` after it.
"""

import json
import os
import pkgutil
import subprocess
import sys

import click
import pytest

import service.cli
from service.cli import main

SAME_CODE = {"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}

RUN_THE_COMMAND = """
import sys, json
from service.cli import main
try:
    main(json.loads(sys.argv[1]))
except SystemExit as exit:
    code = exit.code
print(json.dumps({"exit": code, "modules": sorted(sys.modules)}))
"""


def run_in_a_fresh_interpreter(arguments):
    ran = subprocess.run(
        [sys.executable, "-c", RUN_THE_COMMAND, json.dumps(arguments)], capture_output=True, text=True, env={**os.environ, **SAME_CODE}, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout.splitlines()[-1])


def test_lint_imports_neither_the_database_driver_nor_an_http_client(tmp_path):
    migration = tmp_path / "migrations" / "20240101000000_init"
    migration.mkdir(parents=True)
    (migration / "migration.sql").write_text('CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY);\nCREATE INDEX "Patient_id_idx" ON "Patient"("id");\n')

    outcome = run_in_a_fresh_interpreter(["lint", str(tmp_path / "migrations")])

    assert outcome["exit"] == 0
    assert "service.analysis.lint" in outcome["modules"]  # it did lint
    loaded = set(outcome["modules"])
    assert {"psycopg", "http.client", "urllib3", "service.store", "service.cli.history", "service.cli.gate"} & loaded == set()


def test_lint_for_a_target_reads_the_targets_file_without_the_database_driver_or_an_http_client(tmp_path, monkeypatch):
    migration = tmp_path / "migrations" / "20240101000000_init"
    migration.mkdir(parents=True)
    (migration / "migration.sql").write_text('ALTER TABLE "Patient" ADD COLUMN IF NOT EXISTS "note" TEXT;\n')
    config = tmp_path / "targets.toml"
    config.write_text('[targets.production]\ndatabase_url_env = "STARTUP_TEST_UNSET_DATABASE_URL"\n')
    monkeypatch.setenv("DEPLOY_GATE_CONFIG", str(config))

    outcome = run_in_a_fresh_interpreter(["lint", str(tmp_path / "migrations"), "--target", "production"])

    assert outcome["exit"] == 0
    assert "service.config.load" in outcome["modules"]  # it did read the targets file
    assert {"psycopg", "http.client", "urllib3", "service.store"} & set(outcome["modules"]) == set()


def test_help_lists_every_command_without_importing_one():
    outcome = run_in_a_fresh_interpreter(["--help"])

    assert outcome["exit"] == 0
    command_modules = {f"service.cli.{module.name}" for module in pkgutil.iter_modules(service.cli.__path__)}
    assert command_modules & set(outcome["modules"]) == set()
    assert "pglast" not in outcome["modules"] and "psycopg" not in outcome["modules"]


def test_a_command_imports_its_own_module_and_no_other():
    outcome = run_in_a_fresh_interpreter(["jobs", "--help"])

    assert outcome["exit"] == 0
    assert "service.cli.jobs" in outcome["modules"]
    assert {"service.cli.lint", "service.cli.history", "service.cli.verify"} & set(outcome["modules"]) == set()


def _all_commands_imported():
    for module in pkgutil.iter_modules(service.cli.__path__):
        __import__(f"service.cli.{module.name}")
    return main.commands


def test_every_command_is_listed_for_lazy_import_from_the_module_that_adds_it():
    commands = _all_commands_imported()

    assert set(commands) == set(main.lazy_subcommands)
    for name, (module, _) in main.lazy_subcommands.items():
        assert commands[name].callback.__module__ == module


@pytest.mark.parametrize("limit", [40, 60, 200])
def test_the_summaries_in_the_listing_are_the_commands_own(limit):
    commands = _all_commands_imported()

    for name, (_, summary) in main.lazy_subcommands.items():
        assert click.Command(name, help=summary).get_short_help_str(limit) == commands[name].get_short_help_str(limit), name
