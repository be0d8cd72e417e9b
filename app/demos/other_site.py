"""The SameSite lesson's other site: a page on a second host that sends to the lab.

Sites differ by host, not by port, so http://localhost:PORT is another site
to a lab on http://127.0.0.1:PORT although one server answers both. The page
here is served on that second host; its link, form and frame send cross-site
requests to the specimen on the learner's host, and the lesson shows, from
the record, which of them carried the specimen's cookie.

The studio's own cookie is SameSite=Lax, so a cross-site POST or frame
arrives without it and the lab cannot tell whose it is. The page's URLs carry
a visit token (app/visits.py) that says so instead, for a few minutes.
"""

import ipaddress
import logging
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from flask import current_app, render_template, request, session

from . import bp
from .. import learners, visits
from ..views import hx
from ..views.exchange import CookiePair, ExchangeView, SetCookie

log = logging.getLogger(__name__)

KIND_WORDS = {
    "link": "a link (top-level GET)",
    "form": "a form (top-level POST)",
    "frame": "a frame (embedded GET)",
}
SAME_SITE_ORDER = ("Lax", "Strict", "None", "not set", "unknown")
ARRIVALS = "demos/other_site/_arrivals.html"
ELSEWHERE = "demos/other_site/elsewhere.html"
FRAME_NAME = "lab-frame"


def origin_of(url: str) -> str:
    """Answer scheme://host[:port] of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def other_origin(lab_origin: str) -> str | None:
    """Answer an origin of this server that is another site than the lab's.

    OTHER_SITE_ORIGIN wins when set. Otherwise localhost and a loopback
    address stand in for each other, on the lab's scheme and port; for any
    other host the server cannot know a second name, and answers None.
    """
    configured = current_app.config.get("OTHER_SITE_ORIGIN")
    if configured:
        return configured.rstrip("/")

    parts = urlsplit(lab_origin)
    host = (parts.hostname or "").lower()
    port = f":{parts.port}" if parts.port else ""
    if host == "localhost" or host.endswith(".localhost"):
        return f"{parts.scheme}://127.0.0.1{port}"
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    return f"{parts.scheme}://localhost{port}" if loopback else None


@bp.app_template_global()
def other_site_visit(kinds) -> dict:
    """Answer the link to the other site for this learner, or why there is none."""
    lab_origin = origin_of(request.host_url)
    other = other_origin(lab_origin)
    facts = {"lab_origin": lab_origin, "other_origin": other, "problem": ""}
    if other is None:
        facts["problem"] = (
            f"This server knows no second name for {urlsplit(lab_origin).hostname}. "
            "Open the lab on http://127.0.0.1 or http://localhost, or set "
            "SESSION_LAB_OTHER_SITE_ORIGIN to another name of this server."
        )
        return facts
    if urlsplit(other).hostname == urlsplit(lab_origin).hostname:
        facts["problem"] = (
            f"The other site's origin {other} has the lab's own host name, so its "
            "requests would be same-site. Set SESSION_LAB_OTHER_SITE_ORIGIN to "
            "another host."
        )
        return facts

    learners.current()
    token = visits.make_token(
        current_app.secret_key, session.sid, lab_origin, request.path, kinds
    )
    query = urlencode({visits.PARAMETER: token})
    facts["url"] = f"{other}/demos/elsewhere/?{query}"
    facts["minutes"] = visits.LIFETIME_SECONDS // 60
    return facts


@bp.get("/elsewhere/")
def elsewhere():
    try:
        visit = visits.read_token(
            current_app.secret_key, request.args.get(visits.PARAMETER)
        )
    except visits.VisitError as error:
        log.warning("refused a visit to the other site: %s", error)
        response = current_app.make_response(
            (render_template(ELSEWHERE, problem=str(error)), 400)
        )
        return guarded(response, None)

    token = request.args[visits.PARAMETER]
    here = origin_of(request.host_url)
    context = {
        "visit": visit,
        "here": here,
        "same_host": urlsplit(here).hostname == urlsplit(visit.lab_origin).hostname,
        "targets": targets(visit.lab_origin, token),
        "back": visit.lab_origin + safe_path(visit.back),
        "frame_name": FRAME_NAME,
        "minutes_left": max(1, round((visit.expires_at - time.time()) / 60)),
    }
    response = current_app.make_response(render_template(ELSEWHERE, **context))
    return guarded(response, visit.lab_origin)


def targets(lab_origin: str, token: str) -> dict:
    """Answer where each of the other site's requests goes on the lab."""
    base = f"{lab_origin}/lab/"
    return {
        "link": base + "?" + urlencode({"via": "link", visits.PARAMETER: token}),
        "form": base + "set?" + urlencode({"via": "form", visits.PARAMETER: token}),
        "frame": base,
    }


