"""Transactional facts and files PostgreSQL refuses (service/analysis/facts/transactions.py), seen through analyze_migration."""

import pytest

from service.analysis.facts.analyze import analyze_migration


@pytest.mark.parametrize(
    "sql, reason",
    [
        ("BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\nCREATE TABLE b (id int);", "COMMIT commits the statements before it"),
        ('CREATE INDEX CONCURRENTLY "i" ON "User" ("a");', "INVALID index"),
        ('DROP INDEX CONCURRENTLY "i";', "DROP INDEX CONCURRENTLY"),
        ("VACUUM ANALYZE a;", "VACUUM"),
    ],
)
def test_not_transactional(sql, reason):
    facts = analyze_migration(sql)
    assert not facts.transactional
    assert any(reason in r.message for r in facts.not_transactional_because)


def test_a_file_wrapped_in_begin_and_commit_fails_as_a_whole():
    facts = analyze_migration("BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;")
    assert facts.transactional and facts.fails_because == ()


@pytest.mark.parametrize(
    "sql, reason",
    [
        ('ALTER TYPE "Role" ADD VALUE \'OWNER\';\nUPDATE "User" SET "role" = \'OWNER\' WHERE id = 1;', "55P04"),
        ("DO $$ BEGIN ALTER TYPE \"Role\" ADD VALUE 'OWNER'; END $$;\nINSERT INTO \"User\" (role) VALUES ('OWNER');", "same transaction"),
        ('CREATE TABLE t (id int);\nCREATE INDEX CONCURRENTLY "i" ON t (id);', "25001"),
        ("BEGIN;\nCREATE TABLE a (id int);", "BEGIN without COMMIT"),
    ],
)
def test_files_postgresql_refuses_whatever_the_data(sql, reason):
    facts = analyze_migration(sql)
    # They fail as a whole, so a failure leaves nothing behind: still transactional.
    assert facts.transactional
    assert any(reason in r.message for r in facts.fails_because), facts.fails_because


def test_enum_value_used_after_a_commit_is_fine():
    facts = analyze_migration('ALTER TYPE "Role" ADD VALUE \'OWNER\';\nCOMMIT;\nUPDATE "User" SET "role" = \'OWNER\';')
    assert not any("55P04" in r.message for r in facts.fails_because)


def test_enum_value_not_used_keeps_the_file_transactional():
    assert analyze_migration("ALTER TYPE \"Role\" ADD VALUE 'OWNER';").transactional
