"""Rollback verification on a real shadow server: verified, not verified, refused, always cleaned up."""

import pytest

from service.analysis import verify as verify_module
from service.analysis.verify import MigrationToVerifyNotFound, ShadowIsTarget, TargetFailure, same_database, verify_rollback
from service.prisma.database import parse_database_url
from service.prisma.errors import DatabaseUnavailable, ProviderSwitched
from service.prisma.migrations import migrations_from_bundle

INIT = 'CREATE TABLE "User" ("id" SERIAL PRIMARY KEY, "email" TEXT NOT NULL);\n'
ADD_POSTS = (
    'CREATE TABLE "Post" ("id" SERIAL PRIMARY KEY, "authorId" INT NOT NULL REFERENCES "User"("id"));\nCREATE INDEX "User_email_idx" ON "User"("email");\n'
)
LATER = 'ALTER TABLE "User" ADD COLUMN "name" TEXT;\n'
MIGRATIONS = migrations_from_bundle({"1_init": INIT, "2_posts": ADD_POSTS, "3_later": LATER}, 'provider = "postgresql"\n')


@pytest.fixture
def scratch_name(monkeypatch):
    """The name the next verification gives its scratch database."""
    name = verify_module.new_scratch_database_name()
    monkeypatch.setattr(verify_module, "new_scratch_database_name", lambda: name)
    return name


def database_exists(scratch_db, name):
    return bool(scratch_db.query("SELECT 1 FROM pg_database WHERE datname = %s", (name,)))


def verify(scratch_db, rollback_sql, *, migration="2_posts", migrations=MIGRATIONS, **options):
    return verify_rollback(scratch_db.url, migrations, migration, rollback_sql, **options)


def test_a_complete_rollback_is_verified(scratch_db, scratch_name):
    result = verify(scratch_db, 'DROP TABLE "Post";\nDROP INDEX "User_email_idx";\n')
    assert result.verified, result.to_dict()
    assert result.differences == () and result.errors == ()
    assert [str(d) for d in result.migration_changes] == [
        "table public.Post added (2 columns, 2 constraints, 1 index, 1 sequence)",
        "index public.User_email_idx added",
    ]
    assert result.scratch_database == scratch_name and not result.scratch_left_behind
    assert not database_exists(scratch_db, scratch_name)
    assert [step.name for step in result.steps] == [
        "replay 1 earlier migration",
        f"create scratch database {scratch_name}",
        "apply 2_posts",
        "fingerprint after the migration",
        "run the rollback SQL",
        "fingerprint after the rollback",
        f"drop scratch database {scratch_name}",
    ]
    assert all(step.ok for step in result.steps)
    assert result.to_dict()["verified"] is True


def test_a_rollback_that_misses_an_object_is_not_verified(scratch_db, scratch_name):
    result = verify(scratch_db, 'DROP TABLE "Post";\n')
    assert not result.verified
    assert [str(d) for d in result.differences] == ["index public.User_email_idx added"]
    assert not database_exists(scratch_db, scratch_name)


def test_a_rollback_that_drops_too_much_is_not_verified(scratch_db, scratch_name):
    result = verify(scratch_db, 'DROP TABLE "Post";\nDROP INDEX "User_email_idx";\nALTER TABLE "User" DROP COLUMN "email";\n')
    assert not result.verified
    assert [str(d) for d in result.differences] == ["column public.User.email missing"]
    assert not database_exists(scratch_db, scratch_name)


def test_a_rollback_that_errors_is_not_verified_and_cleans_up(scratch_db, scratch_name):
    result = verify(scratch_db, 'DROP TABLE "Post";\nDROP INDEX "No_such_index";\n')
    assert not result.verified
    (error,) = result.errors
    assert "42704" in error and "No_such_index" in error
    assert result.steps[-2].name == "run the rollback SQL" and not result.steps[-2].ok
    assert not database_exists(scratch_db, scratch_name)


