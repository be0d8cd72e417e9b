"""The cookie lesson's demos: read, tamper with, weigh, crack and forge a cookie.

Every demo works on the learner's own specimen cookie, as the record saw it
cross the wire, and on nobody else's. A demo that changes the browser's copy
answers a Set-Cookie for the specimen's cookie name and path, so the next lab
request really carries what the demo made and the specimen judges it as it
judges any cookie.
"""

import json
import logging
import secrets
import string
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app, request
from werkzeug.http import dump_cookie

from .. import learners
from ..specimen import cookie
from ..views import hx
from . import bp

log = logging.getLogger(__name__)

SIZE_ROWS = 8
NOTE_LENGTH = 1000
NOTE_KEYS = 20
FORGE_KEY_LIMIT = 64
FORGE_VALUE_LIMIT = 200
# Where a one-character change is looked for: each try decodes the payload
# once, so the search stays a few thousand decodes however big the cookie.
TAMPER_SEARCH = 48
BASE64URL = string.ascii_letters + string.digits + "-_"


class DemoRefused(Exception):
    """A demo cannot run yet, or its form is not valid; the message says why."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Tamper:
    """One character of a cookie's payload changed, and where."""

    value: str
    index: int
    before: str
    after: str

    @property
    def payload(self) -> str:
        return self.value.rsplit(".", 2)[0]


def lab():
    return current_app.extensions["session_lab"]


def latest_record(settings) -> dict:
    """Answer the learner's latest exchange, which must be with the cookie store.

    :raise DemoRefused: there is none yet, or the store is another.
    """
    if settings.store != "cookie":
        raise DemoRefused(
            f"Your settings use the {settings.store} store, and this demo needs "
            "the cookie store: press Use this step's settings first."
        )
    records = lab().journal.exchanges(learners.current().id)
    if not records:
        raise DemoRefused("There is no lab request yet: send one from the lesson.")

    record = records[-1]
    if record.get("store") != "cookie":
        raise DemoRefused(
            f"Your latest lab request (exchange {record.get('seq')}) went to the "
            f"{record.get('store')} store: send one to the cookie store first."
        )
    return record


def sent_cookie(settings) -> tuple[dict, str]:
    """Answer the latest exchange and the specimen cookie the browser sent with it.

    :raise DemoRefused: that request carried no specimen cookie.
    """
    record = latest_record(settings)
    raw = record["cookie"]["received"]["raw"]
    if not raw:
        raise DemoRefused(
            f"Your latest lab request (exchange {record['seq']}) carried no "
            f"{settings.name} cookie: send GET /lab/ so your browser sends the "
            "one it holds."
        )
    return record, raw


def held_cookie(settings) -> tuple[dict, str]:
    """Answer the latest exchange and the specimen cookie the browser held after it.

    :raise DemoRefused: the browser held none, as far as the record shows.
    """
    record = latest_record(settings)
    held = cookie.held_value(record, settings.name)
    if not held:
        raise DemoRefused(
            f"After exchange {record['seq']} your browser holds no "
            f"{settings.name} cookie: put a value in the session first."
        )
    return record, held


def specimen_set_cookie(settings, value: str) -> str:
    """Answer the Set-Cookie that puts a value in the browser's specimen cookie.

    The attributes are the ones the specimen's own Set-Cookie carries, so the
    browser replaces the cookie it holds rather than keep a second one.
    """
    expires = None
    if settings.max_age is not None:
        expires = datetime.now(timezone.utc) + timedelta(seconds=settings.max_age)
    same_site = settings.same_site.capitalize() if settings.same_site else None
    # Size is checked by the demos themselves, against the browser's limit.
    return dump_cookie(
        settings.name,
        value,
        expires=expires,
        path=settings.path,
        domain=settings.domain,
        secure=settings.secure,
        httponly=settings.http_only,
        samesite=same_site,
        partitioned=settings.partitioned,
        max_size=0,
    )


def answer(fragment: str, status: int = 200, set_cookie: str | None = None, **context):
    response = hx.render(fragment, "panel.html", status, **context)
    if set_cookie is not None:
        response.headers.add("Set-Cookie", set_cookie)
    return response


