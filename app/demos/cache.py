"""The cache lesson's demos: cookie sizes, TTLs, a shared cache and a flush.

Everything shown is read from the real server when the demo is asked: Redis
through SCAN, GET and PTTL; memcached, which cannot list its keys, through
gets of the keys the lab's index names and its own item count. Other
learners' keys are counted, never named.
"""

import json
import logging
import re
import time
from dataclasses import dataclass, field

from flask import current_app, render_template, request

from .. import learners
from ..stores import session_key
from ..views.exchange import ExchangeView
from . import bp, crowd
from .store_demos import (
    DemoRefused,
    availability,
    chosen_store,
    held_in,
    lab,
    refusing,
    store_title,
)

log = logging.getLogger(__name__)

CACHES = ("redis", "memcached")
# However large the server, a census reads at most this many key names.
KEY_LIMIT = 100_000
WATCH_LIMIT = 30
FLUSH_VISITORS = 3
SIZE_ROWS = 6

SPECIMEN_SESSION = re.compile(
    r"^lab:(?P<learner>[A-Za-z0-9_-]+):sess:[A-Za-z0-9_-]+$"
)
STUDIO_RECORD = re.compile(
    r"^lab:(?P<learner>[A-Za-z0-9_-]+):(?:record|seq|index:[a-z]+)$"
)


@dataclass
class Census:
    """The keys one cache holds, counted by whose they are.

    Only the learner's own keys are named; everyone else's are counted. The
    studio's keys are told apart only where the studio really keeps them, in
    Redis when REDIS_URL is set. ``items`` is memcached's own count of what
    it holds, where the keys themselves cannot be listed.
    """

    store: str
    studio_here: bool
    studio: int = 0
    studio_yours: bool = False
    records: int = 0
    records_yours: list = field(default_factory=list)
    sessions: int = 0
    sessions_yours: list = field(default_factory=list)
    sessions_visitors: int = 0
    other: int = 0
    capped: bool = False
    items: int | None = None
    session_keys: list = field(default_factory=list, repr=False)
    taken_at: float = field(default_factory=time.time)

    @property
    def clock(self) -> str:
        return time.strftime("%H:%M:%S", time.localtime(self.taken_at))

    @property
    def total(self) -> int:
        return self.studio + self.records + self.sessions + self.other

    @property
    def sessions_others(self) -> int:
        return self.sessions - len(self.sessions_yours) - self.sessions_visitors

    @property
    def beyond_sessions(self) -> int:
        """Answer how many keys a whole-server flush would take besides sessions."""
        return self.total - self.sessions


def take_census(store: str, keys, capped: bool, learner: str, visitors, studio):
    """Count keys by whose they are.

    ``studio`` is the studio's session prefix and the learner's own studio key
    when the studio keeps its sessions on this server, else None.
    """
    census = Census(store, studio is not None, capped=capped)
    visitors = set(visitors)
    for key in keys:
        session = SPECIMEN_SESSION.match(key)
        record = STUDIO_RECORD.match(key) if studio else None
        if session:
            census.sessions += 1
            census.session_keys.append((session["learner"], key))
            if session["learner"] == learner:
                census.sessions_yours.append(key)
            elif session["learner"] in visitors:
                census.sessions_visitors += 1
        elif record:
            census.records += 1
            if record["learner"] == learner:
                census.records_yours.append(key)
        elif studio and key.startswith(studio[0]):
            census.studio += 1
            census.studio_yours = census.studio_yours or key == studio[1]
        else:
            census.other += 1
    census.sessions_yours.sort()
    census.records_yours.sort()
    return census


def census_of(store_name: str) -> Census:
    """Read the key names the cache holds, up to KEY_LIMIT, and count them.

    Redis names every key through SCAN. memcached cannot: the specimen's
    sessions there are those the lab's index names that memcached answers a
    get for, and everything else is known only by memcached's item count.
    """
    store = lab().stores.get(store_name)
    learner, visitors = learners.current().id, crowd.learner_ids()
    if store_name == "redis":
        keys, capped = store.scan_keys(None, KEY_LIMIT)
        studio = studio_keys(store_name)
        return take_census(store_name, keys, capped, learner, visitors, studio)

    named = lab().journal.holders(store_name, KEY_LIMIT)
    keys = store.held_keys([session_key(owner, sid) for owner, sid in named])
    items = store.item_count()
    capped = len(named) >= KEY_LIMIT
    census = take_census(store_name, keys, capped, learner, visitors, None)
    census.items = items
    census.other = max(0, items - census.sessions)
    return census


