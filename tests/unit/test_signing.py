"""The session ID cookie, byte for byte as express-session writes it."""

import base64
import hashlib
import hmac
from urllib.parse import unquote

import pytest

from app.specimen import signing

# cookie-signature's own example: sign('hello', 'tobiiscool').
KNOWN = ("hello", "tobiiscool", "hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI")


def test_signature_matches_cookie_signature():
    value, secret, expected = KNOWN
    assert f"{value}.{signing.signature(value, secret)}" == expected


def test_sign_is_url_encoded_with_prefix():
    wire = signing.sign("abc", "s3cret")
    mac = base64.b64encode(
        hmac.new(b"s3cret", b"abc", hashlib.sha256).digest()
    ).decode().rstrip("=")
    assert unquote(wire) == f"s:abc.{mac}"
    assert wire.startswith("s%3Aabc.")
    assert "+" not in wire and "/" not in wire


def test_generated_ids_are_32_url_safe_characters():
    ids = {signing.generate_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 32 and "=" not in i for i in ids)


@pytest.mark.parametrize(
    "raw, problem",
    [
        (None, "no cookie"),
        ("", "no cookie"),
        ("abc.def", "unsigned: no s: prefix"),
        ("s%3Aabc", "malformed: no signature"),
        ("s%3Aabc.AAAA", "signature invalid for every secret"),
        ("s%3A%ff%fe.%zz", "unsigned: no s: prefix, as the value does not decode"),
        ("s%3A%ff%fe.AAAA", "unsigned: no s: prefix, as the value does not decode"),
        ("s%3Aabc.%", "unsigned: no s: prefix, as the value does not decode"),
        ("s:\xff\xfe.AAAA", "signature invalid for every secret"),
    ],
)
def test_bad_cookies_read_as_no_session(raw, problem):
    reading = signing.read(raw, ["one", "two"])
    assert reading.session_id is None
    assert reading.problem == problem


def test_every_secret_verifies_and_the_index_is_kept():
    wire = signing.sign("the-id", "old")
    reading = signing.read(wire, ["new", "old"])
    assert reading.session_id == "the-id"
    assert reading.secret_index == 1
    assert signing.read(wire, ["new"]).session_id is None
