"""express-session's decisions, made over Flask-Session's storage.

Every rule below is express-session 1.19's (index.js): when the store is set,
touched, destroyed or left alone, and when Set-Cookie is sent. Each decision
is returned with the rule that made it, so the lab shows the reason the code
really followed rather than a description kept elsewhere.
"""

import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from flask import session
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.http import dump_cookie

from . import cookie, signing
from .actions import SessionActions
from ..stores.base import StoreUnavailable, session_key

log = logging.getLogger(__name__)

# With no max_age, express stores never expire a session themselves; the lab
# gives them connect-redis's default lifetime so nothing outlives a day.
DEFAULT_STORE_TTL = 24 * 3600


def content_hash(data: dict) -> str:
    """Hash a session without its cookie, as express-session detects changes."""
    body = {k: v for k, v in data.items() if k != "cookie"}
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha1(text.encode()).hexdigest()


def is_secure(environ: dict, trust_proxy: bool) -> bool:
    """Decide whether the request is secure the way express-session does.

    With trust_proxy on, the first X-Forwarded-Proto value is believed.
    """
    if environ.get("wsgi.url_scheme") == "https":
        return True
    if not trust_proxy:
        return False

    forwarded = environ.get("HTTP_X_FORWARDED_PROTO", "")
    return forwarded.split(",")[0].strip().lower() == "https"


@dataclass
class Decision:
    """What the interface did at the end of a request, and why."""

    store_op: str = "none"
    set_cookie: bool = False
    reasons: list = field(default_factory=list)
    # True when Set-Cookie was due but the secure gate kept it back.
    withheld_by_secure: bool = False

    @property
    def summary(self) -> str:
        """Answer the decision as one sentence."""
        return "; ".join(self.reasons)

    def to_dict(self) -> dict:
        """Answer the decision as JSON-ready data."""
        return {
            "store_op": self.store_op,
            "set_cookie": self.set_cookie,
            "reasons": list(self.reasons),
            "summary": self.summary,
            "withheld_by_secure": self.withheld_by_secure,
        }


class ExpressSession(SessionActions, dict, SessionMixin):
    """The specimen's ``req.session``: a dict whose changes are found by hash."""

    def __init__(self, exchange, data=None):
        super().__init__(data or {})
        self.exchange = exchange