@bp.errorhandler(DemoRefused)
def refuse(error: DemoRefused):
    if error.status == 422:
        log.warning("refused a cookie demo's form: %s", error)
    return answer("demos/cookie/_refused.html", error.status, message=str(error))


@bp.app_template_global()
def cookie_decode_demo() -> dict:
    """Answer the cookie the browser holds, for the page's own script to decode."""
    settings = learners.current().settings
    try:
        record, held = held_cookie(settings)
    except DemoRefused as error:
        return {"problem": str(error)}
    return {
        "seq": record["seq"],
        "name": settings.name,
        "value": held,
        "compressed": held.startswith("."),
        "bytes": len(held.encode()),
    }


@bp.get("/cookie/decode")
def show_decode():
    return answer("demos/cookie/_decode.html", demo=cookie_decode_demo())


@bp.post("/cookie/tamper")
def tamper_cookie():
    settings = learners.current().settings
    record, held = held_cookie(settings)
    change = tampered(held)
    header = specimen_set_cookie(settings, change.value)
    return answer(
        "demos/cookie/_tampered.html",
        set_cookie=header,
        change=change,
        seq=record["seq"],
        before=cookie.payload_text(held.rsplit(".", 2)[0]),
        after=cookie.payload_text(change.payload),
        header=header,
    )


def tampered(value: str) -> Tamper:
    """Answer the cookie value with one character of its payload changed.

    The change chosen is the first, near the start, after which the payload
    still decodes to a JSON object differing only in letters or digits, so
    the page can show what the cookie now claims. A compressed payload has
    none, as zlib's checksum breaks, so its middle character is changed
    without a search.
    """
    payload, stamp, signature = value.rsplit(".", 2)
    compressed = payload.startswith(".")
    start = 1 if compressed else 0
    original = None if compressed else cookie.payload_text(payload)
    searched = 0 if original is None else min(len(payload), start + TAMPER_SEARCH)
    for index in range(start, searched):
        for letter in BASE64URL:
            if letter == payload[index]:
                continue
            candidate = payload[:index] + letter + payload[index + 1 :]
            text = cookie.payload_text(candidate)
            if readable_change(original, text):
                changed = f"{candidate}.{stamp}.{signature}"
                return Tamper(changed, index, payload[index], letter)

    index = start + (len(payload) - start) // 2
    letter = "A" if payload[index] != "A" else "B"
    changed = f"{payload[:index]}{letter}{payload[index + 1 :]}.{stamp}.{signature}"
    return Tamper(changed, index, payload[index], letter)


def readable_change(original: str, text: str | None) -> bool:
    """Answer whether text is the original JSON object with letters changed."""
    if text is None or text == original or len(text) != len(original):
        return False
    changed = [(a, b) for a, b in zip(original, text) if a != b]
    if not all(a.isascii() and a.isalnum() for pair in changed for a in pair):
        return False
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


@bp.app_template_global()
def cookie_size_demo() -> dict:
    """Answer the sizes of the learner's latest cookie-store exchanges, and a note."""
    learner = learners.current()
    records = lab().journal.exchanges(learner.id)
    rows = size_rows(records)
    return {
        "rows": rows[-SIZE_ROWS:],
        "key": next_note_key(records, learner.settings),
        "value": secrets.token_urlsafe(NOTE_LENGTH)[:NOTE_LENGTH],
        "length": NOTE_LENGTH,
        "limit": cookie.BROWSER_LIMIT,
        "store": learner.settings.store,
    }


def size_rows(records: list) -> list[dict]:
    """Answer each cookie-store exchange's sizes, and what the browser kept.

    The browser kept an older cookie when the exchange before set one over
    the limit and this request carried another, as Chromium does.
    """
    rows, previous = [], None
    for record in records:
        if record.get("store") != "cookie":
            previous = None
            continue

        block = record["cookie"]
        received, sent, size = block["received"], block["sent"], block["size"]
        name_bytes = len(block["name"].encode())
        carried = None if received["raw"] is None else name_bytes + received["bytes"]
        older = (
            previous is not None
            and previous["over_limit"]
            and received["raw"] != previous["sent_raw"]
        )
        row = {
            "seq": record.get("seq"),
            "line": f"{record['request']['method']} {record['request']['path']}",
            "cookie_header": size["cookie_header"],
            "carried": carried,
            "set_cookie": size["name_value"],
            "over_limit": size["over_limit"],
            "sent_raw": None if sent is None or sent["deleted"] else sent["raw"],
            "kept_older": older,
            "after": previous["seq"] if older else None,
        }
        rows.append(row)
        previous = row
    return rows


