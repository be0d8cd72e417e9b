"""The hijacking lesson's demos: a stolen cookie replayed, and an injected script.

``stolen_cookie`` copies the specimen cookie your browser last sent or was
given, and lets a second client use it. ``injected_script`` is the attacker's
page script: a static file the demo loads on purpose (the studio has no
injection hole), which posts whatever document.cookie gave it to ``loot``,
standing in for the attacker's server.
"""

import shlex

from flask import current_app, request

from .. import learners
from ..recorder import EXCHANGE_EVENT
from ..views import hx
from ..views.exchange import ExchangeView, parse_cookie_header, parse_set_cookie
from . import bp, second_client
from .second_client import Refused

STOLEN_LIMIT = 8192
ATTACKER_EMAIL = "mallory@attacker.example"


def lab():
    return current_app.extensions["session_lab"]


def browser_records(name: str) -> list:
    """Answer the browser's exchanges for the named cookie, newest first.

    The second client's exchanges are left out: they are not the browser's.
    """
    learner = learners.current()
    studio = current_app.config["SESSION_COOKIE_NAME"]
    records = reversed(lab().journal.exchanges(learner.id))
    return [
        record
        for record in records
        if not ExchangeView(record, None, studio).from_second_client
        and (record.get("settings") or {}).get("name") == name
    ]


def copied_cookie(name: str) -> dict | None:
    """Answer the latest specimen cookie that crossed the wire to or from the browser.

    That is what someone watching the traffic would copy: the value the
    browser was last given in a Set-Cookie, or else last sent in a Cookie
    header. The value is None when the latest word was a deletion.
    """
    studio = current_app.config["SESSION_COOKIE_NAME"]
    for record in browser_records(name):
        given = given_cookie(record, name)
        if given is not None:
            return given
        for header, value in record["request"]["headers"]:
            if header.lower() != "cookie":
                continue
            for pair in parse_cookie_header(value, name, studio):
                if pair.role == "specimen" and pair.value:
                    return {"value": pair.value, "seq": record["seq"], "how": "sent"}
    return None


def given_cookie(record: dict, name: str) -> dict | None:
    """Answer the exchange's Set-Cookie for the named cookie, if it sent one."""
    for header, value in record["response"]["headers"]:
        if header.lower() != "set-cookie":
            continue
        sent = parse_set_cookie(value)
        if sent.name != name:
            continue
        deleted = sent.get("max-age") == "0" or "1970" in (sent.get("expires") or "")
        how = "deleted" if deleted or not sent.value else "set"
        return {
            "value": None if how == "deleted" else sent.value,
            "seq": record["seq"],
            "how": how,
            "cookie": sent,
        }
    return None


def last_given(name: str) -> dict | None:
    """Answer the latest Set-Cookie the browser was given for the named cookie."""
    for record in browser_records(name):
        given = given_cookie(record, name)
        if given is not None:
            return given
    return None


def covers(cookie_path: str, page_path: str) -> bool:
    """Answer whether a cookie's Path covers a page, as browsers match paths."""
    if cookie_path == "/" or page_path == cookie_path:
        return True
    return page_path.startswith(cookie_path.rstrip("/") + "/")


def copy_or_refuse(name: str) -> str:
    """Answer the copied cookie's value.

    :raise Refused: there is nothing to copy yet.
    """
    copied = copied_cookie(name)
    if copied is None or copied["value"] is None:
        raise Refused(f"There is no {name} cookie to copy yet: log in first.")
    return copied["value"]


def answer(reply, template: str = "demos/_second_reply.html", **context):
    """Render what the second client got, and tell the panels to reload."""
    return hx.render(template, template, trigger=EXCHANGE_EVENT, reply=reply, **context)


@bp.get("/stolen_cookie/copy")
def stolen_copy():
    name = learners.current().settings.name
    template = "demos/_stolen_copy.html"
    return hx.render(template, template, name=name, copied=copied_cookie(name))


@bp.post("/stolen_cookie/read")
def stolen_read():
    name = learners.current().settings.name
    reply = second_client.send("/lab/", copy_or_refuse(name))
    return answer(reply, who="The second client")


@bp.post("/stolen_cookie/write")
def stolen_write():
    name = learners.current().settings.name
    form = {"key": "email", "value": ATTACKER_EMAIL}
    reply = second_client.send("/lab/set", copy_or_refuse(name), "POST", form)
    return answer(reply, who="The second client")


@bp.get("/stolen_cookie/command")
def stolen_command():
    name = learners.current().settings.name
    studio = current_app.config["SESSION_COOKIE_NAME"]
    value = copy_or_refuse(name)
    learner_cookie = request.cookies.get(studio)
    if not second_client.usable(learner_cookie):
        raise Refused(f"Your browser sent no {studio} cookie: open the lesson again.")

    header = f"Cookie: {studio}={learner_cookie}; {name}={value}"
    target = request.url_root.rstrip("/") + "/lab/"
    command = "curl -i -H 'Accept: application/json' \\\n     -H {} \\\n     {}".format(
        shlex.quote(header), shlex.quote(target)
    )
    template = "demos/_stolen_command.html"
    return hx.render(template, template, command=command, studio=studio, name=name)


@bp.post("/injected_script/loot")
def injected_loot():
    settings = learners.current().settings
    studio = current_app.config["SESSION_COOKIE_NAME"]
    stolen = request.form.get("stolen", "")
    if len(stolen) > STOLEN_LIMIT:
        raise Refused(
            f"The script sent {len(stolen)} characters; the limit is {STOLEN_LIMIT}.",
            413,
        )

    pairs = parse_cookie_header(stolen, settings.name, studio)
    taken = next((p.value for p in pairs if p.role == "specimen" and p.value), None)
    given = last_given(settings.name)
    page_path = hx.page_path()
    cookie_path = (given["cookie"].get("path") if given else None) or settings.path
    context = {
        "stolen": stolen,
        "name": settings.name,
        "given": given,
        "page_path": page_path,
        "cookie_path": cookie_path,
        "covers_page": covers(cookie_path, page_path),
        # This request came to the studio, not to an attacker, so the lab can
        # tell whether the browser sent the cookie the script could not see.
        "sent_here": settings.name in request.cookies,
    }
    template = "demos/_loot.html"
    if taken is None:
        return hx.render(template, template, reply=None, **context)
    reply = second_client.send("/lab/", taken)
    return answer(reply, template, who="The attacker's server", **context)
