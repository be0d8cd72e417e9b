"""The journal's contract, the same on Redis and on SQLite, against real servers."""

import secrets
import time

import pytest
import sqlalchemy as sa
from redis import Redis

from app.journal import RedisJournal, SqlJournal

LENGTH, CAP, LIFETIME = 5, 3, 600


@pytest.fixture
def redis_client(redis_url):
    client = Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(params=["redis", "sqlite"])
def journal(request, tmp_path):
    if request.param == "redis":
        client = request.getfixturevalue("redis_client")
        return RedisJournal(client, LENGTH, CAP, LIFETIME)

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'journal.sqlite3'}")
    request.addfinalizer(engine.dispose)
    return SqlJournal(engine, LENGTH, CAP, LIFETIME)


@pytest.fixture
def learner(journal):
    name = secrets.token_urlsafe(16)
    yield name
    journal.clear(name)


def test_append_numbers_exchanges_in_order(journal, learner):
    seqs = [journal.append(learner, {"step": step, "ok": True}) for step in range(3)]

    record = journal.exchanges(learner)

    assert seqs == sorted(set(seqs))
    assert record == [{"step": n, "ok": True, "seq": seqs[n]} for n in range(3)]


def test_append_sets_the_number_on_the_exchange(journal, learner):
    exchange = {"step": 0}

    seq = journal.append(learner, exchange)

    assert exchange == {"step": 0, "seq": seq}


def test_record_keeps_the_last_length_exchanges(journal, learner):
    seqs = [
        journal.append(learner, {"step": step, "nested": {"list": [step, None, 1.5]}})
        for step in range(LENGTH + 4)
    ]

    record = journal.exchanges(learner)

    assert [item["seq"] for item in record] == seqs[-LENGTH:]
    assert [item["step"] for item in record] == list(range(4, LENGTH + 4))
    assert record[-1]["nested"] == {"list": [LENGTH + 3, None, 1.5]}


def test_learners_are_kept_apart(journal, learner):
    other = secrets.token_urlsafe(16)
    journal.append(learner, {"whose": "mine"})
    journal.append(other, {"whose": "theirs"})

    mine, theirs = journal.exchanges(learner), journal.exchanges(other)
    journal.clear(other)

    assert [item["whose"] for item in mine] == ["mine"]
    assert [item["whose"] for item in theirs] == ["theirs"]


def test_index_add_evicts_the_oldest_past_the_cap(journal, learner):
    evicted, answered = [], []
    for number in range(CAP + 2):
        pushed_out, held = journal.index_add(learner, "redis", f"id{number}")
        evicted += pushed_out
        answered.append(held)
        time.sleep(0.002)

    assert evicted == ["id0", "id1"]
    assert answered[-1] == journal.index(learner, "redis") == ["id2", "id3", "id4"]
    assert answered[:2] == [["id0"], ["id0", "id1"]]


def test_index_is_per_store_and_discards(journal, learner):
    journal.index_add(learner, "redis", "a")
    journal.index_add(learner, "memory", "b")
    journal.index_discard(learner, "redis", ["a"])

    assert journal.index(learner, "redis") == []
    assert journal.index(learner, "memory") == ["b"]


def test_clear_forgets_record_and_index(journal, learner):
    journal.append(learner, {"step": 0})
    journal.index_add(learner, "redis", "a")

    journal.clear(learner)

    assert journal.exchanges(learner) == []
    assert journal.index(learner, "redis") == []


def test_redis_keys_expire_with_the_lifetime(redis_client, learner):
    journal = RedisJournal(redis_client, LENGTH, CAP, LIFETIME)
    journal.append(learner, {"step": 0})
    journal.index_add(learner, "redis", "a")

    keys = [f"lab:{learner}:{name}" for name in ("seq", "record", "index:redis")]
    ttls = [redis_client.ttl(key) for key in keys]
    journal.clear(learner)

    assert all(0 < ttl <= LIFETIME for ttl in ttls), ttls
