"""The cookie store through the studio: Flask's signed cookie, taken apart."""

import secrets
import time

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature

from app.specimen import cookie

JSON = {"Accept": "application/json"}


def flask_serializer(secret: str, fallbacks=()):
    """Answer the serializer a plain Flask app with this SECRET_KEY signs with."""
    app = Flask("check")
    app.secret_key = secret
    app.config["SECRET_KEY_FALLBACKS"] = list(fallbacks)
    return SecureCookieSessionInterface().get_signing_serializer(app)


@pytest.fixture
def lab(client):
    """Put the learner on the cookie store and answer their settings."""
    response = client.post("/api/settings", json={"store": "cookie"})
    assert response.status_code == 200, response.json
    return response.json


def configure(client, **changes):
    response = client.post("/api/settings", json=changes)
    assert response.status_code == 200, response.json
    return response.json


def set_value(client, key, value):
    return client.post("/lab/set", data={"key": key, "value": value}, headers=JSON)


def session_cookies(response, name="sid"):
    headers = response.headers.getlist("Set-Cookie")
    return [header for header in headers if header.startswith(f"{name}=")]


def held(client, name="sid"):
    found = client.get_cookie(name, path="/lab")
    return None if found is None else found.value


def last_exchange(client):
    return client.get("/api/exchanges").json[-1]


def test_the_cookie_store_can_be_chosen(client, lab):
    stores = {row["name"]: row for row in client.get("/api/stores").json}
    assert stores["cookie"]["available"] is True
    assert lab["store"] == "cookie"


def test_cookie_decodes_with_flask_to_exactly_the_session(client, lab):
    set_value(client, "user", "alice")
    answer = set_value(client, "theme", "dark").json

    value = held(client)
    decoded = flask_serializer(lab["secrets"][0]).loads(value)
    assert decoded == answer == {"user": "alice", "theme": "dark"}
    assert client.get("/lab/", headers=JSON).json == decoded


def test_compressible_session_gets_the_dot_marker(client, lab):
    answer = set_value(client, "note", "la " * 400).json

    value = held(client)
    assert value.startswith(".")
    assert flask_serializer(lab["secrets"][0]).loads(value) == answer

    sent = last_exchange(client)["cookie"]["sent"]
    assert sent["compressed"] is True
    assert sent["data"] == answer
    assert len(value) < len(sent["json"])


def test_anatomy_matches_the_set_cookie_received(client, lab):
    response = set_value(client, "user", "alice")
    (header,) = session_cookies(response)
    value = header.split(";", 1)[0].split("=", 1)[1]

    record = last_exchange(client)
    block = record["cookie"]
    assert block["kind"] == "flask"
    assert ["Set-Cookie", header] in record["response"]["headers"]
    assert block["size"]["set_cookie_header"] == len(header.encode())
    assert block["size"]["name_value"] == len("sid") + len(value)
    assert block["size"]["over_limit"] is False

    sent = block["sent"]
    assert sent["raw"] == value
    assert f'{sent["payload"]}.' in value and value.endswith(f'.{sent["signature"]}')
    assert sent["compressed"] is False
    assert sent["json"] == '{"user":"alice"}'
    assert sent["secret_index"] == 0 and sent["verified"] is True

    _, signed_at = flask_serializer(lab["secrets"][0]).loads(
        value, return_timestamp=True
    )
    assert sent["timestamp"] == int(signed_at.timestamp())
    assert sent["issued_at"] == signed_at.isoformat()


def test_the_next_request_shows_the_cookie_received(client, lab):
    set_value(client, "user", "alice")
    value = held(client)

    client.get("/lab/", headers=JSON)
    record = last_exchange(client)
    (cookie_header,) = [v for k, v in record["request"]["headers"] if k == "Cookie"]
    assert f"sid={value}" in cookie_header
    assert record["cookie"]["size"]["cookie_header"] == len(cookie_header)
    assert record["cookie"]["received"]["raw"] == value
    assert record["cookie"]["received"]["data"] == {"user": "alice"}
    assert record["cookie"]["sent"] is None
    assert record["decision"]["store_op"] == "none"


def test_a_fresh_empty_session_sends_nothing(client, lab):
    response = client.get("/lab/", headers=JSON)

    assert response.json == {}
    assert session_cookies(response) == []
    record = last_exchange(client)
    assert record["decision"]["store_op"] == "none"
    assert record["decision"]["set_cookie"] is False
    assert "new empty session: no cookie" in record["decision"]["reasons"]
    assert record["operations"] == []
    assert record["cookie_id"] is None and record["session_id"] is None


