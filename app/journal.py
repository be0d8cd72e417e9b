"""The learner's record of exchanges, and the index of their specimen sessions.

Kept where every worker sees it: Redis when REDIS_URL is set, otherwise the
studio's SQLite database. Both are bounded per learner and expire.
"""

import json
import logging
import random
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass

import msgspec
import sqlalchemy as sa
from redis import Redis

log = logging.getLogger(__name__)


# The number is only known inside Redis, so the scripts write it into the
# exchange's JSON: Python sends the text that follows ``{"seq":0``.
APPEND_STEPS = """
local seq = redis.call('INCR', KEYS[1])
redis.call('RPUSH', KEYS[2], '{"seq":' .. seq .. body)
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[3])
"""
APPEND = "local body = ARGV[1]\n" + APPEND_STEPS + "return seq\n"
SEQ_PLACEHOLDER = b'{"seq":0'

# Both filing scripts first drop the gone (ARGV[9] on), note the session used
# (ARGV[6]) and push out the least recently used past the cap.
INDEX_STEPS = """
for i = 9, #ARGV do redis.call('ZREM', KEYS[3], ARGV[i]) end
if ARGV[6] ~= '' then redis.call('ZADD', KEYS[3], ARGV[4], ARGV[6]) end
local past = -tonumber(ARGV[5]) - 1
local evicted = redis.call('ZRANGE', KEYS[3], 0, past)
redis.call('ZREMRANGEBYRANK', KEYS[3], 0, past)
redis.call('EXPIRE', KEYS[3], ARGV[3])
local held = redis.call('ZRANGE', KEYS[3], 0, -1)
"""

# The record is appended only when the learner's index is the one the
# recorder read the store for (ARGV[7] says whether to compare, ARGV[8] lists
# the IDs it expects, oldest first).
FILE = (
    INDEX_STEPS
    + """
if #evicted > 0 or (ARGV[7] == '1' and table.concat(held, ' ') ~= ARGV[8]) then
  return {0, evicted, held}
end
local body = ARGV[1]
"""
    + APPEND_STEPS
    + "return {seq, evicted, held}\n"
)

# For sessions kept as JSON on this same server (the Redis store), the script
# reads each held session itself, under the key prefix ARGV[7], and puts it in
# the record as stored; ARGV[8] is the ID the browser holds. A value that is
# not a JSON object, or a push past the cap, leaves the append to the caller.
FILE_READING = (
    INDEX_STEPS
    + """
if #evicted > 0 then return {0, evicted, held} end
local rows, kept = {}, {}
for _, id in ipairs(held) do
  local key = ARGV[7] .. id
  local value = redis.call('GET', key)
  if not value then
    redis.call('ZREM', KEYS[3], id)
  elseif string.sub(value, 1, 1) ~= '{' then
    return {0, {}, held}
  else
    local pttl = redis.call('PTTL', key)
    local ttl = 'null'
    if pttl >= 0 then ttl = string.format('%.1f', pttl / 1000) end
    rows[#rows + 1] = '{"id":' .. cjson.encode(id) .. ',"data":' .. value
      .. ',"ttl":' .. ttl .. ',"expired":' .. tostring(pttl == 0)
      .. ',"held":' .. tostring(id == ARGV[8]) .. '}'
    kept[#kept + 1] = id
  end
end
local body = ARGV[1] .. ',"contents":[' .. table.concat(rows, ',') .. ']}'
"""
    + APPEND_STEPS
    + "return {seq, evicted, kept}\n"
)


# An exchange is encoded once per request, so a fast encoder pays.
encode = msgspec.json.encode


@dataclass(frozen=True)
class Filing:
    """What filing an exchange did to the learner's index, and its number.

    ``seq`` is None when the exchange was not appended: the index held other
    sessions than expected, or the cap pushed some out, so the caller must
    read the store again for ``held`` before it appends.
    """

    seq: int | None
    evicted: list
    held: list


