"""The cookie store: the whole session in a cookie signed as Flask signs its own.

Signing, reading, Set-Cookie and deletion are Flask 3.1's
``SecureCookieSessionInterface`` code, called with a stand-in app that carries
the learner's settings: the first secret is SECRET_KEY and the rest are
SECRET_KEY_FALLBACKS, max_age makes the session permanent, rolling is
SESSION_REFRESH_EACH_REQUEST. What this module adds is what the lab shows: the
reason for each step and the cookie taken apart.
"""

import json
import time
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from flask import Flask
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadData, BadPayload, BadSignature, SignatureExpired
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, bytes_to_int
from werkzeug.http import parse_cookie

from . import interface
from .actions import SessionActions

# A session that is not permanent still has its timestamp checked, against
# Flask's default PERMANENT_SESSION_LIFETIME (31 days).
DEFAULT_LIFETIME: timedelta = Flask.default_config["PERMANENT_SESSION_LIFETIME"]

# Chromium refuses a cookie whose name and value together exceed this
# (ParsedCookie::kMaxCookieNamePlusValueSize); Werkzeug warns at 4093.
BROWSER_LIMIT = 4096

# The most JSON the anatomy unzips from a payload it has not verified yet.
PAYLOAD_SHOW_LIMIT = 256 * 1024

ROOT = Path(__file__).resolve().parents[2]
WORD_LIST = ROOT / "lessons" / "data" / "common-secrets.txt"


def lifetime(settings) -> timedelta:
    """Answer how long a signed cookie stays acceptable to the server."""
    if settings.max_age is None:
        return DEFAULT_LIFETIME
    return timedelta(seconds=settings.max_age)


class SigningKeys:
    """What Flask's ``get_signing_serializer`` reads from an app: its secrets."""

    def __init__(self, secrets):
        secrets = list(secrets)
        self.secret_key = secrets[0]
        self.config = {"SECRET_KEY_FALLBACKS": secrets[1:]}


class LearnerApp(SigningKeys):
    """What Flask's cookie session reads from an app, from the learner's settings."""

    def __init__(self, settings):
        super().__init__(settings.secrets)
        self.permanent_session_lifetime = lifetime(settings)
        same_site = settings.same_site.capitalize() if settings.same_site else None
        self.config.update(
            SESSION_COOKIE_NAME=settings.name,
            SESSION_COOKIE_DOMAIN=settings.domain,
            SESSION_COOKIE_PATH=settings.path,
            SESSION_COOKIE_HTTPONLY=settings.http_only,
            SESSION_COOKIE_SECURE=settings.secure,
            SESSION_COOKIE_SAMESITE=same_site,
            SESSION_COOKIE_PARTITIONED=settings.partitioned,
            SESSION_REFRESH_EACH_REQUEST=settings.rolling,
            APPLICATION_ROOT="/",
        )


def signing_serializer(secrets) -> URLSafeTimedSerializer:
    """Answer Flask's own serializer for these secrets, the first one current."""
    return SecureCookieSessionInterface().get_signing_serializer(SigningKeys(secrets))


@dataclass(frozen=True)
class Anatomy:
    """One cookie value taken apart: ``payload.timestamp.signature``.

    ``session`` is set only when a secret verified the signature within the
    lifetime and the payload is a JSON object the lab can show.
    """

    raw: str | None
    payload: str | None = None
    json: str | None = None
    timestamp: int | None = None
    signature: str | None = None
    secret_index: int | None = None
    session: dict | None = None
    problem: str | None = None

    @property
    def verified(self) -> bool:
        return self.session is not None

    def data(self):
        """Answer the payload as plain JSON, readable whatever the signature."""
        if self.json is None:
            return None
        try:
            return json.loads(self.json)
        except ValueError:
            return None

    def to_dict(self) -> dict:
        """Answer the cookie's anatomy as JSON-ready data."""
        issued = None
        if self.timestamp is not None:
            try:
                issued = datetime.fromtimestamp(self.timestamp, timezone.utc)
            except (OverflowError, OSError, ValueError):
                issued = None
        return {
            "raw": self.raw,
            "bytes": None if self.raw is None else len(self.raw.encode()),
            "payload": self.payload,
            "compressed": bool(self.payload and self.payload.startswith(".")),
            "json": self.json,
            "data": self.data(),
            "timestamp": self.timestamp,
            "issued_at": issued.isoformat() if issued else None,
            "signature": self.signature,
            "secret_index": self.secret_index,
            "verified": self.verified,
            "problem": self.problem,
        }


