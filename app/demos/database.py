"""The database lesson's demos: the row, expired rows and the cleanup, timed reads.

Rows and counts are read from the real table through the SQL store's own
queries; the cleanup is Flask-Session's; the timings are reads of the
learner's own session through each store's Flask-Session hook, measured here
and shown as they came out.
"""

import logging
import math
import statistics
import time
from datetime import datetime, timezone

from flask import current_app, render_template, request

from .. import learners
from ..stores.base import describe
from . import bp, crowd
from .store_demos import (
    SERVER_ERRORS,
    DemoRefused,
    availability,
    chosen_store,
    held_in,
    lab,
    refusing,
    store_title,
)

log = logging.getLogger(__name__)

SQL_STORES = ("sqlite", "postgresql", "mysql")
TIMED_STORES = ("memory", "sqlite", "postgresql", "mysql", "redis", "memcached")
WHERE = {
    "memory": "a dict in the app's own process",
    "sqlite": "a file, read by a library in the app's process",
    "postgresql": "a database server, over a socket",
    "mysql": "a database server, over a socket",
    "redis": "a cache server, over a socket",
    "memcached": "a cache server, over a socket",
}
VISITORS = 5
VISITOR_MAX_AGE = 5
READS_DEFAULT = 200
READS_LIMIT = 1000
# A slow server ends its share of the timing early rather than hold the page.
TIMING_SECONDS = 3.0
COPY_TTL = 60
HEX_SHOWN = 256


def fragment(template: str, status: int = 200, **context):
    return render_template(f"demos/database/{template}", **context), status


def chosen_sql() -> str:
    """Answer the SQL store the learner's settings use.

    :raise DemoRefused: the learner's store is not an SQL store.
    """
    return chosen_store(SQL_STORES, "a table", "SQLite, PostgreSQL or MySQL")


@bp.get("/database/row")
@refusing
def database_row():
    held = held_in(
        SQL_STORES,
        "Your browser holds no session in a database yet: send this "
        "lesson's first request, then look again.",
    )
    row = lab().stores.get(held.store).row(held.key)

    return fragment(
        "_row.html",
        held=held,
        title=store_title(held.store),
        table=current_app.config["SPECIMEN_SQL_TABLE"],
        row=row,
        shown=row_view(row) if row else None,
    )


def row_view(row: dict) -> dict:
    """Answer the row's columns as the page writes them."""
    data = row["data"]
    expiry = row["expiry"]
    left = None
    if expiry is not None:
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        left = (expiry - now).total_seconds()
    return {
        "hex": data[:HEX_SHOWN].hex(" "),
        "bytes": len(data),
        "cut": len(data) > HEX_SHOWN,
        "expiry": expiry.isoformat(sep=" ") if expiry is not None else None,
        "left": left,
    }


@bp.post("/database/visitors")
@refusing
def database_visitors():
    store = chosen_sql()
    settings = {"store": store, "max_age": VISITOR_MAX_AGE}
    visits = crowd.send(VISITORS, settings, {"key": "visit", "value": "once"})
    counts = row_counts(store)
    return rows_fragment(store, counts, visits)


@bp.get("/database/rows")
@refusing
def database_rows():
    store = chosen_sql()
    counts = row_counts(store)
    return rows_fragment(store, counts, None)


def rows_fragment(store: str, counts: dict, visits):
    return fragment(
        "_rows.html",
        counts=counts,
        title=store_title(store),
        visits=visits,
        max_age=VISITOR_MAX_AGE,
        counted_at=time.strftime("%H:%M:%S"),
    )


@bp.post("/database/cleanup")
@refusing
def database_cleanup():
    store = chosen_sql()
    before = row_counts(store)
    table = lab().stores.get(store).clean_up()
    after = row_counts(store)

    deleted = table["before"]["rows"] - table["after"]["rows"]
    log.info("ran the cleanup on the %s store: %s rows fewer", store, deleted)
    return fragment(
        "_cleaned.html",
        before=before,
        after=after,
        table=table,
        deleted=deleted,
        title=store_title(store),
    )


def row_counts(store_name: str) -> dict:
    """Count rows and expired rows: the whole table, the learner's, their visitors'."""
    store = lab().stores.get(store_name)
    learner = learners.current()
    yours = store.count_rows(f"lab:{learner.id}:")
    visitors = {"rows": 0, "expired": 0}
    for visitor in crowd.learner_ids():
        counted = store.count_rows(f"lab:{visitor}:")
        visitors = {name: visitors[name] + counted[name] for name in visitors}
    return {"table": store.count_rows(), "yours": yours, "visitors": visitors}


@bp.post("/database/timings")
@refusing
def database_timings():
    reads = bounded_reads()
    held = held_in(
        None,
        "Your browser holds no session on a server-side store yet: send "
        "this lesson's first request, then time the reads.",
    )
    source = lab().stores.get(held.store).peek(held.key)
    if source is None:
        raise DemoRefused(
            f"The {store_title(held.store)} store no longer holds the session "
            "your browser was given: send a request first."
        )
    results = [timing(name, held, source.data, reads) for name in TIMED_STORES]
    return fragment("_timings.html", results=results, reads=reads, held=held)


def bounded_reads() -> int:
    """Read how many reads to time from the form.

    :raise DemoRefused: it is not a whole number from 1 to READS_LIMIT.
    """
    raw = request.form.get("reads", str(READS_DEFAULT)).strip()
    if not raw.isdigit() or not 1 <= int(raw) <= READS_LIMIT:
        raise DemoRefused(f"reads must be a whole number from 1 to {READS_LIMIT}")
    return int(raw)


def timing(name: str, held, data: dict, reads: int) -> dict:
    """Time reads of the learner's session on one store, or say why it cannot be.

    On the store that holds the session, the real session is read. On every
    other, a copy of it is written under the same key, read, then destroyed.
    """
    status = availability(name)
    result = {**status, "where": WHERE[name], "own": name == held.store}
    if not status["available"]:
        return result

    store = lab().stores.get(name)
    copied = name != held.store
    try:
        if copied:
            store.set(held.key, data, COPY_TTL)
        result.update(measure(store, held.key, reads))
    except SERVER_ERRORS as error:
        reason = f"failed while timed: {describe(error)}"
        result.update(available=False, reason=reason)
    finally:
        if copied:
            forget_copy(store, held.key)
    return result


def measure(store, key: str, reads: int) -> dict:
    """Read the key up to reads times, within TIMING_SECONDS; answer the figures."""
    times, misses = [], 0
    deadline = time.perf_counter() + TIMING_SECONDS
    for _ in range(reads):
        started = time.perf_counter()
        found = store.get(key)
        ended = time.perf_counter()
        times.append((ended - started) * 1000)
        misses += found is None
        if ended > deadline:
            break

    ordered = sorted(times)
    return {
        "reads": len(times),
        "misses": misses,
        "median_ms": statistics.median(ordered),
        "p90_ms": ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)],
    }


def forget_copy(store, key: str) -> None:
    try:
        store.destroy(key)
    except SERVER_ERRORS as error:
        # The copy expires on its own a minute after it was written.
        log.warning("could not remove a timing copy from %s: %s", store.name, error)


@bp.app_template_global()
def database_demo_status() -> dict:
    """Answer what the database demos' templates show before they ask the table."""
    return {
        "databases": [availability(name) for name in SQL_STORES],
        "table": current_app.config["SPECIMEN_SQL_TABLE"],
        "visitors": VISITORS,
        "visitor_max_age": VISITOR_MAX_AGE,
        "reads": READS_DEFAULT,
    }
