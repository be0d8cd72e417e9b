"""Read what each store really holds, with the server's own client.

None of this goes through the app's store classes: Redis is read with
redis-py, memcached over its own text protocol, SQL with a query, files with
open(), so a mistake in a store cannot hide itself in the check.
"""

import hashlib
import pickle
import socket
import sqlite3
import struct
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import unquote

import msgspec
import sqlalchemy as sa
from redis import Redis

# cachelib's file header: expiry in Unix seconds as a native unsigned int.
FILE_HEADER = struct.Struct("I")
FILE_COUNT = hashlib.sha256(b"__wz_cache_count").hexdigest()


@dataclass
class Held:
    """One session as the store keeps it: decoded, raw, and its time to live."""

    data: dict
    raw: bytes
    ttl: float | None


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Reader:
    """What a learner has in one store, by session ID."""

    # True where touch rewrites the whole entry instead of only its expiry.
    touch_rewrites = False

    def __init__(self, app, learner: str):
        self.app = app
        self.learner = learner
        self.prefix = f"lab:{learner}:sess:"

    def key(self, session_id: str) -> str:
        return self.prefix + session_id

    def sessions(self, known_ids) -> dict[str, Held]:
        raise NotImplementedError

    def shorten(self, session_id: str, seconds: int) -> None:
        """Set the session's remaining life to the given seconds, in the store."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class MemoryReader(Reader):
    touch_rewrites = True

    def __init__(self, app, learner):
        super().__init__(app, learner)
        self.cache = app.extensions["session_lab"].stores.get("memory").cache

    def sessions(self, known_ids):
        found = {}
        for key, (expires, value) in list(self.cache._cache.items()):
            live = expires == 0 or expires > time.time()
            if key.startswith(self.prefix) and live:
                ttl = None if expires == 0 else expires - time.time()
                found[key[len(self.prefix):]] = Held(pickle.loads(value), value, ttl)
        return found

    def shorten(self, session_id, seconds):
        _, value = self.cache._cache[self.key(session_id)]
        self.cache._cache[self.key(session_id)] = (time.time() + seconds, value)


class FileReader(Reader):
    """Files are named by a hash of the key, so IDs come from the exchanges."""

    def __init__(self, app, learner):
        super().__init__(app, learner)
        self.folder = Path(app.instance_path) / "specimen_files"

    def name(self, session_id):
        return hashlib.sha256(self.key(session_id).encode()).hexdigest()

    def sessions(self, known_ids):
        names = {self.name(session_id): session_id for session_id in known_ids}
        files = [p for p in self.folder.iterdir() if p.name != FILE_COUNT]
        unknown = [p.name for p in files if p.name not in names]
        assert not unknown, f"files the exchanges do not explain: {unknown}"

        found = {}
        for path in files:
            raw = path.read_bytes()
            (expires,) = FILE_HEADER.unpack(raw[: FILE_HEADER.size])
            body = raw[FILE_HEADER.size:]
            ttl = None if expires == 0 else expires - time.time()
            found[names[path.name]] = Held(pickle.loads(body), body, ttl)
        return found

    def shorten(self, session_id, seconds):
        with open(self.folder / self.name(session_id), "r+b") as handle:
            handle.write(FILE_HEADER.pack(int(time.time()) + seconds))


class SqlReader(Reader):
    """Rows are read with a plain query; expired rows are rows too."""

    def __init__(self, app, learner, url: str | None = None):
        super().__init__(app, learner)
        self.table = app.config["SPECIMEN_SQL_TABLE"]
        if url is None:
            path = Path(app.instance_path) / "specimen.sqlite3"
            self.engine = None
            self.connection = sqlite3.connect(path)
        else:
            self.engine = sa.create_engine(url)

    def rows(self):
        query = (
            f"SELECT session_id, data, expiry FROM {self.table} "
            "WHERE session_id LIKE :prefix"
        )
        pattern = self.prefix + "%"
        if self.engine is None:
            rows = self.connection.execute(
                query.replace(":prefix", "?"), (pattern,)
            ).fetchall()
            return [(k, d, datetime.fromisoformat(e)) for k, d, e in rows]
        with self.engine.connect() as connection:
            return connection.execute(sa.text(query), {"prefix": pattern}).all()

    def sessions(self, known_ids):
        found = {}
        for key, data, expiry in self.rows():
            raw = bytes(data)
            ttl = (expiry - utc_now()).total_seconds()
            found[key[len(self.prefix):]] = Held(msgspec.msgpack.decode(raw), raw, ttl)
        return found

    def shorten(self, session_id, seconds):
        expiry = utc_now() + timedelta(seconds=seconds)
        update = f"UPDATE {self.table} SET expiry = :expiry WHERE session_id = :key"
        if self.engine is None:
            text = expiry.strftime("%Y-%m-%d %H:%M:%S.%f")
            self.connection.execute(
                update.replace(":expiry", "?").replace(":key", "?"),
                (text, self.key(session_id)),
            )
            self.connection.commit()
            return
        with self.engine.begin() as connection:
            connection.execute(
                sa.text(update), {"expiry": expiry, "key": self.key(session_id)}
            )

    def close(self):
        if self.engine is None:
            self.connection.close()
        else:
            self.engine.dispose()


class RedisReader(Reader):
    def __init__(self, app, learner):
        super().__init__(app, learner)
        self.client = Redis.from_url(app.config["REDIS_URL"])

    def sessions(self, known_ids):
        found = {}
        for key in self.client.scan_iter(match=f"{self.prefix}*", count=500):
            raw, pttl = self.client.get(key), self.client.pttl(key)
            if raw is None:
                continue
            ttl = None if pttl < 0 else pttl / 1000
            session_id = key.decode()[len(self.prefix):]
            found[session_id] = Held(msgspec.json.decode(raw), raw, ttl)
        return found

    def shorten(self, session_id, seconds):
        self.client.expire(self.key(session_id), seconds)

    def close(self):
        self.client.close()


class MemcachedReader(Reader):
    """memcached's own listing (lru_crawler metadump) and meta get, by hand."""

    def __init__(self, app, learner):
        super().__init__(app, learner)
        host, port = app.config["MEMCACHED_SERVERS"].rsplit(":", 1)
        self.address = (host, int(port))

    def talk(self, command: bytes, complete) -> bytes:
        with socket.create_connection(self.address, timeout=5) as connection:
            connection.sendall(command)
            answer = b""
            while not complete(answer):
                chunk = connection.recv(65536)
                assert chunk, f"memcached closed the connection after {answer!r}"
                answer += chunk
        return answer

    def keys(self) -> list[str]:
        dump = self.talk(
            b"lru_crawler metadump all\r\n", lambda answer: answer.endswith(b"END\r\n")
        )
        keys = []
        for line in dump.decode().splitlines():
            if line.startswith("key="):
                keys.append(unquote(line.split()[0][len("key="):]))
        return [key for key in keys if key.startswith(self.prefix)]

    def meta_get(self, key: str) -> tuple[bytes, int] | None:
        """Answer the value and remaining seconds, reading the value by its size."""
        answer = self.talk(f"mg {key} t v\r\n".encode(), value_complete)
        head, _, rest = answer.partition(b"\r\n")
        if head == b"EN":
            return None
        _, size, *flags = head.split()
        ttl = next(int(flag[1:]) for flag in flags if flag.startswith(b"t"))
        return rest[: int(size)], ttl

    def sessions(self, known_ids):
        # The crawler's dump is no snapshot: an item moving between LRUs (a touch
        # moves it) can be missed, so every ID seen in the record is asked too.
        found = {}
        keys = set(self.keys()) | {self.key(session_id) for session_id in known_ids}
        for key in sorted(keys):
            item = self.meta_get(key)
            if item is None:
                continue
            raw, ttl = item
            found[key[len(self.prefix):]] = Held(
                msgspec.msgpack.decode(raw), raw, None if ttl < 0 else float(ttl)
            )
        return found

    def shorten(self, session_id, seconds):
        command = f"touch {self.key(session_id)} {seconds}\r\n".encode()
        answer = self.talk(command, lambda answer: answer.endswith(b"\r\n"))
        assert answer == b"TOUCHED\r\n", answer


def value_complete(answer: bytes) -> bool:
    """Answer whether a meta get's answer has all arrived: EN, or VA and the value."""
    head, found, rest = answer.partition(b"\r\n")
    if not found:
        return False
    if not head.startswith(b"VA "):
        return True
    return len(rest) >= int(head.split()[1]) + 2


def reader_for(name: str, app, learner: str) -> Reader:
    """Answer a reader of the named store, as the app is configured."""
    if name == "memory":
        return MemoryReader(app, learner)
    if name == "filesystem":
        return FileReader(app, learner)
    if name == "sqlite":
        return SqlReader(app, learner)
    if name == "postgresql":
        return SqlReader(app, learner, app.config["POSTGRES_URL"])
    if name == "mysql":
        return SqlReader(app, learner, app.config["MYSQL_URL"])
    if name == "redis":
        return RedisReader(app, learner)
    if name == "memcached":
        return MemcachedReader(app, learner)
    raise ValueError(f"no reader for the {name} store")
