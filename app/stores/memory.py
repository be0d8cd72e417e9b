"""The memory store: a dict in this process, as express-session's MemoryStore."""

import threading
import time

from cachelib import SimpleCache
from flask_session.cachelib import CacheLibSessionInterface

from .base import Entry, Store


class MemoryStore(Store):
    """Keep sessions in this worker's memory, lost on restart, never shared.

    cachelib's SimpleCache is what Flask-Session uses for in-process storage;
    its entries are ``(expires_at, pickled value)`` pairs in ``_cache``, read
    here only to show them.
    """

    name = "memory"
    title = "Application memory"
    kind = "memory"

    def __init__(self, threshold: int):
        self.cache = SimpleCache(threshold=threshold, default_timeout=0)
        self._lock = threading.Lock()
        super().__init__(CacheLibSessionInterface(client=self.cache, key_prefix=""))

    def touch(self, key, data, ttl):
        # cachelib has no touch: express's MemoryStore rewrites the entry too.
        with self._lock:
            if self.cache.has(key):
                self.cache.set(key, data, timeout=ttl)

    def peek(self, key):
        item = self.cache._cache.get(key)
        if item is None:
            return None

        expires_at, value = item
        remaining = None if expires_at == 0 else expires_at - time.time()
        if remaining is not None and remaining <= 0:
            return None
        return Entry(self.cache.serializer.loads(value), remaining)

    def ping(self):
        return None

    def size(self) -> dict:
        """Answer how many entries and bytes this process holds."""
        items = list(self.cache._cache.values())
        return {"entries": len(items), "bytes": sum(len(v) for _, v in items)}


def build(name, config, instance, timeout):
    """Make the memory store for this process."""
    return MemoryStore(config["MEMORY_STORE_THRESHOLD"])
