"""The SQL store on a real SQLite file: touch, peek, counting and cleanup."""

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from app.stores.sql import SqlStore, engine_options

TABLE = "lab_sessions"
KEY = "lab:learner:sess:abc"


@pytest.fixture
def database(tmp_path):
    return tmp_path / "specimen.sqlite3"


@pytest.fixture
def store(database):
    made = SqlStore(
        "sqlite",
        f"sqlite:///{database}",
        TABLE,
        engine_options("sqlite", 1.0),
        timedelta(days=1),
    )
    yield made
    made.close()


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def row(database, key=KEY):
    with sqlite3.connect(database) as connection:
        found = connection.execute(
            f"SELECT data, expiry FROM {TABLE} WHERE session_id = ?", (key,)
        ).fetchone()
    if found is None:
        return None
    return found[0], datetime.fromisoformat(found[1])


def move_expiry(database, key, seconds_from_now: float) -> None:
    expiry = utc_now() + timedelta(seconds=seconds_from_now)
    with sqlite3.connect(database) as connection:
        connection.execute(
            f"UPDATE {TABLE} SET expiry = ? WHERE session_id = ?",
            (expiry.strftime("%Y-%m-%d %H:%M:%S.%f"), key),
        )


def seconds_left(expiry: datetime) -> float:
    return (expiry - utc_now()).total_seconds()


def test_touch_moves_the_expiry_and_not_the_data(store, database):
    store.set(KEY, {"colour": "teal"}, 60)
    data, _ = row(database)

    store.touch(KEY, {"something": "else"}, 900)

    touched, expiry = row(database)
    assert touched == data
    assert seconds_left(expiry) == pytest.approx(900, abs=2)


def test_touch_does_not_revive_an_expired_row(store, database):
    store.set(KEY, {"colour": "teal"}, 60)
    move_expiry(database, KEY, -30)

    store.touch(KEY, {}, 900)

    assert seconds_left(row(database)[1]) == pytest.approx(-30, abs=2)


def test_peek_keeps_an_expired_row_that_get_then_deletes(store, database):
    store.set(KEY, {"colour": "teal"}, 60)
    move_expiry(database, KEY, -30)

    entry = store.peek(KEY)
    assert entry.data == {"colour": "teal"}
    assert entry.expired
    assert entry.ttl == pytest.approx(-30, abs=2)
    assert row(database) is not None

    assert store.get(KEY) is None
    assert row(database) is None


def test_count_rows_takes_the_prefix_literally(store, database):
    store.set("lab:a_b:sess:one", {}, 60)
    store.set("lab:aXb:sess:two", {}, 60)
    store.set("lab:a_b:sess:three", {}, 60)
    move_expiry(database, "lab:a_b:sess:three", -5)

    assert store.count_rows("lab:a_b:") == {"rows": 2, "expired": 1}
    assert store.count_rows() == {"rows": 3, "expired": 1}


def test_clean_up_deletes_every_expired_row(store, database):
    store.set("lab:one:sess:live", {}, 60)
    store.set("lab:one:sess:dead", {}, 60)
    store.set("lab:two:sess:dead", {}, 60)
    move_expiry(database, "lab:one:sess:dead", -5)
    move_expiry(database, "lab:two:sess:dead", -5)

    assert store.clean_up("lab:one:") == {
        "before": {"rows": 2, "expired": 1},
        "after": {"rows": 1, "expired": 0},
    }
    assert row(database, "lab:two:sess:dead") is None
    assert row(database, "lab:one:sess:live") is not None


def test_sweep_removes_only_rows_expired_a_lifetime_ago(store, database):
    store.set("lab:one:sess:forgotten", {}, 60)
    store.set("lab:one:sess:recent", {}, 60)
    move_expiry(database, "lab:one:sess:forgotten", -2 * 24 * 3600)
    move_expiry(database, "lab:one:sess:recent", -3600)

    store._swept_at = float("-inf")
    store.sweep()

    assert row(database, "lab:one:sess:forgotten") is None
    assert row(database, "lab:one:sess:recent") is not None
