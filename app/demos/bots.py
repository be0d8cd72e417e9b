"""The bots lesson's demos: cookie-less visitors, with and without saveUninitialized.

The express-style burst runs on worker B through its specimen (see
visitors.py), so the sessions it makes never fill the studio's memory. The
Flask-Session burst runs here, against a small Flask app of its own on
Flask-Session 0.8 and a fresh SimpleCache, made for each run and dropped after.
"""

import logging
import secrets

from cachelib import SimpleCache
from flask import Flask, jsonify, request, session
from flask_session import Session

from .. import learners
from ..views import hx
from ..workers import WorkerError
from . import bp
from .memory import BURST_WORKER, cookie_header, pool, problem

log = logging.getLogger(__name__)

BOT_VISITORS = 100


@bp.post("/bots/burst")
def bots_burst():
    learners.current()
    form = {"count": BOT_VISITORS, "every": BOT_VISITORS}
    try:
        status, answer = pool().call(
            BURST_WORKER, "POST", "/demos/visitors/burst", cookie_header(), form
        )
    except WorkerError as error:
        return problem(str(error), 503)
    if status != 200:
        return problem(answer.get("error") or f"worker B answered {status}", status)
    return hx.render("demos/bots/_burst.html", "demos/bots/_burst.html", answer=answer)


@bp.post("/bots/flask-session")
def flask_session_burst():
    learners.current()
    consent = request.form.get("consent") == "yes"
    answer = run_flask_session(BOT_VISITORS, consent)
    return hx.render(
        "demos/bots/_flask_session.html",
        "demos/bots/_flask_session.html",
        answer=answer,
    )


def flask_session_app(cache: SimpleCache) -> Flask:
    """Make a plain Flask app whose sessions are Flask-Session's, in the cache."""
    app = Flask("flask_session_visitors")
    app.config.update(
        SECRET_KEY=secrets.token_urlsafe(32),
        SESSION_TYPE="cachelib",
        SESSION_CACHELIB=cache,
    )
    Session(app)

    @app.get("/")
    def read():
        return jsonify(consent=session.get("consent"))

    @app.post("/consent")
    def accept():
        session["consent"] = "yes"
        return jsonify(consent=session["consent"])

    return app


def run_flask_session(count: int, consent: bool) -> dict:
    """Send cookie-less visitors to a Flask-Session app and count what it kept."""
    cache = SimpleCache(threshold=count * 2, default_timeout=0)
    client = flask_session_app(cache).test_client(use_cookies=False)
    cookies = 0
    for _ in range(count):
        response = client.post("/consent") if consent else client.get("/")
        cookies += any(
            header.startswith("session=")
            for header in response.headers.getlist("Set-Cookie")
        )
    return {
        "count": count,
        "consent": consent,
        "entries": len(cache._cache),
        "cookies": cookies,
    }
