"""Record every specimen exchange at the WSGI boundary.

What the recorder sees is what crossed the wire: the request environ as the
server received it and the status and headers passed to ``start_response``,
so the headers on the page are true by construction.
"""

import logging
import time
from dataclasses import dataclass, field

from flask import Flask

from . import learners
from .inspect import store_contents
from .settings import Settings
from .stores import RecordingStore, StoreUnavailable, session_key

log = logging.getLogger(__name__)

EXCHANGE_EVENT = "lab-exchange"


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
    """WSGI middleware around the specimen that writes the learner's record."""

    def __init__(self, studio: Flask, specimen: Flask):
        self.studio = studio
        self.specimen = specimen

    @property
    def lab(self):
        return self.studio.extensions["session_lab"]

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        with self.studio.request_context(environ):
            learner = learners.current(create=False)
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

        body = b"".join(self.specimen(environ, recording_start_response))
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

    def no_learner(self):
        message = (
            "No learner: this request carried no lab_learner cookie. Open the "
            "studio's home page first, or with curl keep a cookie jar: "
            "curl -c jar -b jar http://HOST/api/settings"
        )
        return NoLearner(message)

    def write_record(self, context: LabContext, sent: dict, size: int, started):
        exchange = context.exchange
        decision = exchange.decision if exchange else None
        record = {
            "at": time.time(),
            "store": context.settings.store,
            "settings": context.settings.to_dict(),
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
            "cookie": context.reading.to_dict() if context.reading else None,
            "cookie_id": exchange.cookie_id if exchange else None,
            "session_id": exchange.session_id if exchange else None,
            "decision": decision.to_dict() if decision else None,
            "operations": context.operations,
            "error": context.store_error.reason if context.store_error else None,
        }
        if context.store is not None:
            held = self.update_index(context, record)
            record["contents"] = self.contents(context, record, held)
        record["ms"] = round((time.perf_counter() - started) * 1000, 3)
        self.lab.journal.append(context.learner_id, record)

    def update_index(self, context: LabContext, record: dict) -> list | None:
        """Keep the learner's index of sessions; answer the IDs held, if it changed."""
        journal = self.lab.journal
        learner, store = context.learner_id, context.settings.store
        gone = [
            op["key"].rsplit(":", 1)[-1]
            for op in context.operations
            if op["op"] == "destroy" and op.get("result") != "error"
        ]
        journal.index_discard(learner, store, gone)
        if record["decision"] and record["decision"]["store_op"] == "set":
            evicted, held = journal.index_add(learner, store, record["session_id"])
            for session_id in evicted:
                context.store.destroy(
                    session_key(learner, session_id), why="lab limit per learner"
                )
            return held
        return None

    def contents(self, context: LabContext, record: dict, ids=None) -> list | None:
        """Answer what the store holds for this learner, right after the exchange."""
        try:
            return store_contents(
                self.lab, context.learner_id, context.settings.store, held_id(record),
                ids=ids,
            )
        except StoreUnavailable as error:
            record["contents_error"] = error.reason
            return None


def held_id(record: dict) -> str | None:
    """Answer the ID the browser holds after this response, as the server sees it."""
    decision = record["decision"]
    if decision and decision["set_cookie"]:
        return record["session_id"]
    return record["cookie_id"]


class NoLearner:
    """A plain answer for lab requests that come without the studio's cookie."""

    def __init__(self, message: str):
        self.message = message

    def __call__(self, environ, start_response):
        body = self.message.encode()
        start_response(
            "400 Bad Request",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
            ],
        )
        return [body]