def test_a_migration_that_fails_while_replaying_is_not_verified(scratch_db, scratch_name):
    broken = migrations_from_bundle({"1_init": INIT, "2_dup": INIT, "3_posts": ADD_POSTS})
    result = verify(scratch_db, 'DROP TABLE "Post";', migration="3_posts", migrations=broken)
    assert not result.verified
    assert result.errors == ('Migration 2_dup failed while replaying (SQLSTATE 42P07): relation "User" already exists',)
    assert not database_exists(scratch_db, scratch_name)


def test_the_first_migration_replays_nothing(scratch_db, scratch_name):
    result = verify(scratch_db, 'DROP TABLE "User";', migration="1_init")
    assert result.verified, result.to_dict()
    assert result.steps[0].name == "replay 0 earlier migrations"


def test_migrations_run_in_the_targets_schema(scratch_db, scratch_name):
    target = parse_database_url(scratch_db.url.rsplit("/", 1)[0] + "/elsewhere?schema=App")
    verified = verify(scratch_db, 'DROP TABLE "Post";\nDROP INDEX "User_email_idx";\n', target=target)
    assert verified.verified, verified.to_dict()
    assert "table App.Post added" in str(verified.migration_changes[0])
    missed = verify(scratch_db, 'DROP TABLE "Post";\n', target=target)
    assert [str(d) for d in missed.differences] == ["index App.User_email_idx added"]


def test_the_shadow_is_never_the_target(scratch_db, scratch_name):
    target = parse_database_url(scratch_db.url.replace("127.0.0.1", "localhost") + "?sslmode=disable")
    with pytest.raises(ShadowIsTarget):
        verify(scratch_db, 'DROP TABLE "Post";', target=target)
    assert not database_exists(scratch_db, scratch_name)


def test_same_database():
    first = parse_database_url("postgresql://a:secret@127.0.0.1/app")
    assert same_database(first, parse_database_url("postgresql://b@localhost:5432/app?schema=x"))
    assert not same_database(first, parse_database_url("postgresql://a@127.0.0.1/shadow"))
    assert not same_database(first, parse_database_url("postgresql://a@127.0.0.1:5433/app"))
    assert not same_database(first, parse_database_url("postgresql://a@db.internal/app"))


def test_an_unknown_migration_is_refused(scratch_db, scratch_name):
    with pytest.raises(MigrationToVerifyNotFound):
        verify(scratch_db, "SELECT 1", migration="9_missing")
    assert not database_exists(scratch_db, scratch_name)


def test_an_unreachable_shadow_raises(scratch_name):
    with pytest.raises(DatabaseUnavailable):
        verify_rollback("postgresql://postgres@127.0.0.1:1/postgres", MIGRATIONS, "2_posts", 'DROP TABLE "Post";')


def test_an_empty_rollback_is_not_verified_without_touching_the_shadow(scratch_db, scratch_name):
    result = verify(scratch_db, "  \n")
    assert not result.verified and result.errors == ("The rollback SQL is empty.",)
    assert result.scratch_database is None and result.steps == ()


def test_a_migration_that_fails_to_apply_is_not_verified(scratch_db, scratch_name):
    failing = migrations_from_bundle({"1_init": INIT, "2_bad": 'CREATE INDEX "x" ON "User"("missing");'})
    result = verify(scratch_db, 'DROP INDEX "x";', migration="2_bad", migrations=failing)
    assert not result.verified
    assert result.errors == ('Migration 2_bad fails to apply (SQLSTATE 42703): column "missing" does not exist',)
    assert not database_exists(scratch_db, scratch_name)


def test_the_scratch_database_is_dropped_when_the_run_raises(scratch_db, scratch_name):
    wrong_provider = migrations_from_bundle({"1_init": INIT, "2_posts": ADD_POSTS}, 'provider = "mysql"\n')
    with pytest.raises(ProviderSwitched):
        verify(scratch_db, 'DROP TABLE "Post";', migrations=wrong_provider)
    assert not database_exists(scratch_db, scratch_name)


