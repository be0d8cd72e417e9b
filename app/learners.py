"""Learners: each browser's identity, settings and progress, in the studio session."""

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from flask import Flask, current_app, g, session
from werkzeug.sansio.http import parse_cookie

from .settings import Settings

# Sent beside the studio cookie and changed with every change of settings, so
# a process that read a learner's settings can tell it has read these ones.
SETTINGS_COOKIE = "lab_settings"


@dataclass
class Learner:
    """One browser's view of the lab; nothing in it is shared with another."""

    id: str
    settings: Settings
    progress: dict = field(default_factory=dict)


def current(create: bool = True) -> Learner | None:
    """Answer the learner this request belongs to, making one if asked."""
    learner_id = session.get("learner")
    if learner_id is None:
        if not create:
            return None
        learner_id = secrets.token_urlsafe(16)
        session["learner"] = learner_id
        session["settings"] = Settings().to_dict()
        session["progress"] = {}
        g.settings_version = secrets.token_urlsafe(9)

    return stored(session)


def stored(state) -> Learner | None:
    """Answer the learner a studio session holds, or None when it holds none."""
    learner_id = state.get("learner")
    if learner_id is None:
        return None

    settings = Settings.from_dict(state.get("settings"))
    return Learner(learner_id, settings, dict(state.get("progress") or {}))


def named_by(studio: Flask, environ: dict) -> Learner | None:
    """Answer the learner whose studio cookie a request carries, if any.

    For the specimens' requests, which need the studio session and nothing
    else of the studio: opening it directly skips the studio's routing and
    request hooks, which every lab exchange would otherwise pay for.
    """
    with studio.app_context():
        request = studio.request_class(environ)
        state = studio.session_interface.open_session(studio, request)
    return stored(state)


class RecentLearners:
    """The learners this process read lately, by the cookies that named them.

    Every lab exchange needs its learner's settings, kept in the studio
    session; reading them again for each exchange is a studio-store round trip
    per exchange. The key is the studio cookie with the settings cookie, which
    changes whenever the settings do, in whichever process, so an entry is
    never used for settings the browser has not sent. Without a settings
    cookie nothing is kept. Bounded in number, and each entry lives briefly,
    so a learner whose studio session ends is soon forgotten here too.
    """

    def __init__(self, limit: int = 4096, lifetime: float = 30.0):
        self.limit = limit
        self.lifetime = lifetime
        self.entries: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def key(self, studio: Flask, environ: dict) -> tuple | None:
        # The server hands the header on as latin-1 code points; bytes that
        # are not UTF-8 name no studio cookie, so replacing them loses nothing.
        header = environ.get("HTTP_COOKIE", "").encode("latin-1", errors="replace")
        cookies = parse_cookie(header.decode(errors="replace"))
        studio_cookie = cookies.get(studio.config["SESSION_COOKIE_NAME"])
        version = cookies.get(SETTINGS_COOKIE)
        if not studio_cookie or not version:
            return None
        return studio_cookie, version

    def get(self, key: tuple) -> Learner | None:
        with self.lock:
            entry = self.entries.get(key)
            if entry is None:
                return None
            learner, until = entry
            if until < time.monotonic():
                del self.entries[key]
                return None
            self.entries.move_to_end(key)
            return learner

    def put(self, key: tuple, learner: Learner) -> None:
        with self.lock:
            self.entries[key] = (learner, time.monotonic() + self.lifetime)
            self.entries.move_to_end(key)
            if len(self.entries) > self.limit:
                self.entries.popitem(last=False)


def save_settings(settings: Settings) -> None:
    """Keep the learner's new settings for their next lab request."""
    session["settings"] = settings.to_dict()
    g.settings_version = secrets.token_urlsafe(9)


def send_settings_version(response):
    """Send the settings cookie when this request changed the settings."""
    version = g.pop("settings_version", None)
    if version is not None:
        config = current_app.config
        response.set_cookie(
            SETTINGS_COOKIE,
            version,
            max_age=config["PERMANENT_SESSION_LIFETIME"],
            path="/",
            secure=config["SESSION_COOKIE_SECURE"],
            httponly=True,
            samesite=config["SESSION_COOKIE_SAMESITE"],
        )
    return response


def init_app(app: Flask) -> None:
    app.after_request(send_settings_version)


def save_progress(progress: dict) -> None:
    """Keep the learner's answers and finished steps."""
    session["progress"] = progress


def reserved_cookie_names() -> tuple[str, ...]:
    """Answer cookie names the specimen may not take from the studio."""
    return (current_app.config["SESSION_COOKIE_NAME"], SETTINGS_COOKIE)


def visitors() -> list[dict]:
    """Answer the other browsers this learner has sent to the lab, oldest first.

    Each is ``{"cookie": <its studio cookie>, "learner": <its learner ID>}``:
    a learner of its own, so its sessions and record are apart from this one's.
    """
    return [dict(item) for item in session.get("visitors") or []]


def save_visitors(items: list[dict]) -> None:
    """Keep the learner's visitors for the next demo that sends them."""
    session["visitors"] = items