def safe_path(path: str) -> str:
    """Answer a path on the lab to link back to; anything odd goes home."""
    if not path.startswith("/") or path.startswith("//"):
        return "/"
    return path


def guarded(response, lab_origin: str | None):
    """Give the other site's page a policy of its own, as strict as the studio's.

    It loads nothing but the stylesheet, runs no script, and may send forms
    and frames to the lab's origin alone.
    """
    target = lab_origin or "'none'"
    response.headers["Content-Security-Policy"] = "; ".join(
        [
            "default-src 'none'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"frame-src {target}",
            f"form-action {target}",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return response


@bp.get("/other_site/arrivals")
def show_arrivals():
    return hx.render(ARRIVALS, "panel.html", **{"arrivals": arrivals_context()})


@dataclass(frozen=True)
class Arrival:
    """One request from the other site, as the lab recorded it."""

    seq: int
    kind: str
    method: str
    carried: CookiePair | None
    studio_carried: bool
    by_visit: bool
    same_site: str
    cookie_seq: int | None
    age: float | None
    status: str
    store_op: str
    set_cookie: bool
    reasons: tuple
    fetch: dict

    @property
    def words(self) -> str:
        return KIND_WORDS[self.kind]


@bp.app_template_global()
def arrivals_context() -> dict:
    """Answer the other site's requests in the learner's record, and the table."""
    learner = learners.current()
    records = current_app.extensions["session_lab"].journal.exchanges(learner.id)
    studio = current_app.config["SESSION_COOKIE_NAME"]
    found = arrivals(records, studio)
    table = {}
    for arrival in found:
        table.setdefault(arrival.same_site, {})[arrival.kind] = arrival
    rows = [label for label in SAME_SITE_ORDER if label in table]
    return {
        "list": list(reversed(found))[:9],
        "table": table,
        "rows": rows,
        "kinds": list(KIND_WORDS),
        "words": KIND_WORDS,
    }


def arrivals(records: list, studio_cookie: str) -> list[Arrival]:
    """Answer every exchange the other site sent, oldest first."""
    found = []
    for index, record in enumerate(records):
        kind = via_of(record)
        if kind not in KIND_WORDS:
            continue
        view = ExchangeView(record, None, studio_cookie)
        carried = view.specimen_cookie
        setter = cookie_source(records[:index], view.cookie_name, carried)
        decision = view.decision or {}
        found.append(
            Arrival(
                seq=view.seq,
                kind=kind,
                method=view.request.get("method") or "",
                carried=carried,
                studio_carried=any(p.role == "studio" for p in view.cookie_pairs()),
                by_visit=bool(record.get("visit")),
                same_site=same_site_of(setter[1]) if setter else "unknown",
                cookie_seq=setter[0].get("seq") if setter else None,
                age=round(record["at"] - setter[0]["at"], 1) if setter else None,
                status=view.status,
                store_op=decision.get("store_op") or "none",
                set_cookie=view.specimen_set_cookie is not None,
                reasons=tuple(decision.get("reasons") or ()),
                fetch={
                    name: view.request_header(f"sec-fetch-{name}")
                    for name in ("site", "mode", "dest")
                },
            )
        )
    return found


def via_of(record: dict) -> str | None:
    """Answer which of the other site's controls sent a recorded request."""
    line = (record.get("request") or {}).get("line") or ""
    parts = line.split(" ")
    target = parts[1] if len(parts) > 1 else ""
    values = parse_qs(urlsplit(target).query, max_num_fields=20).get("via")
    return values[0] if values else None


def cookie_source(earlier: list, name: str, carried: CookiePair | None):
    """Answer the exchange that set the cookie in question, and its Set-Cookie.

    For a request that carried the cookie, that is the exchange whose
    Set-Cookie holds the value sent; otherwise the latest that set one.
    """
    for record in reversed(earlier):
        view = ExchangeView(record, None, "")
        sent = view.specimen_set_cookie
        if sent is None or sent.name != name or not sent.value:
            continue
        if carried is None or sent.value == carried.value:
            return record, sent
    return None


def same_site_of(cookie: SetCookie) -> str:
    value = cookie.get("samesite")
    return value.capitalize() if value else "not set"
