"""Session Lab: watch real web sessions, request by request."""

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask_session import Session
from htmx_flask import Htmx
from redis import Redis
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from . import db, learners, lessons, workers
from .config import SERVICE_VARIABLES, Defaults, load_secret_key
from .journal import RedisJournal, SqlJournal
from .recorder import FLASK, Recorder
from .specimen import create_flask_specimen, create_specimen
from .stores import Stores

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Lab:
    """The parts every view and the recorder share."""

    stores: Stores
    journal: RedisJournal | SqlJournal


def create_app(test_config: dict | None = None, instance_path: str | None = None):
    """Make the studio with the specimens mounted under /lab and /lab-flask.

    Configuration comes in layers: defaults, the service variables and
    SESSION_LAB_* from the environment, then ``test_config`` last. The
    instance folder (secret, SQLite files) is ./instance unless given.
    """
    instance_path = instance_path or os.environ.get("SESSION_LAB_INSTANCE")
    app = Flask(
        __name__,
        instance_path=instance_path or str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_object(Defaults)
    for name in SERVICE_VARIABLES:
        if os.environ.get(name):
            app.config[name] = os.environ[name]
    app.config.from_prefixed_env("SESSION_LAB")
    if test_config:
        app.config.update(test_config)

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = load_secret_key(app.instance_path)

    init_state(app)
    lessons.init_app(app)
    learners.init_app(app)
    Htmx(app)
    register_views(app)

    recorder = Recorder(app, create_specimen(app))
    mounts = {
        "/lab": recorder,
        "/lab-flask": Recorder(app, create_flask_specimen(app), FLASK),
        **workers.init_app(app, recorder),
    }
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, mounts)
    return app


def init_state(app: Flask) -> None:
    """Put the studio session and the record on Redis or on SQLite."""
    config = app.config
    lifetime = int(config["PERMANENT_SESSION_LIFETIME"].total_seconds())
    bounds = (config["RECORD_LENGTH"], config["SESSIONS_PER_LEARNER"], lifetime)

    if config["REDIS_URL"]:
        client = Redis.from_url(config["REDIS_URL"])
        config["SESSION_TYPE"] = "redis"
        config["SESSION_REDIS"] = client
        journal = RedisJournal(client, *bounds)
    else:
        path = Path(app.instance_path) / "studio.sqlite3"
        config.setdefault("SQLALCHEMY_DATABASE_URI", f"sqlite:///{path}")
        database = db.init_app(app)
        config["SESSION_SQLALCHEMY"] = database
        with app.app_context():
            journal = SqlJournal(database.engine, *bounds)

    Session(app)
    app.extensions["session_lab"] = Lab(Stores(config, app.instance_path), journal)


def register_views(app: Flask) -> None:
    from . import demos
    from .views import api, pages, panels

    app.register_blueprint(pages.bp)
    app.register_blueprint(panels.bp)
    app.register_blueprint(api.bp)
    demos.init_app(app)
