"""The failures injected into each corpus migration's target: one `Case` per failure.

Kinds (issue 12, "A safety suite in the project"):
- `none`: nothing injected; the migration's own outcome (four corpus files fail on their own).
- `table_lock`: another session holds ACCESS EXCLUSIVE on one table the migration locks, one
  table per case; some cases release it when the engine waits on it again, some never do, so
  retries run out.
- `shape`: an object of the name the migration creates already exists with another shape (an
  index on another column, a table with other columns and rows, a constraint of another kind, an
  enum with other labels, a column of another type, …).
- `data`: rows the migration's new constraint or conversion refuses.
- `cic_lock_timeout`: a ROW EXCLUSIVE lock makes a concurrent index build or drop time out half
  way, leaving an INVALID index.
- `after_commit`: for files with their own transaction control, an object created after the
  first COMMIT already exists, so the file fails with its first part committed.
- `prisma_lock`: another session holds Prisma's lock 72707369 while the engine must write: from
  the failure until the recover job waits for it, or from before the deploy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count

from pglast import ast, parse_sql
from pglast.enums import TransactionStmtKind
from pglast.parser import ParseError

from service.analysis.fingerprint import Key
from tests.safety.corpus import CorpusReplay, MigrationStep, ident

# Target policies, by the label a case id carries. Short lock timeouts and one retry keep the
# suite fast; automatic rollback is where unsafe rollbacks happen; the shadow server is where
# rollback SQL (and, as the engine grows, shapes) are checked.
POLICIES = {
    "auto-rollback+shadow": {"automatic_rollback": True, "shadow": True},
    "shadow": {"automatic_rollback": False, "shadow": True},
    "no-shadow": {"automatic_rollback": False, "shadow": False},
}

# When a held lock lets go: when the engine waits on it again after the failure (a second
# blocked session, a journaled wait, or a deferral), once the deploy's failure is journaled, or
# only after the job has settled (so retries run out).
RELEASE_ON_WAIT = "released"
RELEASE_AFTER_FAILURE = "after-failure"
KEEP = "kept"


@dataclass(frozen=True)
class HeldLock:
    table: Key
    mode: str
    release: str


@dataclass(frozen=True)
class Case:
    migration: str
    injection: str
    detail: str
    policy: str
    # SQL run on the target, as another session, before the deploy.
    setup: tuple[str, ...] = ()
    lock: HeldLock | None = None
    # "during-recovery" (taken when the deploy's failure is journaled) or "at-deploy".
    prisma_lock: str | None = None
    # The case whose target the real Prisma CLI also reads (one per migration).
    prisma_cli: bool = field(default=False, compare=False)

    @property
    def id(self) -> str:
        detail = f"={self.detail}" if self.detail else ""
        return f"{self.migration}-{self.injection}{detail}-{self.policy}"


def plan_cases(replay: CorpusReplay) -> list[Case]:
    cases: list[Case] = []
    policies = _Rotation(tuple(POLICIES))
    releases = _Rotation((RELEASE_ON_WAIT, KEEP, RELEASE_ON_WAIT))
    for step in replay.steps.values():
        own: list[Case] = [Case(step.name, "none", "", policies.next())]
        for table in step.locked_tables:
            release = releases.next()
            own.append(Case(step.name, "table_lock", f"{table[1]}.{release}", policies.next(), lock=HeldLock(table, "ACCESS EXCLUSIVE", release)))
        for detail, _, setup in shape_injections(step):
            own.append(Case(step.name, "shape", detail, policies.next(), setup=setup))
        if step.name in DATA_VIOLATIONS:
            detail, setup = DATA_VIOLATIONS[step.name]
            own.append(Case(step.name, "data", detail, policies.next(), setup=setup))
        own += _cic_cases(step)
        own += _after_commit_cases(step)
        own.append(_prisma_lock_case(step, policies.next()))
        # The real CLI reads one target per migration: the one with the most eventful history.
        representative = min(range(len(own)), key=lambda index: (_EVENTFUL.index(own[index].injection), index))
        own[representative] = Case(**{**own[representative].__dict__, "prisma_cli": True})
        cases += own
    return cases


_EVENTFUL = ("after_commit", "cic_lock_timeout", "shape", "data", "table_lock", "prisma_lock", "none")


class _Rotation:
    """Hands out labels in turn, so each label gets a fair share of cases across the matrix."""

    def __init__(self, labels: tuple[str, ...]) -> None:
        self.labels = labels
        self.counter = count()

    def next(self) -> str:
        return self.labels[next(self.counter) % len(self.labels)]


def _cic_cases(step: MigrationStep) -> list[Case]:
    if step.after is None or not _concurrent_statements(step.script):
        return []
    table = step.locked_tables[0]
    variants = [(RELEASE_ON_WAIT, "auto-rollback+shadow"), (KEEP, "no-shadow"), (RELEASE_ON_WAIT, "no-shadow"), (KEEP, "auto-rollback+shadow")]
    return [
        Case(step.name, "cic_lock_timeout", f"{table[1]}.{release}", policy, lock=HeldLock(table, "ROW EXCLUSIVE", release)) for release, policy in variants
    ]


def _after_commit_cases(step: MigrationStep) -> list[Case]:
    after_commit = _statements_after_first_commit(step.script)
    if step.after is None or not after_commit:
        return []
    created_later = [(detail, setup) for detail, name, setup in shape_injections(step) if name in after_commit]
    return [Case(step.name, "after_commit", detail, policy, setup=setup) for detail, setup in created_later for policy in POLICIES]


def _prisma_lock_case(step: MigrationStep, policy: str) -> Case:
    if step.after is None:
        return Case(step.name, "prisma_lock", "during-recovery", policy, prisma_lock="during-recovery")
    if step.locked_tables:
        table = step.locked_tables[0]
        return Case(
            step.name,
            "prisma_lock",
            f"during-recovery.{table[1]}",
            policy,
            lock=HeldLock(table, "ACCESS EXCLUSIVE", RELEASE_AFTER_FAILURE),
            prisma_lock="during-recovery",
        )
    return Case(step.name, "prisma_lock", "at-deploy", policy, prisma_lock="at-deploy")


def _parsed(script: str) -> list:
    try:
        return list(parse_sql(script))
    except ParseError:
        return []


def _concurrent_statements(script: str) -> bool:
    return any(getattr(raw.stmt, "concurrent", False) for raw in _parsed(script))


def _statements_after_first_commit(script: str) -> str:
    """The text after the first COMMIT, when something follows it."""
    for raw in _parsed(script):
        statement = raw.stmt
        if isinstance(statement, ast.TransactionStmt) and statement.kind == TransactionStmtKind.TRANS_STMT_COMMIT:
            return script.encode("utf-8")[raw.stmt_location + raw.stmt_len :].decode("utf-8").strip()
    return ""


# Data the migration refuses, on the history before it. Inserted with FK triggers off
# (session_replication_role = replica) so parent rows need not exist.
_PATIENT = '"Patient" ("id", "userId", "firstName", "lastName", "updatedAt"'
DATA_VIOLATIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "07_remove_rescheduled_status": (
        "status-RESCHEDULED",
        (
            (
                'INSERT INTO "Appointment" ("id", "patientId", "clinicId", "providerName", "scheduledAt", "status", "updatedAt")'
                " VALUES ('apt_safety', 'pat_safety', 'cli_safety', 'Dr Safety', now(), 'RESCHEDULED', now())"
            ),
        ),
    ),
    "11_backfill_patient_mrn": (
        "duplicate-mrn",
        (
            'ALTER TABLE "Patient" ADD COLUMN "mrn" TEXT',
            f"INSERT INTO {_PATIENT}, \"mrn\") VALUES ('pat_a', 'usr_a', 'Ann', 'Lee', now(), 'MRN-1'), ('pat_b', 'usr_b', 'Bo', 'Lee', now(), 'MRN-1')",
        ),
    ),
    "12_product_price_in_cents": (
        "price-overflows-integer-cents",
        ('INSERT INTO "Product" ("id", "sku", "name", "price", "updatedAt") VALUES (\'prd_safety\', \'SAFETY-1\', \'Bulk pack\', 99999999.99, now())',),
    ),
    "13_flat_shipping_backfill": (
        "total-overflows",
        (
            (
                'INSERT INTO "Order" ("id", "patientId", "totalCents", "createdAt", "updatedAt")'
                " VALUES ('ord_safety', 'pat_safety', 2147483600, '2024-01-15', now())"
            ),
        ),
    ),
    "14_seed_medication_catalog": (
        "product-id-taken",
        (
            (
                'INSERT INTO "Product" ("id", "sku", "name", "priceCents", "updatedAt")'
                " VALUES ('prd_med_metformin_500', 'SAFETY-SKU', 'Old listing', 100, now())"
            ),
        ),
    ),
    "19_order_item_line_totals": (
        "line-total-overflows",
        (
            (
                'INSERT INTO "OrderItem" ("id", "orderId", "productId", "quantity", "unitPriceCents")'
                " VALUES ('itm_safety', 'ord_safety', 'prd_safety', 100000, 100000)"
            ),
        ),
    ),
    "25_widen_order_totals": (
        "notes-too-long",
        (
            (
                'INSERT INTO "Appointment" ("id", "patientId", "locationId", "providerName", "scheduledAt", "notes", "updatedAt")'
                " VALUES ('apt_safety', 'pat_safety', 'loc_safety', 'Dr Safety', now(), repeat('n', 2001), now())"
            ),
        ),
    ),
    "28_location_timezone_required": (
        "location-without-timezone",
        ("INSERT INTO \"Location\" VALUES ('loc_safety', 'Main', '1 Main St', 'Springfield', 'IL', '62701')",),
    ),
    "45_patient_allergies_guarded": (
        "too-many-allergies",
        (
            'ALTER TABLE "Patient" ADD COLUMN "allergies" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[]',
            f"INSERT INTO {_PATIENT}, \"allergies\") VALUES ('pat_a', 'usr_a', 'Ann', 'Lee', now(), array_fill('peanut'::text, ARRAY[51]))",
        ),
    ),
    "47_product_defaults": (
        "description-too-long",
        (
            (
                'INSERT INTO "Product" ("id", "sku", "name", "priceCents", "description", "updatedAt")'
                " VALUES ('prd_safety', 'SAFETY-1', 'Kit', 100, repeat('d', 5001), now())"
            ),
        ),
    ),
    "48_payment_reference": (
        "duplicate-payment-reference",
        (
            'ALTER TABLE "Order" ADD COLUMN "paymentReference" TEXT',
            (
                'INSERT INTO "Order" ("id", "patientId", "totalCents", "updatedAt", "paymentReference")'
                " VALUES ('ord_a', 'pat_a', 100, now(), 'pi_1'), ('ord_b', 'pat_b', 200, now(), 'pi_1')"
            ),
        ),
    ),
}


def shape_injections(step: MigrationStep) -> list[tuple[str, str, tuple[str, ...]]]:
    """For each object a clean apply adds: a label, its name, and SQL creating one of that name
    with another shape.

    Parts of a table (or materialized view) the migration creates come with that table's case.
    """
    added = step.added
    new_relations = {key for key in added.get("tables", {})} | {key for key in added.get("materialized_views", {})}
    backing = {(key[0], key[2]) for key in added.get("constraints", {})}
    injections = []
    for (schema, name), definition in added.get("types", {}).items():
        if definition["kind"] == "enum":
            injections.append((f"enum.{name}", name, (*_schema(schema), f"CREATE TYPE {ident(schema, name)} AS ENUM ('SAFETY_OTHER')")))
    for schema, name in added.get("tables", {}):
        injections.append((f"table.{name}", name, _other_table(step, schema, name)))
    for (schema, table, name), definition in added.get("columns", {}).items():
        if (schema, table) not in new_relations:
            other = "integer" if definition["type"] in ("text",) or definition["type"].startswith("character") else "text"
            injections.append((f"column.{table}.{name}", name, (f"ALTER TABLE {ident(schema, table)} ADD COLUMN {ident(name)} {other}",)))
    for (schema, table, name), definition in added.get("constraints", {}).items():
        if (schema, table) not in new_relations:
            columns = _columns_before(step, schema, table)
            other = f"UNIQUE ({ident('id' if 'id' in columns else columns[0])})" if definition["definition"].startswith("CHECK") else "CHECK (true)"
            injections.append((f"constraint.{table}.{name}", name, (f"ALTER TABLE {ident(schema, table)} ADD CONSTRAINT {ident(name)} {other}",)))
    for (schema, name), definition in added.get("indexes", {}).items():
        table = definition["table"]
        if (schema, table) in new_relations or (schema, name) in backing:
            continue
        indexed = definition["definition"].split(" USING ", 1)[1]
        column = next(
            column
            for column in _columns_before(step, schema, table)
            if ident(column) not in indexed and f"({column}" not in indexed and f" {column}" not in indexed
        )
        injections.append((f"index.{name}", name, (f"CREATE INDEX {ident(name)} ON {ident(schema, table)} ({ident(column)})",)))
    for (schema, name), definition in added.get("sequences", {}).items():
        if definition["owned_by"] is None:
            injections.append((f"sequence.{name}", name, (f"CREATE SEQUENCE {ident(schema, name)} START WITH 7 INCREMENT BY 3",)))
    for schema, name in added.get("views", {}):
        injections.append((f"view.{name}", name, (*_schema(schema), f'CREATE VIEW {ident(schema, name)} AS SELECT 1 AS "safetyOther"')))
    for schema, name in added.get("materialized_views", {}):
        injections.append(
            (f"materialized_view.{name}", name, (*_schema(schema), f'CREATE MATERIALIZED VIEW {ident(schema, name)} AS SELECT 1 AS "safetyOther"'))
        )
    for schema, signature in added.get("functions", {}):
        name, arguments = signature.split("(", 1)
        injections.append((f"function.{name}", name, (f"CREATE FUNCTION {ident(schema, name)}({arguments} RETURNS integer LANGUAGE sql AS 'SELECT 1'",)))
    for schema, table, name in added.get("triggers", {}):
        if (schema, table) not in new_relations:
            injections.append(
                (
                    f"trigger.{table}.{name}",
                    name,
                    (
                        f"CREATE OR REPLACE FUNCTION {ident(schema, 'safety_other_trigger')}() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END'",
                        f"CREATE TRIGGER {ident(name)} AFTER INSERT ON {ident(schema, table)} FOR EACH STATEMENT EXECUTE FUNCTION {ident(schema, 'safety_other_trigger')}()",
                    ),
                )
            )
    return injections


def _schema(schema: str) -> tuple[str, ...]:
    return () if schema == "public" else (f"CREATE SCHEMA IF NOT EXISTS {ident(schema)}",)


def _columns_before(step: MigrationStep, schema: str, table: str) -> list[str]:
    return [key[2] for key in step.before.objects["columns"] if key[:2] == (schema, table)]


def _other_table(step: MigrationStep, schema: str, name: str) -> tuple[str, ...]:
    """The table's columns less one, plus one of its own, all nullable, with two rows in it."""
    columns = {key[2]: value["type"] for key, value in step.after.objects["columns"].items() if key[:2] == (schema, name)}
    own_types = {key[1] for key in step.added.get("types", {})}
    kept = sorted(columns)[:-1]
    definitions = [f"{ident(column)} {'text' if any(ident(t) in columns[column] for t in own_types) else columns[column]}" for column in kept]
    definitions.append('"legacyNote" text')
    return (
        *_schema(schema),
        f"CREATE TABLE {ident(schema, name)} ({', '.join(definitions)})",
        f"INSERT INTO {ident(schema, name)} (\"legacyNote\") VALUES ('kept since before'), ('kept as well')",
    )
