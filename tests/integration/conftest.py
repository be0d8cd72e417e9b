"""A learner driving the lab, and probes that read the stores without the app."""

import os
import time
from urllib.parse import unquote

import msgspec
import pytest
from redis import Redis

from app.stores import session_key

JSON = {"Accept": "application/json"}
HTMX = {"HX-Request": "true"}

# The settings form as the page sends it with every option at its default.
FORM = {
    "store": "memory",
    "name": "sid",
    "path": "/lab",
    "unset": "keep",
    "secrets": "a-secret-of-this-test",
    "resave": "on",
    "save_uninitialized": "on",
    "http_only": "on",
}


def id_in(cookie_value: str | None) -> str | None:
    """Answer the session ID inside a signed cookie value, without checking it."""
    if cookie_value is None:
        return None
    decoded = unquote(cookie_value)
    if not decoded.startswith("s:"):
        return None
    return decoded[2:].rpartition(".")[0] or None


def set_cookies(response, name: str = "sid") -> list[str]:
    """Answer the Set-Cookie headers of a response that are for the named cookie."""
    headers = response.headers.getlist("Set-Cookie")
    return [header for header in headers if header.startswith(f"{name}=")]


def sent_id(response, name: str = "sid") -> str | None:
    """Answer the session ID a response's Set-Cookie gives the browser."""
    headers = set_cookies(response, name)
    if not headers:
        return None
    assert len(headers) == 1, headers
    return id_in(headers[0].split(";", 1)[0].split("=", 1)[1])


class Learner:
    """One browser in the studio: the test client with its cookie jar."""

    def __init__(self, client):
        self.client = client
        assert client.get("/api/settings").status_code == 200

    @property
    def id(self) -> str:
        with self.client.session_transaction() as studio_session:
            return studio_session["learner"]

    @property
    def settings(self) -> dict:
        return self.client.get("/api/settings").json

    def configure(self, **changes) -> dict:
        response = self.client.post("/api/settings", json=changes)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.json

    def lab(self, method: str, path: str, **options):
        headers = {**JSON, **options.pop("headers", {})}
        return self.client.open(
            f"/lab{path}", method=method, headers=headers, **options
        )

    def raw(self, method: str, path: str, cookies: str, **options):
        """Send a lab request whose Cookie header is the studio's and then these.

        The text goes into the WSGI environ as it is, so it may hold any byte
        as a latin-1 code point, the way a server hands one on.
        """
        studio = self.cookie("lab_learner", "/")
        header = f"lab_learner={studio}"
        if cookies:
            header = f"{header}; {cookies}"
        plain = self.client.application.test_client(use_cookies=False)
        headers = {**JSON, **options.pop("headers", {})}
        return plain.open(
            f"/lab{path}",
            method=method,
            headers=headers,
            environ_overrides={"HTTP_COOKIE": header},
            **options,
        )

    def read(self, **options):
        return self.lab("GET", "/", **options)

    def write(self, key: str, value: str, **options):
        return self.lab("POST", "/set", data={"key": key, "value": value}, **options)

    def cookie(self, name: str = "sid", path: str = "/lab") -> str | None:
        """Answer the cookie value the client's jar will send to the lab."""
        cookie = self.client.get_cookie(name, path=path)
        return None if cookie is None else cookie.value

    def held(self) -> str | None:
        """Answer the session ID the client's jar holds for the lab."""
        return id_in(self.cookie(self.settings["name"], self.settings["path"]))

    def exchanges(self) -> list:
        return self.client.get("/api/exchanges").json

    def last(self) -> dict:
        return self.exchanges()[-1]

    def key(self, session_id: str) -> str:
        return session_key(self.id, session_id)


