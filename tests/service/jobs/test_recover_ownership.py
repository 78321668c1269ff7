"""Recover jobs undo only what the failed migration made: regressions of issue 12 ("rollback plans can
undo what the migration never did"), on real failures, with the real Prisma CLI checking the history."""

from __future__ import annotations

import pytest

from service.jobs.runner import run_job
from service.jobs.states import JobState, Verdict
from service.prisma.database import parse_database_url
from service.prisma.deploy import SessionTimeouts
from service.prisma.migrations import migrations_from_bundle
from service.recovery import actions
from service.store import repository
from tests.conftest import ADMIN_URL
from tests.service.jobs.test_recover import BASE, applied_base, assert_prisma_agrees, decision_of, deploy_then_recover, make_config, rows_of, table_exists


def patients(target_db):
    return target_db.query('SELECT "name" FROM "Patient" ORDER BY "id"')


PATIENT_AGAIN = 'CREATE TABLE "Patient" ("id" SERIAL PRIMARY KEY, "name" TEXT, "email" TEXT);\nCREATE INDEX "Patient_email_idx" ON "Patient"("email");\n'
VISITS_THEN_PATIENT_AGAIN = 'BEGIN;\nCREATE TABLE "Visit" ("id" INT);\nCOMMIT;\n' + PATIENT_AGAIN


def test_a_table_that_already_existed_is_never_in_the_derived_rollback(store, target_db, write_migrations):
    config = make_config(target_db)
    applied_base(target_db, store, config)
    target_db.query("INSERT INTO \"Patient\" (\"name\") VALUES ('Ada'), ('Grace')")
    scripts = {**BASE, "20240102_patients_again": PATIENT_AGAIN}
    _, recovered = deploy_then_recover(store, config, scripts)

    facts = recovered.facts["facts:1"]
    assert (facts["facts"]["sqlstate"], facts["facts"]["transactional"]) == ("42P07", True)
    assert facts["rollback"]["sql"] == "" and facts["rollback"]["complete"]
    assert facts["rollback"]["left_out"] == [
        {"message": "nothing to roll back: PostgreSQL undid the whole file: it has no transaction control, so it ran as one transaction", "line": 0}
    ]
    assert facts["ownership"]["created"] == [] and facts["rollback_targets"] == []
    assert decision_of(recovered)["action"] == "mark_rolled_back" and recovered.verdict is Verdict.BLOCKED
    assert patients(target_db) == [("Ada",), ("Grace",)]
    assert_prisma_agrees(target_db, write_migrations, scripts)


def test_after_an_explicit_commit_only_what_committed_is_rolled_back(store, target_db, write_migrations):
    config = make_config(target_db)  # no shadow: the plan waits for a person
    applied_base(target_db, store, config)
    target_db.query('INSERT INTO "Patient" ("name") VALUES (\'Ada\')')
    scripts = {**BASE, "20240102_visits": VISITS_THEN_PATIENT_AGAIN}
    _, waiting = deploy_then_recover(store, config, scripts)

    facts = waiting.facts["facts:1"]
    assert facts["rollback"]["sql"] == 'DROP TABLE IF EXISTS "Visit";' and facts["rollback"]["complete"]
    assert {
        "message": 'table public.Patient existed before this migration: its CREATE failed on it (relation "Patient" already exists)',
        "line": 4,
    } in facts["rollback"]["left_out"]
    assert facts["ownership"]["created"] == ["table public.Visit"]
    assert waiting.state is JobState.WAITING_APPROVAL
    assert "Patient" not in waiting.facts["approval"]["rollback"]["sql"]

    repository.record_approval(store, waiting.id, approved=True, by="ops", comment=None)
    done = run_job(store, config, waiting.id)
    assert done.verdict is Verdict.BLOCKED, done.reasons
    assert not table_exists(target_db, "Visit")
    assert patients(target_db) == [("Ada",)]
    assert [row["rolled_back_at"] is not None for row in rows_of(target_db, "20240102_visits")] == [True]
    assert_prisma_agrees(target_db, write_migrations, scripts)


def test_an_automatic_rollback_never_drops_a_table_that_existed_with_data(store, target_db, write_migrations):
    config = make_config(target_db, automatic_rollback=True, shadow=parse_database_url(ADMIN_URL))
    applied_base(target_db, store, config)
    # Made by hand on the target: not in the history, so not in the shadow's replay of it either.
    target_db.query('CREATE TABLE "Legacy" ("id" INT, "note" TEXT)')
    target_db.query("INSERT INTO \"Legacy\" VALUES (1, 'kept'), (2, 'kept')")
    scripts = {**BASE, "20240102_billing": 'BEGIN;\nCREATE TABLE "Invoice" ("id" INT);\nCOMMIT;\nCREATE TABLE "Legacy" ("id" INT);\n'}
    _, recovered = deploy_then_recover(store, config, scripts)

    facts = recovered.facts["facts:1"]
    assert facts["facts"]["sqlstate"] == "42P07" and facts["facts"]["effects"] == "partial"
    assert facts["rollback"]["sql"] == 'DROP TABLE IF EXISTS "Invoice";'
    assert facts["ownership"]["created"] == ["table public.Invoice"]
    decision = decision_of(recovered)
    assert decision["action"] == "run_rollback_sql" and decision["needs_approval"]
    assert recovered.state is JobState.WAITING_APPROVAL
    assert "Legacy" not in recovered.facts["approval"]["rollback"]["sql"]
    assert target_db.query('SELECT count(*) FROM "Legacy"') == [(2,)]

    repository.record_approval(store, recovered.id, approved=True, by="ops", comment=None)
    done = run_job(store, config, recovered.id)
    assert done.verdict is Verdict.BLOCKED
    assert not table_exists(target_db, "Invoice")
    assert target_db.query('SELECT count(*) FROM "Legacy"') == [(2,)]
    assert_prisma_agrees(target_db, write_migrations, scripts)


