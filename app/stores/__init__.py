"""The specimen's stores: built on first use, each checked before it is chosen."""

import importlib
import logging
import threading
import time
from pathlib import Path

from .base import Entry, RecordingStore, Store, StoreUnavailable, describe, session_key

__all__ = [
    "Entry",
    "RecordingStore",
    "Store",
    "StoreUnavailable",
    "Stores",
    "session_key",
]

log = logging.getLogger(__name__)

# name: (title, kind, config key that must be set or None, how to enable it)
CATALOGUE = {
    "memory": ("Application memory", "memory", None, ""),
    "cookie": ("Signed cookie", "cookie", None, ""),
    "filesystem": ("Files on disk", "file", None, ""),
    "sqlite": ("SQLite", "database", None, ""),
    "redis": (
        "Redis",
        "cache",
        "REDIS_URL",
        "Set REDIS_URL, for example redis://127.0.0.1:6379/0, and restart.",
    ),
    "memcached": (
        "Memcached",
        "cache",
        "MEMCACHED_SERVERS",
        "Set MEMCACHED_SERVERS, for example 127.0.0.1:11211, and restart.",
    ),
    "postgresql": (
        "PostgreSQL",
        "database",
        "POSTGRES_URL",
        "Set POSTGRES_URL, for example "
        "postgresql+psycopg://postgres@127.0.0.1:5432/test, and restart.",
    ),
    "mysql": (
        "MySQL / MariaDB",
        "database",
        "MYSQL_URL",
        "Set MYSQL_URL, for example mysql+pymysql://root@127.0.0.1:3306/test, "
        "and restart.",
    ),
}
PING_CACHE_SECONDS = 5.0


class Stores:
    """Build each store once per process and remember whether it answers."""

    def __init__(self, config, instance_path: str):
        self.config = config
        self.instance = Path(instance_path)
        self._built: dict[str, Store] = {}
        self._pings: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Store:
        """Answer the store, building it on first use.

        :raise StoreUnavailable: it is not configured or could not be built.
        """
        store = self._built.get(name)
        if store is not None:
            return store

        _, _, needs, remedy = CATALOGUE[name]
        if needs and not self.config.get(needs):
            raise StoreUnavailable(name, f"not configured: {needs} is not set", remedy)

        with self._lock:
            if name not in self._built:
                self._built[name] = self._build(name, remedy)
        return self._built[name]

    def _build(self, name: str, remedy: str) -> Store:
        config = self.config
        timeout = config["STORE_TIMEOUT_SECONDS"]
        try:
            module = importlib.import_module(f".{_MODULES[name]}", __name__)
            return module.build(name, config, self.instance, timeout)
        except StoreUnavailable:
            raise
        except Exception as error:
            log.warning("could not build the %s store: %s", name, error)
            reason = f"could not start: {describe(error)}"
            raise StoreUnavailable(name, reason, remedy) from error

    def check(self, name: str) -> str | None:
        """Answer why the store cannot be used now, or None when it can."""
        cached = self._pings.get(name)
        if cached and time.monotonic() - cached[0] < PING_CACHE_SECONDS:
            return cached[1]

        try:
            self.get(name).ping()
            problem = None
        except StoreUnavailable as error:
            problem = error.reason
        except Exception as error:
            problem = f"unreachable: {describe(error)}"
        self._pings[name] = (time.monotonic(), problem)
        return problem

    def close(self) -> None:
        """Release every built store's connections."""
        with self._lock:
            built = list(self._built.values())
        for store in built:
            try:
                store.close()
            except Exception as error:
                log.warning("could not close the %s store: %s", store.name, error)

    def remedy(self, name: str) -> str:
        """Answer how an operator makes the store available."""
        return CATALOGUE[name][3]

    def status(self) -> list[dict]:
        """Answer every store with whether it can be chosen, and if not, why."""
        rows = []
        for name, (title, kind, needs, remedy) in CATALOGUE.items():
            problem = self.check(name)
            rows.append(
                {
                    "name": name,
                    "title": title,
                    "kind": kind,
                    "available": problem is None,
                    "reason": problem,
                    "remedy": remedy if problem else "",
                }
            )
        return rows


_MODULES = {
    "memory": "memory",
    "cookie": "cookie",
    "filesystem": "filesystem",
    "sqlite": "sql",
    "redis": "redis",
    "memcached": "memcached",
    "postgresql": "sql",
    "mysql": "sql",
}
