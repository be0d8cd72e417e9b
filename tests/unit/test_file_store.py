"""The file store on a real folder: what touch and peek do to the files."""

import shutil
import struct
import time

import pytest

from app.stores.filesystem import FileSystemStore

KEY = "lab:learner:sess:abc"
HEADER = struct.Struct("I")


@pytest.fixture
def store(tmp_path):
    return FileSystemStore(tmp_path / "files", threshold=100)


def expiry_of(path) -> int:
    return HEADER.unpack(path.read_bytes()[: HEADER.size])[0]


def set_expiry(path, expires: int) -> None:
    with open(path, "r+b") as handle:
        handle.write(HEADER.pack(expires))


def test_set_writes_the_expiry_then_the_session(store):
    store.set(KEY, {"colour": "teal"}, 60)

    path = store.path(KEY)
    assert expiry_of(path) == pytest.approx(time.time() + 60, abs=2)
    assert store.get(KEY) == {"colour": "teal"}


def test_touch_rewrites_the_expiry_and_not_the_session(store):
    store.set(KEY, {"colour": "teal"}, 60)
    path = store.path(KEY)
    before = path.read_bytes()

    store.touch(KEY, {"something": "else"}, 600)

    after = path.read_bytes()
    assert after[HEADER.size:] == before[HEADER.size:]
    assert expiry_of(path) == pytest.approx(time.time() + 600, abs=2)
    assert store.peek(KEY).ttl == pytest.approx(600, abs=2)


def test_touch_leaves_expired_and_missing_sessions_alone(store):
    store.set(KEY, {"colour": "teal"}, 60)
    path = store.path(KEY)
    set_expiry(path, int(time.time()) - 30)

    store.touch(KEY, {}, 600)
    store.touch("lab:learner:sess:none", {}, 600)

    assert expiry_of(path) == pytest.approx(time.time() - 30, abs=2)
    assert not store.path("lab:learner:sess:none").exists()


def test_peek_shows_an_expired_file_and_changes_nothing(store):
    store.set(KEY, {"colour": "teal"}, 60)
    path = store.path(KEY)
    set_expiry(path, int(time.time()) - 30)
    before = (path.read_bytes(), path.stat().st_mtime_ns)

    entry = store.peek(KEY)

    assert entry.data == {"colour": "teal"}
    assert entry.expired
    assert entry.ttl == pytest.approx(-30, abs=2)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    # cachelib itself treats the file as gone, yet leaves it on disk.
    assert store.get(KEY) is None
    assert path.exists()


def test_peek_answers_none_for_a_session_never_written(store):
    assert store.peek(KEY) is None


def test_destroy_removes_the_file(store):
    store.set(KEY, {"colour": "teal"}, 60)

    store.destroy(KEY)

    assert not store.path(KEY).exists()


def test_a_missing_folder_fails_loudly(store):
    store.ping()
    shutil.rmtree(store.folder)

    with pytest.raises(FileNotFoundError):
        store.ping()
    with pytest.raises(OSError, match="could not write"):
        store.set(KEY, {"colour": "teal"}, 60)
