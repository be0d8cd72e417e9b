"""Walk the cache lesson in Chromium, with the Redis and memcached the tests started.

Each demonstration is held against the server itself, read with a client of
the test's own (redis-py, memcached's text protocol), and against what the
browser really sent and holds.
"""

import re

import msgspec
import pytest
from playwright.sync_api import expect
from redis import Redis

from tests.integration.readers import MemcachedReader

from .conftest import LiveServer
from .pages import LessonPage, browser_cookie, cookie_value, session_id

SESSION_KEY = re.compile(r"^lab:([A-Za-z0-9_-]+):sess:[A-Za-z0-9_-]+$")
EXPIRY_WAIT_MS = 16_000


@pytest.fixture
def live_server(make_app, redis_url, memcached_servers):
    app = make_app(REDIS_URL=redis_url, MEMCACHED_SERVERS=memcached_servers)
    server = LiveServer(app)
    yield server
    server.stop()


@pytest.fixture
def redis(redis_url):
    client = Redis.from_url(redis_url)
    yield client
    client.close()


def keys(redis: Redis) -> set[str]:
    return {key.decode() for key in redis.scan_iter(count=1000)}


def specimen_sessions(redis: Redis) -> set[str]:
    return {key for key in keys(redis) if SESSION_KEY.match(key)}


def studio_sessions(redis: Redis) -> set[str]:
    return {key for key in keys(redis) if key.startswith("studio:")}


def learner_of(lesson: LessonPage) -> str:
    """Answer the learner ID in the keys of the learner's latest exchange."""
    operations = lesson.exchanges()[-1]["operations"]
    return SESSION_KEY.match(operations[-1]["key"])[1]


def expect_borne_out(page) -> None:
    verdict = page.get_by_text("Your prediction is borne out by the record")
    expect(verdict).to_be_visible()


def shown_count(page, testid: str) -> int:
    return int(page.get_by_test_id(testid).locator("td").first.inner_text())


def counted_when_still(page, redis: Redis, testid: str, read) -> tuple[int, int]:
    """Read a count on a fresh census taken between two equal readings of the server."""
    for _ in range(3):
        table = page.locator("#cache-keys .census")
        taken = table.get_attribute("data-taken")
        before = len(read(redis))
        page.get_by_role("button", name="Count the keys again").click()
        expect(table).not_to_have_attribute("data-taken", taken)
        shown = shown_count(page, testid)
        if len(read(redis)) == before:
            return shown, before
    raise AssertionError("the server kept changing while it was counted")


def lasting(redis: Redis, keys: set[str]) -> set[str]:
    """Answer the keys with no expiry or more than half a minute to live."""
    return {key for key in keys if redis.pttl(key) == -1 or redis.pttl(key) > 30_000}


