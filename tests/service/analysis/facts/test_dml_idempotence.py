"""Whether data statements can run twice (service/analysis/facts/dml_idempotence.py), seen through analyze_migration."""

from service.analysis.facts.analyze import analyze_migration


def test_update_idempotency():
    assert analyze_migration('UPDATE "User" SET "tier" = \'free\' WHERE "tier" IS NULL;').idempotent
    assert analyze_migration('UPDATE "User" SET "tier" = \'free\' WHERE "id" = 1;').idempotent
    assert not analyze_migration('UPDATE "User" SET "visits" = "visits" + 1;').idempotent
    assert not analyze_migration('UPDATE "User" SET "seenAt" = now();').idempotent
    assert not analyze_migration("INSERT INTO \"Plan\" (name) VALUES ('pro');").idempotent


def test_self_referencing_updates_and_upserts_are_not_guarded():
    assert not analyze_migration('UPDATE "P" SET "price" = "price" * 100 WHERE "price" IS NOT NULL;').idempotent
    upsert = 'INSERT INTO "S" ("id", "qty") VALUES (1, 5) ON CONFLICT ("id") DO UPDATE SET "qty" = {};'
    assert not analyze_migration(upsert.format('"S"."qty" + EXCLUDED."qty"')).idempotent
    assert analyze_migration(upsert.format('EXCLUDED."qty"')).idempotent


def test_a_self_referencing_update_whose_where_skips_done_rows_is_guarded():
    skips_done = [
        'UPDATE "P" SET "phone" = \'+1\' || "phone" WHERE "phone" !~ \'^\\+\';',
        'UPDATE "P" SET "phone" = \'+1\' || "phone" WHERE "active" AND "phone" NOT LIKE \'+%\';',
        'UPDATE "U" SET "email" = lower("email") WHERE "email" IS DISTINCT FROM lower("email");',
        'UPDATE "A" SET "balance" = "balance" + 10 WHERE NOT EXISTS (SELECT 1 FROM "Paid" p WHERE p."id" = "A"."id");',
    ]
    for sql in skips_done:
        facts = analyze_migration(sql)
        assert facts.idempotent and [change.guarded for change in facts.data_changes] == [True], sql
    assert not analyze_migration('UPDATE "O" SET "total" = "total" + 499 WHERE "total" <> "total" + 499;').idempotent
