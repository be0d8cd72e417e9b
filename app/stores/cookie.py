"""The cookie store: nothing kept on the server, the session rides in the cookie."""

from .base import Entry, Store


class CookieStore(Store):
    """Stand in for the server-side store the cookie store does not have.

    The specimen's signed-cookie interface never calls it. Reads answer the
    truth, that the server holds nothing; a write means a request took the
    express path by mistake, so it fails loudly rather than pretend to keep data.
    """

    name = "cookie"
    title = "Signed cookie"
    kind = "cookie"
    has_touch = False

    def __init__(self):
        super().__init__(interface=None)

    def get(self, key: str) -> dict | None:
        return None

    def peek(self, key: str) -> Entry | None:
        return None

    def set(self, key, data, ttl):
        raise self.nowhere("set")

    def touch(self, key, data, ttl):
        raise self.nowhere("touch")

    def destroy(self, key):
        raise self.nowhere("destroy")

    def ping(self):
        return None

    def nowhere(self, verb: str) -> RuntimeError:
        return RuntimeError(
            f"cannot {verb}: the cookie store keeps nothing on the server"
        )


def build(name, config, instance, timeout):
    """Make the cookie store, which needs no server."""
    return CookieStore()
