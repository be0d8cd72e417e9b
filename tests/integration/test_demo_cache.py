"""The cache lesson's demos against the real Redis and memcached the tests started.

What each demo shows is held against the server itself, read with a client of
the test's own: redis-py for Redis, memcached's text protocol for memcached.
"""

import re
import socket
import time

import msgspec
import pytest
from redis import Redis

from tests import services
from tests.integration.conftest import Learner, sent_id, set_cookies
from tests.integration.fragments import Fragment
from tests.integration.readers import MemcachedReader

HTMX = {"HX-Request": "true"}
SESSION_KEY = re.compile(r"^lab:([A-Za-z0-9_-]+):sess:[A-Za-z0-9_-]+$")
NOTE = (
    "Sessions keep their data where their store keeps it. In a signed cookie, "
    "all of it travels to the browser and back on every request; in a cache, "
    "the browser only carries a name for it, and the data stays on a server."
)


@pytest.fixture
def cache_app(make_app, redis_url, memcached_servers):
    return make_app(REDIS_URL=redis_url, MEMCACHED_SERVERS=memcached_servers)


@pytest.fixture
def redis(redis_url):
    client = Redis.from_url(redis_url)
    yield client
    client.close()


def learner_on(app, store: str, **settings) -> Learner:
    one = Learner(app.test_client())
    one.configure(store=store, **settings)
    return one


def demo(learner: Learner, method: str, path: str, **options):
    answer = learner.client.open(
        f"/demos/cache/{path}", method=method, headers=HTMX, **options
    )
    return answer, Fragment(answer.get_data(as_text=True))


def redis_keys(redis: Redis) -> set[str]:
    return {key.decode() for key in redis.scan_iter(count=1000)}


def session_keys(keys) -> set[str]:
    return {key for key in keys if SESSION_KEY.match(key)}


def memcached_holds(app, key: str) -> bool:
    """Ask memcached for the key with a meta get, on a socket of our own."""
    return MemcachedReader(app, "").meta_get(key) is not None


def memcached_items(app) -> int:
    reader = MemcachedReader(app, "")
    stats = reader.talk(b"stats\r\n", lambda answer: answer.endswith(b"END\r\n"))
    lines = stats.decode().splitlines()
    (line,) = [line for line in lines if line.startswith("STAT curr_items ")]
    return int(line.split()[2])


def memcached_sessions(app, redis: Redis) -> dict[str, int]:
    """Answer the indexed session keys memcached holds, with their seconds left."""
    reader = MemcachedReader(app, "")
    held = {}
    for key in indexed_keys(redis, "memcached"):
        item = reader.meta_get(key)
        if item is not None:
            held[key] = item[1]
    return held


def indexed_keys(redis: Redis, store: str) -> set[str]:
    """Answer the session keys the lab's index names in a store, every learner's."""
    keys = set()
    for index in redis.scan_iter(match=f"lab:*:index:{store}", count=1000):
        learner = index.decode().split(":")[1]
        for session_id in redis.zrange(index, 0, -1):
            keys.add(f"lab:{learner}:sess:{session_id.decode()}")
    return keys


def memcached_set(app, key: str, value: bytes, seconds: int) -> None:
    host, port = app.config["MEMCACHED_SERVERS"].rsplit(":", 1)
    command = b"set %s 0 %d %d\r\n%s\r\n" % (key.encode(), seconds, len(value), value)
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(command)
        assert connection.recv(100) == b"STORED\r\n"


