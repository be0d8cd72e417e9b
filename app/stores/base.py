"""What every specimen store offers, over Flask-Session's own storage."""

import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import timedelta

log = logging.getLogger(__name__)


class StoreUnavailable(RuntimeError):
    """A store is not configured, or its server did not answer."""

    def __init__(self, store: str, reason: str, remedy: str = ""):
        super().__init__(f"{store}: {reason}")
        self.store = store
        self.reason = reason
        self.remedy = remedy


@dataclass(frozen=True)
class Entry:
    """A session as the store holds it, and how long it has left there.

    ``ttl`` is None when the entry never expires. Zero or less means the
    store still holds an entry past its expiry (SQL rows and files stay until
    a cleanup removes them), expired that many seconds ago.
    """

    data: dict
    ttl: float | None

    @property
    def expired(self) -> bool:
        """Answer whether the entry is kept past its expiry."""
        return self.ttl is not None and self.ttl <= 0


def session_key(learner_id: str, session_id: str) -> str:
    """Answer the key a learner's specimen session is kept under."""
    return f"lab:{learner_id}:sess:{session_id}"


class Store(ABC):
    """A specimen store: Flask-Session's storage hooks plus touch and peek.

    The hooks (``_retrieve_session_data``, ``_upsert_session``,
    ``_delete_session``) are Flask-Session's own; they are called, not copied,
    so the bytes in the store are the ones Flask-Session would write.
    """

    name = ""
    title = ""
    kind = ""
    has_touch = True

    def __init__(self, interface):
        self.interface = interface

    def get(self, key: str) -> dict | None:
        """Load a session, or None when the store has none under the key."""
        return self.interface._retrieve_session_data(key)

    def set(self, key: str, data: dict, ttl: int) -> None:
        """Write a whole session with a time to live in seconds."""
        self.interface._upsert_session(timedelta(seconds=ttl), data, key)

    def destroy(self, key: str) -> None:
        """Remove a session."""
        self.interface._delete_session(key)

    @abstractmethod
    def touch(self, key: str, data: dict, ttl: int) -> None:
        """Reset a session's time to live without rewriting its data."""

    @abstractmethod
    def peek(self, key: str) -> Entry | None:
        """Read a session and its remaining life, changing nothing."""

    def peek_many(self, keys: list[str]) -> list[Entry | None]:
        """Peek at several sessions, in order; a store that can asks once."""
        return [self.peek(key) for key in keys]

    @abstractmethod
    def ping(self) -> None:
        """Check the server answers; raise when it does not."""

    def close(self) -> None:
        """Release the store's connections; it reconnects if used again."""


class RecordingStore:
    """Pass each operation to the real store and note it in the trace.

    Wrapping rather than patching keeps the real store untouched, so what the
    record lists is exactly what was called, in order.
    """

    def __init__(self, store: Store, operations: list):
        self.store = store
        self.operations = operations

    def get(self, key):
        data = self._call("get", key, self.store.get, key)
        self.operations[-1]["result"] = "miss" if data is None else "hit"
        return data

    def set(self, key, data, ttl):
        self._call("set", key, self.store.set, key, data, ttl)
        self.operations[-1]["ttl"] = ttl

    def touch(self, key, data, ttl):
        self._call("touch", key, self.store.touch, key, data, ttl)
        self.operations[-1]["ttl"] = ttl

    def destroy(self, key, why=None):
        self._call("destroy", key, self.store.destroy, key)
        if why:
            self.operations[-1]["why"] = why

    def _call(self, verb, key, method, *args):
        started = time.perf_counter()
        operation = {"op": verb, "key": key}
        self.operations.append(operation)
        try:
            result = method(*args)
        except StoreUnavailable:
            operation["result"] = "error"
            raise
        except Exception as error:
            operation["result"] = "error"
            log.warning("%s %s failed on %s: %s", verb, key, self.store.name, error)
            raise StoreUnavailable(self.store.name, describe(error)) from error
        finally:
            operation["ms"] = round((time.perf_counter() - started) * 1000, 3)
        return result


def describe(error: Exception) -> str:
    """Answer a short, safe description of a store failure."""
    lines = str(error).strip().splitlines()
    if not lines:
        return type(error).__name__
    return f"{type(error).__name__}: {lines[0]}"[:200]
