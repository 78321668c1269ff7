"""The [integrations] tables and public_url: validated at start-up, errors name the key and never a secret."""

import logging

import pytest

from service.config import load as config_load
from service.config.errors import ConfigError
from service.config.load import load_config
from service.config.records import Config
from tests.service.integrations.fakes import rsa_key
from tests.service.integrations.payloads import GITHUB_SECRET, VERCEL_SECRET

TARGETS = """
[targets.production]
database_url_env = "PRODUCTION_DATABASE_URL"

[targets.staging]
database_url_env = "STAGING_DATABASE_URL"
"""

INTEGRATIONS = """
[integrations.vercel]
webhook_secret_env = "VERCEL_WEBHOOK_SECRET"
token_env = "VERCEL_TOKEN"
team_id = "team_123"
api_url = "https://vercel.internal/"

[[integrations.vercel.projects]]
project_id = "prj_abc"
targets = { production = "production", preview = "staging" }

[[integrations.vercel.projects]]
project_id = "prj_def"
targets = { staging = "staging" }

[integrations.github]
webhook_secret_env = "GITHUB_WEBHOOK_SECRET"
app_id = 12345
private_key_env = "GITHUB_APP_PRIVATE_KEY"
environments = { "Acme/Shop:Production" = "production", "acme/shop:preview" = "staging" }
"""

TOKEN = "vercel-token-value-do-not-print"


@pytest.fixture(scope="module")
def key():
    return rsa_key()


@pytest.fixture
def environ(key):
    return {
        "PRODUCTION_DATABASE_URL": "postgresql://app:pw@prod.internal/app",
        "STAGING_DATABASE_URL": "postgresql://app:pw@staging.internal/app",
        "VERCEL_WEBHOOK_SECRET": VERCEL_SECRET,
        "VERCEL_TOKEN": TOKEN,
        "GITHUB_WEBHOOK_SECRET": GITHUB_SECRET,
        "GITHUB_APP_PRIVATE_KEY": key.private_pem,
    }


def load(tmp_path, text, environ):
    path = tmp_path / "deploy-gate.toml"
    path.write_text(text)
    return load_config(path, environ)


def test_a_valid_file(tmp_path, environ, key):
    config = load(tmp_path, 'public_url = "https://gate.example.com/"\n' + TARGETS + INTEGRATIONS, environ)
    integrations = config.integrations
    assert integrations.public_url == "https://gate.example.com"
    vercel = integrations.vercel
    assert (vercel.webhook_secret, vercel.token, vercel.team_id, vercel.api_url, vercel.check_name) == (
        VERCEL_SECRET,
        TOKEN,
        "team_123",
        "https://vercel.internal",
        "deploy-gate",
    )
    assert vercel.target_for("prj_abc", "production") == "production"
    assert vercel.target_for("prj_abc", None) == "staging", "a deployment without a target is a preview"
    assert vercel.target_for("prj_abc", "staging") is None and vercel.target_for("prj_xyz", "production") is None
    # Checks v2 unless said otherwise, with what each project's check holds up.
    assert (vercel.checks_api, vercel.webhook_id, vercel.check_run_wait_seconds, vercel.check_timeout_seconds) == ("v2", None, 60.0, 900)
    assert (vercel.projects["prj_abc"].blocks, vercel.projects["prj_def"].blocks) == ("deployment-alias", "deployment-alias")
    github = integrations.github
    assert (github.app_id, github.api_url, github.private_key) == (12345, "https://api.github.com", key.private_pem)
    assert github.target_for("acme/shop", "production") == "production", "GitHub compares names without case"
    assert github.target_for("acme/shop", "preview") == "staging" and github.target_for("acme/other", "production") is None
    shown = repr(config)
    assert TOKEN not in shown and VERCEL_SECRET not in shown and GITHUB_SECRET not in shown and "PRIVATE KEY" not in shown


def test_checks_v2_options_and_v1_with_its_deprecation_warning(tmp_path, environ, caplog):
    caplog.set_level(logging.WARNING, logger=config_load.__name__)
    options = 'checks_api = "v2"\nwebhook_id = "account_hook_GflD6EYyo7F4ViYS"\ncheck_run_wait_seconds = 5\ncheck_timeout_seconds = 600\n'
    text = 'public_url = "https://gate.example.com"\n' + TARGETS + INTEGRATIONS.replace('team_id = "team_123"\n', 'team_id = "team_123"\n' + options)
    text = text.replace('targets = { staging = "staging" }', 'targets = { staging = "staging" }\nblocks = "deployment-promotion"')
    vercel = load(tmp_path, text, environ).integrations.vercel
    assert (vercel.checks_api, vercel.webhook_id, vercel.check_run_wait_seconds, vercel.check_timeout_seconds) == (
        "v2",
        "account_hook_GflD6EYyo7F4ViYS",
        5.0,
        600,
    )
    assert vercel.projects["prj_def"].blocks == "deployment-promotion"
    assert not [r for r in caplog.records if r.getMessage() == "vercel_checks_v1_deprecated"]

    v1 = load(tmp_path, text.replace('checks_api = "v2"', 'checks_api = "v1"'), environ).integrations.vercel
    assert v1.checks_api == "v1"
    [warning] = [r for r in caplog.records if r.getMessage() == "vercel_checks_v1_deprecated"]
    assert warning.levelno == logging.WARNING and "deprecated" in warning.detail and TOKEN not in warning.detail


