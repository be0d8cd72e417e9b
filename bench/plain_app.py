"""Serve the yardstick: a plain Flask app with Flask-Session 0.8 on Redis.

Its one endpoint does what the lab's POST /lab/set does for the learner's
code, and nothing else: read the session, set one form field in it, write it
back and answer the session as JSON. Served by gunicorn exactly as run.py
serves the lab, so the two differ only in what the lab adds.
"""

import argparse
import os

from flask import Flask, jsonify, request, session
from flask_session import Session
from redis import Redis


def create_app(redis_url: str) -> Flask:
    """Make the plain app, keeping its sessions in the Redis at the URL."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="plain-bench-only",
        SESSION_TYPE="redis",
        SESSION_REDIS=Redis.from_url(redis_url),
        SESSION_KEY_PREFIX="plain:",
        SESSION_PERMANENT=True,
    )
    Session(app)

    @app.post("/set")
    def set_value():
        session[request.form["key"]] = request.form.get("value", "")
        return jsonify(dict(session))

    return app


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve the plain Flask-Session app.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5001, help="port to listen on")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per worker")
    return parser.parse_args(argv)


def serve(arguments: argparse.Namespace) -> None:
    from gunicorn.app.base import BaseApplication

    app = create_app(os.environ["REDIS_URL"])

    # The same settings run.py gives gunicorn, so only the apps differ.
    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{arguments.host}:{arguments.port}")
            self.cfg.set("workers", arguments.workers)
            self.cfg.set("threads", arguments.threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("accesslog", None)

        def load(self):
            return app

    Server().run()


if __name__ == "__main__":
    serve(parse_arguments())
