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

    def set(self, key, data, ttl):
        with self._lock:
            super().set(key, data, ttl)

    def touch(self, key, data, ttl):
        # cachelib has no touch. As in express's MemoryStore, only the cookie of
        # the entry held now is replaced: writing back the request's own copy
        # would undo a save that landed while the request ran.
        with self._lock:
            held = self.cache.get(key)
            if held is not None:
                held["cookie"] = data["cookie"]
                self.cache.set(key, held, timeout=ttl)

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
