"""Flask-Session 0.8 as it is, for the second specimen under /lab-flask.

Every decision here is Flask-Session's own: ``open_session``, ``save_session``
and ``regenerate`` of the interface the learner's store holds run unchanged.
Each request gets a shallow copy of that interface with the learner's key
prefix, because Flask-Session keeps the prefix on the interface and the
interface is shared by every learner and thread. On the copy alone, the rules
(``should_set_storage``, ``should_set_cookie``) and the storage hooks
(``_retrieve_session_data``, ``_upsert_session``, ``_delete_session``) are
wrapped, so the record says which rule fired and what it did to the store.
"""

import copy
import functools
import re
from dataclasses import dataclass
from datetime import timedelta

from flask import session
from flask.sessions import SessionInterface
from flask_session.base import ServerSideSession

from ..stores.base import StoreUnavailable
from .interface import DEFAULT_STORE_TTL, Decision
from .views import LabInputError

MOUNT = "/lab-flask"
COOKIE_NAME = "session"

# The IDs Flask-Session makes (secrets.token_urlsafe) use these characters.
# Any other cookie value is not sent to a store: it could not name a session
# there, and a colon or a space would only make an odd key or a refused one.
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

COOKIE_STORE_REFUSAL = (
    "The Flask-Session specimen keeps sessions on the server, and the signed-"
    "cookie store keeps nothing there. Choose another store: with this one, "
    "/lab/ already runs Flask's own cookie session."
)


def key_prefix(learner_id: str) -> str:
    """Answer the prefix a learner's Flask-Session keys begin with."""
    return f"lab:{learner_id}:flask:"


def store_key(learner_id: str, session_id: str) -> str:
    """Answer the key a learner's Flask-Session session is kept under."""
    return key_prefix(learner_id) + session_id


class SpecimenConfig:
    """What Flask-Session reads from the app it is given, from the learner's settings.

    Flask-Session reads its options from ``app.config`` at every call. The
    specimen app serves every learner on several threads, so its config cannot
    change per request; each request hands Flask-Session this instead. With
    no max_age, the lifetime is the express specimen's day rather than
    Flask's 31 days, so nothing outlives a learner.
    """

    def __init__(self, settings):
        seconds = settings.max_age or DEFAULT_STORE_TTL
        same_site = settings.same_site.capitalize() if settings.same_site else None
        self.secret_key = None
        self.permanent_session_lifetime = timedelta(seconds=seconds)
        self.config = {
            "SESSION_COOKIE_NAME": COOKIE_NAME,
            "SESSION_COOKIE_DOMAIN": None,
            "SESSION_COOKIE_PATH": MOUNT,
            "SESSION_COOKIE_HTTPONLY": settings.http_only,
            "SESSION_COOKIE_SECURE": settings.secure,
            "SESSION_COOKIE_SAMESITE": same_site,
            "SESSION_COOKIE_PARTITIONED": False,
            "SESSION_REFRESH_EACH_REQUEST": settings.refresh_each_request,
            "APPLICATION_ROOT": "/",
        }


@dataclass(frozen=True)
class CookieReading:
    """What Flask-Session made of the cookie: the bare ID, unsigned."""

    raw: str | None
    found: bool = False

    def to_dict(self) -> dict:
        """Answer the reading as JSON-ready data for the anatomy panel."""
        return {
            "kind": "flask-session",
            "raw": self.raw,
            "session_id": self.raw,
            "found": self.found,
        }


class SpecimenVerbs:
    """The verbs the specimen's views call, said in Flask-Session's terms."""

    own_keys = {"_permanent": "Flask-Session"}
    exchange = None

    def regenerate(self) -> None:
        """Give the session a new ID with Flask-Session's own regenerate."""
        self.exchange.regenerate(self)

    def destroy(self) -> None:
        """Empty the session; Flask-Session deletes an emptied session when saving."""
        self.clear()

    def unset(self) -> None:
        """Refuse: Flask has no way to drop the session from a request.

        :raise LabInputError: always.
        """
        raise LabInputError(
            "Flask-Session has no equivalent of req.session = null: "
            f"POST {MOUNT}/logout empties the session instead"
        )


@functools.cache
def session_class_for(library_class: type) -> type:
    """Answer the backend's own session class with the views' verbs added."""
    return type(library_class.__name__, (SpecimenVerbs, library_class), {})


