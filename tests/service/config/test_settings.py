import pytest

from service.config.errors import ConfigError
from service.config.settings import Settings


def test_settings_from_environment():
    settings = Settings.from_env({"DEPLOY_GATE_BROKER_URL": "amqp://r:5672//", "DEPLOY_GATE_MAX_BUNDLE_BYTES": "1024"})
    assert settings.broker_url == "amqp://r:5672//" and settings.max_bundle_bytes == 1024
    assert settings.database_url.endswith("/deploy_gate")
    with pytest.raises(ConfigError):
        Settings.from_env({"DEPLOY_GATE_MAX_BUNDLE_BYTES": "lots"})


def test_the_broker_url_has_its_former_name_as_an_alias_and_the_new_name_wins():
    assert Settings.from_env({}).broker_url == "redis://127.0.0.1:6379/0"
    assert Settings.from_env({"DEPLOY_GATE_REDIS_URL": "redis://old:6379/1"}).broker_url == "redis://old:6379/1"
    both = {"DEPLOY_GATE_REDIS_URL": "redis://old:6379/1", "DEPLOY_GATE_BROKER_URL": "amqp://new:5672//"}
    assert Settings.from_env(both).broker_url == "amqp://new:5672//"


def test_broker_transport_options_from_environment():
    assert Settings.from_env({}).broker_transport_options == {}
    options = Settings.from_env({"DEPLOY_GATE_BROKER_TRANSPORT_OPTIONS": '{"global_keyprefix": "dg:", "master_name": "main"}'})
    assert options.broker_transport_options == {"global_keyprefix": "dg:", "master_name": "main"}
    for wrong in ('["a"]', "{password: hunter2}"):
        with pytest.raises(ConfigError, match="DEPLOY_GATE_BROKER_TRANSPORT_OPTIONS must be a JSON object") as raised:
            Settings.from_env({"DEPLOY_GATE_BROKER_TRANSPORT_OPTIONS": wrong})
        assert "hunter2" not in str(raised.value)


def test_job_cache_seconds_from_environment():
    assert Settings.from_env({}).job_cache_seconds == 5.0
    assert Settings.from_env({"DEPLOY_GATE_JOB_CACHE_SECONDS": "0"}).job_cache_seconds == 0
    assert Settings.from_env({"DEPLOY_GATE_JOB_CACHE_SECONDS": "0.5"}).job_cache_seconds == 0.5
    for wrong in ("soon", "-1", "86400", "nan"):
        with pytest.raises(ConfigError, match="DEPLOY_GATE_JOB_CACHE_SECONDS"):
            Settings.from_env({"DEPLOY_GATE_JOB_CACHE_SECONDS": wrong})


def test_log_level_from_environment():
    assert Settings.from_env({}).log_level == "INFO"
    assert Settings.from_env({"DEPLOY_GATE_LOG_LEVEL": " debug "}).log_level == "DEBUG"
    with pytest.raises(ConfigError, match="DEPLOY_GATE_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"):
        Settings.from_env({"DEPLOY_GATE_LOG_LEVEL": "verbose"})


def test_lost_message_seconds_from_environment():
    assert Settings.from_env({}).lost_message_seconds == 60.0
    assert Settings.from_env({"DEPLOY_GATE_LOST_MESSAGE_SECONDS": "2.5"}).lost_message_seconds == 2.5
    for wrong in ("later", "0", "-1", "7200"):
        with pytest.raises(ConfigError, match="DEPLOY_GATE_LOST_MESSAGE_SECONDS"):
            Settings.from_env({"DEPLOY_GATE_LOST_MESSAGE_SECONDS": wrong})
