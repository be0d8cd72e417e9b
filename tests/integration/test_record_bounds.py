"""The record of lab exchanges stays bounded per learner, on a real Redis."""

import pytest
from redis import Redis

from app.stores import session_key

CAP, LENGTH = 3, 5
JSON = {"Accept": "application/json"}


@pytest.fixture
def redis_client(redis_url):
    client = Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def lab_client(make_app, redis_url):
    app = make_app(REDIS_URL=redis_url, SESSIONS_PER_LEARNER=CAP, RECORD_LENGTH=LENGTH)
    client = app.test_client()
    client.get("/api/settings")
    assert client.post("/api/settings", json={"store": "redis"}).status_code == 200
    yield client
    client.post("/api/reset")


def fresh_session_exchange(client, step: int) -> dict:
    client.delete_cookie("sid", path="/lab")
    form = {"key": "step", "value": str(step)}
    response = client.post("/lab/set", data=form, headers=JSON)
    assert response.status_code == 200
    return client.get("/api/exchanges").get_json()[-1]


def test_contents_after_an_exchange_are_what_redis_holds(lab_client, redis_client):
    record = fresh_session_exchange(lab_client, 0)
    learner = record["operations"][0]["key"].split(":")[1]

    (row,) = record["contents"]
    ttl = redis_client.ttl(session_key(learner, row["id"]))

    assert row["id"] == record["session_id"] and row["held"]
    assert row["data"]["step"] == "0"
    assert 0 < ttl <= 24 * 3600 and abs(row["ttl"] - ttl) < 5


def test_sessions_past_the_cap_are_destroyed_and_leave_the_contents(
    lab_client, redis_client
):
    records = [fresh_session_exchange(lab_client, step) for step in range(CAP + 2)]
    learner = records[0]["operations"][0]["key"].split(":")[1]
    ids = [record["session_id"] for record in records]

    last = records[-1]
    destroyed = [op for op in last["operations"] if op["op"] == "destroy"]
    held = [row["id"] for row in last["contents"]]
    exists = [redis_client.exists(session_key(learner, sid)) for sid in ids]

    assert held == ids[-CAP:]
    assert [op["why"] for op in destroyed] == ["lab limit per learner"]
    assert exists == [0, 0, 1, 1, 1]


def test_record_keeps_the_last_exchanges_only(lab_client):
    for step in range(LENGTH + 3):
        fresh_session_exchange(lab_client, step)

    record = lab_client.get("/api/exchanges").get_json()
    steps = [item["contents"][-1]["data"]["step"] for item in record]

    assert len(record) == LENGTH
    assert steps == [str(step) for step in range(3, LENGTH + 3)]
    assert [item["seq"] for item in record] == list(range(4, LENGTH + 4))
