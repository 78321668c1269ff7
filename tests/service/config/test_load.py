import re

import pytest

from service.config.errors import ConfigError
from service.config.load import load_config, load_lint_target
from service.config.records import NOTIFICATION_EVENTS, DriftMode, DriftSettings, Policy, Retention, hash_token
from service.prisma.deploy import SessionTimeouts

GOOD = """
[tokens.ci]
sha256 = "{ci_hash}"
scopes = ["deploy", "read"]

[tokens.oncall]
sha256 = "{oncall_hash}"
scopes = ["read", "approve"]

[targets.staging]
database_url_env = "STAGING_DATABASE_URL"
shadow_url_env = "SHADOW_DATABASE_URL"
lint = {{ "drop-table" = "warning" }}

[targets.staging.policy]
max_automatic_retries = 2
automatic_rollback = true
lock_timeout_ms = 3000
retry_wait_seconds = 20
unreachable_timeout_seconds = 45

[targets.production]
database_url_env = "PRODUCTION_DATABASE_URL"

[targets.production.rds]
region = "us-east-1"
instance = "eonpro-prod"
read_replica = "eonpro-prod-replica"

[targets.production.policy]
failovers_need_approval = false
"""

ENV = {
    "STAGING_DATABASE_URL": "postgresql://app:s3cret@staging.internal:5432/app?schema=public",
    "SHADOW_DATABASE_URL": "postgresql://app:s3cret@shadow.internal:5432/postgres",
    "PRODUCTION_DATABASE_URL": "postgresql://app:pr0d@prod.internal:5432/app",
}


def write(tmp_path, text):
    path = tmp_path / "deploy-gate.toml"
    path.write_text(text)
    return path


def test_a_valid_file(tmp_path):
    path = write(tmp_path, GOOD.format(ci_hash=hash_token("ci-token"), oncall_hash=hash_token("oncall-token")))
    config = load_config(path, ENV)
    staging = config.targets["staging"]
    assert staging.policy.max_automatic_retries == 2 and staging.policy.automatic_rollback
    assert staging.policy.lock_timeout_ms == 3000 and staging.policy.restores_need_approval
    assert (staging.policy.retry_wait_seconds, config.targets["production"].policy.retry_wait_seconds) == (20, 60)
    assert (staging.policy.unreachable_timeout_seconds, config.targets["production"].policy.unreachable_timeout_seconds) == (45, 600)
    assert staging.database.params["host"] == "staging.internal"
    assert staging.shadow.params["host"] == "shadow.internal"
    assert staging.lint_severities == {"drop-table": "warning"}
    production = config.targets["production"]
    assert (production.rds.instance, production.rds.read_replica) == ("eonpro-prod", "eonpro-prod-replica")
    assert (staging.rds, staging.policy.failovers_need_approval, production.policy.failovers_need_approval) == (None, True, False)
    assert config.token_for("ci-token").scopes == {"deploy", "read"}
    assert config.token_for("wrong") is None
    assert "s3cret" not in repr(config)


