"""The studio's database: its sessions and the record, SQLite unless Redis is set."""

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine


def make_database() -> SQLAlchemy:
    """Make the studio's Flask-SQLAlchemy object, one for each app.

    Flask-Session defines its session model on the object it is given, so two
    apps sharing one (a fresh app per test) would define the table twice.
    """
    return SQLAlchemy()


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
