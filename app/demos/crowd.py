"""Other browsers a demo sends to the lab: real requests, each a learner of its own.

Some demos need sessions that are not the learner's: other people's, or
visitors' who never come back. Each visitor is a browser of its own reaching
the studio through its whole WSGI stack, as a request from outside would:
the studio makes it a learner, the recorder records its exchange in its own
record, the specimen saves its session in the real store. Nothing of it
enters the learner's record or panels. A learner keeps at most
``VISITOR_LIMIT`` visitors and sends the same ones again, so a demo pressed
many times does not fill the studio with learners.
"""

import logging
import re
from dataclasses import dataclass

from flask import current_app

from .. import learners

log = logging.getLogger(__name__)

VISITOR_LIMIT = 5
JSON = {"Accept": "application/json", "User-Agent": "Session Lab visitor"}
# A visitor starts from these before a demo's own settings, so what one demo
# chose for it (a short max_age, say) never leaks into the next.
BASELINE = {
    "max_age": None,
    "secure": False,
    "trust_proxy": False,
    "rolling": False,
    "resave": True,
    "save_uninitialized": True,
    "name": "sid",
    "path": "/lab",
    "domain": None,
    "unset": "keep",
}
_SESSION_KEY = re.compile(
    r"^lab:(?P<learner>[A-Za-z0-9_-]+):sess:(?P<id>[A-Za-z0-9_-]+)$"
)


class VisitorFailed(RuntimeError):
    """A visitor's request did not get the answer a browser would have."""


@dataclass(frozen=True)
class Visit:
    """One visitor's request: whose it was and the session it was given."""

    learner: str
    session_id: str
    key: str


def send(count: int, settings: dict, form: dict) -> list[Visit]:
    """Send count visitors with the settings, each posting the form to /lab/set.

    :raise ValueError: count is not between 1 and VISITOR_LIMIT.
    :raise VisitorFailed: the studio or the specimen refused a visitor.
    """
    if not 1 <= count <= VISITOR_LIMIT:
        raise ValueError(f"send 1 to {VISITOR_LIMIT} visitors")

    known = learners.visitors()
    visits = []
    try:
        for index in range(count):
            cookie = known[index]["cookie"] if index < len(known) else None
            cookie, visit = visit_once(cookie, settings, form)
            entry = {"cookie": cookie, "learner": visit.learner}
            if index < len(known):
                known[index] = entry
            else:
                known.append(entry)
            visits.append(visit)
    finally:
        # Visitors made before a failure are kept, so they are sent again.
        learners.save_visitors(known[:VISITOR_LIMIT])
    log.info("sent %s visitors to the lab", len(visits))
    return visits


def visit_once(cookie: str | None, settings: dict, form: dict):
    """Send one visitor, a new one when cookie is None; answer its cookie and visit."""
    studio_cookie = current_app.config["SESSION_COOKIE_NAME"]
    client = current_app.test_client()
    if cookie:
        client.set_cookie(studio_cookie, cookie)

    chosen = client.post("/api/settings", json={**BASELINE, **settings}, headers=JSON)
    if chosen.status_code != 200:
        reason = (chosen.get_json(silent=True) or {}).get("error", chosen.status)
        raise VisitorFailed(f"the studio refused a visitor's settings: {reason}")

    answer = client.post("/lab/set", data=form, headers=JSON)
    if answer.status_code != 200:
        reason = (answer.get_json(silent=True) or {}).get("error", answer.status)
        raise VisitorFailed(f"the specimen refused a visitor: {reason}")

    record = client.get("/api/exchanges", headers=JSON).get_json()[-1]
    written = [op["key"] for op in record["operations"] if op["op"] == "set"]
    match = _SESSION_KEY.match(written[-1]) if written else None
    if match is None:
        raise VisitorFailed("a visitor's request saved no session")

    held = client.get_cookie(studio_cookie)
    visit = Visit(match["learner"], match["id"], written[-1])
    return held.value, visit


def learner_ids() -> list[str]:
    """Answer the learner IDs of the visitors this learner has sent."""
    return [item["learner"] for item in learners.visitors() if item.get("learner")]