def studio_keys(store_name: str) -> tuple[str, str] | None:
    """Answer the studio's key prefix and the learner's studio key, if kept here."""
    config = current_app.config
    if store_name != "redis" or config["SESSION_TYPE"] != "redis":
        return None
    prefix = config["SESSION_KEY_PREFIX"]
    return prefix, prefix + request.cookies.get(config["SESSION_COOKIE_NAME"], "")


def chosen_cache() -> str:
    """Answer the cache the learner's settings use.

    :raise DemoRefused: the learner's store is not a cache.
    """
    return chosen_store(CACHES, "a cache", "Redis or Memcached")


def fragment(template: str, status: int = 200, **context):
    return render_template(f"demos/cache/{template}", **context), status


def bounded(name: str, default: int, low: int, high: int) -> int:
    """Read a whole number from the query or form, within bounds.

    :raise DemoRefused: it is not a whole number between low and high.
    """
    raw = request.values.get(name, str(default)).strip()
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise DemoRefused(f"{name} must be a whole number from {low} to {high}")
    return int(raw)


@bp.get("/cache/sizes")
def cache_sizes():
    learner = learners.current()
    records = lab().journal.exchanges(learner.id)
    return fragment("_sizes.html", rows=cookie_rows(records))


def cookie_rows(records: list) -> list[dict]:
    """Answer the newest specimen cookie each store gave, and its size, newest first."""
    studio = current_app.config["SESSION_COOKIE_NAME"]
    rows, seen = [], set()
    for record in reversed(records):
        store = record.get("store")
        view = ExchangeView(record, None, studio)
        cookie = view.specimen_set_cookie
        if store in seen or cookie is None or not cookie.value:
            continue

        seen.add(store)
        pair = f"{cookie.name}={cookie.value}"
        data = view.held_data()
        rows.append(
            {
                "store": store,
                "title": store_title(store),
                "seq": view.seq,
                "pair": pair,
                "bytes": len(pair.encode()),
                "data_bytes": None if data is None else json_size(data),
                "in_cookie": store == "cookie",
            }
        )
        if len(rows) == SIZE_ROWS:
            break
    return rows


def json_size(data: dict) -> int:
    return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())


@bp.get("/cache/watch")
@refusing
def cache_watch():
    left = bounded("left", WATCH_LIMIT, 0, WATCH_LIMIT)
    held = held_in(
        CACHES,
        "Your browser holds no session on Redis or Memcached yet: send "
        "this step's request first, then watch.",
    )
    entry = lab().stores.get(held.store).peek(held.key)

    return fragment(
        "_watch.html",
        held=held,
        title=store_title(held.store),
        entry=entry,
        asked_at=time.strftime("%H:%M:%S"),
        left=left,
        polling=entry is not None and left > 0,
    )


@bp.get("/cache/keys")
@refusing
def cache_keys():
    census = census_of(chosen_cache())
    return fragment("_keys.html", census=census, title=store_title(census.store))


@bp.post("/cache/visitors")
@refusing
def cache_visitors():
    store = chosen_cache()
    visit = {"key": "visit", "value": "1"}
    visits = crowd.send(FLUSH_VISITORS, {"store": store}, visit)
    census = census_of(store)
    return fragment(
        "_flush_state.html", census=census, title=store_title(store), visits=visits
    )


@bp.post("/cache/flush")
@refusing
def cache_flush():
    everyone = bool(current_app.config["DEMO_FLUSH_ALLOWED"])
    store = chosen_cache()
    before = census_of(store)
    mine = {learners.current().id, *crowd.learner_ids()}
    targets = [
        key for owner, key in before.session_keys if everyone or owner in mine
    ]
    removed = lab().stores.get(store).delete_keys(targets)
    after = census_of(store)

    log.info(
        "flushed %s specimen sessions from %s (%s)",
        removed,
        store,
        "everyone's" if everyone else "one learner's",
    )
    return fragment(
        "_flushed.html",
        before=before,
        after=after,
        removed=removed,
        everyone=everyone,
        title=store_title(store),
    )


def cache_status() -> list[dict]:
    """Answer whether Redis and Memcached can be used here, and how to enable them."""
    return [availability(name) for name in CACHES]


@bp.app_template_global()
def cache_demo_status() -> dict:
    """Answer what the cache demos' templates show before they ask the server."""
    config = current_app.config
    return {
        "caches": cache_status(),
        "studio_on_redis": config["SESSION_TYPE"] == "redis",
        "flush_everyone": bool(config["DEMO_FLUSH_ALLOWED"]),
    }
