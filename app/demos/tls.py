"""The TLS lesson's demos: how this page arrived, and a proxy's burst of requests.

The burst plays a TLS-terminating proxy: it forwards requests to the specimen
over plain HTTP with ``X-Forwarded-Proto: https``, for a visitor who keeps
whatever cookie the answers set, as a browser on the proxy's HTTPS side would.
The requests go through this process's own WSGI stack, recorder included, so
they are recorded like any exchange and reach no network at all.
"""

import logging

from flask import current_app, request
from werkzeug.test import EnvironBuilder, run_wsgi_app

from . import bp
from .. import learners
from ..inspect import store_contents
from ..recorder import EXCHANGE_EVENT
from ..specimen.interface import is_secure
from ..stores import StoreUnavailable
from ..views import hx
from ..views.exchange import ExchangeView, is_local_host, parse_set_cookie

log = logging.getLogger(__name__)

BURST_SIZE = 20
PROXY_VIA = "1.1 lab-proxy"
RESULT = "demos/proxy_burst/_result.html"

bp.add_app_template_global(BURST_SIZE, "proxy_burst_size")


def lab():
    return current_app.extensions["session_lab"]


@bp.app_template_global()
def connection_facts() -> dict:
    """Answer how the page being rendered reached the server."""
    settings = learners.current().settings
    return {
        "scheme": request.scheme,
        "host": request.host,
        "local": is_local_host(request.host),
        "forwarded": request.headers.get("X-Forwarded-Proto"),
        "trust_proxy": settings.trust_proxy,
        "secure": is_secure(request.environ, settings.trust_proxy),
        "studio_secure": bool(current_app.config["SESSION_COOKIE_SECURE"]),
    }


@bp.post("/proxy_burst/run")
def run_proxy_burst():
    learner = learners.current()
    settings = learner.settings
    studio_name = current_app.config["SESSION_COOKIE_NAME"]
    studio_id = request.cookies.get(studio_name)
    if settings.store == "cookie":
        return refuse(
            "The cookie store keeps nothing on the server, so there is no store to "
            "fill. Choose another store in the settings, or use this step's settings."
        )
    if not studio_id:
        return refuse("Your browser sent no lab_learner cookie: reload the page first.")

    try:
        before = len(store_contents(lab(), learner.id, settings.store, None, settings))
    except StoreUnavailable as error:
        return refuse(f"The {error.store} store did not answer: {error.reason}.")

    rows, problem = burst(learner.id, f"{studio_name}={studio_id}", settings.name)
    log.info("proxy burst sent %s requests to the %s store", len(rows), settings.store)
    return hx.render(
        RESULT,
        "panel.html",
        trigger=EXCHANGE_EVENT,
        rows=with_bars(rows),
        before=before,
        problem=problem,
        size=BURST_SIZE,
        limit=current_app.config["SESSIONS_PER_LEARNER"],
    )


def refuse(problem: str):
    log.warning("proxy burst refused: %s", problem)
    return hx.render(RESULT, "panel.html", 422, problem=problem, rows=[])


def burst(learner_id: str, studio_pair: str, cookie_name: str) -> tuple[list, str]:
    """Forward the burst and answer a row per recorded exchange, and any problem."""
    journal = lab().journal
    records = journal.exchanges(learner_id)
    last_seq = records[-1]["seq"] if records else 0
    jar, rows = None, []
    for number in range(1, BURST_SIZE + 1):
        status, headers = forward(studio_pair, jar)
        records = journal.exchanges(learner_id)
        if not records or records[-1]["seq"] <= last_seq:
            return rows, f"Request {number} was answered {status} and not recorded."

        record = records[-1]
        last_seq = record["seq"]
        rows.append(burst_row(number, record))
        jar = kept_cookie(headers, cookie_name) or jar
    return rows, ""


def forward(studio_pair: str, jar: str | None) -> tuple[str, list]:
    """Send one request as the proxy would, and answer its status and headers."""
    cookies = "; ".join(pair for pair in (studio_pair, jar) if pair)
    builder = EnvironBuilder(
        path="/lab/",
        method="GET",
        base_url=f"http://{request.host}/",
        headers={
            "Accept": "application/json",
            "Cookie": cookies,
            "User-Agent": request.headers.get("User-Agent", ""),
            "Via": PROXY_VIA,
            "X-Forwarded-For": request.remote_addr or "127.0.0.1",
            "X-Forwarded-Proto": "https",
        },
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    _, status, headers = run_wsgi_app(current_app.wsgi_app, environ, buffered=True)
    return status, list(headers.items())


def kept_cookie(headers: list, cookie_name: str) -> str | None:
    """Answer the name=value the visitor keeps from a response, if it set one."""
    for name, value in headers:
        if name.lower() == "set-cookie":
            cookie = parse_set_cookie(value)
            if cookie.name == cookie_name:
                return f"{cookie.name}={cookie.value}"
    return None


def burst_row(number: int, record: dict) -> dict:
    """Answer what one forwarded exchange did, read from its record."""
    view = ExchangeView(record, None, current_app.config["SESSION_COOKIE_NAME"])
    decision = view.decision or {}
    contents = record.get("contents")
    return {
        "number": number,
        "seq": view.seq,
        "carried": view.specimen_cookie is not None,
        "set_cookie": view.specimen_set_cookie is not None,
        "session_id": record.get("session_id"),
        "store_op": decision.get("store_op") or "none",
        "entries": None if contents is None else len(contents),
        "evicted": sum(
            1 for op in view.operations if op.get("why") == "lab limit per learner"
        ),
        "settings": view.settings,
    }


def with_bars(rows: list, height: int = 56) -> list:
    """Give each row the height of its bar in the chart of store entries."""
    top = max([row["entries"] or 0 for row in rows] + [1])
    for row in rows:
        row["bar"] = round((row["entries"] or 0) / top * height, 1)
    return rows