def take_apart(raw: str | None, settings) -> Anatomy:
    """Read a cookie value as Flask does, trying each secret in turn.

    A missing, malformed, tampered or expired cookie is not an error: Flask
    makes a new empty session without a word, and so does the specimen.
    """
    if raw is None:
        return Anatomy(None, problem="no cookie")
    if not raw:
        return Anatomy(raw, problem="empty value")

    parts = raw.rsplit(".", 2)
    if len(parts) != 3:
        return Anatomy(raw, problem="malformed: not payload.timestamp.signature")

    payload, stamp, mac = parts
    base = Anatomy(raw, payload, payload_text(payload), timestamp_of(stamp), mac)
    return verify(base, settings)


def payload_text(payload: str) -> str | None:
    """Answer the JSON inside a payload, unzipped when it starts with ``.``.

    The payload is shown before its signature is checked, so the unzipping is
    bounded: a forged payload cannot make the server inflate megabytes.
    """
    compressed = payload.startswith(".")
    try:
        data = base64_decode(payload[1:] if compressed else payload)
        if compressed:
            inflater = zlib.decompressobj()
            data = inflater.decompress(data, PAYLOAD_SHOW_LIMIT)
            if inflater.unconsumed_tail or not inflater.eof:
                return None
        return data.decode("utf-8")
    except (BadData, zlib.error, UnicodeDecodeError, ValueError):
        return None


def timestamp_of(stamp: str) -> int | None:
    try:
        return bytes_to_int(base64_decode(stamp))
    except (BadData, ValueError):
        return None


def verify(base: Anatomy, settings) -> Anatomy:
    max_age = int(lifetime(settings).total_seconds())
    for index, secret in enumerate(settings.secrets):
        try:
            loaded = signing_serializer([secret]).loads(base.raw, max_age=max_age)
        except SignatureExpired:
            return anatomy(base, index, problem=expired(base.timestamp, max_age))
        except BadSignature:
            continue
        except BadPayload:
            problem = (
                "the signature holds, but the payload cannot be read; "
                "Flask itself would fail on it with an error 500"
            )
            return anatomy(base, index, problem=problem)

        if not plain_object(loaded):
            problem = (
                "the signature holds, but the payload is not a JSON object "
                "of plain values, which the lab cannot show"
            )
            return anatomy(base, index, problem=problem)
        return anatomy(base, index, session=loaded)

    return anatomy(base, None, problem="signature invalid for every secret")


def anatomy(base: Anatomy, index, session=None, problem=None) -> Anatomy:
    return Anatomy(
        base.raw,
        base.payload,
        base.json,
        base.timestamp,
        base.signature,
        secret_index=index,
        session=session,
        problem=problem,
    )


def expired(timestamp: int | None, max_age: int) -> str:
    age = int(time.time()) - (timestamp or 0)
    if age < 0:
        return "expired: the signature holds, but its timestamp is in the future"
    return (
        f"expired: the signature holds, but it is {age} s old "
        f"and the server accepts {max_age} s at most"
    )


def plain_object(data) -> bool:
    if not isinstance(data, dict):
        return False
    try:
        json.dumps(data)
    except (TypeError, ValueError):
        return False
    return True


class CookieSession(SessionActions, SecureCookieSession):
    """Flask's cookie session, with the specimen's login, logout and unset.

    Permanence comes from the learner's max_age, as Flask-Session's
    SESSION_PERMANENT does, rather than from a ``_permanent`` key, so the
    cookie carries the learner's data and nothing else.
    """

    def __init__(self, exchange, data=None):
        super().__init__(data)
        self.exchange = exchange

    @property
    def permanent(self) -> bool:
        return self.exchange.settings.max_age is not None


class CookieExchange:
    """One request's cookie session: what was read, and what was decided.

    A cookie session has no ID, so ``cookie_id`` and ``session_id`` stay None.
    """

    def __init__(self, context):
        self.context = context
        self.settings = context.settings
        self.app = LearnerApp(context.settings)
        self.cookie_id = None
        self.session_id = None
        self.dropped = False
        self.decision = interface.Decision()

    def open(self, reading: Anatomy) -> CookieSession:
        self.decision.reasons.append(opening_reason(reading))
        return CookieSession(self, reading.session)

    def regenerate(self, session: CookieSession) -> None:
        session.clear()
        self.decision.reasons.append(
            "login: a cookie session has no ID to regenerate; as a Flask app "
            "does, the session is cleared and the user written into it, so a "
            "new cookie is signed. A copy of the old cookie still verifies "
            "until it is too old: nothing on the server can revoke it"
        )

    def destroy(self, session: CookieSession) -> None:
        session.clear()
        self.decision.reasons.append(
            "logout: there is no ID and no server copy to destroy; as a Flask "
            "app does, the session is cleared. A copy of the old cookie still "
            "verifies until it is too old: nothing on the server marks it dead"
        )

    def unset(self, session: CookieSession) -> None:
        self.dropped = True
        self.decision.reasons.append(
            "unset: the request let go of its session, so nothing is sent and "
            "the browser keeps its cookie, data and all; unset=keep or destroy "
            "makes no difference, there is no server copy"
        )


