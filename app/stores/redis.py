"""The Redis store: Flask-Session's Redis interface, with touch as EXPIRE."""

from flask_session.redis import RedisSessionInterface
from redis import Redis

from .base import Entry, Store


class RedisStore(Store):
    """Keep sessions in Redis under the learner's prefix, with a TTL each."""

    name = "redis"
    title = "Redis"
    kind = "cache"

    def __init__(self, url: str, timeout: float):
        self.client = Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        super().__init__(RedisSessionInterface(None, client=self.client, key_prefix=""))

    def touch(self, key, data, ttl):
        # connect-redis touches with EXPIRE: the value is not rewritten.
        self.client.expire(key, ttl)

    def peek(self, key):
        pipe = self.client.pipeline(transaction=False)
        pipe.get(key)
        pipe.pttl(key)
        value, pttl = pipe.execute()
        if value is None:
            return None

        ttl = None if pttl < 0 else pttl / 1000
        return Entry(self.interface.serializer.decode(value), ttl)

    def ping(self):
        self.client.ping()

    def close(self):
        self.client.close()


def build(name, config, instance, timeout):
    """Make the Redis store from REDIS_URL."""
    return RedisStore(config["REDIS_URL"], timeout)
