"""The Celery app's broker settings: transport options by the broker's kind, the settings' own over them."""

import pytest

from service.config import Settings
from workers.celery_app import make_celery, transport_options


def settings(broker_url, **extra):
    return Settings(database_url="postgresql://db/x", broker_url=broker_url, config_file=None, **{"visibility_timeout_seconds": 600, **extra})


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://r:6380/0?ssl_cert_reqs=required", "sentinel://s1:26379;sentinel://s2:26379"])
def test_redis_waits_out_a_visibility_timeout_and_sweeps_every_half_of_it(url):
    assert transport_options(settings(url)) == {"visibility_timeout": 600, "unacked_restore_interval": 60, "unacked_restore_throttle": 1}
    assert transport_options(settings(url, visibility_timeout_seconds=30))["unacked_restore_interval"] == 15


def test_sqs_has_its_visibility_timeout_and_rabbitmq_none():
    assert transport_options(settings("sqs://")) == {"visibility_timeout": 600}
    assert transport_options(settings("amqp://guest:guest@127.0.0.1:5672//")) == {}


def test_the_settings_options_win_and_reach_the_app():
    configured = settings("sentinel://s1:26379", broker_transport_options={"master_name": "main", "visibility_timeout": 900})
    app = make_celery(configured, set_as_current=False)
    assert app.conf.broker_transport_options == {
        "visibility_timeout": 900,
        "unacked_restore_interval": 60,
        "unacked_restore_throttle": 1,
        "master_name": "main",
    }
    assert app.conf.broker_url == "sentinel://s1:26379" and app.conf.task_default_queue == "deploy_gate"
