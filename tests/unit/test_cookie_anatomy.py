"""Flask's signed session cookie taken apart, cracked and forged, without an app."""

import base64
import json
import zlib

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from app.settings import Settings
from app.specimen import cookie


def flask_dumps(data: dict, secret: str) -> str:
    app = Flask("check")
    app.secret_key = secret
    return SecureCookieSessionInterface().get_signing_serializer(app).dumps(data)


def settings(*secrets, max_age=None):
    return Settings(store="cookie", secrets=tuple(secrets), max_age=max_age)


def test_a_plain_cookie_is_taken_apart():
    value = flask_dumps({"user": "alice"}, "s3")
    reading = cookie.take_apart(value, settings("s3")).to_dict()

    assert reading["raw"] == value
    stamp = value.split(".")[1]
    assert value == f'{reading["payload"]}.{stamp}.{reading["signature"]}'
    assert reading["compressed"] is False
    assert reading["json"] == '{"user":"alice"}'
    assert reading["data"] == {"user": "alice"}
    assert reading["verified"] is True and reading["secret_index"] == 0
    assert reading["issued_at"].endswith("+00:00")
    assert len(reading["signature"]) == 27


def test_a_compressed_cookie_is_unzipped():
    data = {"note": "ab" * 300}
    value = flask_dumps(data, "s3")
    reading = cookie.take_apart(value, settings("s3")).to_dict()

    assert value.startswith(".")
    assert reading["compressed"] is True
    assert json.loads(reading["json"]) == data
    assert reading["verified"] is True


def test_the_secret_index_is_the_fallback_that_verified():
    value = flask_dumps({"a": "1"}, "older")
    reading = cookie.take_apart(value, settings("current", "old", "older"))
    assert reading.secret_index == 2
    assert reading.session == {"a": "1"}


def bomb() -> str:
    packed = zlib.compress(b'{"a":"' + b"0" * (4 * 1024 * 1024) + b'"}', 9)
    return "." + base64.urlsafe_b64encode(packed).decode().rstrip("=")


@pytest.mark.parametrize(
    "raw, problem",
    [
        (None, "no cookie"),
        ("", "empty value"),
        ("abc", "malformed: not payload.timestamp.signature"),
        ("a.b", "malformed: not payload.timestamp.signature"),
        ("eyJ1IjoiYiJ9.AAAA.xyz", "signature invalid for every secret"),
        ("é.ü.ß", "signature invalid for every secret"),
        (
            f"{bomb()}.axG8nw.D_VcvBIxRabMlX8x3yQ4K8UZ-ow",
            "signature invalid for every secret",
        ),
    ],
)
def test_bad_cookies_are_no_session(raw, problem):
    reading = cookie.take_apart(raw, settings("s3"))
    assert reading.session is None
    assert reading.problem == problem
    assert reading.to_dict()["verified"] is False


def test_an_unverified_zip_is_not_inflated_past_the_limit():
    assert cookie.payload_text(bomb()) is None


def test_a_signed_list_is_refused_as_no_session():
    value = cookie.forge(["not", "an", "object"], "s3")
    reading = cookie.take_apart(value, settings("s3"))
    assert reading.session is None
    assert reading.secret_index == 0
    assert "not a JSON object" in reading.problem


def test_the_word_list_holds_the_usual_suspects():
    words = cookie.common_secrets()
    assert len(words) >= 200
    assert len(set(words)) == len(words)
    assert {"keyboard cat", "secret", "changeme"} <= set(words)


def test_keyboard_cat_is_found_and_a_strong_secret_is_not():
    words = cookie.common_secrets()
    weak = flask_dumps({"user": "guest"}, "keyboard cat")
    strong = flask_dumps({"user": "guest"}, "Q7t-vb1Lr0xw_s2J9mPq4c8Zk")

    assert cookie.find_secret(weak, words) == "keyboard cat"
    assert cookie.find_secret(strong, words) is None


def test_a_forged_cookie_verifies_as_flask_signed_it():
    forged = cookie.forge({"user": "admin"}, "keyboard cat")
    app = Flask("check")
    app.secret_key = "keyboard cat"
    loaded = SecureCookieSessionInterface().get_signing_serializer(app).loads(forged)
    assert loaded == {"user": "admin"}


EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"


def record(request_cookie=None, set_cookie=None):
    request = [["Cookie", request_cookie]] if request_cookie else []
    response = [["Set-Cookie", set_cookie]] if set_cookie else []
    return {"request": {"headers": request}, "response": {"headers": response}}


@pytest.mark.parametrize(
    "exchange, held",
    [
        (record(), None),
        (record("lab_learner=x; sid=old"), "old"),
        (record("sid=old", "sid=new; HttpOnly; Path=/lab"), "new"),
        (record("sid=old", f"sid=; Expires={EPOCH}; Max-Age=0"), None),
        (record("sid=old", "other=v; Path=/"), "old"),
        (record("sid=old", f"sid={'v' * 4093}; Path=/lab"), "v" * 4093),
        (record("sid=old", f"sid={'v' * 4094}; Path=/lab"), "old"),
        (record(None, f"sid={'v' * 4094}; Path=/lab"), None),
    ],
)
def test_the_held_cookie_is_read_from_the_headers(exchange, held):
    assert cookie.held_value(exchange, "sid") == held


@pytest.mark.parametrize(
    "changes, count",
    [
        ({}, 0),
        ({"resave": False, "save_uninitialized": False}, 2),
        ({"trust_proxy": True, "priority": "low"}, 2),
    ],
)
def test_express_settings_are_noted_only_when_changed(changes, count):
    assert len(cookie.settings_notes(Settings(**changes))) == count
