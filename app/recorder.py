"""Record every specimen exchange at the WSGI boundary.

What the recorder sees is what crossed the wire: the request environ as the
server received it and the status and headers passed to ``start_response``,
so the headers on the page are true by construction.
"""

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from . import learners, visits
from .inspect import peek_sessions, store_contents
from .journal import KnownIndexes
from .settings import Settings
from .specimen import cookie, flask_interface
from .stores import RecordingStore, StoreUnavailable, session_key
from .stores.redis import RedisStore

log = logging.getLogger(__name__)

EXCHANGE_EVENT = "lab-exchange"

# Where the studio keeps learners: Redis when REDIS_URL is set, else SQLite.
STUDIO_STATE_ERRORS = (RedisError, SQLAlchemyError)


@dataclass(frozen=True)
class SpecimenKind:
    """How one specimen names its sessions, so two can share a store and a record.

    ``cookie`` holds the cookie name and path a specimen fixes for itself,
    written into each record's settings in place of the learner's.
    """

    name: str
    key: Callable[[str, str], str]
    index_prefix: str = ""
    cookie: dict = field(default_factory=dict)
    serves_cookie_store: bool = True

    def index(self, store: str) -> str:
        """Answer the name of the learner's index of this specimen's sessions."""
        return self.index_prefix + store


EXPRESS = SpecimenKind("express", session_key)
FLASK = SpecimenKind(
    "flask",
    flask_interface.store_key,
    "flask-",
    {"name": flask_interface.COOKIE_NAME, "path": flask_interface.MOUNT},
    serves_cookie_store=False,
)


@dataclass
class LabContext:
    """What one specimen request knows: whose it is and what to do."""

    learner_id: str
    settings: Settings
    environ: dict
    store: RecordingStore | None = None
    store_error: StoreUnavailable | None = None
    operations: list = field(default_factory=list)
    reading: object = None
    exchange: object = None


def request_headers(environ: dict) -> list[list[str]]:
    """Answer the request's headers as the server received them."""
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append([key[5:].replace("_", "-").title(), value])
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            headers.append([key.replace("_", "-").title(), value])
    return headers


def request_line(environ: dict) -> str:
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not target:
        target = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        if environ.get("QUERY_STRING"):
            target += "?" + environ["QUERY_STRING"]
    method = environ.get("REQUEST_METHOD", "GET")
    return f"{method} {target} {environ.get('SERVER_PROTOCOL', 'HTTP/1.1')}"


