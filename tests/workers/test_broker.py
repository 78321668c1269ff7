"""The one enqueue: Celery's own client on the configured broker, and the queue's depth through kombu."""

import dataclasses
import time
import uuid

import pytest
import redis

from service.config.settings import Settings
from workers.broker import Broker
from workers.celery_app import make_celery


@pytest.fixture
def broker_for(service_env):
    """Brokers on the test Redis, each app with a queue of its own that no worker reads; emptied after."""
    made = []

    def make(**transport_options) -> Broker:
        settings = dataclasses.replace(Settings.from_env(), broker_transport_options=transport_options)
        app = make_celery(settings, set_as_current=False)
        app.conf.task_default_queue = f"dg-test-{uuid.uuid4().hex[:8]}"
        made.append(Broker(app))
        return made[-1]

    yield make
    for broker in made:
        with broker.app.connection_for_write() as connection:
            connection.default_channel.queue_purge(broker.queue)
        broker.close()


def read_back(broker: Broker, count: int) -> list:
    with broker.app.connection_for_read() as connection, connection.SimpleQueue(broker.queue) as queue:
        messages = [queue.get(timeout=5) for _ in range(count)]
        for message in messages:
            message.ack()
    return messages


def test_each_job_is_sent_once_in_order_and_counted_by_the_broker(broker_for):
    broker = broker_for()
    job_ids = [str(uuid.uuid4()) for _ in range(5)]
    assert broker.waiting() == 0  # the queue does not exist yet
    broker.enqueue()  # nothing to send
    broker.enqueue(*job_ids[:3])
    broker.enqueue(*job_ids[3:])
    assert broker.waiting() == 5
    messages = read_back(broker, 5)
    assert [message.payload[0] for message in messages] == [[job_id] for job_id in job_ids]
    assert {message.headers["task"] for message in messages} == {"deploy_gate.run_job"}
    assert broker.waiting() == 0


def test_a_countdown_travels_with_the_message(broker_for):
    broker = broker_for()
    before = time.time()
    broker.enqueue("job-later", countdown=60)
    (message,) = read_back(broker, 1)
    eta = message.headers["eta"]
    assert eta is not None and before + 55 < time.mktime(time.strptime(eta[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone < before + 65


def test_transport_options_apply_to_every_message(broker_for):
    """A key prefix (as a shared Redis needs): the message is where a worker with the same options reads."""
    prefix = f"dg-test-{uuid.uuid4().hex[:6]}:"
    broker = broker_for(global_keyprefix=prefix)
    broker.enqueue("job-1")
    raw = redis.Redis.from_url(Settings.from_env().broker_url)
    try:
        assert raw.llen(prefix + broker.queue) == 1 and not raw.exists(broker.queue)
        assert broker.waiting() == 1
        assert [message.payload[0] for message in read_back(broker, 1)] == [["job-1"]]
    finally:
        raw.delete(prefix + broker.queue, f"{prefix}_kombu.binding.{broker.queue}")
        raw.close()


def test_a_broker_that_does_not_answer_raises_promptly(service_env):
    settings = dataclasses.replace(Settings.from_env(), broker_url="redis://127.0.0.1:9/0")
    broker = Broker(make_celery(settings, set_as_current=False))
    started = time.monotonic()
    try:
        with pytest.raises(Exception) as raised:
            broker.waiting()
    finally:
        broker.close()
    assert time.monotonic() - started < 10
    assert "127.0.0.1:9" not in type(raised.value).__name__