def opening_reason(reading: Anatomy) -> str:
    # Secrets are counted from 1 here, as the settings list them.
    if reading.verified and reading.secret_index == 0:
        return (
            "read the session from the cookie: secret 1, the current key, "
            "verified it"
        )
    if reading.verified:
        return (
            f"read the session from the cookie: secret {reading.secret_index + 1}, "
            "a fallback key, verified it; Flask re-signs with secret 1 only when "
            "it next sends the cookie"
        )
    if reading.raw is None:
        return "new empty session: no cookie"
    return f"new empty session, silently: {reading.problem}"


class SignedCookieInterface(SecureCookieSessionInterface):
    """Flask's own cookie session, fed the learner's settings instead of config.

    Flask's ``save_session`` runs unchanged with the learner's stand-in app;
    the reasons are worked out from the same tests Flask's code makes, and the
    store operation from the Set-Cookie it really added.
    """

    def open_session(self, app, request):
        context = request.environ["lab.context"]
        exchange = CookieExchange(context)
        context.exchange = exchange

        raw = request.cookies.get(self.get_cookie_name(exchange.app))
        context.reading = take_apart(raw, context.settings)
        return exchange.open(context.reading)

    def save_session(self, app, session, response):
        exchange = session.exchange
        decision = exchange.decision
        if not exchange.dropped:
            before = len(response.headers.getlist("Set-Cookie"))
            super().save_session(exchange.app, session, response)
            decision.reasons.append(self.why(exchange.app, session))
            added = response.headers.getlist("Set-Cookie")[before:]
            self.note_sent(exchange, added)
        decision.reasons.extend(settings_notes(exchange.settings))

    def why(self, app, session) -> str:
        rolling = app.config["SESSION_REFRESH_EACH_REQUEST"]
        if not session:
            if session.modified:
                return (
                    "Set-Cookie deletes the cookie: the session was emptied, and "
                    "Flask clears the cookie of an emptied session"
                )
            return (
                "no Set-Cookie: the session is empty, and Flask sends nothing "
                "for an empty session, whatever rolling and max_age say"
            )

        if not self.should_set_cookie(app, session):
            if session.permanent:
                return (
                    "no Set-Cookie: unmodified, and rolling is off, so the cookie "
                    "keeps its timestamp and Expires from when it was last written"
                )
            if rolling:
                return (
                    "no Set-Cookie: unmodified; rolling re-sends only a permanent "
                    "session, and without max_age the session is not permanent"
                )
            return "no Set-Cookie: the session was not modified"

        if session.modified:
            return (
                "Set-Cookie: the session was modified, so Flask signs the whole "
                "session into a new cookie"
            )
        return (
            "Set-Cookie, though unmodified: max_age makes the session permanent "
            "and rolling re-sends a permanent session on every response, with a "
            "new timestamp and Expires"
        )

    def note_sent(self, exchange: CookieExchange, added: list) -> None:
        decision = exchange.decision
        settings = exchange.settings
        header = find_set_cookie(added, settings.name)
        if header is None:
            return

        value, deleted = cookie_value(header)
        decision.set_cookie = True
        decision.store_op = "destroy" if deleted else "set"
        if not deleted:
            decision.reasons.append(expiry_note(settings))
            size = len(settings.name.encode()) + len(value.encode())
            if size > BROWSER_LIMIT:
                decision.reasons.append(
                    f"the cookie is {size} bytes (name and value), over the "
                    f"{BROWSER_LIMIT} bytes Chromium accepts: Flask sends it "
                    "anyway, and Chromium ignores this Set-Cookie without a word"
                )
        plain_http = exchange.context.environ.get("wsgi.url_scheme") != "https"
        if settings.secure and plain_http:
            decision.reasons.append(
                "Secure is on and this request is plain HTTP: Flask sends the "
                "Secure cookie anyway, it makes no such check; the browser "
                "decides (Chromium keeps it from http://localhost and 127.0.0.1, "
                "and drops it from other http:// hosts)"
            )


def expiry_note(settings) -> str:
    if settings.max_age is not None:
        return (
            f"Expires is {settings.max_age} s from now (max_age: a permanent "
            "session), and the server refuses the cookie once its timestamp is "
            "older than that"
        )
    days = DEFAULT_LIFETIME.days
    return (
        "no Expires: without max_age the session is not permanent, so the "
        "browser keeps the cookie until it closes; the server still refuses "
        f"it once its timestamp is {days} days old (Flask's default lifetime)"
    )


