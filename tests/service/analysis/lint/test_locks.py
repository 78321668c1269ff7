import pytest

from service.analysis.lint.locks import blocking_locks, first_lock_without
from tests.service.analysis.lint.helpers import context_for


def locks_of(script: str) -> list[tuple[str, str]]:
    context = context_for(script)
    return [(lock.table, lock.mode_name) for statement in context.all_statements for lock in blocking_locks(context, statement)]


@pytest.mark.parametrize(
    "script, locks",
    [
        ('ALTER TABLE "A" ADD COLUMN "b" int;', [('"A"', "ACCESS EXCLUSIVE")]),
        (
            'ALTER TABLE "A" ADD CONSTRAINT "f" FOREIGN KEY ("b") REFERENCES "B"("id");',
            [('"A"', "SHARE ROW EXCLUSIVE"), ('"B"', "SHARE ROW EXCLUSIVE")],
        ),
        ('ALTER TABLE "A" VALIDATE CONSTRAINT "f";', []),
        ('CREATE INDEX "i" ON "A" ("b");', [('"A"', "SHARE")]),
        ('CREATE INDEX CONCURRENTLY "i" ON "A" ("b");', []),
        ('DROP TABLE "A", "s"."B";', [('"A"', "ACCESS EXCLUSIVE"), ('"s"."B"', "ACCESS EXCLUSIVE")]),
        ('VACUUM FULL "A";', [('"A"', "ACCESS EXCLUSIVE")]),
        ('VACUUM "A";', []),
        ('REINDEX TABLE "A";', [('"A"', "SHARE")]),
        ('LOCK TABLE "A" IN ROW EXCLUSIVE MODE;', []),
        ('CREATE TABLE "A" (id int);\nALTER TABLE "A" ADD COLUMN "b" int;\nCREATE INDEX "i" ON "A" ("b");', []),
        ('UPDATE "A" SET "b" = 1 WHERE "b" IS NULL;', []),
    ],
)
def test_blocking_locks_on_existing_tables(script, locks):
    assert locks_of(script) == locks


def test_the_first_lock_taken_while_a_timeout_is_off():
    context = context_for('SET lock_timeout = \'1s\';\nALTER TABLE "A" ADD COLUMN "b" int;\nSET lock_timeout = 0;\nTRUNCATE "B";')
    statement, lock = first_lock_without(context, "lock_timeout")
    assert statement.position.line == 4 and lock.table == '"B"'
    assert first_lock_without(context_for("SELECT 1;"), "lock_timeout") is None
