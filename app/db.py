"""The studio's database: its sessions and the record, SQLite unless Redis is set."""

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine


def init_app(app: Flask) -> SQLAlchemy:
    """Give the app a Flask-SQLAlchemy instance of its own, and answer it.

    Flask-Session defines its session model on the instance's declarative
    base, so an instance shared by two apps in one process (as the tests make
    them) would define that model twice.
    """
    database = SQLAlchemy()
    database.init_app(app)
    return database


@event.listens_for(Engine, "connect")
def _tune_sqlite(connection, _record):
    # WAL lets the record be read while a worker writes it; the timeout makes
    # concurrent writers wait rather than fail.
    if type(connection).__module__.startswith("sqlite3"):
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

