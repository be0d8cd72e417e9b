"""The learner's record of exchanges, and the index of their specimen sessions.

Kept where every worker sees it: Redis when REDIS_URL is set, otherwise the
studio's SQLite database. Both are bounded per learner and expire.
"""

import json
import logging
import random
import time

import sqlalchemy as sa
from redis import Redis

log = logging.getLogger(__name__)


class RedisJournal:
    """A list per learner for the record and a sorted set per store for the index."""

    def __init__(self, client: Redis, length: int, cap: int, lifetime: int):
        self.client = client
        self.length = length
        self.cap = cap
        self.lifetime = lifetime

    def append(self, learner: str, exchange: dict) -> int:
        """Add an exchange, numbering it, and drop the oldest past the bound."""
        seq = self.client.incr(f"lab:{learner}:seq")
        exchange["seq"] = seq
        pipe = self.client.pipeline(transaction=False)
        pipe.rpush(f"lab:{learner}:record", json.dumps(exchange))
        pipe.ltrim(f"lab:{learner}:record", -self.length, -1)
        pipe.expire(f"lab:{learner}:record", self.lifetime)
        pipe.expire(f"lab:{learner}:seq", self.lifetime)
        pipe.execute()
        return seq

    def exchanges(self, learner: str) -> list:
        items = self.client.lrange(f"lab:{learner}:record", 0, -1)
        return [json.loads(item) for item in items]

    def index_add(self, learner: str, store: str, session_id: str) -> list:
        """Note a session the learner holds; answer IDs pushed past the cap."""
        key = f"lab:{learner}:index:{store}"
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(key, {session_id: time.time()})
        pipe.zrange(key, 0, -self.cap - 1)
        pipe.zremrangebyrank(key, 0, -self.cap - 1)
        pipe.expire(key, self.lifetime)
        evicted = pipe.execute()[1]
        return [item.decode() for item in evicted]

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

    def append(self, learner: str, exchange: dict) -> int:
        now = time.time()
        record = self.record
        with self.engine.begin() as connection:
            result = connection.execute(
                record.insert().values(
                    learner=learner,
                    body=json.dumps(exchange),
                    expires_at=now + self.lifetime,
                )
            )
            seq = result.inserted_primary_key[0]
            kept = (
                sa.select(record.c.seq)
                .where(record.c.learner == learner)
                .order_by(record.c.seq.desc())
                .limit(self.length)
                .subquery()
            )
            connection.execute(
                record.delete().where(
                    record.c.learner == learner,
                    record.c.seq < sa.select(sa.func.min(kept.c.seq)).scalar_subquery(),
                )
            )
            if random.random() < 0.01:
                self.expire(connection, now)
        exchange["seq"] = seq
        return seq

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

    def index_add(self, learner: str, store: str, session_id: str) -> list:
        now = time.time()
        held = self.held
        with self.engine.begin() as connection:
            mine = (held.c.learner == learner) & (held.c.store == store)
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
            evicted = ids[: max(0, len(ids) - self.cap)]
            if evicted:
                connection.execute(held.delete().where(mine, held.c.session_id.in_(evicted)))
        return list(evicted)

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
        held = self.held
        with self.engine.begin() as connection:
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
        with self.engine.begin() as connection:
            connection.execute(self.record.delete().where(self.record.c.learner == learner))
            connection.execute(self.held.delete().where(self.held.c.learner == learner))