def test_the_replay_before_the_migration_is_kept_on_the_shadow_for_the_next_run(scratch_db, scratch_name):
    from service.analysis.replay import history_keys

    first = verify(scratch_db, 'DROP TABLE "Post";\nDROP INDEX "User_email_idx";\n')
    template = history_keys(MIGRATIONS, "public")[1]
    assert first.verified and database_exists(scratch_db, template)
    again = verify(scratch_db, 'DROP TABLE "Post";\n')
    assert not again.verified and [str(d) for d in again.differences] == ["index public.User_email_idx added"]


PARTIAL = 'BEGIN;\nCREATE TABLE "Clinic" ("id" SERIAL PRIMARY KEY);\nCOMMIT;\nALTER TABLE "User" ADD COLUMN "clinicId" INT REFERENCES "Nowhere"("id");\n'
FAILING = migrations_from_bundle({"1_init": INIT, "2_partial": PARTIAL}, 'provider = "postgresql"\n')
FAILED_ON_THE_TARGET = TargetFailure("42P01", 'relation "Nowhere" does not exist')


def test_a_migration_that_failed_on_the_target_fails_the_same_way_on_the_copy_and_its_rollback_is_verified(scratch_db, scratch_name):
    """The copy then holds what the failed run left behind (the committed "Clinic"): the rollback must undo exactly that."""
    result = verify(scratch_db, 'DROP TABLE IF EXISTS "Clinic";\n', migration="2_partial", migrations=FAILING, failed_with=FAILED_ON_THE_TARGET)
    assert result.verified, result.to_dict()
    assert [str(d) for d in result.migration_changes] == ["table public.Clinic added (1 column, 1 constraint, 1 index, 1 sequence)"]
    applied = next(step for step in result.steps if step.name == "apply 2_partial")
    assert applied.ok and applied.detail.startswith("fails as it did on the target (SQLSTATE 42P01)")
    assert not database_exists(scratch_db, scratch_name)


def test_a_rollback_that_leaves_the_failed_runs_effects_is_not_verified(scratch_db, scratch_name):
    result = verify(scratch_db, "SELECT 1;\n", migration="2_partial", migrations=FAILING, failed_with=FAILED_ON_THE_TARGET)
    assert not result.verified and [str(d) for d in result.differences] == ["table public.Clinic added (1 column, 1 constraint, 1 index, 1 sequence)"]


@pytest.mark.parametrize("failed_with", [None, TargetFailure("40P01", "deadlock detected"), TargetFailure("42P01", 'relation "Elsewhere" does not exist')])
def test_a_failure_the_target_did_not_have_leaves_the_rollback_unverified(scratch_db, scratch_name, failed_with):
    """Without the target's own failure (or with another one), the copy is not in the target's state."""
    result = verify(scratch_db, 'DROP TABLE IF EXISTS "Clinic";\n', migration="2_partial", migrations=FAILING, failed_with=failed_with)
    assert not result.verified
    (error,) = result.errors
    assert "fails to apply (SQLSTATE 42P01)" in error
    assert ("on the target it failed otherwise" in error) is (failed_with is not None)


def test_a_migration_that_applies_in_full_on_the_copy_says_so(scratch_db, scratch_name):
    """A failure of the target's own (a lock timeout, its data) does not happen on the copy: what the rollback leaves is compared."""
    result = verify(
        scratch_db, 'DROP TABLE "Post";\nDROP INDEX "User_email_idx";\n', failed_with=TargetFailure("55P03", "canceling statement due to lock timeout")
    )
    assert result.verified
    applied = next(step for step in result.steps if step.name == "apply 2_posts")
    assert applied.ok and applied.detail == "applies in full here, although it failed on the target (SQLSTATE 55P03)"
