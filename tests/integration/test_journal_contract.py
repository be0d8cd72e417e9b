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


def use(journal, learner: str, session_id: str, store: str = "redis"):
    """File an exchange that used a session, whatever the index held before."""
    return journal.file(learner, {"used": session_id}, store, session_id, [], None)


def test_filing_evicts_the_least_recently_used_past_the_cap(journal, learner):
    filings = []
    for number in range(CAP + 2):
        filings.append(use(journal, learner, f"id{number}"))
        time.sleep(0.002)

    # Past the cap the caller must destroy the evicted before it appends.
    assert [filing.evicted for filing in filings] == [[]] * CAP + [["id0"], ["id1"]]
    assert [filing.seq is None for filing in filings] == [False] * CAP + [True] * 2
    assert filings[-1].held == journal.index(learner, "redis") == ["id2", "id3", "id4"]
    assert filings[1].held == ["id0", "id1"]


def test_a_use_moves_a_session_last(journal, learner):
    for session_id in ("a", "b", "a"):
        use(journal, learner, session_id)
        time.sleep(0.002)

    assert journal.index(learner, "redis") == ["b", "a"]


def test_index_is_per_store_and_discards(journal, learner):
    use(journal, learner, "a")
    use(journal, learner, "b", store="memory")
    journal.index_discard(learner, "redis", ["a"])

    assert journal.index(learner, "redis") == []
    assert journal.index(learner, "memory") == ["b"]


def test_clear_forgets_record_and_index(journal, learner):
    use(journal, learner, "a")

    journal.clear(learner)

    assert journal.exchanges(learner) == []
    assert journal.index(learner, "redis") == []


def test_redis_keys_expire_with_the_lifetime(redis_client, learner):
    journal = RedisJournal(redis_client, LENGTH, CAP, LIFETIME)
    use(journal, learner, "a")

    keys = [f"lab:{learner}:{name}" for name in ("seq", "record", "index:redis")]
    ttls = [redis_client.ttl(key) for key in keys]
    journal.clear(learner)

    assert all(0 < ttl <= LIFETIME for ttl in ttls), ttls


def test_file_indexes_and_appends_when_the_index_is_as_expected(journal, learner):
    use(journal, learner, "a")
    time.sleep(0.002)

    filing = journal.file(learner, {"step": 1}, "redis", "b", [], ["a", "b"])

    assert filing.seq is not None
    assert filing.held == ["a", "b"] == journal.index(learner, "redis")
    assert journal.exchanges(learner)[-1] == {"step": 1, "seq": filing.seq}


def test_file_appends_nothing_when_the_index_is_not_as_expected(journal, learner):
    use(journal, learner, "made elsewhere")
    time.sleep(0.002)

    filing = journal.file(learner, {"step": 1}, "redis", "b", [], ["b"])

    # The index is updated all the same, and the caller learns what it holds.
    assert filing.seq is None
    assert filing.held == ["made elsewhere", "b"] == journal.index(learner, "redis")
    assert [exchange.get("step") for exchange in journal.exchanges(learner)] == [None]


def test_file_drops_the_gone_before_it_compares(journal, learner):
    use(journal, learner, "a")
    use(journal, learner, "b")

    filing = journal.file(learner, {"step": 1}, "redis", None, ["a"], ["b"])

    assert filing.seq is not None
    assert journal.index(learner, "redis") == ["b"]


def test_file_leaves_the_append_to_the_caller_past_the_cap(journal, learner):
    for number in range(CAP):
        use(journal, learner, f"id{number}")
        time.sleep(0.002)
    expected = [f"id{number}" for number in range(1, CAP)] + ["new"]

    filing = journal.file(learner, {"step": 1}, "redis", "new", [], expected)

    # The evicted session is still in the store: the caller destroys it first.
    assert (filing.seq, filing.evicted, filing.held) == (None, ["id0"], expected)
    assert len(journal.exchanges(learner)) == CAP


def test_file_without_an_expectation_always_appends(journal, learner):
    use(journal, learner, "made elsewhere")
    time.sleep(0.002)

    filing = journal.file(learner, {"step": 1}, "redis", "b", [], None)

    assert journal.exchanges(learner)[-1] == {"step": 1, "seq": filing.seq}
    assert filing.held == ["made elsewhere", "b"]


def reading(client, learner, used, gone=(), held=None):
    journal = RedisJournal(client, LENGTH, CAP, LIFETIME)
    prefix = f"test:{learner}:sess:"
    exchange = {"step": 1}
    filing = journal.file_reading(
        learner, exchange, "redis", used, list(gone), prefix, held
    )
    return journal, filing


def test_file_reading_records_the_sessions_as_stored(redis_client, learner):
    prefix = f"test:{learner}:sess:"
    redis_client.set(prefix + "a", b'{"colour":"blue","n":[1,2.5,null]}', ex=100)
    redis_client.set(prefix + "b", b'{}')
    use(RedisJournal(redis_client, LENGTH, CAP, LIFETIME), learner, "a")
    time.sleep(0.002)

    journal, filing = reading(redis_client, learner, "b", held="b")

    record = journal.exchanges(learner)[-1]
    redis_client.delete(prefix + "a", prefix + "b")
    assert filing.seq == record["seq"] and filing.held == ["a", "b"]
    first, second = record["contents"]
    assert first["id"] == "a"
    assert first["data"] == {"colour": "blue", "n": [1, 2.5, None]}
    assert 98 <= first["ttl"] <= 100 and first["held"] is False
    assert second == {
        "id": "b", "data": {}, "ttl": None, "expired": False, "held": True
    }
    assert record["step"] == 1


def test_file_reading_drops_what_the_store_no_longer_holds(redis_client, learner):
    prefix = f"test:{learner}:sess:"
    redis_client.set(prefix + "kept", b'{"k":1}', ex=100)
    use(RedisJournal(redis_client, LENGTH, CAP, LIFETIME), learner, "expired")

    journal, filing = reading(redis_client, learner, "kept", held="kept")

    redis_client.delete(prefix + "kept")
    assert filing.held == ["kept"] == journal.index(learner, "redis")
    assert [row["id"] for row in journal.exchanges(learner)[-1]["contents"]] == ["kept"]


def test_file_reading_leaves_a_value_not_json_to_the_caller(redis_client, learner):
    prefix = f"test:{learner}:sess:"
    redis_client.set(prefix + "old", b"\x81\xa1k\x01", ex=100)

    journal, filing = reading(redis_client, learner, "old", held="old")

    redis_client.delete(prefix + "old")
    assert (filing.seq, filing.held) == (None, ["old"])
    assert journal.exchanges(learner) == []