def test_a_tampered_cookie_is_a_new_empty_session(client, lab):
    set_value(client, "role", "reader")
    payload, stamp, mac = held(client).rsplit(".", 2)
    forged_payload = cookie.forge({"role": "admin"}, "not the secret").split(".")[0]
    client.set_cookie("sid", f"{forged_payload}.{stamp}.{mac}", path="/lab")

    response = client.get("/lab/", headers=JSON)
    assert response.json == {}
    assert session_cookies(response) == []

    record = last_exchange(client)
    received = record["cookie"]["received"]
    assert received["verified"] is False
    assert received["data"] == {"role": "admin"}
    assert received["problem"] == "signature invalid for every secret"
    assert any("silently" in reason for reason in record["decision"]["reasons"])

    (row,) = client.get("/api/store").json["sessions"]
    assert row["where"] == "cookie" and row["verified"] is False


def test_an_expired_cookie_is_a_new_empty_session(client, lab, monkeypatch):
    configure(client, max_age=60)
    serializer = flask_serializer(lab["secrets"][0])
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: 1_000_000_000.0)
        old = serializer.dumps({"user": "alice"})
    client.set_cookie("sid", old, path="/lab")

    assert client.get("/lab/", headers=JSON).json == {}
    received = last_exchange(client)["cookie"]["received"]
    assert received["secret_index"] == 0 and received["verified"] is False
    assert received["problem"].startswith("expired:")
    assert received["timestamp"] == 1_000_000_000


def test_secret_rotation(client, lab):
    configure(client, secrets=["old secret"])
    set_value(client, "user", "alice")
    old_cookie = held(client)

    configure(client, secrets=["new secret", "old secret"])
    response = client.get("/lab/", headers=JSON)
    assert response.json == {"user": "alice"}
    assert session_cookies(response) == []
    assert last_exchange(client)["cookie"]["received"]["secret_index"] == 1

    set_value(client, "theme", "dark")
    assert flask_serializer("new secret").loads(held(client)) == {
        "user": "alice",
        "theme": "dark",
    }
    with pytest.raises(BadSignature):
        flask_serializer("old secret").loads(held(client))

    configure(client, secrets=["new secret"])
    client.set_cookie("sid", old_cookie, path="/lab")
    assert client.get("/lab/", headers=JSON).json == {}
    received = last_exchange(client)["cookie"]["received"]
    assert received["secret_index"] is None
    assert received["problem"] == "signature invalid for every secret"


def test_an_oversized_cookie_is_still_sent_and_flagged(client, lab):
    big = secrets.token_urlsafe(3750)[:5000]
    response = set_value(client, "blob", big)

    assert response.status_code == 200
    (header,) = session_cookies(response)
    value = header.split(";", 1)[0].split("=", 1)[1]
    assert len("sid") + len(value) > cookie.BROWSER_LIMIT

    record = last_exchange(client)
    size = record["cookie"]["size"]
    assert size["over_limit"] is True
    assert size["name_value"] == len("sid") + len(value)
    assert size["set_cookie_header"] == len(header)
    assert any("over the 4096 bytes" in r for r in record["decision"]["reasons"])

    assert client.get("/lab/", headers=JSON).json == {"blob": big}
    grown = last_exchange(client)["cookie"]["size"]["cookie_header"]
    assert grown > cookie.BROWSER_LIMIT


@pytest.mark.parametrize(
    "max_age, rolling, resent, reason",
    [
        (None, False, False, "no Set-Cookie: the session was not modified"),
        (None, True, False, "rolling re-sends only a permanent session"),
        (60, False, False, "unmodified, and rolling is off"),
        (60, True, True, "Set-Cookie, though unmodified"),
    ],
)
def test_rolling_and_max_age_on_an_unmodified_session(
    client, lab, max_age, rolling, resent, reason
):
    configure(client, max_age=max_age, rolling=rolling)
    written = set_value(client, "user", "alice")
    (first,) = session_cookies(written)
    assert ("Expires=" in first) is (max_age is not None)

    response = client.get("/lab/", headers=JSON)
    assert bool(session_cookies(response)) is resent
    decision = last_exchange(client)["decision"]
    assert decision["set_cookie"] is resent
    assert decision["store_op"] == ("set" if resent else "none")
    assert any(reason in r for r in decision["reasons"]), decision["reasons"]


@pytest.mark.parametrize(
    "max_age, expires", [(None, "no Expires"), (90, "Expires is 90 s")]
)
def test_the_expiry_is_explained_when_the_cookie_is_written(
    client, lab, max_age, expires
):
    configure(client, max_age=max_age)
    set_value(client, "user", "alice")
    reasons = last_exchange(client)["decision"]["reasons"]
    assert any(r.startswith(expires) for r in reasons), reasons


def test_an_empty_session_is_not_sent_even_when_rolling(client, lab):
    configure(client, max_age=60, rolling=True)
    response = client.get("/lab/", headers=JSON)
    assert session_cookies(response) == []
    reasons = last_exchange(client)["decision"]["reasons"]
    assert any("Flask sends nothing for an empty session" in r for r in reasons)