class Recorder:
    """WSGI middleware around a specimen that writes the learner's record."""

    def __init__(self, studio: Flask, specimen: Flask, kind: SpecimenKind = EXPRESS):
        self.studio = studio
        self.specimen = specimen
        self.kind = kind
        self.known = KnownIndexes()
        self.recent = learners.RecentLearners()

    @property
    def lab(self):
        return self.studio.extensions["session_lab"]

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        try:
            learner = self.learner(environ)
        except STUDIO_STATE_ERRORS as error:
            log.warning("lab request refused: the studio's store failed: %s", error)
            return self.studio_down()(environ, start_response)
        except visits.VisitError as error:
            log.warning("lab request refused: %s", error)
            return self.no_learner(str(error))(environ, start_response)
        if learner is None:
            return self.no_learner()(environ, start_response)

        context = self.make_context(learner, environ)
        environ["lab.context"] = context
        sent = {}

        def recording_start_response(status, headers, exc_info=None):
            headers = [*headers, ("HX-Trigger", EXCHANGE_EVENT)]
            sent["status"] = status
            sent["headers"] = headers
            return start_response(status, headers, exc_info)

        answer = self.specimen(environ, recording_start_response)
        try:
            body = b"".join(answer)
        finally:
            # As a server must (PEP 3333), so the specimen's close hooks run.
            if hasattr(answer, "close"):
                answer.close()
        try:
            self.write_record(context, sent, len(body), started)
        except Exception:
            log.error("could not record an exchange", exc_info=True)
        return [body]

    def make_context(self, learner, environ) -> LabContext:
        context = LabContext(learner.id, learner.settings, environ)
        try:
            store = self.lab.stores.get(learner.settings.store)
        except StoreUnavailable as error:
            context.store_error = error
        else:
            context.store = RecordingStore(store, context.operations)
        return context

    def learner(self, environ):
        key = self.recent.key(self.studio, environ)
        learner = self.recent.get(key) if key else None
        if learner is None:
            learner = learners.named_by(self.studio, environ)
            if learner is not None and key:
                self.recent.put(key, learner)
        # A cross-site request may come without the studio cookie; the
        # SameSite lesson's visit token then says whose it is.
        return learner or visits.visitor(self.studio, environ)

    def no_learner(self, reason: str = ""):
        message = (
            "No learner: this request carried no lab_learner cookie. Open the "
            "studio's home page first, or with curl keep a cookie jar: "
            "curl -c jar -b jar http://HOST/api/settings"
        )
        if reason:
            message = (
                f"No learner: this request carried no lab_learner cookie, and {reason}."
            )
        return PlainAnswer("400 Bad Request", message)

    def studio_down(self):
        message = (
            "The studio's own store, which knows the learners, did not answer, "
            "so this request has no learner. Try again once it is back."
        )
        return PlainAnswer("503 Service Unavailable", message)

    def write_record(self, context: LabContext, sent: dict, size: int, started):
        exchange = context.exchange
        decision = exchange.decision if exchange else None
        record = {
            "at": time.time(),
            "specimen": self.kind.name,
            "store": context.settings.store,
            "settings": {**context.settings.to_dict(), **self.kind.cookie},
            "request": {
                "line": request_line(context.environ),
                "method": context.environ.get("REQUEST_METHOD"),
                "path": context.environ.get("SCRIPT_NAME", "")
                + context.environ.get("PATH_INFO", ""),
                "headers": request_headers(context.environ),
            },
            "response": {
                "status": sent.get("status"),
                "headers": [list(pair) for pair in sent.get("headers", [])],
                "body_bytes": size,
            },
            "cookie": cookie_block(context, sent, self.kind),
            "cookie_id": exchange.cookie_id if exchange else None,
            "session_id": exchange.session_id if exchange else None,
            "decision": decision.to_dict() if decision else None,
            "operations": context.operations,
            "error": context.store_error.reason if context.store_error else None,
            # Which process served it: a memory store lives in one process.
            "pid": os.getpid(),
            "worker": self.studio.config.get("SPECIMEN_WORKER"),
        }
        if context.environ.get(visits.ENVIRON_KEY):
            record["visit"] = True
        if context.store is None or context.settings.store == "cookie":
            # No session lives on the server, so there is nothing to index.
            if context.store is not None:
                record["contents"] = self.contents(context, record)
            record["ms"] = elapsed_ms(started)
            self.lab.journal.append(context.learner_id, record)
        else:
            self.file_with_contents(context, record, started)

    def file_with_contents(self, context: LabContext, record: dict, started) -> None:
        """Keep the learner's index, read the store's contents, append the record.

        On the journal's own Redis, one script does all three. Elsewhere the
        store is read for the index this process last saw, updated by the
        exchange, and the journal appends the record only if the real index
        agrees: one store read and one journal write. Otherwise, or past the
        cap, the store is read again for the index as it really is.
        """
        journal = self.lab.journal
        learner = context.learner_id
        index = self.kind.index(context.settings.store)
        slot = (learner, index)
        gone = [
            op["key"].rsplit(":", 1)[-1]
            for op in context.operations
            if op["op"] == "destroy" and op.get("result") != "error"
        ]
        # A touch is a use too: with resave off it is all a held session gets.
        decision = record["decision"]
        used = None
        if decision and decision["store_op"] in ("set", "touch"):
            used = record["session_id"]

        if self.journal_reads_store(context):
            record["ms"] = elapsed_ms(started)
            filing = journal.file_reading(
                learner,
                record,
                index,
                used,
                gone,
                self.kind.key(learner, ""),
                held_id(record, context.settings),
            )
        else:
            expected = self.known.expect(slot, gone, used)
            missing = self.read_contents(context, record, expected)
            if missing is not None:
                expected = [item for item in expected if item not in missing]
                gone = [*gone, *missing]
            record["ms"] = elapsed_ms(started)
            filing = journal.file(
                learner,
                record,
                index,
                used,
                gone,
                None if missing is None else expected,
            )
        if filing.seq is not None:
            self.known.remember(slot, filing.held)
            return

        for session_id in filing.evicted:
            context.store.destroy(
                self.kind.key(learner, session_id), why="lab limit per learner"
            )
        missing = self.read_contents(context, record, filing.held) or []
        journal.index_discard(learner, index, missing)
        self.known.remember(slot, [item for item in filing.held if item not in missing])
        record["ms"] = elapsed_ms(started)
        journal.append(learner, record)

    def journal_reads_store(self, context: LabContext) -> bool:
        """Answer whether the journal can read this exchange's store itself.

        It can when both live on the same Redis, the sessions kept as JSON:
        one script then files the exchange with the store's contents.
        """
        store = context.store.store
        return (
            isinstance(store, RedisStore)
            and store.url == self.studio.config.get("REDIS_URL")
            and hasattr(self.lab.journal, "file_reading")
        )

    def read_contents(self, context: LabContext, record: dict, ids) -> list | None:
        """Put the store's rows for the IDs in the record; answer the IDs missing.

        None when the store did not answer: the record says so instead.
        """
        settings = context.settings
        try:
            rows, missing = peek_sessions(
                self.lab,
                context.learner_id,
                settings.store,
                ids,
                held_id(record, settings),
                self.kind.key,
            )
        except StoreUnavailable as error:
            record["contents"] = None
            record["contents_error"] = error.reason
            return None
        record["contents"] = rows
        record.pop("contents_error", None)
        return missing

    def contents(self, context: LabContext, record: dict) -> list | None:
        """Answer what the cookie store holds: the cookie the browser keeps."""
        if not self.kind.serves_cookie_store:
            return None

        try:
            return store_contents(
                self.lab,
                context.learner_id,
                "cookie",
                held_id(record, context.settings),
                context.settings,
            )
        except StoreUnavailable as error:
            record["contents_error"] = error.reason
            return None


def elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def cookie_block(
    context: LabContext, sent: dict, kind: SpecimenKind = EXPRESS
) -> dict | None:
    """Answer the cookie's anatomy: the signed cookie's, or the specimen's reading."""
    if context.settings.store == "cookie" and kind.serves_cookie_store:
        return cookie.describe(context, sent.get("headers", []))
    return context.reading.to_dict() if context.reading else None


def held_id(record: dict, settings: Settings | None = None) -> str | None:
    """Answer the ID the browser holds after this response, as the server sees it.

    For the cookie store there is no ID: the answer is the whole cookie value.
    """
    if settings is not None and settings.store == "cookie":
        return cookie.held_value(record, settings.name)

    decision = record["decision"]
    if decision and decision["set_cookie"]:
        return record["session_id"]
    return record["cookie_id"]


class PlainAnswer:
    """A plain answer for lab requests the specimen cannot take."""

    def __init__(self, status: str, message: str):
        self.status = status
        self.message = message

    def __call__(self, environ, start_response):
        body = self.message.encode()
        start_response(
            self.status,
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
            ],
        )
        return [body]