def next_note_key(records: list, settings) -> str:
    """Answer the first note-N key the session the browser holds lacks."""
    data = {}
    if records and records[-1].get("store") == "cookie":
        held = cookie.held_value(records[-1], settings.name)
        data = cookie.take_apart(held, settings).data() or {}
    for number in range(1, NOTE_KEYS + 1):
        if f"note-{number}" not in data:
            return f"note-{number}"
    return f"note-{NOTE_KEYS}"


@bp.get("/cookie/sizes")
def show_sizes():
    return answer("demos/cookie/_sizes.html", demo=cookie_size_demo())


def word_list() -> dict:
    words = cookie.common_secrets()
    return {
        "words": words,
        "count": len(words),
        "bytes": cookie.WORD_LIST.stat().st_size,
        "file": cookie.WORD_LIST.relative_to(cookie.ROOT).as_posix(),
    }


def recover_secret(raw: str) -> dict:
    """Try the bundled word list on a cookie, one word after another.

    The list is the bound: a few hundred guesses at most, each one HMAC.
    """
    listed = word_list()
    started = time.perf_counter()
    found = cookie.find_secret(raw, listed["words"])
    elapsed = (time.perf_counter() - started) * 1000
    guesses = listed["words"].index(found) + 1 if found else listed["count"]
    return {**listed, "secret": found, "guesses": guesses, "ms": round(elapsed, 1)}


@bp.post("/cookie/crack")
def crack_cookie():
    settings = learners.current().settings
    record, raw = sent_cookie(settings)
    cracked = recover_secret(raw)
    log.debug("the word list met a learner's cookie: %s guesses", cracked["guesses"])
    return answer(
        "demos/cookie/_cracked.html",
        cracked=cracked,
        seq=record["seq"],
        name=settings.name,
        value=raw,
    )


@bp.post("/cookie/forge")
def forge_cookie():
    settings = learners.current().settings
    key = form_text("key", FORGE_KEY_LIMIT)
    value = form_text("value", FORGE_VALUE_LIMIT, allow_empty=True)
    record, raw = sent_cookie(settings)

    cracked = recover_secret(raw)
    if cracked["secret"] is None:
        raise DemoRefused(
            f"None of the {cracked['count']} words in the list signed the cookie "
            f"your browser sent with exchange {record['seq']}, so there is no "
            "secret to forge with. That is what a strong secret buys.",
            422,
        )

    data = cookie.take_apart(raw, settings).data()
    forged_data = {**(data if isinstance(data, dict) else {}), key: value}
    forged = cookie.forge(forged_data, cracked["secret"])
    size = len(settings.name.encode()) + len(forged.encode())
    if size > cookie.BROWSER_LIMIT:
        raise DemoRefused(
            f"The forged cookie would be {size} bytes, over the "
            f"{cookie.BROWSER_LIMIT} bytes a browser keeps: start from a smaller "
            "session.",
            422,
        )

    header = specimen_set_cookie(settings, forged)
    return answer(
        "demos/cookie/_forged.html",
        set_cookie=header,
        cracked=cracked,
        seq=record["seq"],
        data=forged_data,
        value=forged,
        header=header,
    )


def form_text(name: str, limit: int, allow_empty: bool = False) -> str:
    """Read one field of a demo's form.

    :raise DemoRefused: the field is missing, empty or too long.
    """
    value = request.form.get(name)
    if value is None or (not value and not allow_empty):
        raise DemoRefused(f"Fill in the field {name}.", 422)
    if len(value) > limit:
        raise DemoRefused(
            f"{name} is {len(value)} characters; the limit is {limit}.", 422
        )
    return value
