"""Sign and read the session ID cookie exactly as express-session does.

The value is ``s:<id>.<signature>``: HMAC-SHA256 of the ID with the first
secret, in standard base64 without padding, then URL-encoded on the wire the
way JavaScript's ``encodeURIComponent`` does it.
"""

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from urllib.parse import quote, unquote

PREFIX = "s:"

# encodeURIComponent leaves these unescaped; everything else is percent-encoded.
_URI_COMPONENT_SAFE = "-_.!~*'()"

# A % that does not start an escape makes decodeURIComponent throw.
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def generate_id() -> str:
    """Make an ID as uid-safe does: 24 random bytes, base64url, 32 characters."""
    return secrets.token_urlsafe(24)


def signature(value: str, secret: str) -> str:
    """Answer the base64 HMAC-SHA256 of the value, without ``=`` padding."""
    digest = hmac.new(secret.encode(), value.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode().rstrip("=")


def sign(session_id: str, secret: str) -> str:
    """Answer the cookie value as it goes on the wire."""
    signed = f"{PREFIX}{session_id}.{signature(session_id, secret)}"
    return quote(signed, safe=_URI_COMPONENT_SAFE)


@dataclass(frozen=True)
class CookieReading:
    """What the server made of the cookie it received.

    ``session_id`` is set only when a secret verified the signature.
    """

    raw: str | None
    decoded: str | None = None
    session_id: str | None = None
    claimed_id: str | None = None
    signature: str | None = None
    secret_index: int | None = None
    problem: str | None = None

    def to_dict(self) -> dict:
        """Answer the reading as JSON-ready data for the anatomy panel."""
        return {
            "kind": "express",
            "raw": self.raw,
            "decoded": self.decoded,
            "prefix": PREFIX if (self.decoded or "").startswith(PREFIX) else None,
            "session_id": self.session_id,
            "claimed_id": self.claimed_id,
            "signature": self.signature,
            "secret_index": self.secret_index,
            "verified": self.session_id is not None,
            "problem": self.problem,
        }


def decode(raw: str) -> str | None:
    """Decode as decodeURIComponent does, or answer None where it would throw."""
    if _STRAY_PERCENT.search(raw):
        return None
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        return None


def read(raw: str | None, secrets_list) -> CookieReading:
    """Unsign a received cookie value, trying every secret in order.

    A missing, unsigned or badly signed cookie is not an error: express-session
    treats it as no session and makes a new one, and so does the specimen.
    """
    # express-session skips an empty value as if the cookie were absent.
    if not raw:
        return CookieReading(raw=raw, problem="no cookie")

    # The cookie module keeps the value as it came when decoding throws.
    decoded = decode(raw)
    if decoded is None:
        return CookieReading(
            raw, raw, problem="unsigned: no s: prefix, as the value does not decode"
        )
    if not decoded.startswith(PREFIX):
        return CookieReading(raw, decoded, problem="unsigned: no s: prefix")

    body = decoded[len(PREFIX):]
    claimed_id, dot, mac = body.rpartition(".")
    if not dot or not claimed_id:
        return CookieReading(raw, decoded, problem="malformed: no signature")

    for index, secret in enumerate(secrets_list):
        expected = signature(claimed_id, secret)
        if hmac.compare_digest(expected.encode(), mac.encode(errors="replace")):
            return CookieReading(raw, decoded, claimed_id, claimed_id, mac, index)
    return CookieReading(
        raw,
        decoded,
        None,
        claimed_id,
        mac,
        problem="signature invalid for every secret",
    )
