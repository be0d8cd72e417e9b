"""The studio's database: its sessions and the record, SQLite unless Redis is set."""

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine


def make_db() -> SQLAlchemy:
    """Make the database extension for one studio.

    Each studio needs its own: Flask-Session declares its session model on the
    extension's registry, and a second studio in one process would redeclare it.
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