def test_login_signs_a_new_cookie_and_the_old_one_still_works(client, lab):
    set_value(client, "cart", "3 books")
    before = held(client)

    response = client.post("/lab/login", data={"user": "alice"}, headers=JSON)
    assert response.json == {"user": "alice"}
    assert flask_serializer(lab["secrets"][0]).loads(held(client)) == {"user": "alice"}
    decision = last_exchange(client)["decision"]
    assert decision["store_op"] == "set"
    assert any("no ID to regenerate" in r for r in decision["reasons"])

    client.set_cookie("sid", before, path="/lab")
    assert client.get("/lab/", headers=JSON).json == {"cart": "3 books"}


def test_logout_deletes_the_cookie_but_a_copy_still_verifies(client, lab):
    set_value(client, "user", "alice")
    copy = held(client)

    response = client.post("/lab/logout", headers=JSON)
    (header,) = session_cookies(response)
    assert header.startswith("sid=;") and "Max-Age=0" in header
    assert held(client) is None

    record = last_exchange(client)
    assert record["decision"]["store_op"] == "destroy"
    assert any("no ID and no server copy" in r for r in record["decision"]["reasons"])
    assert record["cookie"]["sent"]["deleted"] is True
    assert record["contents"] == []
    assert client.get("/api/store").json["sessions"] == []

    client.set_cookie("sid", copy, path="/lab")
    assert client.get("/lab/", headers=JSON).json == {"user": "alice"}


def test_unset_sends_nothing_and_the_browser_keeps_its_cookie(client, lab):
    set_value(client, "user", "alice")
    value = held(client)

    response = client.post("/lab/forget", headers=JSON)
    assert session_cookies(response) == []
    assert held(client) == value
    decision = last_exchange(client)["decision"]
    assert decision["store_op"] == "none"
    assert any(r.startswith("unset:") for r in decision["reasons"])


def test_secure_is_sent_over_plain_http(client, lab):
    configure(client, secure=True)
    response = set_value(client, "user", "alice")
    (header,) = session_cookies(response)
    assert "; Secure" in header
    reasons = last_exchange(client)["decision"]["reasons"]
    assert any("Flask sends the Secure cookie anyway" in r for r in reasons)


@pytest.mark.parametrize(
    "changes, note",
    [
        ({"resave": False}, "resave is off, but it does not apply"),
        ({"save_uninitialized": False}, "saveUninitialized is off, but it does not"),
        ({"trust_proxy": True}, "trust_proxy is on, but it changes nothing"),
        ({"priority": "high"}, "Priority is express's cookie option"),
    ],
)
def test_express_only_settings_are_said_not_to_apply(client, lab, changes, note):
    set_value(client, "user", "alice")
    assert not any(note in r for r in last_exchange(client)["decision"]["reasons"])

    configure(client, **changes)
    response = set_value(client, "user", "bob")
    assert "Priority" not in session_cookies(response)[0]
    assert any(note in r for r in last_exchange(client)["decision"]["reasons"])


def test_store_contents_are_the_cookie_the_browser_holds(client, lab):
    assert client.get("/api/store").json["sessions"] == []

    set_value(client, "user", "alice")
    record = last_exchange(client)
    (row,) = record["contents"]
    assert row["where"] == "cookie" and row["id"] is None
    assert row["data"] == {"user": "alice"}
    assert row["verified"] is True and row["held"] is True
    assert row["bytes"] == len(held(client))

    shown = client.get("/api/store").json
    assert shown["store"] == "cookie"
    assert [r["data"] for r in shown["sessions"]] == [{"user": "alice"}]


def test_the_cookie_row_counts_down_the_server_lifetime(client, lab):
    configure(client, max_age=60)
    set_value(client, "user", "alice")
    (row,) = client.get("/api/store").json["sessions"]
    assert 0 < row["ttl"] <= 60


def test_an_express_cookie_left_in_the_browser_is_no_flask_session(client):
    client.get("/api/settings")
    client.get("/lab/", headers=JSON)
    express_value = held(client)
    assert express_value.startswith("s%3A")

    configure(client, store="cookie")
    (row,) = client.get("/api/store").json["sessions"]
    assert row["verified"] is False and row["data"] is None
    assert row["problem"].startswith("malformed")

    assert client.get("/lab/", headers=JSON).json == {}
    received = last_exchange(client)["cookie"]["received"]
    assert received["raw"] == express_value and received["verified"] is False


def test_the_express_reading_says_its_kind(client):
    client.get("/api/settings")
    client.get("/lab/", headers=JSON)
    assert last_exchange(client)["cookie"]["kind"] == "express"


def test_a_weak_secret_is_cracked_and_a_forged_cookie_accepted(client, lab):
    configure(client, secrets=["keyboard cat"])
    set_value(client, "user", "guest")

    secret = cookie.find_secret(held(client), cookie.common_secrets())
    assert secret == "keyboard cat"

    client.set_cookie("sid", cookie.forge({"user": "admin"}, secret), path="/lab")
    assert client.get("/lab/", headers=JSON).json == {"user": "admin"}
    assert last_exchange(client)["cookie"]["received"]["verified"] is True