def test_the_lesson_reads_and_says_how_to_enable_a_missing_cache(client):
    client.get("/")
    for number in range(1, 12):
        assert client.get(f"/lessons/cache/{number}").status_code == 200

    page = squeezed(client.get("/lessons/cache/1").get_data(as_text=True))
    assert page.count("not available here") == 2
    assert "Set REDIS_URL, for example redis://127.0.0.1:6379/0, and restart." in page
    assert "Set MEMCACHED_SERVERS, for example 127.0.0.1:11211, and restart." in page
    assert "in SQLite, because REDIS_URL is not set" in page

    predict = client.get("/lessons/cache/3").get_data(as_text=True)
    assert "This step's settings cannot be used here" in predict
    assert "REDIS_URL is not set" in predict
    refused = client.post("/lessons/cache/3/apply", headers=HTMX)
    assert "REDIS_URL is not set" in refused.get_data(as_text=True)
    assert client.get("/api/settings").json["store"] == "memory"


@pytest.mark.parametrize(
    "method, path", [("GET", "keys"), ("POST", "visitors"), ("POST", "flush")]
)
def test_a_demo_on_a_store_that_is_not_a_cache_says_what_to_do(client, method, path):
    learner = Learner(client)

    answer, _ = demo(learner, method, path)

    assert answer.status_code == 400
    assert "choose Redis or Memcached" in answer.get_data(as_text=True)


def test_the_cookie_sizes_are_the_set_cookie_the_client_received(cache_app):
    learner = Learner(cache_app.test_client())
    sizes = {}
    for store in ("cookie", "redis"):
        learner.configure(store=store)
        learner.client.delete_cookie("sid", path="/lab")
        answer = learner.write("note", NOTE)
        (header,) = set_cookies(answer)
        sizes[store] = len(header.split(";", 1)[0].encode())

    _, fragment = demo(learner, "GET", "sizes")

    assert int(fragment.text("cookie-bytes-cookie")) == sizes["cookie"]
    assert int(fragment.text("cookie-bytes-redis")) == sizes["redis"]
    # The signed ID alone, as the cookie the client holds.
    held = learner.cookie("sid")
    assert sizes["redis"] == len(f"sid={held}".encode())
    assert sizes["cookie"] > sizes["redis"] + 100


