"""The project's realistic corpus (tests/service/analysis/corpus), replayed.

Migration k's target holds the history of every corpus migration before it that applies on a clean
replay. The ones that fail on a clean replay (today: a CONCURRENTLY inside a multi-statement file,
an enum value used in the transaction that adds it, an unquoted table name, a syntax error) are
left out of every later history, as a team fixing forward would leave them, and are still tested
as the migration under test: their own failure is what the engine must cope with.

`corpus_replay()` applies the corpus once, in order, with deploy-gate's own `deploy` (as Prisma's
native engine runs it), recording per migration the catalog fingerprint before and after it (the
ground truth of what it produces) and the existing tables it locks; the cases are planned from
that. `Templates` then holds one database per history, so a case clones its target with
`CREATE DATABASE … TEMPLATE` instead of replaying.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import psycopg
from pglast import ast, parse_sql
from pglast.enums import ObjectType
from pglast.parser import ParseError
from pglast.visitors import referenced_relations
from psycopg import sql

from service.analysis.fingerprint import Fingerprint, Key, catalog_fingerprint
from service.prisma import history
from service.prisma.deploy import deploy
from service.prisma.migrations import migrations_from_bundle
from tests.conftest import ADMIN_URL, ScratchDatabase, drop_scratch_database

CORPUS = Path(__file__).resolve().parent.parent / "service" / "analysis" / "corpus"
SCHEMA = "public"
# Object categories whose keys start with their schema (extensions are database-wide).
_SCHEMA_KEYED = (
    "schemas",
    "types",
    "tables",
    "columns",
    "constraints",
    "indexes",
    "sequences",
    "views",
    "materialized_views",
    "functions",
    "triggers",
    "policies",
)


def ident(*parts: str) -> str:
    """A (qualified) name quoted for SQL text: `"schema"."name"`."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts)


def read_corpus() -> dict[str, str]:
    """Folder name → migration.sql text, in folder order (the NN_ prefixes sort as Prisma sorts them)."""
    return {path.parent.name: path.read_text(encoding="utf-8") for path in sorted(CORPUS.glob("*/migration.sql"))}


def clone_database(template: str) -> ScratchDatabase:
    """A new scratch database copied from `template`, which must have no open connections.

    An autovacuum worker on the template makes CREATE DATABASE refuse for a moment; try again.
    """
    name = f"dg_test_{uuid.uuid4().hex[:12]}"
    statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        for attempt in range(50):
            try:
                admin.execute(statement)
                return ScratchDatabase(name)
            except psycopg.errors.ObjectInUse:
                if attempt == 49:
                    raise
                time.sleep(0.05)
    raise AssertionError("unreachable")


def without_schema(fingerprint: Fingerprint, schema: str) -> Fingerprint:
    """The fingerprint with every object of `schema` left out (the harness's own audit schema)."""
    objects = {
        category: {key: value for key, value in entries.items() if category not in _SCHEMA_KEYED or key[0] != schema}
        for category, entries in fingerprint.objects.items()
    }
    return Fingerprint(tuple(name for name in fingerprint.schemas if name != schema), objects)


def touched_keys(before: Fingerprint, after: Fingerprint) -> dict[str, set[Key]]:
    """Per category, the objects a migration added, dropped or redefined: what it touches."""
    touched = {}
    for category in after.objects.keys() | before.objects.keys():
        old, new = before.objects.get(category, {}), after.objects.get(category, {})
        keys = {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}
        if keys:
            touched[category] = keys
    return touched


@dataclass(frozen=True)
class MigrationStep:
    """One corpus migration as the migration under test, on a target holding the history before it."""

    name: str
    script: str
    history: tuple[str, ...]
    before: Fingerprint = field(repr=False)
    # After a clean apply; None when the migration fails even on a clean replay.
    after: Fingerprint | None = field(repr=False)
    clean_failure: str | None
    # Existing tables (schema, name) the migration takes a lock on, in the order it names them.
    locked_tables: tuple[Key, ...]

    @property
    def added(self) -> dict[str, dict[Key, dict]]:
        """What a clean apply adds, by category (renamed objects count as added under the new name)."""
        if self.after is None:
            return {}
        return {
            category: {key: dict(entries[key]) for key in sorted(entries.keys() - self.before.objects.get(category, {}).keys())}
            for category, entries in self.after.objects.items()
        }