class KnownIndexes:
    """What this process last saw of each learner's index, oldest first.

    A guess, never a source: the journal compares it with the real index when
    it files an exchange, so a stale guess costs a second read, not a wrong
    record. Bounded, dropping the learner seen least recently.
    """

    def __init__(self, limit: int = 4096):
        self.limit = limit
        self.seen: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def expect(self, slot: tuple, gone, used: str | None) -> list:
        """Answer the IDs the index should hold once this exchange is filed."""
        with self.lock:
            known = self.seen.get(slot, ())
        ids = [item for item in known if item not in gone and item != used]
        return ids + [used] if used else ids

    def remember(self, slot: tuple, held: list) -> None:
        with self.lock:
            self.seen[slot] = tuple(held)
            self.seen.move_to_end(slot)
            if len(self.seen) > self.limit:
                self.seen.popitem(last=False)


class RedisJournal:
    """A list per learner for the record and a sorted set per store for the index."""

    def __init__(self, client: Redis, length: int, cap: int, lifetime: int):
        self.client = client
        self.length = length
        self.cap = cap
        self.lifetime = lifetime
        self._append = client.register_script(APPEND)
        self._file = client.register_script(FILE)
        self._file_reading = client.register_script(FILE_READING)

    def append(self, learner: str, exchange: dict) -> int:
        """Add an exchange, numbering it, and drop the oldest past the bound.

        One round trip: every exchange a learner makes writes one.
        """
        exchange.pop("seq", None)
        body = encode({"seq": 0, **exchange})
        keys = [f"lab:{learner}:seq", f"lab:{learner}:record"]
        rest = body[len(SEQ_PLACEHOLDER):]
        seq = self._append(keys=keys, args=[rest, self.length, self.lifetime])
        exchange["seq"] = seq
        return seq

    def file(
        self,
        learner: str,
        exchange: dict,
        store: str,
        used: str | None,
        gone: list,
        expected: list | None,
    ) -> Filing:
        """Update the index and append the exchange, in one round trip.

        ``used`` is the session the exchange set or touched, ``gone`` the IDs
        to drop; ``expected`` the index the exchange's store contents were
        read for, or None to append whatever the index holds.
        """
        exchange.pop("seq", None)
        rest = encode({"seq": 0, **exchange})[len(SEQ_PLACEHOLDER):]
        check = "0" if expected is None else "1"
        flags = (check, " ".join(expected or ()))
        answer = self.run_filing(self._file, learner, rest, store, used, gone, flags)
        return self.filed(exchange, answer)

    def file_reading(
        self,
        learner: str,
        exchange: dict,
        store: str,
        used: str | None,
        gone: list,
        key_prefix: str,
        held: str | None,
    ) -> Filing:
        """Update the index, read the held sessions and append, in one call.

        Only for sessions kept as JSON on this server, under ``key_prefix``
        and the ID: the record's ``contents`` are the values as stored, with
        ``held`` marking the session the browser holds.
        """
        exchange.pop("seq", None)
        exchange.pop("contents", None)
        # Without its closing brace: the script adds the contents, then closes.
        rest = encode({"seq": 0, **exchange})[len(SEQ_PLACEHOLDER):-1]
        flags = (key_prefix, held or "")
        script = self._file_reading
        answer = self.run_filing(script, learner, rest, store, used, gone, flags)
        return self.filed(exchange, answer)

    def run_filing(self, script, learner, rest, store, used, gone, flags) -> list:
        """Run a filing script: ARGV as INDEX_STEPS reads it, flags 7 and 8."""
        keys = [
            f"lab:{learner}:seq",
            f"lab:{learner}:record",
            f"lab:{learner}:index:{store}",
        ]
        args = [
            rest, self.length, self.lifetime, time.time(), self.cap, used or "",
            *flags, *gone,
        ]
        return script(keys=keys, args=args)

    @staticmethod
    def filed(exchange: dict, answer: list) -> Filing:
        seq, evicted, held = answer
        if seq:
            exchange["seq"] = seq
        return Filing(
            seq or None,
            [item.decode() for item in evicted],
            [item.decode() for item in held],
        )

    def exchanges(self, learner: str) -> list:
        items = self.client.lrange(f"lab:{learner}:record", 0, -1)
        return [json.loads(item) for item in items]

    def index(self, learner: str, store: str) -> list:
        items = self.client.zrange(f"lab:{learner}:index:{store}", 0, -1)
        return [item.decode() for item in items]

    def index_discard(self, learner: str, store: str, session_ids) -> None:
        if session_ids:
            self.client.zrem(f"lab:{learner}:index:{store}", *session_ids)

    def holders(self, store: str, limit: int) -> list[tuple[str, str]]:
        """Answer up to limit (learner, session ID) pairs in a store, all learners'."""
        pairs, seen = [], set()
        for key in self.client.scan_iter(match=f"lab:*:index:{store}", count=1000):
            if key in seen:
                continue
            seen.add(key)
            learner = key.decode().split(":")[1]
            for session_id in self.client.zrange(key, 0, limit - len(pairs) - 1):
                pairs.append((learner, session_id.decode()))
            if len(pairs) >= limit:
                break
        return pairs

    def clear(self, learner: str) -> None:
        keys = list(self.client.scan_iter(match=f"lab:{learner}:index:*", count=100))
        self.client.delete(f"lab:{learner}:record", f"lab:{learner}:seq", *keys)


