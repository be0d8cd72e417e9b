"""The Redis store: Flask-Session's Redis interface, with touch as EXPIRE.

Sessions are kept in Flask-Session's JSON format: readable as they are with
redis-cli, and the journal, on the same server, copies them into the record
exactly as stored.
"""

from flask_session.redis import RedisSessionInterface
from redis import Redis

from .base import Entry, Store

# SCAN's hint of how many keys to look at per call, and how many deletes go
# in one DEL: large enough to be quick, small enough not to stall the server.
SCAN_STEP = 1000
DELETE_BATCH = 500

# Each key's value (false when absent) and milliseconds to live, in one call
# however many sessions a learner holds.
PEEK = """
local answer = {}
for i, key in ipairs(KEYS) do
  answer[2 * i - 1] = redis.call('GET', key)
  answer[2 * i] = redis.call('PTTL', key)
end
return answer
"""


class RedisStore(Store):
    """Keep sessions in Redis under the learner's prefix, with a TTL each."""

    name = "redis"
    title = "Redis"
    kind = "cache"

    def __init__(self, url: str, timeout: float):
        self.url = url
        self.client = Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        interface = RedisSessionInterface(
            None, client=self.client, key_prefix="", serialization_format="json"
        )
        super().__init__(interface)
        self._peek = self.client.register_script(PEEK)

    def touch(self, key, data, ttl):
        # connect-redis touches with EXPIRE: the value is not rewritten.
        self.client.expire(key, ttl)

    def peek(self, key):
        return self.peek_many([key])[0]

    def peek_many(self, keys):
        if not keys:
            return []

        answer = self._peek(keys=keys)
        entries = []
        for value, pttl in zip(answer[::2], answer[1::2]):
            if value is None:
                entries.append(None)
                continue
            ttl = None if pttl < 0 else pttl / 1000
            entries.append(Entry(self.interface.serializer.decode(value), ttl))
        return entries

    def ping(self):
        self.client.ping()

    def scan_keys(self, match: str | None, limit: int) -> tuple[list[str], bool]:
        """Answer up to limit key names matching a glob, and whether more remain.

        SCAN walks the keyspace a step at a time, so a large server keeps
        answering other clients meanwhile, as KEYS would not let it. A key
        SCAN returns twice is counted once.
        """
        keys: dict[str, None] = {}
        for key in self.client.scan_iter(match=match, count=SCAN_STEP):
            name = key.decode(errors="replace")
            if name not in keys and len(keys) == limit:
                return list(keys), True
            keys[name] = None
        return list(keys), False

    def delete_keys(self, keys: list[str]) -> int:
        """Delete the named keys, answering how many the server really removed."""
        removed = 0
        for start in range(0, len(keys), DELETE_BATCH):
            removed += self.client.delete(*keys[start : start + DELETE_BATCH])
        return removed

    def close(self):
        self.client.close()


def build(name, config, instance, timeout):
    """Make the Redis store from REDIS_URL."""
    return RedisStore(config["REDIS_URL"], timeout)
