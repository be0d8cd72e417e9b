"""Learners: each browser's identity, settings and progress, in the studio session."""

import secrets
from dataclasses import dataclass, field

from flask import Flask, current_app, session

from .settings import Settings


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


def save_settings(settings: Settings) -> None:
    """Keep the learner's new settings for their next lab request."""
    session["settings"] = settings.to_dict()


def save_progress(progress: dict) -> None:
    """Keep the learner's answers and finished steps."""
    session["progress"] = progress


def reserved_cookie_names() -> tuple[str, ...]:
    """Answer cookie names the specimen may not take from the studio."""
    return (current_app.config["SESSION_COOKIE_NAME"],)


def visitors() -> list[dict]:
    """Answer the other browsers this learner has sent to the lab, oldest first.

    Each is ``{"cookie": <its studio cookie>, "learner": <its learner ID>}``:
    a learner of its own, so its sessions and record are apart from this one's.
    """
    return [dict(item) for item in session.get("visitors") or []]


def save_visitors(items: list[dict]) -> None:
    """Keep the learner's visitors for the next demo that sends them."""
    session["visitors"] = items
