"""What the storage lessons' demos share: the held session, store status, refusals."""

import functools
import logging
from dataclasses import dataclass

from flask import current_app, render_template
from pymemcache.exceptions import MemcacheError
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from .. import learners
from ..recorder import held_id
from ..stores import CATALOGUE, StoreUnavailable, session_key
from ..stores.base import describe
from . import bp, crowd

log = logging.getLogger(__name__)

# What a real store server may raise while a demo reads or changes it.
SERVER_ERRORS = (
    StoreUnavailable,
    SQLAlchemyError,
    RedisError,
    MemcacheError,
    OSError,
)


class DemoRefused(ValueError):
    """A demo request cannot be answered as asked; the message says why."""


def lab():
    return current_app.extensions["session_lab"]


@dataclass(frozen=True)
class Held:
    """The session the learner's browser holds, as their latest exchange left it."""

    learner: str
    store: str
    session_id: str
    seq: int

    @property
    def key(self) -> str:
        return session_key(self.learner, self.session_id)


def held_session() -> Held | None:
    """Answer the session the browser holds after its latest exchange, if any.

    The cookie store holds no session on the server, so it answers None.
    """
    learner = learners.current()
    records = lab().journal.exchanges(learner.id)
    if not records:
        return None

    latest = records[-1]
    if latest.get("store") == "cookie":
        return None
    session_id = held_id(latest)
    if session_id is None:
        return None
    return Held(learner.id, latest["store"], session_id, latest.get("seq"))


def chosen_store(allowed: tuple, reads: str, choices: str) -> str:
    """Answer the store the learner's settings use, if the demo can read it.

    :raise DemoRefused: the learner's store is not one of those allowed.
    """
    store = learners.current().settings.store
    if store not in allowed:
        raise DemoRefused(
            f"Your specimen uses the {store_title(store)} store. This demo reads "
            f"{reads}: press Use this step's settings, or choose {choices} in the "
            "Settings panel."
        )
    return store


def held_in(stores: tuple | None, refusal: str) -> Held:
    """Answer the session the browser holds, in one of the stores (None: any).

    :raise DemoRefused: the browser holds no such session; ``refusal`` says
        what to send first.
    """
    held = held_session()
    if held is None or (stores is not None and held.store not in stores):
        raise DemoRefused(refusal)
    return held


def store_title(name: str) -> str:
    """Answer the store's name as the settings panel writes it."""
    return CATALOGUE[name][0] if name in CATALOGUE else name


def availability(name: str) -> dict:
    """Answer whether a store can be used here, and if not why and how to enable it."""
    problem = lab().stores.check(name)
    return {
        "name": name,
        "title": store_title(name),
        "available": problem is None,
        "reason": problem,
        "remedy": lab().stores.remedy(name) if problem else "",
    }


def refusing(view):
    """Answer a demo's refusal (400) or its server's failure (503) as a fragment.

    Each store demo works on the learner's real server, which may be down, or
    on a store the demo cannot use; either way the page says why and how on.
    """

    @functools.wraps(view)
    def answer(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except DemoRefused as error:
            return refusal(error, 400)
        except crowd.VisitorFailed as error:
            return refusal(DemoRefused(str(error)), 503)
        except SERVER_ERRORS as error:
            return refusal(error, 503)

    return answer


def refusal(error: Exception, status: int):
    """Answer a fragment saying why a demo could not run, and what to do."""
    if isinstance(error, StoreUnavailable):
        message = f"The {error.store} store cannot be used: {error.reason}."
        if error.remedy:
            message = f"{message} {error.remedy}"
    elif isinstance(error, DemoRefused):
        message = str(error)
    else:
        message = f"The server did not answer: {describe(error)}"
    log.warning("demo refused: %s", message)
    return render_template("demos/stores/_problem.html", message=message), status


@bp.app_template_filter("counted")
def counted(number: int, noun: str) -> str:
    """Write a count with its noun, singular for one: 1 key, 3 keys."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