class FlaskExchange:
    """One request through Flask-Session: the interface copy, what it did and why."""

    def __init__(self, context):
        self.context = context
        self.settings = context.settings
        self.app = SpecimenConfig(context.settings)
        self.decision = Decision()
        self.interface = None
        self.cookie_id = None
        self.session_id = None
        self.secure_request = False
        self.skipped_lookup = False
        self.problem = None
        self.phase = "open"
        self.finished = False

    def prepare(self, library) -> None:
        """Copy the store's Flask-Session interface for this learner and wrap it."""
        interface = copy.copy(library)
        interface.key_prefix = key_prefix(self.context.learner_id)
        interface.permanent = self.settings.max_age is not None
        interface.session_class = session_class_for(library.session_class)

        storage_rule = interface.should_set_storage
        cookie_rule = interface.should_set_cookie

        def should_set_storage(app, session):
            return self.storage_decided(storage_rule(app, session), session)

        def should_set_cookie(app, session):
            return self.cookie_decided(cookie_rule(app, session), session)

        # Attributes of this copy alone: the store's interface is untouched.
        interface.should_set_storage = should_set_storage
        interface.should_set_cookie = should_set_cookie
        interface._retrieve_session_data = self.retrieve
        interface._upsert_session = self.upsert
        interface._delete_session = self.delete
        self.interface = interface

    def placeholder(self, problem: Exception) -> ServerSideSession:
        """Answer an empty session for a request the specimen cannot serve."""
        self.problem = problem
        placeholder = session_class_for(ServerSideSession)(sid=None)
        placeholder.exchange = self
        return placeholder

    def open(self, request) -> ServerSideSession:
        """Open the session with Flask-Session, and say what it found."""
        raw = request.cookies.get(COOKIE_NAME)
        self.cookie_id = raw or None
        self.secure_request = request.is_secure

        session = self.interface.open_session(self.app, request)
        session.exchange = self
        self.session_id = session.sid
        found = bool(raw) and session.sid == raw
        self.context.reading = CookieReading(raw, found)

        reasons = self.decision.reasons
        if not raw:
            reasons.append(
                "new session: no session cookie, so Flask-Session made an ID "
                "without asking the store"
            )
        elif found:
            reasons.append("loaded the session the cookie names")
        elif self.skipped_lookup:
            reasons.append("new session: Flask-Session made a new ID")
        else:
            reasons.append(
                "new session: the store has no session with that ID, so "
                "Flask-Session made a new ID rather than adopt the cookie's"
            )
        return session

    def regenerate(self, session) -> None:
        old = session.sid
        self.phase = "regenerate"
        self.interface.regenerate(session)
        self.phase = "view"

        if session.sid != old:
            self.session_id = session.sid
            self.decision.reasons.append(
                "regenerated: Flask-Session deleted the old ID's entry and made a "
                "new ID"
            )
        else:
            self.decision.reasons.append(
                "regenerate did nothing: Flask-Session regenerates only a session "
                "that holds data, and this one was empty"
            )

    def save(self, session, response) -> Decision:
        """Let Flask-Session save the session, then say what its rules did."""
        decision = self.decision
        self.phase = "save"
        # The emptiness test is Flask-Session's own (ServerSideSession.__bool__),
        # read here because save_session decides on it before any rule we wrap.
        empty, modified = not session, session.modified
        self.interface.save_session(self.app, session, response)

        if empty and modified:
            self.session_id = None
            decision.set_cookie = True
            decision.reasons.append(
                "deleted: the session was emptied (session.clear()), so "
                "Flask-Session deleted it from the store"
            )
            decision.reasons.append(
                "Set-Cookie clears the cookie: an empty value, Expires in 1970, "
                "Max-Age=0"
            )
        elif empty:
            decision.reasons.append(
                "not stored: the session is empty; Flask-Session never stores an "
                "empty session"
            )
            decision.reasons.append("no Set-Cookie: an empty session gets no cookie")
        elif decision.store_op == "none":
            decision.reasons.append(
                "no Set-Cookie: Flask-Session sends the cookie only after storing"
            )
        return decision

    def storage_decided(self, stored: bool, session) -> bool:
        if not stored:
            why = (
                "not stored: the session is unmodified at its top level and "
                "SESSION_REFRESH_EACH_REQUEST is off"
            )
        elif session.modified:
            why = (
                "stored: session.modified is true (a top-level key changed, or "
                "the code set it, as regenerate does)"
            )
        else:
            why = "stored, though unmodified: SESSION_REFRESH_EACH_REQUEST is on"
        self.decision.reasons.append(why)
        return stored

    def cookie_decided(self, send: bool, session) -> bool:
        reasons = self.decision.reasons
        if send and session.modified and session.sid != self.cookie_id:
            reasons.append("Set-Cookie: the browser must learn the new ID")
        elif send and session.modified:
            reasons.append(
                "Set-Cookie: the session was modified, and Flask re-sends the "
                "cookie on every change"
            )
        elif send:
            reasons.append(
                "Set-Cookie: the session is permanent (max_age is set) and "
                "SESSION_REFRESH_EACH_REQUEST is on, so the cookie is re-sent "
                "with a later Expires"
            )
        elif not session.permanent:
            reasons.append(
                "no Set-Cookie: unmodified, and the session is not permanent (it "
                "was made without max_age), so a refresh does not re-send it"
            )
        else:
            reasons.append(
                "no Set-Cookie: unmodified, and SESSION_REFRESH_EACH_REQUEST is off"
            )

        if send and self.settings.secure and not self.secure_request:
            reasons.append(
                "Secure is on and the request came over plain HTTP: Flask-Session "
                "sends the cookie all the same, and leaves the browser to decide"
            )
        self.decision.set_cookie = send
        return send

    def retrieve(self, store_id: str) -> dict | None:
        session_id = store_id[len(self.interface.key_prefix):]
        if not _SESSION_ID.match(session_id):
            self.skipped_lookup = True
            self.decision.reasons.append(
                "not looked up: the cookie's value is not an ID Flask-Session "
                "makes, so the lab did not send it to the store"
            )
            return None
        return self.context.store.get(store_id)

    def upsert(self, lifetime: timedelta, session, store_id: str) -> None:
        ttl = int(lifetime.total_seconds())
        self.context.store.set(store_id, dict(session), ttl)
        self.decision.store_op = "set"

    def delete(self, store_id: str) -> None:
        why = "regenerate" if self.phase == "regenerate" else "session.clear()"
        self.context.store.destroy(store_id, why=why)
        if self.phase == "save":
            self.decision.store_op = "destroy"


