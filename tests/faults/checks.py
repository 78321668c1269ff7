"""What every fault test asserts once its fault is over: each job ended once, each migration was
applied once, and the real Prisma CLI reads the history as deploy-gate does."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psycopg
import pytest

from service.store import repository
from tests.conftest import write_migrations_directory
from tests.interop.prisma_cli import prisma_available
from tests.service.prisma.history_helpers import history_rows


def journal(store: psycopg.Connection, job_id: str) -> list[tuple[str, str | None, Any]]:
    """The job's journal, short, for assertion messages."""
    return [(event.kind, event.step or event.to_state, event.data) for event in repository.job_events(store, job_id)]


def ended_once(store: psycopg.Connection, job_id: str) -> None:
    """The job went queued, running, succeeded, each once (a resumed job stays running), and no step finished twice."""
    events = repository.job_events(store, job_id)
    assert [event.to_state for event in events if event.kind == "transition"] == ["queued", "running", "succeeded"], journal(store, job_id)
    finished = [event.step for event in events if event.kind == "step_finished"]
    assert len(finished) == len(set(finished)), finished


def applied_once(target: psycopg.Connection, names: list[str]) -> None:
    """Each migration has one finished row that is not rolled back, in order; the only other rows are
    an interrupted attempt's, rolled back (as Prisma leaves a failed one that `resolve --rolled-back` settled)."""
    rows = history_rows(target)
    assert [row["migration_name"] for row in rows if row["finished_at"] and row["rolled_back_at"] is None] == names, rows
    assert all(row["rolled_back_at"] is not None for row in rows if row["finished_at"] is None), rows


def prisma_agrees(database_url: str, migrations: list[dict[str, str]], directory: Path) -> None:
    """`prisma migrate status` (the real CLI) says what deploy-gate says of the target: up to date, exit 0."""
    if not prisma_available():
        if os.environ.get("DEPLOY_GATE_REQUIRE_PRISMA") == "1":
            pytest.fail("the Prisma CLI is required (make prisma-cli)")
        pytest.skip("Prisma CLI not installed (make prisma-cli)")
    from tests.interop.test_prisma_interop import assert_status_agrees

    written = write_migrations_directory(directory, {migration["name"]: migration["sql"] for migration in migrations})
    with psycopg.connect(database_url, autocommit=True) as conn:
        ours, theirs = assert_status_agrees(conn, database_url, written)
    assert (theirs.exit_code, theirs.up_to_date) == (0, True), theirs