HALF_APPLIED = """BEGIN;
CREATE TABLE "Invoice" ("id" INT);
{rows}COMMIT;
ALTER TABLE "Patient" ADD CONSTRAINT "Patient_name_check" CHECK ("name" IS NOT NULL);

-- ROLLBACK SQL:
-- ALTER TABLE "Patient" DROP CONSTRAINT IF EXISTS "Patient_name_check";
-- DROP TABLE IF EXISTS "Invoice";
{extra}"""


def test_a_rollback_section_that_drops_what_the_migration_did_not_make_waits_for_approval(store, target_db, write_migrations):
    config = make_config(target_db, automatic_rollback=True, shadow=parse_database_url(ADMIN_URL))
    applied_base(target_db, store, config)
    target_db.query('INSERT INTO "Patient" ("name") VALUES (NULL)')
    # Only on the target, so the shadow's verification cannot see the section drop it.
    target_db.query('CREATE TABLE "Scratch" ("id" INT)')
    scripts = {**BASE, "20240102_invoices": HALF_APPLIED.format(rows="", extra='-- DROP TABLE IF EXISTS "Scratch";\n')}
    _, waiting = deploy_then_recover(store, config, scripts)

    facts = waiting.facts["facts:1"]
    assert (facts["facts"]["rollback_verified"], facts["facts"]["automatic_rollback"]) == (True, True)
    note = "would drop table public.Scratch, which this migration did not create"
    assert facts["facts"]["rollback_needs_approval"] == [note]
    scratch = next(target for target in facts["rollback_targets"] if target["object"] == "table public.Scratch")
    assert (scratch["owned"], scratch["exists"], scratch["needs_approval"]) == (False, True, note)
    invoice = next(target for target in facts["rollback_targets"] if target["object"] == "table public.Invoice")
    assert (invoice["owned"], invoice["data"]["count"], invoice["needs_approval"]) == (True, 0, None)
    assert waiting.state is JobState.WAITING_APPROVAL
    assert f"check: it {note}" in waiting.facts["approval"]["plan"]
    assert any(target["object"] == "table public.Scratch" for target in waiting.facts["approval"]["rollback_targets"])

    # Without that approval the rollback SQL does not run, even when called directly.
    local = migrations_from_bundle(scripts)
    with target_db.connect() as conn, pytest.raises(actions.RollbackFailed) as refused:
        actions.run_rollback_sql(conn, "public", local, "20240102_invoices", facts["rollback"]["sql"], timeouts=SessionTimeouts(1000), lock_wait=5)
    assert refused.value.headline == f"the rollback SQL of 20240102_invoices was not run: it {note}, and no person approved that"
    assert table_exists(target_db, "Scratch") and table_exists(target_db, "Invoice")
    assert [row["rolled_back_at"] for row in rows_of(target_db, "20240102_invoices")] == [None]


def test_a_rollback_that_drops_data_always_waits_for_approval_with_the_rows_it_would_lose(store, target_db, write_migrations):
    config = make_config(target_db, automatic_rollback=True, shadow=parse_database_url(ADMIN_URL))
    applied_base(target_db, store, config)
    target_db.query('INSERT INTO "Patient" ("name") VALUES (NULL)')
    scripts = {**BASE, "20240102_invoices": HALF_APPLIED.format(rows='INSERT INTO "Invoice" VALUES (1), (2), (3);\n', extra="")}
    _, waiting = deploy_then_recover(store, config, scripts)

    facts = waiting.facts["facts:1"]
    assert (facts["facts"]["rollback_complete"], facts["facts"]["rollback_verified"], facts["facts"]["automatic_rollback"]) == (True, True, True)
    invoice = next(target for target in facts["rollback_targets"] if target["object"] == "table public.Invoice")
    assert invoice["owned"] and invoice["data"] == {"count": 3, "exact": True, "what": "rows", "text": "3 rows"}
    decision = decision_of(waiting)
    assert decision["needs_approval"] and decision["action"] == "run_rollback_sql"
    assert decision["plan"][0] == "check: it would drop table public.Invoice; 3 rows would be lost"
    assert "which only a person may allow" in decision["reasons"][-1]
    assert waiting.state is JobState.WAITING_APPROVAL and table_exists(target_db, "Invoice")

    repository.record_approval(store, waiting.id, approved=True, by="ops", comment="the invoices were test data")
    done = run_job(store, config, waiting.id)
    assert done.verdict is Verdict.BLOCKED and not table_exists(target_db, "Invoice")
    assert done.facts["act:1:rollback_sql"]["rollback_targets"][1]["data"]["count"] == 3
    assert_prisma_agrees(target_db, write_migrations, scripts)