@dataclass(repr=False)
class CorpusReplay:
    """The corpus replayed once, in order, into one database: what each migration finds and does."""

    scripts: dict[str, str]
    steps: dict[str, MigrationStep]
    # Fingerprint after a clean replay of exactly this history (applied names in order); None
    # when that replay fails.
    replayed: dict[tuple[str, ...], Fingerprint | None]

    def bundle(self, step: MigrationStep) -> dict[str, str]:
        return {name: self.scripts[name] for name in (*step.history, step.name)}

    def ground_truth(self, applied: tuple[str, ...]) -> Fingerprint | None:
        """The fingerprint a clean replay of `applied` into a fresh database gives."""
        if applied not in self.replayed:
            self.replayed[applied] = _replay(applied, self.scripts)
        return self.replayed[applied]


@cache
def corpus_replay() -> CorpusReplay:
    """The corpus's replay for this process, made on first use (collection lists cases from it)."""
    return _replay_corpus(read_corpus())


def _replay_corpus(scripts: dict[str, str]) -> CorpusReplay:
    database = clone_database("template0")
    try:
        with database.connect() as conn:
            # The history table exists from the start, so the audit trigger can sit on it in every case.
            history.create_table(conn, SCHEMA)
            fingerprint = catalog_fingerprint(conn, schemas=None)
            replay = CorpusReplay(scripts, {}, {(): fingerprint})
            applied: tuple[str, ...] = ()
            for name, script in scripts.items():
                locked = _locked_tables(conn, script)
                outcome = deploy(conn, SCHEMA, migrations_from_bundle({**{done: scripts[done] for done in applied}, name: script}))
                after = catalog_fingerprint(conn, schemas=None)
                if outcome.succeeded:
                    replay.steps[name] = MigrationStep(name, script, applied, fingerprint, after, None, locked)
                    applied, fingerprint = (*applied, name), after
                    replay.replayed[applied] = after
                    continue
                failure = f"{outcome.failure.sqlstate}: {outcome.failure.message}"
                replay.steps[name] = MigrationStep(name, script, applied, fingerprint, None, failure, locked)
                # Left out of later histories: its row goes, and it must have left nothing else.
                assert after == fingerprint, f"{name} fails on a clean replay and leaves effects, so it cannot be left out"
                conn.execute(f'DELETE FROM "{history.MIGRATIONS_TABLE}" WHERE "migration_name" = %s', (name,))
    finally:
        drop_scratch_database(database)
    return replay


class Templates:
    """One template database per history a case starts from, each a real deploy of that history."""

    def __init__(self, replay: CorpusReplay) -> None:
        self.names: dict[tuple[str, ...], str] = {}
        try:
            self._build(replay)
        except BaseException:
            self.drop()
            raise

    def _build(self, replay: CorpusReplay) -> None:
        empty = clone_database("template0")
        self.names[()] = empty.name
        with empty.connect() as conn:
            history.create_table(conn, SCHEMA)
        for step in replay.steps.values():
            if step.after is None:
                continue
            applied = (*step.history, step.name)
            database = clone_database(self.names[step.history])
            self.names[applied] = database.name
            with database.connect() as conn:
                outcome = deploy(conn, SCHEMA, migrations_from_bundle({done: replay.scripts[done] for done in applied}))
            assert outcome.succeeded and outcome.applied == [step.name], outcome.to_dict()

    def clone(self, step: MigrationStep) -> ScratchDatabase:
        return clone_database(self.names[step.history])

    def drop(self) -> None:
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(drop_scratch_database, [ScratchDatabase(name) for name in self.names.values()]))
        self.names.clear()