@pytest.mark.parametrize("store", ["redis", "memcached"])
def test_the_watch_asks_the_server_until_the_entry_is_gone(cache_app, redis, store):
    learner = learner_on(cache_app, store, max_age=2)
    session_id = sent_id(learner.write("colour", "blue"))
    key = learner.key(session_id)

    answer, fragment = demo(learner, "GET", "watch", query_string={"left": "5"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert key in html
    assert 0 < float(fragment.text("server-ttl")) <= 2
    assert 'hx-get="/demos/cache/watch?left=4"' in html

    deadline = time.monotonic() + 6
    while server_has(cache_app, redis, store, key) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not server_has(cache_app, redis, store, key)

    answer, fragment = demo(learner, "GET", "watch", query_string={"left": "4"})
    html = answer.get_data(as_text=True)
    assert fragment.has("server-gone") and not fragment.has("server-holds")
    assert "hx-get" not in html


def server_has(app, redis: Redis, store: str, key: str) -> bool:
    if store == "redis":
        return bool(redis.exists(key))
    return memcached_holds(app, key)


@pytest.mark.parametrize("left", ["-1", "31", "soon", ""])
def test_the_watch_refuses_a_count_out_of_bounds(cache_app, left):
    learner = learner_on(cache_app, "redis")
    learner.write("colour", "blue")

    answer, _ = demo(learner, "GET", "watch", query_string={"left": left})

    assert answer.status_code == 400
    assert "left must be a whole number from 0 to 30" in answer.get_data(as_text=True)


def test_the_census_counts_every_key_and_names_only_the_learners(cache_app, redis):
    ada = learner_on(cache_app, "redis")
    bob = learner_on(cache_app, "redis")
    ada_id = sent_id(ada.write("colour", "blue"))
    bob.write("colour", "green")
    redis.set("another-app:cart:42", b"kept")

    fragment, after = census_when_still(ada, redis)

    studio = {key for key in after if key.startswith("studio:")}
    sessions = session_keys(after)
    records = {
        key for key in after if key.startswith("lab:") and key not in sessions
    }
    others = after - studio - sessions - records
    assert fragment.numbers("keys-studio")[0] == len(studio)
    assert fragment.numbers("keys-records")[0] == len(records)
    assert fragment.numbers("keys-sessions")[0] == len(sessions)
    assert fragment.numbers("keys-other")[0] == len(others) >= 1
    assert int(fragment.text("keys-total")) == len(after)

    page = squeezed(demo(ada, "GET", "keys")[0].get_data(as_text=True))
    assert ada.key(ada_id) in page
    assert f"lab:{ada.id}:record" in page
    assert bob.id not in page
    assert ada.client.get_cookie("lab_learner").value not in page
    assert f"would delete all {len(after)} keys" in page


def census_when_still(learner: Learner, redis: Redis):
    """Take a census between two equal readings of the server; answer both."""
    for _ in range(3):
        before = redis_keys(redis)
        _, fragment = demo(learner, "GET", "keys")
        if redis_keys(redis) == before:
            return fragment, before
    raise AssertionError("the server kept changing while it was counted")


def lasting(redis: Redis, keys: set[str]) -> set[str]:
    """Answer the keys with no expiry or more than half a minute to live."""
    return {key for key in keys if redis.pttl(key) == -1 or redis.pttl(key) > 30_000}


def squeezed(html: str) -> str:
    return re.sub(r"\s+", " ", html)


def test_visitors_are_learners_of_their_own_and_come_back_the_same(cache_app, redis):
    learner = learner_on(cache_app, "redis")
    learner.write("colour", "blue")
    record = learner.exchanges()
    studio_before = {k for k in redis_keys(redis) if k.startswith("studio:")}

    answer, fragment = demo(learner, "POST", "visitors")
    studio_after = {k for k in redis_keys(redis) if k.startswith("studio:")}
    again, _ = demo(learner, "POST", "visitors")
    studio_again = {k for k in redis_keys(redis) if k.startswith("studio:")}

    assert answer.status_code == again.status_code == 200
    assert len(studio_after - studio_before) == 3
    assert studio_again == studio_after
    assert learner.exchanges() == record
    with learner.client.session_transaction() as studio_session:
        visitors = [item["learner"] for item in studio_session["visitors"]]
    assert len(set(visitors)) == 3 and learner.id not in visitors
    held = session_keys(redis_keys(redis))
    for visitor in visitors:
        mine = [key for key in held if key.startswith(f"lab:{visitor}:sess:")]
        assert len(mine) == 2
        assert msgspec.json.decode(redis.get(mine[0]))["visit"] == "1"
    assert "your visitors' 3," in fragment.text("sessions-before")


def test_the_flush_empties_everyones_sessions_and_leaves_the_studio(cache_app, redis):
    ada = learner_on(cache_app, "redis")
    bob = learner_on(cache_app, "redis")
    ada_id = sent_id(ada.write("colour", "blue"))
    bob_id = sent_id(bob.write("colour", "green"))
    demo(ada, "POST", "visitors")
    redis.set("another-app:cart:42", b"kept")

    keys = redis_keys(redis)
    sessions = session_keys(keys)
    kept = lasting(redis, keys - sessions)
    sure = lasting(redis, sessions)
    assert {ada.key(ada_id), bob.key(bob_id)} <= sure

    answer, fragment = demo(ada, "POST", "flush")

    after = redis_keys(redis)
    assert answer.status_code == 200
    assert session_keys(after) == set()
    assert kept <= after
    assert redis.get("another-app:cart:42") == b"kept"
    # Keys that might expire on their own before the flush are not counted on.
    removed = int(fragment.text("flush-removed"))
    assert len(sure) <= removed <= len(sessions)
    assert fragment.numbers("flush-sessions") == [removed, 0]
    assert fragment.numbers("flush-yours") == [1, 0]
    assert fragment.numbers("flush-visitors") == [3, 0]
    studio = len({key for key in after if key.startswith("studio:")})
    assert fragment.numbers("flush-studio")[1] == studio

    # Both browsers still send their cookies, and find nothing.
    for learner, old in ((ada, ada_id), (bob, bob_id)):
        answer = learner.read()
        record = learner.last()
        first = record["operations"][0]
        assert record["cookie_id"] == old
        assert (first["op"], first["result"]) == ("get", "miss")
        assert sent_id(answer) not in (None, old)
    assert ada.settings["store"] == "redis"


def test_a_class_flush_takes_only_the_learners_and_visitors_sessions(
    make_app, redis_url, redis
):
    app = make_app(REDIS_URL=redis_url, DEMO_FLUSH_ALLOWED=False)
    ada = learner_on(app, "redis")
    bob = learner_on(app, "redis")
    ada_id = sent_id(ada.write("colour", "blue"))
    bob_id = sent_id(bob.write("colour", "green"))
    demo(ada, "POST", "visitors")
    page = ada.client.get("/lessons/cache/9").get_data(as_text=True)
    assert "DEMO_FLUSH_ALLOWED is off" in page

    answer, fragment = demo(ada, "POST", "flush")

    left = session_keys(redis_keys(redis))
    assert answer.status_code == 200
    assert bob.key(bob_id) in left
    assert ada.key(ada_id) not in left
    with ada.client.session_transaction() as studio_session:
        visitors = [item["learner"] for item in studio_session["visitors"]]
    assert not [key for key in left if SESSION_KEY.match(key)[1] in visitors]
    assert int(fragment.text("flush-removed")) == 4
    assert fragment.numbers("flush-others")[1] >= 1
    assert "yours and your visitors' only" in fragment.text("flush-done")


def test_the_flush_on_memcached_deletes_only_specimen_sessions(cache_app, redis):
    ada = learner_on(cache_app, "memcached")
    ada_id = sent_id(ada.write("colour", "blue"))
    demo(ada, "POST", "visitors")
    memcached_set(cache_app, "another-app:cart:42", b"kept", 300)

    for _ in range(3):
        held = memcached_sessions(cache_app, redis)
        items_before = memcached_items(cache_app)
        census = demo(ada, "GET", "keys")[1]
        items_after = memcached_items(cache_app)
        if memcached_sessions(cache_app, redis) == held:
            break
    assert ada.key(ada_id) in held and len(held) >= 4
    assert census.numbers("keys-sessions")[0] == len(held)
    other = census.numbers("keys-other")[0]
    low, high = sorted((items_before, items_after))
    assert low - len(held) <= other <= high - len(held)
    assert not census.has("keys-studio")

    sure = {key for key, seconds in held.items() if seconds == -1 or seconds > 30}
    answer, fragment = demo(ada, "POST", "flush")

    assert answer.status_code == 200
    assert memcached_sessions(cache_app, redis) == {}
    assert memcached_holds(cache_app, "another-app:cart:42")
    # Keys that might expire on their own before the flush are not counted on.
    removed = int(fragment.text("flush-removed"))
    assert len(sure) <= removed <= len(held)
    assert fragment.numbers("flush-sessions") == [removed, 0]
    assert "flush_all" in answer.get_data(as_text=True)

    ada.read()
    assert ada.last()["operations"][0]["result"] == "miss"


def test_a_demo_says_so_when_the_cache_does_not_answer(make_app, memcached_server):
    relay = services.Relay("127.0.0.1", memcached_server.port)
    app = make_app(MEMCACHED_SERVERS=f"127.0.0.1:{relay.port}")
    learner = learner_on(app, "memcached")
    learner.write("colour", "blue")
    relay.stop()

    for method, path in (("GET", "watch"), ("GET", "keys"), ("POST", "flush")):
        answer, _ = demo(learner, method, path)
        assert answer.status_code == 503, path
        assert "did not answer" in answer.get_data(as_text=True), path
