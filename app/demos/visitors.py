"""Visitors without a cookie, run through the specimen inside a worker.

These routes are a worker's own API: the studio's memory and bots demos call
them on worker B, so a burst of visitors fills a worker's memory store and
never the studio's. Each visitor is one real request through the specimen's
WSGI app, with the learner's settings; the answers are summarised, not
recorded one by one, so a burst does not push the learner's record out.
"""

import logging
import os
import threading
import time
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass

from flask import current_app, jsonify, request
from werkzeug.test import EnvironBuilder

from .. import learners
from ..recorder import LabContext
from ..settings import Settings
from ..stores import RecordingStore, session_key
from ..stores.memory import MemoryStore
from . import bp

log = logging.getLogger(__name__)

BURST_LIMIT = 200
# Each learner's visitors keep at most this many sessions in a worker: past
# it the oldest are destroyed, so a class cannot fill the worker's memory.
VISITOR_SESSIONS_KEPT = 400
LEARNERS_TRACKED = 1000
BURSTS_AT_ONCE = 2
VISITOR_HEADERS = {"Accept": "application/json", "User-Agent": "session-lab-visitor"}

# The overfilled store: small enough to pass its threshold in one demo.
OVERFILL_THRESHOLD = 100
OVERFILL_SHORT_LIVED = 60
OVERFILL_LATER = 150
OVERFILL_SHORT_MAX_AGE = 1
OVERFILL_LONG_MAX_AGE = 600
OVERFILL_WAIT_LIMIT = 2.5


class DemoRefusal(Exception):
    """A visitor route cannot run as asked; answered as JSON with a status."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@bp.errorhandler(DemoRefusal)
def refuse(error):
    log.warning("refused a visitor request: %s", error)
    return jsonify(error=str(error)), error.status


@dataclass(frozen=True)
class Visit:
    """What one visitor's request did: the decision and the answer's cookie."""

    status: int
    store_op: str
    set_cookie: bool
    reasons: tuple
    session_id: str | None


class Ledger:
    """Each learner's visitor sessions in this worker, oldest first."""

    def __init__(self):
        self.keys: OrderedDict[str, deque] = OrderedDict()
        self.running: set[str] = set()
        self.lock = threading.Lock()

    def begin(self, learner_id: str) -> None:
        """:raise DemoRefusal: a burst of this learner's runs, or too many do."""
        with self.lock:
            if learner_id in self.running:
                raise DemoRefusal("your previous visitors are still arriving", 429)
            if len(self.running) >= BURSTS_AT_ONCE:
                busy = "other learners' visitors are arriving: try again"
                raise DemoRefusal(busy, 429)
            self.running.add(learner_id)

    def end(self, learner_id: str) -> None:
        with self.lock:
            self.running.discard(learner_id)

    def add(self, learner_id: str, key: str) -> list[str]:
        """Note a visitor's session; answer the keys now past the bound."""
        with self.lock:
            kept = self.keys.pop(learner_id, None) or deque()
            self.keys[learner_id] = kept
            kept.append(key)
            over = [kept.popleft() for _ in range(len(kept) - VISITOR_SESSIONS_KEPT)]
            while len(self.keys) > LEARNERS_TRACKED:
                self.keys.popitem(last=False)
        return over


def ledger() -> Ledger:
    return current_app.extensions.setdefault("visitor_ledger", Ledger())


def census(store: MemoryStore, prefix: str = "") -> dict:
    """Count a memory store's entries and bytes, and how many are past expiry.

    The bytes are the pickled sessions SimpleCache holds; the process uses
    more than that for each (the dict, the key, the tuple).
    """
    with store.cache._lock:
        items = [(k, v) for k, v in store.cache._cache.items() if k.startswith(prefix)]
    now = time.time()
    expired = sum(1 for _, (expires, _) in items if expires != 0 and expires <= now)
    return {
        "entries": len(items),
        "bytes": sum(len(value) for _, (_, value) in items),
        "expired": expired,
        "live": len(items) - expired,
    }


def visit(settings: Settings, learner_id: str, store) -> Visit:
    """Send one cookie-less GET /lab/ through the specimen, as a visitor would."""
    environ = EnvironBuilder(
        path="/", base_url="http://127.0.0.1/lab", headers=VISITOR_HEADERS
    ).get_environ()
    context = LabContext(learner_id, settings, environ)
    context.store = RecordingStore(store, context.operations)
    environ["lab.context"] = context
    sent = {}

    def start_response(status, headers, exc_info=None):
        sent["status"], sent["headers"] = status, headers
        return lambda data: None

    specimen = current_app.extensions["specimen_recorder"].specimen
    answer = specimen(environ, start_response)
    try:
        b"".join(answer)
    finally:
        if hasattr(answer, "close"):
            answer.close()

    exchange = context.exchange
    decision = exchange.decision if exchange else None
    prefix = f"{settings.name}="
    cookie = any(
        name.lower() == "set-cookie" and value.startswith(prefix)
        for name, value in sent.get("headers", [])
    )
    return Visit(
        int(sent["status"].split()[0]),
        decision.store_op if decision else "none",
        cookie,
        tuple(decision.reasons) if decision else (),
        exchange.session_id if exchange else None,
    )


def memory_store() -> MemoryStore:
    return current_app.extensions["session_lab"].stores.get("memory")


def in_a_worker() -> None:
    """:raise DemoRefusal: this app is the studio, whose memory is everyone's."""
    if not current_app.config.get("SPECIMEN_WORKER"):
        raise DemoRefusal(
            "visitors run only in a specimen worker, never in the studio itself", 404
        )


