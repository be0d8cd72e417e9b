"""A second client of the specimen: the browser a demo plays, sent from the server.

The hijacking and fixation demos need a client that is not the learner's
browser (the one given a stolen cookie, the attacker's own). Its requests go
through the app's own WSGI stack rather than the network, so nothing leaves
the process, and the recorder writes each into the learner's record like any
exchange. They carry the learner's lab_learner cookie as well, because the lab
keeps each learner's sessions apart under that cookie: without it, the server
would look for the session among another learner's.
"""

import json
import logging
import re
from dataclasses import dataclass, field

from flask import current_app, request
from werkzeug.datastructures import Headers
from werkzeug.test import EnvironBuilder

from .. import learners
from ..views import hx
from ..views.exchange import parse_set_cookie
from . import bp

log = logging.getLogger(__name__)

# Marks the exchange as the second client's, so the panels (through
# ExchangeView.from_second_client) do not say the browser holds its cookie.
CLIENT_HEADER = "X-Lab-Client"
CLIENT_NAME = "second-client"
USER_AGENT = "SessionLab-SecondClient/1.0"

# RFC 6265's cookie-octet: what a cookie value may hold without quoting.
_COOKIE_VALUE = re.compile(r"^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{1,4096}$")


class Refused(ValueError):
    """A demo cannot do what was asked; the message says why, for the page."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@bp.errorhandler(Refused)
def refused(error):
    log.warning("refused a demo request: %s", error)
    return hx.render(
        "demos/_refused.html", "demos/_refused.html", error.status, message=str(error)
    )


@dataclass(frozen=True)
class Reply:
    """What the specimen answered the second client, and what it did to get there."""

    line: str
    status: int
    data: dict | None
    problem: str | None
    cookie_sent: str | None
    set_cookie: str | None
    lookup: str
    operations: list = field(default_factory=list)
    reasons: list = field(default_factory=list)


def usable(value: str | None) -> bool:
    """Answer whether a cookie value can go into a Cookie header as it is."""
    return value is not None and bool(_COOKIE_VALUE.match(value))


def send(path: str, cookie: str | None, method: str = "GET", form=None) -> Reply:
    """Send one specimen request as the second client, holding the given cookie.

    :raise Refused: this request has no lab_learner cookie to lend, or the
        cookie value cannot go into a Cookie header.
    """
    settings = learners.current().settings
    studio = current_app.config["SESSION_COOKIE_NAME"]
    learner_cookie = request.cookies.get(studio)
    if not usable(learner_cookie):
        raise Refused(
            f"Your browser sent no {studio} cookie with this request, so there is "
            "no learner to lend the second client: open the lesson page again."
        )
    if cookie is not None and not usable(cookie):
        raise Refused(
            f"The {settings.name} value holds characters a Cookie header cannot "
            "carry as they are, so the second client cannot send it."
        )

    pairs = [f"{studio}={learner_cookie}"]
    if cookie is not None:
        pairs.append(f"{settings.name}={cookie}")
    headers = {
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
        "Cookie": "; ".join(pairs),
        CLIENT_HEADER: CLIENT_NAME,
    }
    builder = EnvironBuilder(
        path=path,
        method=method,
        base_url=request.url_root,
        headers=headers,
        data=form,
    )
    try:
        environ = builder.get_environ()
    finally:
        builder.close()

    # Through the whole app's WSGI stack, so the recorder sees the request as a
    # server would hand it on, and leaves its context in this very environ.
    started = {}

    def start_response(status, response_headers, exc_info=None):
        started["status"] = status
        started["headers"] = Headers(response_headers)
        return lambda data: None

    answer = current_app.wsgi_app(environ, start_response)
    try:
        body = b"".join(answer)
    finally:
        if hasattr(answer, "close"):
            answer.close()
    line = f"{method} {path}"
    status, response_headers = started["status"], started["headers"]
    return reply(line, environ, status, response_headers, body, settings.name, cookie)


def reply(line, environ, status, headers, body: bytes, name: str, cookie) -> Reply:
    """Read the specimen's answer and the exchange the recorder kept in environ."""
    code = int(status.split()[0])
    data, problem = None, None
    if headers.get("Content-Type", "").startswith("application/json"):
        parsed = json.loads(body)
        if code >= 400:
            problem = parsed.get("error") if isinstance(parsed, dict) else str(parsed)
        else:
            data = parsed
    else:
        problem = body.decode("utf-8", errors="replace")[:500]

    set_cookie = None
    for value in headers.getlist("Set-Cookie"):
        parsed_cookie = parse_set_cookie(value)
        if parsed_cookie.name == name and parsed_cookie.value:
            set_cookie = parsed_cookie.value

    context = environ.get("lab.context")
    operations = list(context.operations) if context is not None else []
    exchange = getattr(context, "exchange", None)
    reasons = list(exchange.decision.reasons) if exchange is not None else []
    lookup = next((op.get("result") for op in operations if op["op"] == "get"), None)
    return Reply(
        line=line,
        status=code,
        data=data,
        problem=problem,
        cookie_sent=cookie,
        set_cookie=set_cookie,
        lookup=lookup or "none",
        operations=operations,
        reasons=reasons,
    )
