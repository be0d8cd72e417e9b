"""The fixation lesson's demos: the attacker's own session, planted, then read.

``attacker_session`` gets the attacker a real specimen session (the server
refuses IDs it did not make, so a made-up one would not do), then plants its
cookie in the learner's browser with a Set-Cookie from a studio response, as
a sibling subdomain or an injected response header could. ``attacker_reads``
uses the attacker's copy after the learner has logged in.

The attacker's cookie is kept in the learner's studio session between steps:
the attacker is a client of its own, and this is its cookie jar.
"""

from flask import session
from werkzeug.http import dump_cookie

from .. import learners
from ..recorder import EXCHANGE_EVENT
from ..views import hx
from . import bp, second_client
from .second_client import Refused

ATTACKER_COOKIE = "demo_attacker_cookie"
ATTACKER_VISIT = {"key": "theme", "value": "dark"}


def attacker_cookie() -> str:
    """Answer the cookie the attacker holds.

    :raise Refused: the attacker has no session yet.
    """
    held = session.get(ATTACKER_COOKIE)
    if not held:
        raise Refused("The attacker has no session yet: press Visit as the attacker.")
    return held


@bp.post("/attacker_session/visit")
def attacker_visit():
    reply = second_client.send("/lab/set", None, "POST", ATTACKER_VISIT)
    if reply.set_cookie:
        session[ATTACKER_COOKIE] = reply.set_cookie
    template = "demos/_attacker_visit.html"
    return hx.render(
        template, template, trigger=EXCHANGE_EVENT, reply=reply, who="The attacker"
    )


@bp.post("/attacker_session/plant")
def attacker_plant():
    settings = learners.current().settings
    value = attacker_cookie()

    # The attributes that name the browser's cookie (name, Path, Domain) must
    # match the learner's for the planted one to replace it.
    header = dump_cookie(
        settings.name,
        value,
        path=settings.path,
        domain=settings.domain,
        secure=settings.secure,
        httponly=True,
    )
    template = "demos/_attacker_plant.html"
    response = hx.render(template, template, name=settings.name, header=header)
    response.headers.add("Set-Cookie", header)
    return response


@bp.post("/attacker_reads/read")
def attacker_read():
    reply = second_client.send("/lab/", attacker_cookie())
    template = "demos/_second_reply.html"
    return hx.render(
        template, template, trigger=EXCHANGE_EVENT, reply=reply, who="The attacker"
    )
