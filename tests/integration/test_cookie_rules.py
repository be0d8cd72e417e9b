"""When the cookie goes out: the Secure gate, the proxy header and max_age."""

import math
import time
from email.utils import parsedate_to_datetime

import pytest

from .conftest import JSON, Learner, set_cookies, sent_id

MAX_AGE = 600


def attributes(header: str) -> dict:
    """Answer a Set-Cookie header's attributes, names lower-cased."""
    found = {}
    for part in header.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        found[name.lower()] = value
    return found


def test_secure_over_plain_http_sends_no_cookie_but_fills_the_store(learner, probe):
    learner.configure(secure=True)

    ids = []
    for _ in range(3):
        response = learner.read()
        record = learner.last()
        assert response.status_code == 200
        assert set_cookies(response) == []
        assert record["decision"]["set_cookie"] is False
        assert record["decision"]["withheld_by_secure"] is True
        assert record["decision"]["store_op"] == "set"
        summary = record["decision"]["summary"]
        assert "secure is on and the request is not secure" in summary
        assert record["cookie_id"] is None
        ids.append(record["session_id"])

    assert len(set(ids)) == 3
    assert probe.keys(learner.id) == {learner.key(session_id) for session_id in ids}
    assert learner.held() is None


@pytest.mark.parametrize(
    "trust_proxy, forwarded, scheme, sent",
    [
        (True, "https", "http", True),
        (True, "HTTPS", "http", True),
        (True, " https , http", "http", True),
        (True, "http, https", "http", False),
        (True, "http", "http", False),
        (True, None, "http", False),
        (False, "https", "http", False),
        (False, None, "https", True),
        (True, "http", "https", True),
    ],
)
def test_secure_cookie_needs_a_secure_request(
    app, trust_proxy, forwarded, scheme, sent
):
    learner = Learner(app.test_client())
    learner.configure(secure=True, trust_proxy=trust_proxy)
    headers = {"X-Forwarded-Proto": forwarded} if forwarded is not None else {}

    response = learner.client.get(
        "/lab/", headers={**JSON, **headers}, base_url=f"{scheme}://localhost"
    )

    headers_sent = set_cookies(response)
    assert bool(headers_sent) is sent
    assert learner.last()["decision"]["set_cookie"] is sent
    assert learner.last()["decision"]["withheld_by_secure"] is not sent
    assert learner.last()["decision"]["store_op"] == "set"
    if sent:
        assert "secure" in attributes(headers_sent[0])


def test_max_age_sends_expires_and_no_max_age(learner, probe):
    learner.configure(max_age=MAX_AGE)

    before = time.time()
    response = learner.read()
    after = time.time()

    (header,) = set_cookies(response)
    found = attributes(header)
    assert "max-age" not in found
    expires = parsedate_to_datetime(found["expires"]).timestamp()
    assert math.floor(before) + MAX_AGE <= expires <= math.ceil(after) + MAX_AGE

    key = learner.key(sent_id(response))
    (operation,) = learner.last()["operations"]
    assert operation["op"] == "set" and operation["ttl"] == MAX_AGE
    assert MAX_AGE - 60 < probe.ttl(key) <= MAX_AGE

    cookie = probe.data(key)["cookie"]
    assert cookie["originalMaxAge"] == MAX_AGE * 1000
    stored_expires = parsedate_to_datetime(found["expires"])
    assert cookie["expires"].startswith(stored_expires.strftime("%Y-%m-%dT%H:%M:%S"))


@pytest.mark.parametrize("max_age, resent", [(MAX_AGE, True), (None, False)])
def test_a_change_resends_the_cookie_only_with_max_age(learner, max_age, resent):
    learner.configure(max_age=max_age, rolling=False)
    first = sent_id(learner.read())

    response = learner.write("colour", "blue")

    assert learner.last()["decision"]["store_op"] == "set"
    assert bool(set_cookies(response)) is resent
    assert learner.last()["decision"]["set_cookie"] is resent
    if resent:
        assert sent_id(response) == first
        assert "expires" in attributes(set_cookies(response)[0])


def test_touch_with_max_age_resets_the_ttl_without_a_cookie(learner, probe):
    learner.configure(max_age=MAX_AGE, resave=False)
    key = learner.key(sent_id(learner.write("colour", "blue")))
    stored = probe.data(key)
    probe.shorten(key, 100)
    probe.events(key)

    response = learner.read()

    record = learner.last()
    assert set_cookies(response) == []
    assert record["decision"]["store_op"] == "touch"
    assert [op["op"] for op in record["operations"]] == ["get", "touch"]
    assert record["operations"][1]["ttl"] == MAX_AGE
    assert MAX_AGE - 60 < probe.ttl(key) <= MAX_AGE
    assert {k: v for k, v in probe.data(key).items() if k != "cookie"} == {
        "colour": "blue"
    }
    cookie = probe.data(key)["cookie"]
    assert cookie["originalMaxAge"] == stored["cookie"]["originalMaxAge"]
    events = probe.events(key)
    if events is not None:
        assert events == ["expire"]


@pytest.mark.parametrize(
    "made_with, changed_to, resent, ttl",
    [
        (None, MAX_AGE, False, 24 * 3600),
        (MAX_AGE, None, True, MAX_AGE),
    ],
)
def test_a_loaded_session_keeps_the_max_age_it_was_made_with(
    learner, probe, made_with, changed_to, resent, ttl
):
    learner.configure(max_age=made_with)
    key = learner.key(sent_id(learner.read()))
    learner.configure(max_age=changed_to)

    response = learner.write("colour", "blue")

    record = learner.last()
    assert bool(set_cookies(response)) is resent
    assert record["operations"][-1] == {
        **record["operations"][-1], "op": "set", "ttl": ttl
    }
    cookie = probe.data(key)["cookie"]
    assert cookie["originalMaxAge"] == (None if made_with is None else made_with * 1000)
    assert (cookie["expires"] is None) is (made_with is None)
    if resent:
        assert "expires" in attributes(set_cookies(response)[0])
    assert "made with" in record["decision"]["summary"]


def test_a_loaded_session_keeps_the_secure_flag_it_was_made_with(learner, probe):
    key = learner.key(sent_id(learner.read()))
    learner.configure(secure=True, rolling=True)

    response = learner.read()

    (header,) = set_cookies(response)
    assert "secure" not in attributes(header)
    assert learner.last()["session_id"] == key.rsplit(":", 1)[-1]
    assert probe.data(key)["cookie"]["secure"] is False

    learner.client.delete_cookie("sid", path="/lab")
    response = learner.read()
    assert set_cookies(response) == []
    assert learner.last()["decision"]["store_op"] == "set"
