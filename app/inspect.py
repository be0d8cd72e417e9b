"""Read what a store really holds for one learner, for the store panel."""

from .specimen import cookie
from .stores.base import StoreUnavailable, describe, session_key


def store_contents(
    lab,
    learner_id: str,
    store_name: str,
    held: str | None = None,
    settings=None,
    *,
    ids=None,
    index: str | None = None,
    key=session_key,
):
    """Answer each session the learner has in the store, with its time to live.

    ``ids`` is the learner's index when the caller has just read it. Sessions
    the store no longer has (expired, evicted, flushed) drop out of the
    learner's index here, so the panel shows only what the store holds.
    The cookie store holds nothing: its one session is the cookie the browser
    holds (``held``, the whole value), read with the learner's ``settings``.
    ``index`` and ``key`` name another specimen's sessions: its index in the
    journal, and the key of each session in the store.

    :raise StoreUnavailable: the store is not configured or did not answer.
    """
    if store_name == "cookie":
        return cookie.contents(held, settings)

    index = index or store_name
    if ids is None:
        ids = lab.journal.index(learner_id, index)
    rows, missing = peek_sessions(lab, learner_id, store_name, ids, held, key)
    lab.journal.index_discard(learner_id, index, missing)
    return rows


def peek_sessions(lab, learner_id, store_name, ids, held=None, key=session_key):
    """Answer the rows of the sessions the store has, and the IDs it has not.

    :raise StoreUnavailable: the store is not configured or did not answer.
    """
    store = lab.stores.get(store_name)
    try:
        entries = store.peek_many([key(learner_id, session_id) for session_id in ids])
    except StoreUnavailable:
        raise
    except Exception as error:
        raise StoreUnavailable(store_name, describe(error)) from error
    rows, missing = [], []
    for session_id, entry in zip(ids, entries):
        if entry is None:
            missing.append(session_id)
            continue

        rows.append(
            {
                "id": session_id,
                "data": entry.data,
                "ttl": None if entry.ttl is None else round(entry.ttl, 1),
                "expired": entry.expired,
                "held": session_id == held,
            }
        )
    return rows, missing