def the_learner():
    """:raise DemoRefusal: the request carries no learner's cookie."""
    learner = learners.current(create=False)
    if learner is None:
        raise DemoRefusal("no learner: send the studio's lab_learner cookie")
    return learner


def whole_number(name: str, low: int, high: int, default: int) -> int:
    """:raise DemoRefusal: the field is not a whole number within the bounds."""
    text = request.form.get(name, str(default))
    if not text.isdigit() or not low <= int(text) <= high:
        raise DemoRefusal(f"{name} must be a whole number from {low} to {high}")
    return int(text)


def served_by() -> dict:
    return {"pid": os.getpid(), "worker": current_app.config.get("SPECIMEN_WORKER")}


@bp.get("/visitors/self")
def visitors_self():
    return jsonify(
        **served_by(), token=current_app.config.get("SPECIMEN_WORKER_TOKEN")
    )


@bp.get("/visitors/held")
def visitors_held():
    learner = the_learner()
    store = memory_store()
    wanted = request.args.get("id", "")
    found = store.peek(session_key(learner.id, wanted)) if wanted else None
    session = None
    if found is not None:
        session = {"id": wanted, "data": found.data, "ttl": found.ttl}
    return jsonify(
        **served_by(),
        store=census(store),
        yours=census(store, session_key(learner.id, "")),
        session=session,
    )


@bp.post("/visitors/burst")
def visitors_burst():
    in_a_worker()
    learner = the_learner()
    count = whole_number("count", 1, BURST_LIMIT, BURST_LIMIT)
    every = whole_number("every", 1, count, count)
    settings = learner.settings
    if settings.store != "memory":
        raise DemoRefusal(
            f"the visitors fill the memory store, and your lab uses {settings.store}: "
            "press Use this step's settings first",
            409,
        )

    ledger().begin(learner.id)
    try:
        summary = run_burst(learner, count, every)
    finally:
        ledger().end(learner.id)
    log.info("%s visitors for one learner: %s stored", count, summary["stored"])
    return jsonify(**served_by(), **summary)


def run_burst(learner, count: int, every: int) -> dict:
    store = memory_store()
    mine = session_key(learner.id, "")

    def sample(visitors: int) -> dict:
        return {"visitors": visitors, **census(store), "yours": census(store, mine)}

    samples = [sample(0)]
    operations, decisions, cookies, evicted = Counter(), Counter(), 0, 0
    for number in range(1, count + 1):
        done = visit(learner.settings, learner.id, store)
        decisions[done.reasons] += 1
        operations[done.store_op] += 1
        cookies += done.set_cookie
        if done.store_op == "set":
            made = session_key(learner.id, done.session_id)
            for key in ledger().add(learner.id, made):
                store.destroy(key)
                evicted += 1
        if number % every == 0 or number == count:
            samples.append(sample(number))

    settings = learner.settings
    return {
        "count": count,
        "stored": operations["set"],
        "left_alone": operations["none"],
        "cookies": cookies,
        "decisions": [
            {"reasons": list(reasons), "visitors": visitors}
            for reasons, visitors in decisions.most_common()
        ],
        "evicted": evicted,
        "kept_limit": VISITOR_SESSIONS_KEPT,
        "threshold": store.cache._threshold,
        "settings": {
            "save_uninitialized": settings.save_uninitialized,
            "max_age": settings.max_age,
        },
        "samples": samples,
    }


@bp.post("/visitors/overfill")
def visitors_overfill():
    in_a_worker()
    learner = the_learner()
    ledger().begin(learner.id)
    try:
        summary = run_overfill(learner)
    finally:
        ledger().end(learner.id)
    return jsonify(**served_by(), **summary)


def run_overfill(learner) -> dict:
    """Fill a small memory store of its own past its threshold, in two waves.

    The first wave's sessions live one second; the second wave arrives once
    they have expired, and keeps coming after the store is full again.
    """
    store = MemoryStore(OVERFILL_THRESHOLD)
    secrets = learner.settings.secrets
    short = Settings(secrets=secrets).changed({"max_age": OVERFILL_SHORT_MAX_AGE})
    long = Settings(secrets=secrets).changed({"max_age": OVERFILL_LONG_MAX_AGE})
    samples = [{"visitors": 0, "wave": 0, **census(store)}]
    second_wave = []

    for number in range(1, OVERFILL_SHORT_LIVED + 1):
        visit(short, learner.id, store)
        samples.append({"visitors": number, "wave": 1, **census(store)})

    with store.cache._lock:
        latest = max(expires for expires, _ in store.cache._cache.values())
    time.sleep(min(OVERFILL_WAIT_LIMIT, max(0.0, latest - time.time()) + 0.05))
    samples.append({"visitors": OVERFILL_SHORT_LIVED, "wave": 1, **census(store)})

    for offset in range(1, OVERFILL_LATER + 1):
        done = visit(long, learner.id, store)
        second_wave.append(session_key(learner.id, done.session_id))
        number = OVERFILL_SHORT_LIVED + offset
        samples.append({"visitors": number, "wave": 2, **census(store)})

    with store.cache._lock:
        held = set(store.cache._cache)
    return {
        "threshold": OVERFILL_THRESHOLD,
        "waves": [
            {"visitors": OVERFILL_SHORT_LIVED, "max_age": OVERFILL_SHORT_MAX_AGE},
            {"visitors": OVERFILL_LATER, "max_age": OVERFILL_LONG_MAX_AGE},
        ],
        "second_wave_evicted": sum(1 for key in second_wave if key not in held),
        "samples": samples,
    }