def _replay(applied: Iterable[str], scripts: dict[str, str]) -> Fingerprint | None:
    database = clone_database("template0")
    try:
        with database.connect() as conn:
            history.create_table(conn, SCHEMA)
            outcome = deploy(conn, SCHEMA, migrations_from_bundle({name: scripts[name] for name in applied}))
            return catalog_fingerprint(conn, schemas=None) if outcome.succeeded else None
    finally:
        drop_scratch_database(database)


def own_lock_timeout_seconds(script: str) -> float:
    """The longest `SET lock_timeout` a migration file sets for itself (0 if none): its own bound."""
    longest = 0.0
    try:
        statements = parse_sql(script)
    except ParseError:
        return longest
    for raw in statements:
        statement = raw.stmt
        if isinstance(statement, ast.VariableSetStmt) and statement.name == "lock_timeout" and statement.args:
            value = statement.args[0].val
            text = str(getattr(value, "sval", None) or getattr(value, "ival", 0))
            number, unit = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", text).groups()
            longest = max(longest, float(number) * {"": 0.001, "ms": 0.001, "s": 1, "min": 60}[unit])
    return longest


def _locked_tables(conn: psycopg.Connection, script: str) -> tuple[Key, ...]:
    """Existing tables the script locks: the relations it names, and those a trial run locks.

    The trial runs the script in a transaction that is rolled back, reading pg_locks before the
    end; it is skipped for scripts that control transactions or build indexes concurrently
    (those cannot run inside one), where the names the parser finds must do.
    """
    found: list[Key] = []
    names, transactional = _named_relations(script)
    for name in names:
        table = _table_of_relation(conn, name)
        if table and table not in found:
            found.append(table)
    if transactional:
        try:
            with conn.transaction():
                # By oid: a rename inside the script must not hide the table's name before it.
                existing = dict(
                    conn.execute(
                        "SELECT c.oid, ARRAY[n.nspname::text, c.relname::text] FROM pg_catalog.pg_class c"
                        " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                        " WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'pg_catalog' AND c.relname <> %s",
                        (history.MIGRATIONS_TABLE,),
                    ).fetchall()
                )
                conn.execute(script.encode("utf-8"))
                locked = conn.execute("SELECT DISTINCT relation FROM pg_catalog.pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation'").fetchall()
                raise _TrialOver(sorted(tuple(existing[oid]) for (oid,) in locked if oid in existing))
        except _TrialOver as trial:
            found += [table for table in trial.tables if table not in found]
        except psycopg.Error:
            pass  # the script fails on a clean replay; the parsed names stand
    return tuple(found)


class _TrialOver(Exception):
    """Leaves the trial transaction, rolling it back, with what it saw."""

    def __init__(self, tables: list[Key]) -> None:
        super().__init__("trial over")
        self.tables = tables


def _named_relations(script: str) -> tuple[list[str], bool]:
    """Relation names (quoted as SQL writes them) the script's statements name, and whether the
    script can run inside one transaction block."""
    try:
        statements = parse_sql(script)
    except ParseError:
        return [], False
    names: list[str] = []
    transactional = True
    for raw in statements:
        statement = raw.stmt
        if isinstance(statement, ast.TransactionStmt) or getattr(statement, "concurrent", False):
            transactional = False
        if isinstance(statement, ast.DropStmt) and statement.removeType == ObjectType.OBJECT_INDEX:
            names += [ident(*(part.sval for part in obj)) for obj in statement.objects]
        names += sorted(referenced_relations(statement))
    return names, transactional


def _table_of_relation(conn: psycopg.Connection, name: str) -> Key | None:
    """(schema, table) for a table's name, or for an index's name its table's; None otherwise."""
    row = conn.execute(
        "SELECT n.nspname, t.relname FROM pg_catalog.pg_class c"
        " LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid"
        " JOIN pg_catalog.pg_class t ON t.oid = coalesce(i.indrelid, c.oid)"
        " JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace"
        " WHERE c.oid = to_regclass(%s) AND t.relkind IN ('r', 'p')",
        (name,),
    ).fetchone()
    return tuple(row) if row else None
