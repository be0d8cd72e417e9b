"""The record tells the truth: headers as sent and received, the store as held."""

import http.client

import msgspec
import pytest

from app.learners import SETTINGS_COOKIE
from tests.services import serving

from .conftest import JSON, Learner, RedisProbe

SERIES = [
    ({}, "GET", "/", None),
    ({}, "POST", "/set", {"key": "colour", "value": "blue"}),
    ({"rolling": True, "max_age": 300}, "GET", "/", None),
    ({}, "POST", "/set", {"key": "colour"}),
    ({}, "POST", "/login", {"user": "alice"}),
    ({"rolling": False}, "GET", "/slow?ms=0", None),
    ({}, "POST", "/logout", None),
    ({}, "GET", "/", None),
]

# Added by the web server after the application answered, so never recorded.
SERVER_HEADERS = {"date", "server", "connection"}


def check_store_view(learner, probe, rows):
    """Check rows of the store panel against what the store itself holds."""
    held = {key.rsplit(":", 1)[-1] for key in probe.keys(learner.id)}
    assert {row["id"] for row in rows} == held
    for row in rows:
        key = learner.key(row["id"])
        assert row["data"] == probe.data(key)
        assert row["ttl"] == pytest.approx(probe.ttl(key), abs=5)
        assert row["held"] is (row["id"] == learner.held())


def test_the_record_matches_the_test_client(learner, probe):
    for number, (changes, method, path, form) in enumerate(SERIES, 1):
        if changes:
            learner.configure(**changes)
        jar = {name: learner.cookie(name, where) for name, where in
               (("lab_learner", "/"), (SETTINGS_COOKIE, "/"), ("sid", "/lab"))}

        response = learner.lab(method, path, data=form)

        record = learner.last()
        where = f"exchange {number}: {method} {path}"
        assert record["response"]["status"] == response.status, where
        assert record["response"]["headers"] == [
            [name, value] for name, value in response.headers.items()
        ], where
        assert ["HX-Trigger", "lab-exchange"] in record["response"]["headers"], where
        assert record["response"]["body_bytes"] == len(response.get_data()), where

        sent = {name.lower(): value for name, value in record["request"]["headers"]}
        expected_cookie = {
            f"{name}={value}" for name, value in jar.items() if value is not None
        }
        assert set(sent["cookie"].split("; ")) == expected_cookie, where
        assert sent["accept"] == "application/json", where
        assert record["request"]["line"].startswith(f"{method} /lab{path} "), where

        check_store_view(learner, probe, record["contents"])
        panel = learner.client.get("/api/store").json
        assert panel["store"] == probe.name
        check_store_view(learner, probe, panel["sessions"])


def test_the_record_is_true_when_another_process_changed_the_index(
    make_app, redis_url
):
    # Each process guesses a learner's index from what it saw last; two
    # studios on one Redis are two processes, each changing it behind the other.
    first, second = make_app(REDIS_URL=redis_url), make_app(REDIS_URL=redis_url)
    learner = Learner(first.test_client())
    learner.configure(store="redis")
    elsewhere = second.test_client()
    elsewhere.set_cookie("lab_learner", learner.cookie("lab_learner", "/"))
    probe = RedisProbe(redis_url)
    try:
        learner.write("colour", "blue")
        made = elsewhere.post("/lab/set", data={"key": "k", "value": "v"}, headers=JSON)
        assert made.status_code == 200
        rows = learner.last()["contents"]
        assert {row["id"] for row in rows} == {
            key.rsplit(":", 1)[-1] for key in probe.keys(learner.id)
        }

        learner.write("colour", "green")

        record = learner.last()
        assert len(record["contents"]) == 2
        check_store_view(learner, probe, record["contents"])
    finally:
        probe.close()


@pytest.fixture
def served(app):
    with serving(app) as port:
        yield app, port


def exchange(port: int, method: str, path: str, headers: list, body: bytes = b""):
    """Send exactly these headers, no more, and answer the raw response."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders(body or None)
        response = connection.getresponse()
        response.read()
        return response
    finally:
        connection.close()


def test_the_record_matches_the_wire(served):
    app, port = served
    learner = Learner(app.test_client())
    studio = f"lab_learner={learner.cookie('lab_learner', '/')}"
    # The test client's learner and this socket's share the studio cookie.
    record_of = learner.last

    host = ("Host", f"127.0.0.1:{port}")
    cases = [
        ("GET", "/lab/", [host, ("Cookie", studio), ("Accept", "application/json")]),
        (
            "POST",
            "/lab/set",
            [
                host,
                ("Cookie", f"{studio};  sid=s%3Anot-a-session.x ; other=1"),
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Content-Length", "20"),
                ("HX-Request", "true"),
                ("X-Forwarded-Proto", "http, https"),
            ],
            b"key=colour&value=red",
        ),
    ]
    for method, path, headers, *body in cases:
        response = exchange(port, method, path, headers, *body)

        record = record_of()
        recorded = sorted((k.lower(), v) for k, v in record["request"]["headers"])
        assert recorded == sorted((k.lower(), v) for k, v in headers)
        assert record["response"]["status"] == f"{response.status} {response.reason}"
        received = [
            [name, value]
            for name, value in response.getheaders()
            if name.lower() not in SERVER_HEADERS
        ]
        assert record["response"]["headers"] == received
        assert any(name == "Set-Cookie" for name, _ in received)


def test_the_recorder_closes_the_specimens_answer(app):
    specimen = app.wsgi_app.mounts["/lab"].specimen
    closed = []

    @specimen.after_request
    def note_close(response):
        response.call_on_close(lambda: closed.append(response.status_code))
        return response

    learner = Learner(app.test_client())
    learner.read()
    learner.lab("GET", "/slow?ms=abc")

    assert closed == [200, 400]


def test_a_session_kept_as_msgpack_is_still_shown(make_app, redis_url):
    # Sessions written before the Redis store kept JSON are MessagePack.
    app = make_app(REDIS_URL=redis_url)
    learner = Learner(app.test_client())
    learner.configure(store="redis", resave=False)
    learner.write("colour", "blue")
    key = learner.key(learner.held())
    probe = RedisProbe(redis_url)
    try:
        probe.client.set(key, msgspec.msgpack.encode(probe.data(key)), ex=300)

        response = learner.read()

        (row,) = learner.last()["contents"]
        assert response.json == {"colour": "blue"}
        assert row["data"] == msgspec.msgpack.decode(probe.client.get(key))
    finally:
        probe.close()
