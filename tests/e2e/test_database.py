"""Walk the database lesson in Chromium, holding the page to the real table.

The table is read with SQLite's own module on the file the specimen writes;
Redis with redis-py. Timings are checked for what they read and leave
behind, never for their speed.
"""

import re
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import msgspec
import pytest
from playwright.sync_api import expect
from redis import Redis

from .conftest import LiveServer
from .pages import LessonPage, browser_cookie, session_id

EXPIRY_WAIT_MS = 12_000


@pytest.fixture
def live_server(make_app, redis_url, memcached_servers):
    app = make_app(REDIS_URL=redis_url, MEMCACHED_SERVERS=memcached_servers)
    server = LiveServer(app)
    yield server
    server.stop()


class Table:
    """The specimen's SQLite table, read with sqlite3 on the file itself."""

    def __init__(self, app):
        self.path = Path(app.instance_path) / "specimen.sqlite3"
        self.name = app.config["SPECIMEN_SQL_TABLE"]

    def rows(self, prefix: str = "") -> list[tuple]:
        query = (
            f"SELECT id, session_id, data, expiry FROM {self.name} "
            "WHERE session_id LIKE ? ORDER BY id"
        )
        with sqlite3.connect(self.path) as connection:
            return connection.execute(query, (prefix + "%",)).fetchall()

    def expired(self, prefix: str = "") -> int:
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        return sum(
            1 for row in self.rows(prefix) if datetime.fromisoformat(row[3]) <= now
        )


def expect_borne_out(page) -> None:
    verdict = page.get_by_text("Your prediction is borne out by the record")
    expect(verdict).to_be_visible()


def cells(page, testid: str):
    return page.get_by_test_id(testid).locator("td")


def test_the_database_lesson_against_the_real_table(page, live_server, redis_url):
    lesson = LessonPage(page)
    table = Table(live_server.app)
    page.goto("/")

    # 1: SQLite is always here; the servers say how to enable them.
    lesson.open("database", 1)
    stores = page.locator("#demo-database-stores")
    expect(stores.locator('li[data-store="sqlite"]')).to_contain_text("configured")
    expect(stores.locator('li[data-store="postgresql"]')).to_contain_text(
        "Set POSTGRES_URL"
    )

    # 2 and 3: the row on the page is the row in the file.
    lesson.next_step()
    lesson.use_step_settings()
    lesson.send("Set colour to blue")
    held = session_id(browser_cookie(page, "sid")["value"])
    lesson.next_step()
    row = page.get_by_test_id("session-row")
    expect(row).to_be_visible()
    shown_key = page.get_by_test_id("row-session-id").inner_text()
    assert shown_key.endswith(f":sess:{held}")
    learner = shown_key.split(":")[1]
    (found,) = table.rows(shown_key)
    row_id, key, data, expiry = found
    assert key == shown_key
    expect(page.get_by_test_id("row-id")).to_contain_text(str(row_id))
    expect(page.get_by_test_id("row-hex")).to_have_text(data.hex(" "))
    expect(page.get_by_test_id("row-bytes")).to_have_text(str(len(data)))
    assert msgspec.msgpack.decode(data)["colour"] == "blue"
    shown_expiry = page.get_by_test_id("row-expiry").inner_text()
    assert abs(
        (datetime.fromisoformat(shown_expiry) - datetime.fromisoformat(expiry))
    ).total_seconds() < 1

    # 4: a read that changes nothing touches only the expiry column.
    lesson.next_step()
    lesson.use_step_settings()
    lesson.predict("It reads the row, then updates only its expiry column")
    lesson.send()
    expect_borne_out(page)
    (touched,) = table.rows(shown_key)
    assert touched[2] == data and touched[3] > expiry
    expect(page.get_by_test_id("row-expiry")).to_have_text(
        re.compile(re.escape(touched[3][:19]))
    )

    # 5: visitors' rows expire and stay, until the cleanup deletes them.
    lesson.next_step()
    page.get_by_role("button", name=re.compile("^Send 5 visitors")).click()
    expect(page.get_by_text("5 visitors came")).to_be_visible()
    expect(cells(page, "rows-visitors")).to_have_text(["5", "0"])
    others = [r for r in table.rows() if not r[1].startswith(f"lab:{learner}:")]
    assert len(others) == 5
    waited = 0
    while table.expired() < 5 and waited < EXPIRY_WAIT_MS:
        page.wait_for_timeout(250)
        waited += 250
    assert table.expired() == 5
    page.get_by_role("button", name="Count the rows").click()
    expect(cells(page, "rows-visitors")).to_have_text(["5", "5"])
    expect(cells(page, "rows-table")).to_have_text(["6", "5"])
    assert len(table.rows()) == 6

    page.get_by_role("button", name="Run Flask-Session's cleanup").click()
    expect(page.get_by_test_id("cleanup-deleted")).to_have_text("5")
    expect(cells(page, "after-table")).to_have_text(["1", "0"])
    assert [r[1] for r in table.rows()] == [shown_key]
    assert table.expired() == 0

    # 6: reads timed on every store here, copies removed after.
    lesson.next_step()
    page.get_by_role("button", name="Time the reads").click()
    for name in ("memory", "sqlite", "redis", "memcached"):
        expect(page.get_by_test_id(f"median-{name}")).to_have_text(
            re.compile(r"^\d+\.\d{3} ms$")
        )
        expect(page.get_by_test_id(f"p90-{name}")).to_have_text(
            re.compile(r"^\d+\.\d{3} ms$")
        )
    expect(page.locator('.timings tr[data-store="sqlite"]')).to_contain_text(
        "holds your real session"
    )
    expect(page.get_by_test_id("untimed")).to_contain_text("POSTGRES_URL is not set")
    redis = Redis.from_url(redis_url)
    try:
        assert redis.exists(shown_key) == 0
    finally:
        redis.close()
    assert [r[1] for r in table.rows()] == [shown_key]

    # 7: the end, with the prediction counted.
    lesson.next_step()
    lesson.next_step()
    progress = page.get_by_test_id("progress-database")
    expect(progress).to_contain_text("7 of 7 steps done")
    expect(progress).to_contain_text("predictions: 1 of 1 borne out")
