"""Enqueue a job's task by name, so the web process needs no task code (nor Celery's client).

The message is Celery's task protocol 2 as Celery's Redis transport (kombu) stores it: a JSON
envelope pushed onto the list named after the queue, which the workers pop from. Built here, from
an envelope dumped once per process with places left for each message's ids, body and argsrepr,
and sent with LPUSH, instead of `send_task`, whose producer, routing and a fresh Redis client per
publish cost about a millisecond of a request's CPU. The jobs of one call go in one LPUSH, and
concurrent calls in one process share it too (service.combining): each returns once its messages
are in Redis.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import uuid
from collections.abc import Sequence
from functools import cache
from json.encoder import encode_basestring_ascii

import redis

from service.combining import Combiner
from service.config import TASK_QUEUE, Settings

RUN_JOB_TASK = "deploy_gate.run_job"
# The protocol's third body element: no callbacks, errbacks, chain or chord.
_NO_CANVAS = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


def task_message(task: str, args: list[str], queue: str) -> bytes:
    """One protocol-2 message for `task(*args)`, in the envelope kombu's Redis transport uses."""
    task_id = str(uuid.uuid4())
    values = {
        "body": base64.b64encode(json.dumps([args, {}, _NO_CANVAS]).encode()).decode(),
        "task_id": task_id,
        "argsrepr": repr(args),
        "delivery_tag": str(uuid.uuid4()),
    }
    parts = list(_envelope(task, queue, f"gen{os.getpid()}@{_hostname()}"))
    # Even places hold the envelope's fixed JSON, odd places the names of the values between.
    parts[1::2] = [encode_basestring_ascii(values[name]) for name in parts[1::2]]
    return "".join(parts).encode()


_SLOT = re.compile(r'"\\u0000(\w+)\\u0000"')  # a value's place in the envelope's JSON


@cache
def _envelope(task: str, queue: str, origin: str) -> tuple[str, ...]:
    """The envelope's JSON, dumped once, split around the places of the values each message has
    its own of; the rest is the same for every message of a task to a queue from this process."""

    def slot(name: str) -> str:
        return f"\0{name}\0"  # dumped as "\u0000name\u0000", which no other value can be

    envelope = {
        "body": slot("body"),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            "lang": "py",
            "task": task,
            "id": slot("task_id"),
            "shadow": None,
            "eta": None,
            "expires": None,
            "group": None,
            "group_index": None,
            "retries": 0,
            "timelimit": [None, None],
            "root_id": slot("task_id"),
            "parent_id": None,
            "argsrepr": slot("argsrepr"),
            "kwargsrepr": "{}",
            "origin": origin,
            "ignore_result": None,
            "replaced_task_nesting": 0,
            "stamped_headers": None,
            "stamps": {},
        },
        "properties": {
            "correlation_id": slot("task_id"),
            "reply_to": "",
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": slot("delivery_tag"),
        },
    }
    return tuple(_SLOT.split(json.dumps(envelope)))


class TaskQueue:
    """The broker side of enqueueing: one Redis client (thread-safe, pooled) per process."""

    def __init__(self, redis_url: str, queue: str = TASK_QUEUE) -> None:
        self.redis = redis.Redis.from_url(redis_url, socket_timeout=5)
        self.queue = queue
        self._push = Combiner(self._push_all)

    def enqueue(self, *job_ids: str) -> None:
        """Send each job's task, in this order, in one push."""
        if job_ids:
            self._push([task_message(RUN_JOB_TASK, [job_id], self.queue) for job_id in job_ids])

    def _push_all(self, calls: Sequence[list[bytes]]) -> list[None]:
        # kombu keeps priority 0 on the list named after the queue; other priorities get their own.
        # Workers pop from the other end, so the messages are taken in the order they were given.
        self.redis.lpush(self.queue, *(message for messages in calls for message in messages))
        return [None] * len(calls)

    def close(self) -> None:
        self.redis.close()


@cache
def _hostname() -> str:
    return socket.gethostname()


@cache
def _queue_for(redis_url: str) -> TaskQueue:
    return TaskQueue(redis_url)


def enqueue_job(job_id: str) -> None:
    """Enqueue on the broker the environment names (the reconciler, in a worker)."""
    _queue_for(Settings.from_env().redis_url).enqueue(job_id)