class Exchange:
    """One request's session state: the IDs and hashes express-session keeps."""

    def __init__(self, context):
        self.context = context
        self.settings = context.settings
        self.store = context.store
        self.cookie_id = None
        self.session_id = None
        self.original_id = None
        self.original_hash = None
        self.saved_hash = None
        self.cookie = None
        self.gone = None
        self.store_error = None
        self.finished = False
        self.decision = Decision()

    def key(self, session_id: str) -> str:
        return session_key(self.context.learner_id, session_id)

    def open(self, reading: signing.CookieReading) -> ExpressSession:
        """Load the session the cookie names, or make a new one."""
        self.cookie_id = reading.session_id
        if reading.session_id is None:
            return self.generate(f"new session: {reading.problem}")

        stored = self.store.get(self.key(reading.session_id))
        if stored is None:
            return self.generate("new session: the store has no session with that ID")

        self.session_id = self.original_id = reading.session_id
        self.cookie = stored.pop("cookie", None) or self.new_cookie()
        session = ExpressSession(self, stored)
        self.original_hash = content_hash(session)
        if not self.settings.resave:
            self.saved_hash = self.original_hash
        self.decision.reasons.append("loaded the session the cookie names")
        if made_differently(self.cookie, self.new_cookie()):
            self.decision.reasons.append(
                "this session keeps the cookie options it was made with; "
                "changed settings apply to new sessions"
            )
        return session

    def generate(self, why: str) -> ExpressSession:
        self.session_id = self.original_id = signing.generate_id()
        self.cookie = self.new_cookie()
        session = ExpressSession(self)
        self.original_hash = content_hash(session)
        self.decision.reasons.append(why)
        return session

    def new_cookie(self) -> dict:
        settings = self.settings
        max_age_ms = None if settings.max_age is None else settings.max_age * 1000
        cookie = {
            "originalMaxAge": max_age_ms,
            "expires": None,
            "secure": settings.secure,
            "httpOnly": settings.http_only,
            "path": settings.path,
        }
        if settings.domain:
            cookie["domain"] = settings.domain
        if settings.same_site:
            cookie["sameSite"] = settings.same_site
        if settings.partitioned:
            cookie["partitioned"] = True
        if settings.priority:
            cookie["priority"] = settings.priority
        return cookie

    def regenerate(self, session: ExpressSession) -> None:
        # express's store.regenerate: destroy the old ID, generate anew; the
        # original ID is not reset, so the new session counts as modified.
        self.store.destroy(self.key(self.session_id), why="regenerate")
        session.clear()
        self.session_id = signing.generate_id()
        self.cookie = self.new_cookie()
        self.decision.reasons.append("regenerated: the old ID was destroyed")

    def destroy(self, session: ExpressSession) -> None:
        self.store.destroy(self.key(self.session_id), why="destroy")
        self.gone = "destroyed"

    def unset(self, session: ExpressSession) -> None:
        self.gone = "unset"

    def expires_at(self) -> datetime | None:
        # express touches the session on every response: expires = now plus
        # the originalMaxAge its cookie was made with.
        max_age_ms = self.cookie.get("originalMaxAge")
        if max_age_ms is None:
            return None
        now = datetime.now(timezone.utc).replace(microsecond=0)
        return now + timedelta(milliseconds=max_age_ms)

    def store_ttl(self) -> int:
        max_age_ms = self.cookie.get("originalMaxAge")
        if max_age_ms is None:
            return DEFAULT_STORE_TTL
        return max(1, math.ceil(max_age_ms / 1000))

    def stored_form(self, session: ExpressSession, expires) -> dict:
        cookie = dict(self.cookie)
        cookie["expires"] = None if expires is None else expires.isoformat()
        return {"cookie": cookie, **session}

    def is_new(self) -> bool:
        return self.cookie_id != self.session_id

    # Each rule takes the session's hash at the end of the request, computed
    # once: the session no longer changes while they are weighed.
    def is_modified(self, digest: str) -> bool:
        changed_id = self.original_id != self.session_id
        return changed_id or self.original_hash != digest

    def is_saved(self, digest: str) -> bool:
        same_id = self.original_id == self.session_id
        return same_id and self.saved_hash == digest

    def should_save(self, digest: str) -> tuple[bool, str]:
        modified = self.is_modified(digest)
        uninitialized_rule = (
            not self.settings.save_uninitialized
            and self.saved_hash is None
            and self.is_new()
        )
        if uninitialized_rule and not modified:
            return False, (
                "not saved: the session is new and unmodified "
                "and saveUninitialized is off"
            )
        if not uninitialized_rule and self.is_saved(digest):
            return False, ""

        if self.is_new():
            if modified:
                return True, "saved: the new session was modified"
            return True, "saved: the session is new and saveUninitialized is on"
        if modified:
            return True, "saved: the loaded session was modified"
        return True, "saved, though unmodified: resave is on"

    def should_set_cookie(self, digest: str) -> tuple[bool, str]:
        settings = self.settings
        modified = self.is_modified(digest)
        if self.is_new():
            if settings.save_uninitialized or modified:
                return True, "Set-Cookie: the browser must learn the new ID"
            return False, (
                "no Set-Cookie: the session is new and unmodified "
                "and saveUninitialized is off"
            )

        if settings.rolling:
            return True, "Set-Cookie: rolling is on, every response re-sends it"
        if self.cookie.get("originalMaxAge") is not None and modified:
            return True, "Set-Cookie: modified, so the expiry is pushed forward"
        if modified:
            return False, (
                "no Set-Cookie: the browser holds this ID already, and a cookie "
                "without max_age is not re-sent on a change"
            )
        return False, "no Set-Cookie: the browser holds this ID already"

    def finish(self, session: ExpressSession, response, environ) -> Decision:
        """Write, touch or leave the store, then decide on Set-Cookie."""
        decision = self.decision
        if self.gone is not None:
            return self.finish_gone(decision)

        expires = self.expires_at()
        ttl = self.store_ttl()
        key = self.key(self.session_id)
        digest = content_hash(session)
        save, why = self.should_save(digest)
        if save:
            self.store.set(key, self.stored_form(session, expires), ttl)
            self.saved_hash = digest
            decision.store_op = "set"
            decision.reasons.append(why)
        elif not self.is_new():
            self.store.touch(key, self.stored_form(session, expires), ttl)
            decision.store_op = "touch"
            decision.reasons.append(
                "touched, not saved: loaded, unmodified, resave is off"
            )
        else:
            decision.reasons.append(why)

        send, why = self.should_set_cookie(digest)
        if send and self.cookie.get("secure") and not is_secure(
            environ, self.settings.trust_proxy
        ):
            send, why = False, (
                "no Set-Cookie: secure is on and the request is not secure "
                "(plain HTTP, and no trusted X-Forwarded-Proto: https)"
            )
            decision.withheld_by_secure = True
        decision.reasons.append(why)
        if send:
            self.set_cookie(response, expires)
        decision.set_cookie = send
        return decision

    def finish_gone(self, decision: Decision) -> Decision:
        if self.gone == "destroyed":
            decision.store_op = "destroy"
            decision.reasons.append(
                "destroyed: no Set-Cookie, express-session never clears the "
                "cookie, so the browser keeps sending the dead ID"
            )
        if self.settings.unset == "destroy":
            # express destroys whenever req.session is gone at the end, even
            # right after destroy() did so (index.js shouldDestroy).
            self.store.destroy(self.key(self.session_id), why="unset is destroy")
            decision.store_op = "destroy"
            decision.reasons.append("unset is destroy: the store entry went at the end")
        elif self.gone == "unset":
            decision.reasons.append(
                "unset with unset=keep: the stored session is kept as it was"
            )
        return decision

    def set_cookie(self, response, expires) -> None:
        # The attributes are the session's own cookie's, as express sends
        # req.session.cookie.data; only the name and secrets are the options'.
        settings, cookie = self.settings, self.cookie
        same_site = cookie.get("sameSite")
        header = dump_cookie(
            settings.name,
            signing.sign(self.session_id, settings.secrets[0]),
            expires=expires,
            path=cookie.get("path", "/"),
            domain=cookie.get("domain"),
            secure=bool(cookie.get("secure")),
            httponly=bool(cookie.get("httpOnly")),
            samesite=same_site.capitalize() if same_site else None,
            partitioned=bool(cookie.get("partitioned")),
        )
        if cookie.get("priority"):
            # Werkzeug knows no Priority attribute; express's cookie module does.
            header = f"{header}; Priority={cookie['priority'].capitalize()}"
        response.headers.add("Set-Cookie", header)