class SqlJournal:
    """The same, in two tables of the studio's database."""

    def __init__(self, engine: sa.Engine, length: int, cap: int, lifetime: int):
        self.engine = engine
        self.length = length
        self.cap = cap
        self.lifetime = lifetime
        metadata = sa.MetaData()
        self.record = sa.Table(
            "lab_record",
            metadata,
            sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("learner", sa.String(64), index=True, nullable=False),
            sa.Column("body", sa.Text, nullable=False),
            sa.Column("expires_at", sa.Float, index=True, nullable=False),
        )
        self.held = sa.Table(
            "lab_index",
            metadata,
            sa.Column("learner", sa.String(64), primary_key=True),
            sa.Column("store", sa.String(16), primary_key=True),
            sa.Column("session_id", sa.String(64), primary_key=True),
            sa.Column("added_at", sa.Float, nullable=False),
            sa.Column("expires_at", sa.Float, index=True, nullable=False),
        )
        metadata.create_all(engine, checkfirst=True)
        self._trim = self.trim_statement()
        self._writer = threading.Lock()

    @contextmanager
    def writing(self):
        """Open a write transaction, one thread of this process at a time.

        SQLite takes one writer at a time and makes the others poll, sleeping
        a millisecond or more between tries; threads queued on a lock instead
        go in as soon as the writer before them commits.
        """
        with self._writer, self.engine.begin() as connection:
            yield connection

    def trim_statement(self) -> sa.Delete:
        """Build, once, the delete of a learner's exchanges past the bound."""
        record = self.record
        mine = record.c.learner == sa.bindparam("learner")
        kept = (
            sa.select(record.c.seq)
            .where(mine)
            .order_by(record.c.seq.desc())
            .limit(self.length)
            .subquery()
        )
        oldest_kept = sa.select(sa.func.min(kept.c.seq)).scalar_subquery()
        return record.delete().where(mine, record.c.seq < oldest_kept)

    def append(self, learner: str, exchange: dict) -> int:
        with self.writing() as connection:
            return self.insert(connection, learner, exchange)

    def insert(self, connection, learner: str, exchange: dict) -> int:
        now = time.time()
        exchange.pop("seq", None)
        row = {
            "learner": learner,
            "body": encode(exchange).decode(),
            "expires_at": now + self.lifetime,
        }
        result = connection.execute(self.record.insert(), row)
        seq = result.inserted_primary_key[0]
        connection.execute(self._trim, {"learner": learner})
        if random.random() < 0.01:
            self.expire(connection, now)
        exchange["seq"] = seq
        return seq

    def file(
        self,
        learner: str,
        exchange: dict,
        store: str,
        used: str | None,
        gone: list,
        expected: list | None,
    ) -> Filing:
        """Update the index and append the exchange, in one transaction."""
        with self.writing() as connection:
            self.discard(connection, learner, store, gone)
            evicted, held = self.note(connection, learner, store, used)
            if evicted or (expected is not None and held != list(expected)):
                return Filing(None, evicted, held)
            return Filing(self.insert(connection, learner, exchange), evicted, held)

    def expire(self, connection, now: float) -> None:
        """Delete what has outlived the learner lifetime, for every learner."""
        connection.execute(self.record.delete().where(self.record.c.expires_at < now))
        connection.execute(self.held.delete().where(self.held.c.expires_at < now))

    def exchanges(self, learner: str) -> list:
        record = self.record
        query = (
            sa.select(record.c.seq, record.c.body)
            .where(record.c.learner == learner, record.c.expires_at >= time.time())
            .order_by(record.c.seq)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [{**json.loads(body), "seq": seq} for seq, body in rows]

    def note(self, connection, learner: str, store: str, session_id) -> tuple:
        """Note a use of a session, if any; answer the evicted and the held IDs."""
        now = time.time()
        held = self.held
        mine = (held.c.learner == learner) & (held.c.store == store)
        if session_id:
            this = mine & (held.c.session_id == session_id)
            query = sa.select(held.c.session_id).where(this)
            existing = connection.execute(query).first()
            # added_at is the last use, as the Redis index's score is, so the
            # bound evicts the session least recently used.
            if existing is None:
                connection.execute(
                    held.insert().values(
                        learner=learner,
                        store=store,
                        session_id=session_id,
                        added_at=now,
                        expires_at=now + self.lifetime,
                    )
                )
            else:
                connection.execute(
                    held.update()
                    .where(this)
                    .values(added_at=now, expires_at=now + self.lifetime)
                )
        ids = connection.execute(
            sa.select(held.c.session_id).where(mine).order_by(held.c.added_at)
        ).scalars().all()
        cut = max(0, len(ids) - self.cap)
        evicted = ids[:cut]
        if evicted:
            gone = held.delete().where(mine, held.c.session_id.in_(evicted))
            connection.execute(gone)
        return list(evicted), list(ids[cut:])

    def index(self, learner: str, store: str) -> list:
        held = self.held
        query = (
            sa.select(held.c.session_id)
            .where(held.c.learner == learner, held.c.store == store)
            .order_by(held.c.added_at)
        )
        with self.engine.connect() as connection:
            return list(connection.execute(query).scalars().all())

    def index_discard(self, learner: str, store: str, session_ids) -> None:
        if not session_ids:
            return
        with self.writing() as connection:
            self.discard(connection, learner, store, session_ids)

    def discard(self, connection, learner: str, store: str, session_ids) -> None:
        if not session_ids:
            return
        held = self.held
        connection.execute(
            held.delete().where(
                held.c.learner == learner,
                held.c.store == store,
                held.c.session_id.in_(list(session_ids)),
            )
        )

    def holders(self, store: str, limit: int) -> list[tuple[str, str]]:
        """Answer up to limit (learner, session ID) pairs in a store, all learners'."""
        held = self.held
        query = (
            sa.select(held.c.learner, held.c.session_id)
            .where(held.c.store == store, held.c.expires_at >= time.time())
            .limit(limit)
        )
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(query).all()]

    def clear(self, learner: str) -> None:
        with self.writing() as connection:
            record = self.record
            connection.execute(record.delete().where(record.c.learner == learner))
            connection.execute(self.held.delete().where(self.held.c.learner == learner))