@pytest.mark.parametrize(
    "text, env, message",
    [
        ("[targets.x]\n", ENV, "targets.x.database_url_env: Missing data"),
        ('[targets.x]\ndatabase_url_env = "NOPE"\n', ENV, "environment variable NOPE is not set"),
        ('[targets.x]\ndatabase_url_env = "BAD"\n', {"BAD": "mysql://u:hunter2@h/d"}, "must start with postgresql://"),
        ('[targets."bad name"]\ndatabase_url_env = "A"\n', ENV, "targets.bad name"),
        ('[targets.x]\ndatabase_url_env = "STAGING_DATABASE_URL"\n[targets.x.policy]\nmax_automatic_retries = -1\n', ENV, "max_automatic_retries"),
        ('[targets.x]\ndatabase_url_env = "STAGING_DATABASE_URL"\n[targets.x.policy]\nretry_wait_seconds = -1\n', ENV, "targets.x.policy.retry_wait_seconds"),
        (
            '[targets.x]\ndatabase_url_env = "STAGING_DATABASE_URL"\n[targets.x.policy]\nunreachable_timeout_seconds = -1\n',
            ENV,
            "targets.x.policy.unreachable_timeout_seconds",
        ),
        ('[targets.x]\ndatabase_url_env = "STAGING_DATABASE_URL"\n[targets.x.rds]\nregion = "eu-west-1"\n', ENV, "exactly one of instance or cluster"),
        (
            '[targets.x]\ndatabase_url_env = "STAGING_DATABASE_URL"\n[targets.x.rds]\nregion = "eu-west-1"\ninstance = "db"\nread_replica = "db--copy"\n',
            ENV,
            "targets.x.rds.read_replica: an RDS instance identifier",
        ),
        (
            '[targets.x]\ndatabase_url_env = "STAGING_DATABASE_URL"\n[targets.x.rds]\nregion = "eu-west-1"\ncluster = "db"\nread_replica = "DB"\n',
            ENV,
            "targets.x.rds.read_replica: must name the replica, not the instance or cluster itself",
        ),
        ('[targets.x]\ndatabase_url_env = "STAGING_DATABASE_URL"\nshadow_url_env = "STAGING_DATABASE_URL"\n', ENV, "must not be the target itself"),
        ('[targets.x]\ndatabase_url_env = "STAGING_DATABASE_URL"\nlint = { "drop-table" = "fatal" }\n', ENV, "lint"),
        ('[tokens.ci]\nsha256 = "abc"\nscopes = ["deploy"]\n', ENV, "64 lowercase hex"),
        ('[tokens.ci]\nsha256 = "' + "a" * 64 + '"\nscopes = ["admin"]\n', ENV, "scopes"),
        ("not = [valid", ENV, "not valid TOML"),
    ],
)
def test_errors_name_the_file_and_key_and_never_a_secret(tmp_path, text, env, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_config(path, env)
    assert message in str(raised.value)
    assert str(path) in str(raised.value)
    assert "hunter2" not in str(raised.value) and "s3cret" not in str(raised.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.toml", ENV)


NOTIFY_ENV = {
    **ENV,
    "DEPLOY_HOOK_URL": "https://hooks.slack.com/services/T000/B000/hunter2hunter2",
    "DEPLOY_HOOK_SECRET": "whsec-s3cret-0123456789",
    "PROD_HOOK_URL": "http://alerts.internal:8080/deploy-gate",
}
NOTIFY_TARGETS = '[targets.staging]\ndatabase_url_env = "STAGING_DATABASE_URL"\n\n[targets.production]\ndatabase_url_env = "PRODUCTION_DATABASE_URL"\n'


def test_notifications_with_a_per_target_override(tmp_path):
    path = write(
        tmp_path,
        '[notifications]\nurl_env = "DEPLOY_HOOK_URL"\nsecret_env = "DEPLOY_HOOK_SECRET"\npublic_url = "https://gate.example.com/"\n\n'
        + NOTIFY_TARGETS
        + '\n[targets.production.notifications]\nurl_env = "PROD_HOOK_URL"\nevents = ["verdict_blocked", "restore_failed"]\n',
    )
    config = load_config(path, NOTIFY_ENV)
    staging = config.notifications.for_target("staging")
    assert staging.url == NOTIFY_ENV["DEPLOY_HOOK_URL"] and staging.secret == NOTIFY_ENV["DEPLOY_HOOK_SECRET"]
    assert staging.events == set(NOTIFICATION_EVENTS)
    assert staging.public_url == "https://gate.example.com"
    production = config.notifications.for_target("production")
    assert production.url == NOTIFY_ENV["PROD_HOOK_URL"] and production.secret == NOTIFY_ENV["DEPLOY_HOOK_SECRET"]
    assert production.events == {"verdict_blocked", "restore_failed"} and production.public_url == "https://gate.example.com"
    assert "hunter2" not in repr(config) and "s3cret" not in repr(config)


def test_notifications_are_optional_and_a_target_may_have_its_own(tmp_path):
    assert load_config(write(tmp_path, NOTIFY_TARGETS), NOTIFY_ENV).notifications.for_target("staging") is None
    path = write(tmp_path, NOTIFY_TARGETS + '\n[targets.production.notifications]\nurl_env = "PROD_HOOK_URL"\nsecret_env = "DEPLOY_HOOK_SECRET"\nevents = []\n')
    config = load_config(path, NOTIFY_ENV)
    assert config.notifications.for_target("staging") is None
    assert config.notifications.for_target("production").events == frozenset()


HOOK = '[notifications]\nurl_env = "DEPLOY_HOOK_URL"\nsecret_env = "DEPLOY_HOOK_SECRET"\n'


@pytest.mark.parametrize(
    "text, env, message",
    [
        ('[notifications]\nsecret_env = "DEPLOY_HOOK_SECRET"\n', NOTIFY_ENV, "notifications.url_env: Missing data"),
        (
            '[notifications]\nurl_env = "NO_SUCH_HOOK"\nsecret_env = "DEPLOY_HOOK_SECRET"\n',
            NOTIFY_ENV,
            "notifications.url_env: environment variable NO_SUCH_HOOK is not set",
        ),
        (
            '[notifications]\nurl_env = "DEPLOY_HOOK_URL"\nsecret_env = "NO_SUCH_SECRET"\n',
            NOTIFY_ENV,
            "notifications.secret_env: environment variable NO_SUCH_SECRET is not set",
        ),
        (HOOK, {**NOTIFY_ENV, "DEPLOY_HOOK_URL": "ftp://hooks.example.com/hunter2"}, "DEPLOY_HOOK_URL must be an http:// or https:// URL"),
        (HOOK, {**NOTIFY_ENV, "DEPLOY_HOOK_URL": "https:///hunter2"}, "DEPLOY_HOOK_URL must be an http:// or https:// URL"),
        (HOOK, {**NOTIFY_ENV, "DEPLOY_HOOK_URL": "https://hooks.example.com:99999/hunter2"}, "DEPLOY_HOOK_URL must be an http:// or https:// URL"),
        (HOOK, {**NOTIFY_ENV, "DEPLOY_HOOK_SECRET": "s3cret"}, "DEPLOY_HOOK_SECRET must hold at least 16 characters"),
        (HOOK + 'events = ["verdict_blocked", "deploy_done"]\n', NOTIFY_ENV, "notifications.events.1: Must be one of: verdict_blocked"),
        (HOOK + 'public_url = "gate.example.com"\n', NOTIFY_ENV, "notifications.public_url: must be an http:// or https:// URL"),
        (HOOK + 'webhook = "https://x"\n', NOTIFY_ENV, "notifications.webhook: Unknown field"),
        (
            NOTIFY_TARGETS + '[targets.staging.notifications]\nurl_env = "DEPLOY_HOOK_URL"\n',
            NOTIFY_ENV,
            "targets.staging.notifications.secret_env: Missing data",
        ),
        (
            HOOK + NOTIFY_TARGETS + '[targets.staging.notifications]\nurl_env = "NO_SUCH_HOOK"\n',
            NOTIFY_ENV,
            "targets.staging.notifications.url_env: environment variable NO_SUCH_HOOK is not set",
        ),
    ],
)
def test_notification_errors_name_the_key_and_never_the_secret(tmp_path, text, env, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_config(path, env)
    assert message in str(raised.value)
    assert str(path) in str(raised.value)
    assert "hunter2" not in str(raised.value) and "s3cret" not in str(raised.value)


LINK_SECRET = "link-s3cret-0123456789abcdef"


def test_a_report_link_secret_signs_every_link_the_service_hands_out(tmp_path):
    path = write(tmp_path, 'report_link_secret_env = "DEPLOY_GATE_LINK_SECRET"\npublic_url = "https://gate.example.com"\n' + HOOK + NOTIFY_TARGETS
                 + '\n[targets.production.notifications]\nurl_env = "PROD_HOOK_URL"\n')  # fmt: skip
    config = load_config(path, {**NOTIFY_ENV, "DEPLOY_GATE_LINK_SECRET": LINK_SECRET})
    assert config.report_link_secret == LINK_SECRET
    # The report view, the links handed to Vercel and GitHub, and each target's notifications use it.
    assert config.integrations.report_link_secret == LINK_SECRET
    assert config.notifications.for_target("staging").report_link_secret == LINK_SECRET
    assert config.notifications.for_target("production").report_link_secret == LINK_SECRET
    assert "s3cret" not in repr(config)


def test_without_a_report_link_secret_links_stay_plain(tmp_path):
    config = load_config(write(tmp_path, HOOK + NOTIFY_TARGETS), NOTIFY_ENV)
    assert config.report_link_secret is None and config.integrations.report_link_secret is None
    assert config.notifications.for_target("staging").report_link_secret is None


@pytest.mark.parametrize(
    "env, message",
    [
        ({}, "report_link_secret_env: environment variable DEPLOY_GATE_LINK_SECRET is not set"),
        ({"DEPLOY_GATE_LINK_SECRET": ""}, "report_link_secret_env: environment variable DEPLOY_GATE_LINK_SECRET is not set"),
        ({"DEPLOY_GATE_LINK_SECRET": "s3cret-short"}, "report_link_secret_env: DEPLOY_GATE_LINK_SECRET must hold at least 16 characters"),
    ],
)
def test_report_link_secret_errors_name_the_key_and_never_the_secret(tmp_path, env, message):
    path = write(tmp_path, 'report_link_secret_env = "DEPLOY_GATE_LINK_SECRET"\n' + NOTIFY_TARGETS)
    with pytest.raises(ConfigError) as raised:
        load_config(path, {**ENV, **env})
    assert str(raised.value) == f"{path}: {message}"
    assert "s3cret" not in str(raised.value)


def test_report_link_secret_env_must_name_a_variable(tmp_path):
    with pytest.raises(ConfigError, match="report_link_secret_env: must be an environment variable name"):
        load_config(write(tmp_path, 'report_link_secret_env = "not a name"\n'), ENV)


CONSOLE_SECRET = "console-s3cret-0123456789abcdef"


def test_a_console_session_secret_turns_the_console_on(tmp_path):
    path = write(tmp_path, 'console_session_secret_env = "DEPLOY_GATE_CONSOLE_SECRET"\n' + NOTIFY_TARGETS)
    config = load_config(path, {**NOTIFY_ENV, "DEPLOY_GATE_CONSOLE_SECRET": CONSOLE_SECRET})
    assert config.console_session_secret == CONSOLE_SECRET and "s3cret" not in repr(config)


@pytest.mark.parametrize("text, env", [("", {}), ('console_session_secret_env = "DEPLOY_GATE_CONSOLE_SECRET"\n', {}),
                                       ('console_session_secret_env = "DEPLOY_GATE_CONSOLE_SECRET"\n', {"DEPLOY_GATE_CONSOLE_SECRET": ""})])  # fmt: skip
def test_without_a_console_secret_the_console_is_off(tmp_path, text, env):
    assert load_config(write(tmp_path, text + NOTIFY_TARGETS), {**NOTIFY_ENV, **env}).console_session_secret is None


def test_a_short_console_secret_is_refused(tmp_path):
    path = write(tmp_path, 'console_session_secret_env = "DEPLOY_GATE_CONSOLE_SECRET"\n' + NOTIFY_TARGETS)
    with pytest.raises(ConfigError, match="console_session_secret_env: DEPLOY_GATE_CONSOLE_SECRET must hold at least 16 characters"):
        load_config(path, {**NOTIFY_ENV, "DEPLOY_GATE_CONSOLE_SECRET": "short"})


def test_retention_defaults_keep_jobs_a_year_and_more_and_delivery_ids_a_month(tmp_path):
    config = load_config(write(tmp_path, GOOD.format(ci_hash=hash_token("ci-token"), oncall_hash=hash_token("oncall-token"))), ENV)
    assert (config.retention.jobs_days, config.retention.deliveries_days) == (400, 30)


def test_a_retention_table_sets_both_periods(tmp_path):
    path = write(tmp_path, "[retention]\njobs_days = 800\ndeliveries_days = 7\n")
    assert load_config(path, {}).retention == Retention(jobs_days=800, deliveries_days=7)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("jobs_days = 0", "retention.jobs_days: Must be greater than or equal to 1"),
        ('deliveries_days = "30"', "retention.deliveries_days: Not a valid integer."),
        ("keep_forever = true", "retention.keep_forever: Unknown field."),
    ],
)
def test_retention_errors_name_the_key(tmp_path, table, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(write(tmp_path, f"[retention]\n{table}\n"), {})


def test_a_targets_lint_settings_load_without_its_secrets(tmp_path):
    path = write(tmp_path, GOOD.format(ci_hash=hash_token("ci-token"), oncall_hash=hash_token("oncall-token")))
    with pytest.raises(ConfigError, match="STAGING_DATABASE_URL is not set"):
        load_config(path, {})  # the server needs every secret
    staging = load_lint_target(path, "staging")
    assert (staging.name, staging.policy.lock_timeout_ms, staging.lint_severities) == ("staging", 3000, {"drop-table": "warning"})
    assert load_lint_target(path, "production").policy == load_config(path, ENV).targets["production"].policy


def test_lint_settings_are_validated_as_the_server_validates_them(tmp_path):
    path = write(tmp_path, '[targets.staging]\ndatabase_url_env = "STAGING_DATABASE_URL"\nlint = { "drop-table" = "loud" }\n')
    with pytest.raises(ConfigError, match=re.escape("targets.staging.lint.drop-table: Must be one of: error, warning, info, off.")):
        load_lint_target(path, "staging")
    with pytest.raises(ConfigError, match=re.escape("no target named 'prod' is configured (targets: staging)")):
        load_lint_target(write(tmp_path, '[targets.staging]\ndatabase_url_env = "STAGING_DATABASE_URL"\n'), "prod")


@pytest.mark.parametrize(
    "policy, timeouts",
    [
        (Policy(), {"lock_timeout"}),
        (Policy(statement_timeout_ms=60000), {"lock_timeout", "statement_timeout"}),
        (Policy(lock_timeout_ms=None), set()),
        (Policy(lock_timeout_ms=0, statement_timeout_ms=0), set()),
    ],
)
def test_the_timeouts_a_policy_sets_on_the_session(policy, timeouts):
    # 0 is PostgreSQL's "no timeout": it protects nothing.
    assert policy.session_timeouts == timeouts
    # The same timeouts the runner sets before each migration it applies.
    session = SessionTimeouts(policy.lock_timeout_ms, policy.statement_timeout_ms).settings()
    assert {name for name, value in session.items() if value != "0ms"} == timeouts


DRIFT_TARGET = '[targets.x]\ndatabase_url_env = "STAGING_DATABASE_URL"\n{shadow}[targets.x.drift]\n{table}\n'


def test_drift_is_warn_by_default_and_checked_only_with_a_shadow(tmp_path):
    config = load_config(write(tmp_path, GOOD.format(ci_hash=hash_token("ci-token"), oncall_hash=hash_token("oncall-token"))), ENV)
    staging, production = config.targets["staging"], config.targets["production"]
    assert staging.drift == production.drift == DriftSettings(DriftMode.WARN, (), None)
    assert staging.checks_drift and not production.checks_drift


def test_a_drift_table_sets_mode_patterns_and_schedule(tmp_path):
    table = 'mode = "block"\nignore = ["extension:*", "public.pgbouncer_*"]\nschedule_minutes = 30'
    path = write(tmp_path, DRIFT_TARGET.format(shadow='shadow_url_env = "SHADOW_DATABASE_URL"\n', table=table))
    assert load_config(path, ENV).targets["x"].drift == DriftSettings(DriftMode.BLOCK, ("extension:*", "public.pgbouncer_*"), 30)


@pytest.mark.parametrize(
    ("shadow", "table", "message"),
    [
        (True, 'mode = "strict"', "targets.x.drift.mode: Must be one of: ignore, warn, block."),
        (True, 'ignore = ["gadget:*"]', "targets.x.drift.ignore: 'gadget:*': unknown kind 'gadget'"),
        (True, 'ignore = ["index:"]', "targets.x.drift.ignore: 'index:': the pattern is empty"),
        (True, "schedule_minutes = 0", "targets.x.drift.schedule_minutes: Must be greater than or equal to 1"),
        (True, 'mode = "ignore"\nschedule_minutes = 5', "drift mode ignore checks nothing to schedule"),
        (False, 'mode = "block"', "targets.x.drift: mode block needs shadow_url_env"),
        (False, "schedule_minutes = 5", "targets.x.drift: schedule_minutes needs shadow_url_env"),
    ],
)
def test_drift_errors_name_the_key(tmp_path, shadow, table, message):
    path = write(tmp_path, DRIFT_TARGET.format(shadow='shadow_url_env = "SHADOW_DATABASE_URL"\n' if shadow else "", table=table))
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path, ENV)


def test_a_target_says_which_prisma_it_follows_and_6_is_the_default(tmp_path):
    text = '[targets.a]\ndatabase_url_env = "STAGING_DATABASE_URL"\nprisma_version = 7\n[targets.b]\ndatabase_url_env = "PRODUCTION_DATABASE_URL"\n'
    config = load_config(write(tmp_path, text), ENV)
    assert (config.targets["a"].prisma_version, config.targets["b"].prisma_version) == (7, 6)


@pytest.mark.parametrize(
    "value, message",
    [("8", "must be one of 6, 7 (Prisma 8 is not supported: docs/prisma-8.md)"), ('"7"', "Not a valid integer"), ("5", "must be one of 6, 7")],
)
def test_a_prisma_version_other_than_6_or_7_is_refused_naming_the_key(tmp_path, value, message):
    path = write(tmp_path, f'[targets.x]\ndatabase_url_env = "STAGING_DATABASE_URL"\nprisma_version = {value}\n')
    with pytest.raises(ConfigError) as raised:
        load_config(path, ENV)
    assert "targets.x.prisma_version" in str(raised.value) and message in str(raised.value)