def settings_notes(settings) -> list[str]:
    """Answer why express-only settings the learner changed do nothing here."""
    notes = []
    if not settings.resave:
        notes.append(
            "resave is off, but it does not apply: there is no server copy to "
            "save or leave alone"
        )
    if not settings.save_uninitialized:
        notes.append(
            "saveUninitialized is off, but it does not apply: Flask never sends "
            "a cookie for an empty session anyway"
        )
    if settings.trust_proxy:
        notes.append(
            "trust_proxy is on, but it changes nothing: Flask's cookie session "
            "never asks whether the request is secure"
        )
    if settings.priority:
        notes.append(
            "Priority is express's cookie option; Flask's cookie session has no "
            "such attribute, so it is not sent"
        )
    return notes


def find_set_cookie(headers, name: str) -> str | None:
    """Answer the Set-Cookie header value for the named cookie, if one was sent."""
    for header in headers:
        pair = header.split(";", 1)[0]
        if pair.split("=", 1)[0].strip() == name:
            return header
    return None


def cookie_value(header: str) -> tuple[str, bool]:
    """Answer a Set-Cookie header's value, and whether it deletes the cookie."""
    pair, _, attributes = header.partition(";")
    value = next(iter(parse_cookie(pair).values()), "")
    deleting = any(
        part.strip().lower() == "max-age=0" for part in attributes.split(";")
    )
    return value, deleting


def header_values(headers, name: str) -> list[str]:
    return [value for key, value in headers if key.lower() == name.lower()]


def held_value(record: dict, name: str) -> str | None:
    """Answer the cookie value the browser holds after an exchange, from its headers.

    The one sent wins; a deletion leaves nothing; else the one received. A
    cookie over the browser's limit does not win: Chromium ignores it and keeps
    the one it had.
    """
    sent = header_values(record["response"]["headers"], "Set-Cookie")
    header = find_set_cookie(sent, name)
    if header is not None:
        value, deleted = cookie_value(header)
        if deleted:
            return None
        if len(name.encode()) + len(value.encode()) <= BROWSER_LIMIT:
            return value

    received = header_values(record["request"]["headers"], "Cookie")
    if not received:
        return None
    return parse_cookie(received[0]).get(name)


def describe(context, response_headers) -> dict:
    """Answer the record's cookie block: both cookies taken apart, and their sizes."""
    settings = context.settings
    received = context.reading or take_apart(None, settings)
    cookie_header = context.environ.get("HTTP_COOKIE")

    sent_headers = header_values(response_headers, "Set-Cookie")
    header = find_set_cookie(sent_headers, settings.name)
    sent = None
    name_value = None
    if header is not None:
        value, deleted = cookie_value(header)
        sent = {**take_apart(value, settings).to_dict(), "deleted": deleted}
        name_value = len(settings.name.encode()) + len(value.encode())

    over = name_value is not None and name_value > BROWSER_LIMIT
    return {
        "kind": "flask",
        "name": settings.name,
        "received": received.to_dict(),
        "sent": sent,
        "size": {
            "cookie_header": wire_bytes(cookie_header),
            "set_cookie_header": wire_bytes(header),
            "name_value": name_value,
            "browser_limit": BROWSER_LIMIT,
            "over_limit": over,
        },
    }


def wire_bytes(value: str | None) -> int | None:
    # WSGI carries header values as latin-1 text: one character is one byte.
    if value is None:
        return None
    return len(value.encode("latin-1", errors="replace"))


def contents(held: str | None, settings) -> list:
    """Answer the session the browser holds, decoded from its cookie.

    There is no server-side store and no index: the one row is the cookie.
    """
    if held is None:
        return []

    reading = take_apart(held, settings)
    ttl = None
    if reading.timestamp is not None:
        age = time.time() - reading.timestamp
        ttl = round(max(0.0, lifetime(settings).total_seconds() - age), 1)
    return [
        {
            "where": "cookie",
            "id": None,
            "data": reading.data(),
            "ttl": ttl,
            "held": True,
            "bytes": len(held.encode()),
            "verified": reading.verified,
            "secret_index": reading.secret_index,
            "problem": reading.problem,
        }
    ]


def common_secrets(path: Path = WORD_LIST) -> list[str]:
    """Answer the weak-secret lesson's word list, one secret a line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def find_secret(value: str, words) -> str | None:
    """Answer the word that signed a Flask session cookie, or None if none did.

    Only the signature is checked, not the age: an old cookie gives its
    secret away just as well.
    """
    for word in words:
        if not word:
            continue
        try:
            signing_serializer([word]).loads(value)
        except BadPayload:
            return word
        except BadSignature:
            continue
        return word
    return None


def forge(data: dict, secret: str) -> str:
    """Answer a cookie value carrying chosen data, signed with the secret."""
    return signing_serializer([secret]).dumps(data)
