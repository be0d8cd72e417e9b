"""The SQL stores: Flask-Session's SQLAlchemy interface on SQLite, PostgreSQL, MySQL.

A database has no time to live: Flask-Session writes an expiry column and
deletes an expired row only when that row is read, or when its cleanup runs.
Until then the row is really there, and the lab shows it as expired.
"""

import logging
import math
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask_session._utils import retry_query
from flask_session.sqlalchemy import SqlAlchemySessionInterface
from flask_sqlalchemy import SQLAlchemy
from itsdangerous import want_bytes

from .base import Entry, Store

log = logging.getLogger(__name__)

TITLES = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MySQL / MariaDB"}
SQLITE_FILE = "specimen.sqlite3"

# Rows expired longer ago than the learner lifetime belong to nobody the lab
# still knows, so they are swept, at most this often per process; rows that
# expired more recently stay, for the lesson on expired rows.
SWEEP_EVERY_SECONDS = 600


def utc_now() -> datetime:
    """Answer now as Flask-Session writes the expiry column: naive UTC."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class SpecimenSqlInterface(SqlAlchemySessionInterface):
    """Flask-Session's SQLAlchemy interface, rolling back a failed read.

    Flask-Session retries a failed read, but unlike its writes it does not
    roll the session back first, so after a lost connection every retry
    fails on the dead transaction (PendingRollbackError) instead of
    reconnecting. Its own read runs unchanged, under its own retry.
    """

    @retry_query()
    def _retrieve_session_data(self, store_id):
        read = SqlAlchemySessionInterface._retrieve_session_data.__wrapped__
        try:
            return read(self, store_id)
        except Exception:
            self.client.session.rollback()
            raise


class SqlStore(Store):
    """Keep sessions as rows of one table, with an expiry column.

    Each SQL store has a Flask app and a Flask-SQLAlchemy instance of its own.
    Flask-Session's interface needs a Flask-SQLAlchemy instance registered on
    an app, and defines its model class, always named Session, on that
    instance's declarative base. Sharing the studio's instance (or one
    instance with a bind per database) would put a second Session class on
    the same base, which SQLAlchemy warns about, and the studio has served
    requests by the time a store is first built, when Flask no longer lets an
    extension register on it. A small app per database keeps the engines,
    models and sessions apart; every operation runs in that app's context.
    """

    kind = "database"

    def __init__(self, name, url, table, engine_options, lifetime: timedelta):
        self.name = name
        self.title = TITLES[name]
        self.lifetime = lifetime
        self._swept_at = float("-inf")
        self._sweep_lock = threading.Lock()

        self.app = Flask(__name__)
        self.app.config["SQLALCHEMY_DATABASE_URI"] = url
        self.app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options
        self.db = SQLAlchemy(self.app)
        try:
            interface = SpecimenSqlInterface(
                self.app, client=self.db, key_prefix="", table=table
            )
        except Exception:
            self.close()
            raise
        self.model = interface.sql_session_model
        super().__init__(interface)

    def get(self, key):
        with self.app.app_context():
            return super().get(key)

    def set(self, key, data, ttl):
        with self.app.app_context():
            super().set(key, data, ttl)
        self.sweep()

    def destroy(self, key):
        with self.app.app_context():
            super().destroy(key)

    def touch(self, key, data, ttl):
        model, now = self.model, utc_now()
        update = (
            sa.update(model)
            .where(model.session_id == key, model.expiry > now)
            .values(expiry=now + timedelta(seconds=ttl))
        )
        with self.app.app_context():
            self._commit(update)

    def peek(self, key):
        """Read a row and its remaining life, changing nothing.

        A row past its expiry is answered with a time to live of zero or
        less (minus the seconds since it expired): Flask-Session would delete
        it on the next read, but until then the table holds it. A row without
        an expiry counts as expired, as Flask-Session treats it.
        """
        model = self.model
        query = sa.select(model.data, model.expiry).where(model.session_id == key)
        with self.app.app_context():
            row = self.db.session.execute(query).first()
        if row is None:
            return None

        data = self.interface.serializer.decode(want_bytes(row.data))
        if row.expiry is None:
            return Entry(data, 0.0)
        return Entry(data, (row.expiry - utc_now()).total_seconds())

    def ping(self):
        with self.app.app_context():
            self.db.session.execute(sa.text("SELECT 1"))

    def row(self, key: str) -> dict | None:
        """Answer the row a session is kept in, each column as the table holds it.

        ``data`` is the column's bytes; ``decoded`` is what Flask-Session's
        own serializer reads from them. Nothing is changed, not even an
        expired row.
        """
        model = self.model
        columns = (model.id, model.session_id, model.data, model.expiry)
        query = sa.select(*columns).where(model.session_id == key)
        with self.app.app_context():
            found = self.db.session.execute(query).first()
        if found is None:
            return None

        data = bytes(found.data)
        return {
            "table": model.__table__.name,
            "id": found.id,
            "session_id": found.session_id,
            "data": data,
            "decoded": self.interface.serializer.decode(data),
            "expiry": found.expiry,
        }

    def count_rows(self, prefix: str | None = None) -> dict:
        """Answer how many rows the table holds and how many have expired.

        With a prefix, only rows whose key starts with it are counted.
        """
        model = self.model
        stale = sa.or_(model.expiry.is_(None), model.expiry <= utc_now())
        query = sa.select(sa.func.count(), sa.func.count(sa.case((stale, 1))))
        if prefix:
            query = query.where(model.session_id.startswith(prefix, autoescape=True))
        with self.app.app_context():
            rows, expired = self.db.session.execute(query).one()
        return {"rows": rows, "expired": expired}

    def clean_up(self, prefix: str | None = None) -> dict:
        """Run Flask-Session's own cleanup, answering the counts before and after.

        The cleanup deletes every expired row in the table, whoever's it is.
        """
        before = self.count_rows(prefix)
        with self.app.app_context():
            self.interface._delete_expired_sessions()
        return {"before": before, "after": self.count_rows(prefix)}

    def sweep(self) -> None:
        """Delete rows that expired more than a learner lifetime ago."""
        now = time.monotonic()
        if now - self._swept_at < SWEEP_EVERY_SECONDS:
            return
        with self._sweep_lock:
            if now - self._swept_at < SWEEP_EVERY_SECONDS:
                return
            self._swept_at = now

        model = self.model
        cutoff = utc_now() - self.lifetime
        try:
            with self.app.app_context():
                deleted = self._commit(sa.delete(model).where(model.expiry < cutoff))
        except Exception as error:
            # The write before it succeeded; a failed sweep waits for the next.
            log.warning("could not sweep the %s store: %s", self.name, error)
            return
        if deleted:
            log.info("swept %s long-expired rows from the %s store", deleted, self.name)

    def close(self):
        with self.app.app_context():
            self.db.session.remove()
            self.db.engine.dispose()

    def _commit(self, statement) -> int:
        session = self.db.session
        try:
            result = session.execute(statement)
            session.commit()
        except Exception:
            session.rollback()
            raise
        return result.rowcount


def engine_options(name: str, timeout: float) -> dict:
    """Answer engine options that keep a dead server from holding a request.

    PostgreSQL's client waits at least 2 s to connect whatever it is given;
    its statement_timeout bounds a query the server is slow to answer. SQLite
    is a local file: the studio's connect hook (app/db.py) sets how long it
    waits for a lock. A busy pool is waited for a few seconds, not thirty.
    """
    if name == "sqlite":
        return {}
    if name == "postgresql":
        milliseconds = int(timeout * 1000)
        connect = {
            "connect_timeout": max(2, math.ceil(timeout)),
            "options": f"-c statement_timeout={milliseconds}",
        }
    else:
        connect = {
            "connect_timeout": timeout,
            "read_timeout": timeout,
            "write_timeout": timeout,
        }
    return {"connect_args": connect, "pool_timeout": max(timeout, 5.0)}


def database_url(name: str, config, instance) -> str:
    if name == "sqlite":
        return f"sqlite:///{Path(instance) / SQLITE_FILE}"
    return config["POSTGRES_URL"] if name == "postgresql" else config["MYSQL_URL"]


def build(name, config, instance, timeout):
    """Make the SQLite, PostgreSQL or MySQL store, creating its table if need be."""
    return SqlStore(
        name,
        database_url(name, config, instance),
        config["SPECIMEN_SQL_TABLE"],
        engine_options(name, timeout),
        config["PERMANENT_SESSION_LIFETIME"],
    )
