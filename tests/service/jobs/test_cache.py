"""Rendered job documents: kept while listening, dropped on a change, a reset or old age."""

import pytest

from service.jobs import cache
from service.jobs.cache import JobDocuments


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def documents(clock):
    documents = JobDocuments(max_age=5, clock=clock)
    documents.reset(listening=True)
    return documents


def keep(documents, job_id, body=b"{}"):
    return documents.put(job_id, documents.ticket(), job_id, body)


def test_a_kept_document_is_served_until_its_job_changes(documents):
    keep(documents, "a", b'{"state": "queued"}')
    keep(documents, "b")
    assert documents.get("a").body == b'{"state": "queued"}'
    documents.changed("a")
    assert documents.get("a") is None
    assert documents.get("b") is not None
    assert (documents.hits, documents.misses) == (2, 1)


def test_a_read_that_a_change_overtook_is_not_kept(documents):
    ticket = documents.ticket()
    documents.changed("a")  # committed after the reader's snapshot, notified before it is stored
    entry = documents.put("a", ticket, "job", b"old")
    assert entry.body == b"old"  # the reader still answers with what it read
    assert documents.get("a") is None
    # A change to another job does not spoil the read.
    ticket = documents.ticket()
    documents.changed("b")
    documents.put("a", ticket, "job", b"current")
    assert documents.get("a").body == b"current"


def test_nothing_is_kept_while_the_listener_is_not_connected(documents):
    keep(documents, "a")
    ticket = documents.ticket()
    documents.reset(listening=False)
    assert len(documents) == 0
    assert documents.ticket() is None
    documents.put("a", ticket, "job", b"read before the connection was lost")
    documents.put("a", None, "job", b"read while it was lost")
    assert documents.get("a") is None
    documents.reset(listening=True)  # reconnected: a ticket from before is still refused
    documents.put("a", ticket, "job", b"stale")
    assert documents.get("a") is None
    keep(documents, "a", b"fresh")
    assert documents.get("a").body == b"fresh"


def test_entries_expire(documents, clock):
    keep(documents, "a")
    clock.now += 4.9
    assert documents.get("a") is not None
    clock.now += 0.2
    assert documents.get("a") is None
    assert len(documents) == 0


def test_a_zero_max_age_keeps_nothing(clock):
    documents = JobDocuments(max_age=0, clock=clock)
    documents.reset(listening=True)
    assert not documents.enabled and documents.ticket() is None
    documents.put("a", 0, "job", b"{}")
    assert documents.get("a") is None


def test_the_least_recently_read_go_first_when_full(clock):
    documents = JobDocuments(max_age=5, max_bytes=16 * 100, clock=clock)
    documents.reset(listening=True)
    names = [f"job-{n}" for n in range(16)]
    for name in names:
        keep(documents, name, b"x" * 100)  # exactly the byte budget
    documents.get(names[0])
    keep(documents, "newest", b"x" * 100)  # over it: the least recently read goes
    assert documents.get(names[1]) is None
    assert documents.get(names[0]) is not None and documents.get("newest") is not None
    assert len(documents) == 16
    keep(documents, "big", b"x" * 101)  # over a sixteenth of the budget: never kept
    assert documents.get("big") is None


def test_the_record_of_changes_is_bounded(documents, monkeypatch):
    monkeypatch.setattr(cache, "MAX_TRACKED_CHANGES", 3)
    ticket = documents.ticket()
    for name in "wxyz":
        documents.changed(name)
    assert len(documents._changed_at) <= 3
    # Forgetting which jobs changed when also refuses every ticket taken before.
    documents.put("a", ticket, "job", b"{}")
    assert documents.get("a") is None
    keep(documents, "a")
    assert documents.get("a") is not None