def test_the_cache_lesson_against_the_real_servers(page, live_server, redis):
    lesson = LessonPage(page)
    page.goto("/")

    # 1: both caches answer here.
    lesson.open("cache", 1)
    for name in ("redis", "memcached"):
        item = page.locator(f'#demo-cache-stores li[data-store="{name}"]')
        expect(item).to_contain_text("configured and answering")
    expect(page.locator("#demo-cache-stores")).to_contain_text("in the same Redis")

    # 2: the note rides in a signed cookie.
    lesson.next_step()
    lesson.use_step_settings()
    given = lesson.send("Set a note")
    (header,) = given.header_values("set-cookie")
    name, value = cookie_value(header)
    cookie_store_bytes = len(f"{name}={value}".encode())
    assert browser_cookie(page, "sid")["value"] == value

    # 3: on Redis, the note stays on the server.
    lesson.next_step()
    lesson.use_step_settings()
    lesson.predict("Redis keeps it; the cookie the browser gets carries only")
    given = lesson.send("Set the same note")
    held = browser_cookie(page, "sid")
    note_id = session_id(held["value"])
    learner = learner_of(lesson)
    stored = msgspec.json.decode(redis.get(f"lab:{learner}:sess:{note_id}"))
    assert stored["note"].startswith("Sessions keep their data")
    assert "Sessions" not in held["value"]
    expect_borne_out(page)

    # 4: the sizes on the page are the cookies the browser was given.
    lesson.next_step()
    sizes = page.locator("#demo-cache-sizes")
    redis_bytes = len(f"sid={held['value']}".encode())
    expect(sizes.get_by_test_id("cookie-bytes-redis")).to_have_text(str(redis_bytes))
    expect(sizes.get_by_test_id("cookie-bytes-cookie")).to_have_text(
        str(cookie_store_bytes)
    )
    assert cookie_store_bytes > redis_bytes

    # 5: ten seconds to live, counted down, and the key really goes.
    lesson.next_step()
    lesson.use_step_settings()
    lesson.send("Set colour to blue")
    short_id = session_id(browser_cookie(page, "sid")["value"])
    short_key = f"lab:{learner}:sess:{short_id}"
    assert 0 < redis.pttl(short_key) <= 10_000
    countdown = lesson.panel("store").locator(f'[data-session-id="{short_id}"] .ttl')
    expect(countdown).to_have_text(re.compile(r"^\d+ s$"))
    page.get_by_role("button", name="Watch the server for 20 s").click()
    expect(page.get_by_test_id("server-holds")).to_be_visible()
    expect(page.get_by_test_id("server-gone")).to_be_visible(timeout=EXPIRY_WAIT_MS)
    assert redis.exists(short_key) == 0
    expect(countdown).to_have_text("expired")
    expect(page.locator("#cache-watch")).to_contain_text("Stopped watching")

    # 6: the cookie went with the store's entry.
    lesson.next_step()
    lesson.predict("The browser sends no cookie at all")
    after = lesson.send()
    assert "sid=" not in (after.request.all_headers().get("cookie") or "")
    expect_borne_out(page)

    # 7: the same on memcached.
    lesson.next_step()
    lesson.use_step_settings()
    lesson.send("Set colour to green")
    green_id = session_id(browser_cookie(page, "sid")["value"])
    green_key = f"lab:{learner}:sess:{green_id}"
    reader = MemcachedReader(live_server.app, learner)
    value, seconds = reader.meta_get(green_key)
    assert msgspec.msgpack.decode(value)["colour"] == "green" and 0 < seconds <= 10
    page.get_by_role("button", name="Watch the server for 20 s").click()
    expect(page.get_by_test_id("server-gone")).to_be_visible(timeout=EXPIRY_WAIT_MS)
    assert reader.meta_get(green_key) is None

    # 8: one Redis, two apps' keys, counted and only the learner's named.
    lesson.next_step()
    lesson.use_step_settings()
    lesson.send("Set colour to blue")
    blue_value = browser_cookie(page, "sid")["value"]
    blue_id = session_id(blue_value)
    census = page.locator("#cache-keys")
    expect(census).to_contain_text(f"lab:{learner}:sess:{blue_id}")
    expect(census).to_contain_text(f"lab:{learner}:record")
    shown, real = counted_when_still(page, redis, "keys-sessions", specimen_sessions)
    assert shown == real
    shown, real = counted_when_still(page, redis, "keys-studio", studio_sessions)
    assert shown == real >= 1
    studio_value = browser_cookie(page, "lab_learner")["value"]
    assert studio_value not in census.inner_text()
    expect(census.get_by_test_id("flushall-would")).to_contain_text("FLUSHALL")

    # 9: visitors come, then the flush takes every session and nothing else.
    lesson.next_step()
    expect(page.get_by_test_id("flush-scope")).to_contain_text("every learner's")
    page.get_by_role("button", name="Send 3 other visitors").click()
    expect(page.get_by_text("3 visitors came")).to_be_visible()
    sessions = specimen_sessions(redis)
    studio = studio_sessions(redis)
    assert f"lab:{learner}:sess:{blue_id}" in sessions
    assert len({SESSION_KEY.match(key)[1] for key in sessions} - {learner}) >= 3
    sure = lasting(redis, sessions)
    page.get_by_role("button", name="Flush the specimen's sessions").click()
    expect(page.get_by_test_id("flush-done")).to_be_visible()
    assert specimen_sessions(redis) == set()
    assert studio_sessions(redis) == studio
    # Keys that might expire on their own before the flush are not counted on.
    removed = int(page.get_by_test_id("flush-removed").inner_text())
    assert len(sure) <= removed <= len(sessions)
    expect(page.get_by_test_id("flush-sessions").locator("td")).to_have_text(
        [str(removed), "0"]
    )

    # 10: the browser still sends its cookie, and finds nothing.
    lesson.next_step()
    lesson.predict("the cache has nothing under that ID, and the server makes")
    answer = lesson.send()
    assert f"sid={blue_value}" in answer.request.all_headers()["cookie"]
    record = lesson.exchanges()[-1]
    assert (record["operations"][0]["op"], record["operations"][0]["result"]) == (
        "get",
        "miss",
    )
    new_id = session_id(browser_cookie(page, "sid")["value"])
    assert new_id != blue_id
    assert redis.exists(f"lab:{learner}:sess:{new_id}") == 1
    expect_borne_out(page)

    # 11: the end, with every prediction counted.
    lesson.next_step()
    lesson.next_step()
    progress = page.get_by_test_id("progress-cache")
    expect(progress).to_contain_text("11 of 11 steps done")
    expect(progress).to_contain_text("predictions: 3 of 3 borne out")
