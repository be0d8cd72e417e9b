"""The Memcached store: Flask-Session's Memcached interface over pymemcache."""

from flask_session.memcached import MemcachedSessionInterface
from pymemcache.client.base import PooledClient

from .base import Entry, Store, StoreUnavailable

REMEDY = "Set MEMCACHED_SERVERS to one server, for example 127.0.0.1:11211."
# How many keys one multi-get asks for, so no command line grows unbounded.
GET_BATCH = 100


class MemcachedStore(Store):
    """Keep sessions in one memcached server, each with its own expiry."""

    name = "memcached"
    title = "Memcached"
    kind = "cache"

    def __init__(self, server: str, timeout: float):
        # A pool, because the studio serves requests on several threads and a
        # pymemcache client is one socket. noreply is off so that every set,
        # touch and delete waits for memcached's answer: a refused write
        # raises here instead of passing unseen.
        self.client = PooledClient(
            server, connect_timeout=timeout, timeout=timeout, default_noreply=False
        )
        interface = MemcachedSessionInterface(None, client=self.client, key_prefix="")
        super().__init__(interface)

    def touch(self, key, data, ttl):
        self.client.touch(key, self.interface._get_memcache_timeout(ttl))

    def peek(self, key):
        value = self.client.get(key)
        if value is None:
            return None

        # pymemcache's raw_command reads a single line, so "mg <key> t v"
        # would leave the value unread on the socket. With the t flag alone
        # the answer is that one line, "HD t<seconds>" (t-1: never expires),
        # and the value is the one the plain get above read.
        answer = self.client.raw_command(b"mg " + self.client.check_key(key) + b" t")
        status, *flags = answer.split()
        if status != b"HD":
            return None

        remaining = int(next(f[1:] for f in flags if f.startswith(b"t")))
        ttl = None if remaining < 0 else float(remaining)
        return Entry(self.interface.serializer.decode(value), ttl)

    def ping(self):
        self.client.version()

    def held_keys(self, keys: list[str]) -> list[str]:
        """Answer which of the keys the server holds now, asking in batches.

        memcached has no command to list or match keys (its crawler's
        metadump is a debugging aid whose listing can come back incomplete),
        so the keys to ask for come from whoever wrote them.
        """
        held = []
        for start in range(0, len(keys), GET_BATCH):
            batch = keys[start : start + GET_BATCH]
            found = self.client.get_many(batch)
            held.extend(key for key in batch if key in found)
        return held

    def delete_keys(self, keys: list[str]) -> int:
        """Delete the named keys, answering how many the server really removed."""
        return sum(1 for key in keys if self.client.delete(key))

    def item_count(self) -> int:
        """Answer how many items the server counts (stats curr_items).

        An expired item may be counted until memcached reclaims it.
        """
        return int(self.client.stats()[b"curr_items"])

    def close(self):
        self.client.close()


def one_server(servers: str) -> str:
    """Answer the single server MEMCACHED_SERVERS names.

    :raise StoreUnavailable: it names none or several.
    """
    names = servers.replace(",", " ").split()
    if len(names) != 1:
        reason = f"MEMCACHED_SERVERS names {len(names)} servers; the lab uses one"
        raise StoreUnavailable("memcached", reason, REMEDY)
    return names[0]


def build(name, config, instance, timeout):
    """Make the Memcached store from MEMCACHED_SERVERS."""
    return MemcachedStore(one_server(config["MEMCACHED_SERVERS"]), timeout)