class FlaskSpecimenInterface(SessionInterface):
    """Hand each request to Flask-Session, through a copy made for its learner.

    The storage hooks of the copy go through the learner's recording store,
    whose store calls the same hook on the interface this copy was made from:
    the same client and serializer, with the lock or app context that store
    needs, and every call noted in the record.
    """

    def open_session(self, app, request):
        context = request.environ["lab.context"]
        exchange = FlaskExchange(context)
        context.exchange = exchange

        if context.settings.store == "cookie":
            exchange.decision.reasons.append(
                "no session: Flask-Session has no signed-cookie store"
            )
            return exchange.placeholder(LabInputError(COOKIE_STORE_REFUSAL, 409))
        if context.store_error is not None:
            return self.unavailable(exchange, context.store_error)

        exchange.prepare(context.store.store.interface)
        try:
            return exchange.open(request)
        except StoreUnavailable as error:
            return self.unavailable(exchange, error)

    def unavailable(self, exchange, error: StoreUnavailable):
        # Raised here, Flask would log a traceback; the before_request hook
        # raises it in a view, where the specimen's error handlers answer it.
        exchange.decision.reasons.append(
            f"no session: the {error.store} store is unavailable"
        )
        return exchange.placeholder(error)

    def save_session(self, app, session, response):
        if session is None:
            return

        exchange = session.exchange
        # Flask saves again for the error page when a store write failed; one
        # attempt is what Flask-Session makes.
        if exchange.problem is not None or exchange.finished:
            return
        exchange.finished = True
        exchange.save(session, response)


def refuse_without_session() -> None:
    """Answer a request the specimen could not open a session for.

    :raise StoreUnavailable: the store did not answer.
    :raise LabInputError: the learner's store is one Flask-Session lacks.
    """
    problem = getattr(getattr(session, "exchange", None), "problem", None)
    if problem is not None:
        raise problem
