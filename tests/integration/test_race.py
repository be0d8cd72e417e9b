"""resave's race, on a real threaded server with two clients sharing cookies.

A slow read loads the session, a write lands while it sleeps, and the read
ends last. With resave on it saves its stale copy over the write; with resave
off it only touches, and the write survives.
"""

import http.client
import json
import threading
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest
from flask import request, request_started, session

from app.stores import session_key
from tests.services import serving

# Long enough that the write always ends first, whatever the machine's load;
# the test never measures it.
SLOW_MS = 3000


class Browser:
    """A cookie jar shared by several HTTP connections, as tabs share one."""

    def __init__(self, port: int):
        self.port = port
        self.jar = SimpleCookie()
        self.lock = threading.Lock()

    def send(self, method: str, path: str, form=None, body=None) -> tuple[int, dict]:
        headers = {"Accept": "application/json"}
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            body = json.dumps(body)
            headers["Content-Type"] = "application/json"
        with self.lock:
            cookies = "; ".join(f"{k}={m.value}" for k, m in self.jar.items())
        if cookies:
            headers["Cookie"] = cookies

        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            payload = json.loads(response.read() or b"null")
            with self.lock:
                for header in response.headers.get_all("Set-Cookie") or []:
                    self.jar.load(header)
            return response.status, payload
        finally:
            connection.close()


@pytest.fixture
def served(lab_app):
    with serving(lab_app) as port:
        yield lab_app, port


def specimen_of(studio):
    return studio.wsgi_app.mounts["/lab"].specimen


@pytest.mark.parametrize("resave, survives", [(True, False), (False, True)])
def test_slow_read_overlapping_a_write(served, store_name, probe, resave, survives):
    studio, port = served
    browser = Browser(port)
    assert browser.send("GET", "/api/settings")[0] == 200
    settings = {"store": store_name, "resave": resave}
    assert browser.send("POST", "/api/settings", body=settings)[0] == 200
    first = browser.send("POST", "/lab/set", form={"key": "n", "value": "0"})
    assert first == (200, {"n": "0"})

    loaded = threading.Event()

    def on_request(sender, **extra):
        if request.path == "/slow":
            loaded.set()

    slow_answer = {}

    def slow_read():
        slow_answer["reply"] = browser.send("GET", f"/lab/slow?ms={SLOW_MS}")

    with request_started.connected_to(on_request, specimen_of(studio)):
        reader = threading.Thread(target=slow_read)
        reader.start()
        # The session is opened before request_started fires: the slow read
        # now holds its copy of {"n": "0"}.
        assert loaded.wait(timeout=30)
        write_reply = browser.send("POST", "/lab/set", form={"key": "n", "value": "1"})
        reader.join(timeout=30)

    assert write_reply == (200, {"n": "1"})
    assert slow_answer["reply"] == (200, {"n": "0"})
    learner_id = learner_of(studio, browser)
    records = studio.extensions["session_lab"].journal.exchanges(learner_id)
    slow, write = records[-1], records[-2]
    assert slow["request"]["path"] == "/lab/slow"
    assert write["request"]["path"] == "/lab/set"
    assert slow["decision"]["store_op"] == ("set" if resave else "touch")

    session_id = slow["session_id"]
    assert write["session_id"] == session_id
    stored = probe.data(session_key(learner_id, session_id))
    assert stored["n"] == ("1" if survives else "0")


def learner_of(studio, browser) -> str:
    """Answer the learner ID behind the browser's studio cookie."""
    with studio.test_request_context(
        headers={"Cookie": f"lab_learner={browser.jar['lab_learner'].value}"}
    ):
        return session["learner"]