class MemoryProbe:
    """Read the memory store's SimpleCache directly, in this process."""

    name = "memory"

    def __init__(self, app):
        self.cache = app.extensions["session_lab"].stores.get("memory").cache

    def data(self, key: str) -> dict | None:
        return self.cache.get(key)

    def ttl(self, key: str) -> float | None:
        item = self.cache._cache.get(key)
        if item is None:
            return None
        return item[0] - time.time()

    def shorten(self, key: str, seconds: int) -> None:
        """Give an entry a short life, so a reset by the app is plain to see."""
        assert self.cache.set(key, self.cache.get(key), timeout=seconds)

    def keys(self, learner_id: str) -> set[str]:
        prefix = f"lab:{learner_id}:sess:"
        return {key for key in self.cache._cache if key.startswith(prefix)}

    def events(self, key: str) -> None:
        """Answer None: the memory store has no independent trace of commands."""
        return None


class RedisProbe:
    """Read the test's own Redis with a client of its own, and hear its commands."""

    name = "redis"

    def __init__(self, url: str):
        self.client = Redis.from_url(url)
        # Keyspace events tell which command touched a key: set, expire or del.
        self.client.config_set("notify-keyspace-events", "KA")
        self.pubsub = self.client.pubsub()
        self.pubsub.psubscribe("__keyspace@0__:lab:*:sess:*")
        self._drain()

    def data(self, key: str) -> dict | None:
        raw = self.client.get(key)
        return None if raw is None else msgspec.json.decode(raw)

    def ttl(self, key: str) -> float | None:
        pttl = self.client.pttl(key)
        return None if pttl < 0 else pttl / 1000

    def shorten(self, key: str, seconds: int) -> None:
        assert self.client.expire(key, seconds)
        self._drain()

    def keys(self, learner_id: str) -> set[str]:
        found = self.client.scan_iter(match=f"lab:{learner_id}:sess:*", count=500)
        return {key.decode() for key in found}

    def events(self, key: str) -> list[str]:
        """Answer the commands Redis ran on the key since the last call."""
        return [
            message["data"].decode()
            for message in self._drain()
            if message["channel"].decode().endswith(key)
        ]

    def _drain(self) -> list[dict]:
        # A PING on the subscriber connection is answered after every event
        # Redis queued before it, so reading up to the pong misses none.
        self.pubsub.ping()
        messages = []
        while True:
            message = self.pubsub.get_message(timeout=5.0)
            assert message is not None, "Redis sent no pong"
            if message["type"] == "pong":
                return messages
            if message["type"] == "pmessage":
                messages.append(message)

    def close(self) -> None:
        self.pubsub.close()
        self.client.close()


@pytest.fixture(params=["memory", "redis"])
def store_name(request):
    return request.param


@pytest.fixture
def lab_app(store_name, make_app, request):
    """A studio whose learners use the store under test."""
    if store_name == "redis":
        return make_app(REDIS_URL=request.getfixturevalue("redis_url"))
    return make_app()


@pytest.fixture
def learner(lab_app, store_name):
    one = Learner(lab_app.test_client())
    one.configure(store=store_name)
    return one


@pytest.fixture
def probe(lab_app, store_name, request):
    if store_name == "memory":
        yield MemoryProbe(lab_app)
        return
    redis_probe = RedisProbe(request.getfixturevalue("redis_url"))
    yield redis_probe
    redis_probe.close()


@pytest.fixture(scope="module")
def worker_studio(tmp_path_factory):
    """A studio whose two specimen workers every test of a module shares.

    A worker is a whole interpreter starting the app, seconds on a busy
    machine, so a module starts them once; each test is a learner of its own.
    At the end the workers are stopped, and must really be gone.
    """
    from app import create_app
    from tests.conftest import SERVICE_VARIABLES
    from tests.workerprobe import gone

    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(("FLASK_", "SESSION_LAB_")) or name in SERVICE_VARIABLES:
                patch.delenv(name)
        folder = tmp_path_factory.mktemp("workers")
        app = create_app(
            {"TESTING": True, "WORKER_RESTART_SECONDS": 0}, instance_path=str(folder)
        )
    yield app

    workers = app.extensions["specimen_workers"]
    started = workers.started_here()
    workers.stop()
    app.extensions["session_lab"].stores.close()
    assert [pid for pid in started if not gone(pid)] == []