def made_differently(cookie: dict, fresh: dict) -> bool:
    """Answer whether a stored cookie's options differ from today's settings."""
    kept = {k: v for k, v in cookie.items() if k != "expires"}
    return kept != {k: v for k, v in fresh.items() if k != "expires"}


class ExpressSessionInterface(SessionInterface):
    """Flask's session hooks, speaking express-session's rules.

    The per-request context (learner, settings, recording store) is put in the
    WSGI environ by the recorder, so this interface holds no state of its own.
    The cookie store is not express's: it goes to Flask's own cookie session.
    """

    signed_cookie = cookie.SignedCookieInterface()

    def open_session(self, app, request):
        context = request.environ["lab.context"]
        if context.settings.store == "cookie":
            return self.signed_cookie.open_session(app, request)

        exchange = Exchange(context)
        context.exchange = exchange

        settings = context.settings
        path = request.script_root + request.path
        if not path.startswith(settings.path):
            exchange.gone = "outside"
            exchange.decision.reasons.append(
                f"no session: {path} is not under the cookie path {settings.path}"
            )
            return ExpressSession(exchange)

        raw = request.cookies.get(settings.name)
        context.reading = signing.read(raw, settings.secrets)
        try:
            if context.store_error is not None:
                raise context.store_error
            return exchange.open(context.reading)
        except StoreUnavailable as error:
            # Raised here, Flask would log a traceback and then save a session
            # that does not exist; refuse_without_store raises it in a view.
            exchange.gone = "unavailable"
            exchange.store_error = error
            exchange.decision.reasons.append(
                f"no session: the {error.store} store is unavailable"
            )
            return ExpressSession(exchange)

    def save_session(self, app, session, response):
        if session is None:
            # open_session raised (the store is down): there is nothing to save,
            # and Flask still calls this on the way out of its error handler.
            return

        if isinstance(session, cookie.CookieSession):
            return self.signed_cookie.save_session(app, session, response)

        exchange = session.exchange
        # Flask saves again for the error page when a store write failed;
        # one attempt is what express makes.
        if exchange.gone in ("outside", "unavailable") or exchange.finished:
            return
        exchange.finished = True
        exchange.finish(session, response, exchange.context.environ)


def refuse_without_store() -> None:
    """Answer the store's failure through the specimen's error handlers.

    :raise StoreUnavailable: the session could not be opened.
    """
    error = getattr(getattr(session, "exchange", None), "store_error", None)
    if error is not None:
        raise error