def test_public_url_falls_back_to_the_notifications_one(tmp_path, environ):
    notifications = '[notifications]\nurl_env = "HOOK_URL"\nsecret_env = "HOOK_SECRET"\npublic_url = "https://hooks.example.com"\n'
    environ = {**environ, "HOOK_URL": "https://hooks.example.com/in", "HOOK_SECRET": "h" * 20}
    config = load(tmp_path, notifications + TARGETS + INTEGRATIONS, environ)
    assert config.integrations.public_url == "https://hooks.example.com"


def test_integrations_are_optional_and_config_is_still_built_from_targets_and_tokens(tmp_path, environ):
    config = load(tmp_path, TARGETS, environ)
    assert (config.integrations.vercel, config.integrations.github, config.integrations.public_url) == (None, None, "")
    assert Config({}, ()).integrations.vercel is None


def test_a_key_with_escaped_newlines_is_read(tmp_path, environ, key):
    escaped = key.private_pem.strip().replace("\n", "\\n")
    config = load(tmp_path, 'public_url = "https://gate.example.com"\n' + TARGETS + INTEGRATIONS, {**environ, "GITHUB_APP_PRIVATE_KEY": escaped})
    assert config.integrations.github.private_key.strip() == key.private_pem.strip()


@pytest.mark.parametrize(
    "change, environ_change, message",
    [
        ("", {"VERCEL_WEBHOOK_SECRET": None}, "integrations.vercel.webhook_secret_env: environment variable VERCEL_WEBHOOK_SECRET is not set"),
        ("", {"VERCEL_WEBHOOK_SECRET": "short"}, "integrations.vercel.webhook_secret_env: VERCEL_WEBHOOK_SECRET must hold at least 16 characters"),
        ("", {"VERCEL_TOKEN": ""}, "integrations.vercel.token_env: environment variable VERCEL_TOKEN is not set"),
        ("", {"GITHUB_WEBHOOK_SECRET": None}, "integrations.github.webhook_secret_env: environment variable GITHUB_WEBHOOK_SECRET is not set"),
        ("", {"GITHUB_APP_PRIVATE_KEY": None}, "integrations.github.private_key_env: environment variable GITHUB_APP_PRIVATE_KEY is not set"),
        ("", {"GITHUB_APP_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"},
         "integrations.github.private_key_env: GITHUB_APP_PRIVATE_KEY does not hold an unencrypted PEM RSA private key"),
        (("preview = \"staging\"", "preview = \"qa\""), {}, "integrations.vercel.projects.0.targets.preview: no target named 'qa' is configured"),
        (("\"acme/shop:preview\" = \"staging\"", "\"acme/shop:preview\" = \"qa\""), {}, "integrations.github.environments.acme/shop:preview: no target named 'qa' is configured"),
        (("\"acme/shop:preview\"", "\"shop:preview\""), {}, 'integrations.github.environments.shop:preview (the name): use "owner/repo:environment"'),
        (("app_id = 12345", 'app_id = "12345"'), {}, "integrations.github.app_id: Not a valid integer."),
        (("app_id = 12345", "app_id = 0"), {}, "integrations.github.app_id: Must be greater than or equal to 1."),
        (("project_id = \"prj_def\"", "project_id = \"prj_abc\""), {}, "integrations.vercel.projects.1.project_id: prj_abc is listed twice"),
        (("api_url = \"https://vercel.internal/\"", "api_url = \"ftp://vercel.internal\""), {}, "integrations.vercel.api_url: must be an http:// or https:// URL"),
        (("[integrations.github]", "[integrations.github]\nsecret = \"x\""), {}, "integrations.github.secret: Unknown field."),
        (("public_url = \"https://gate.example.com\"", ""), {}, "public_url: required with integrations.vercel.token_env"),
        (("team_id = \"team_123\"", "team_id = \"team_123\"\nchecks_api = \"v3\""), {}, "integrations.vercel.checks_api: Must be one of: v2, v1."),
        (("targets = { staging = \"staging\" }", "targets = { staging = \"staging\" }\nblocks = \"none\""), {},
         "integrations.vercel.projects.1.blocks: Must be one of: build-start, deployment-start, deployment-alias, deployment-promotion."),
        (("team_id = \"team_123\"", "team_id = \"team_123\"\nwebhook_id = \"hook id\""), {}, "integrations.vercel.webhook_id: a Vercel webhook id"),
        (("team_id = \"team_123\"", "team_id = \"team_123\"\ncheck_timeout_seconds = 30"), {}, "integrations.vercel.check_timeout_seconds: Must be greater than or equal to 60"),
        (("team_id = \"team_123\"", "team_id = \"team_123\"\ncheck_run_wait_seconds = -1"), {}, "integrations.vercel.check_run_wait_seconds: Must be greater than or equal to 0"),
        (("public_url = \"https://gate.example.com\"", "public_url = \"https://gate.example.com/?x=1\""), {}, "public_url: must be an http:// or https:// URL"),
    ],
)  # fmt: skip
def test_errors_name_the_key_and_never_the_secret(tmp_path, environ, change, environ_change, message):
    text = 'public_url = "https://gate.example.com"\n' + TARGETS + INTEGRATIONS
    if change:
        assert change[0] in text
        text = text.replace(change[0], change[1], 1)
    for name, value in environ_change.items():
        if value is None:
            environ.pop(name)
        else:
            environ[name] = value
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, text, environ)
    assert message in str(raised.value)
    for secret in (VERCEL_SECRET, GITHUB_SECRET, TOKEN, "short", "not a key"):
        assert secret not in str(raised.value)
