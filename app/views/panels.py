"""The live panels: fragments drawn from the learner's record, and the settings.

Each panel is a template the lesson page includes; htmx asks for it again
whenever a lab response raises ``lab-exchange``. The panels read the same
journal GET /api/exchanges answers, and nothing else, so what they show is
what was recorded.
"""

import logging

from flask import Blueprint, current_app, request, url_for

from .. import learners
from ..settings import SettingsError
from . import equivalents, exchange, hx
from .exchange import ExchangeView

log = logging.getLogger(__name__)
bp = Blueprint("panels", __name__, url_prefix="/panels")

PANEL_TEMPLATES = {
    "sequence": "panels/_sequence.html",
    "headers": "panels/_headers.html",
    "cookie": "panels/_cookie.html",
    "store": "panels/_store.html",
    "decision": "panels/_decision.html",
    "browser": "panels/_browser.html",
    "race": "panels/_race.html",
}
BOOLEAN_SETTINGS = (
    "secure",
    "trust_proxy",
    "http_only",
    "rolling",
    "resave",
    "save_uninitialized",
    "partitioned",
    "regenerate_on_login",
    "refresh_each_request",
)
OPTIONAL_TEXT_SETTINGS = ("same_site", "domain", "priority")
SETTING_HELP = {
    "store": "Where the specimen keeps sessions.",
    "secure": "cookie.secure: send the cookie only over a secure connection.",
    "trust_proxy": "proxy: believe X-Forwarded-Proto when deciding whether a "
    "request is secure.",
    "http_only": "cookie.httpOnly: hide the cookie from page scripts.",
    "same_site": "cookie.sameSite: whether requests from other sites carry the cookie.",
    "max_age": "cookie.maxAge, in seconds here: empty for a cookie that ends "
    "with the browser session.",
    "rolling": "rolling: re-send the cookie on every response, pushing its "
    "expiry forward.",
    "resave": "resave: save the session on every request, even when unchanged.",
    "save_uninitialized": "saveUninitialized: save a new session even when "
    "nothing was put in it.",
    "unset": "unset: what dropping req.session does to the stored session.",
    "name": "name: the session cookie's name.",
    "path": "cookie.path: the URLs the browser sends the cookie to.",
    "domain": "cookie.domain: empty for this host only, or a domain to share "
    "it with subdomains.",
    "secrets": "secret: one a line; the first signs, every one verifies.",
    "partitioned": "cookie.partitioned: keep the cookie apart per top-level site.",
    "priority": "cookie.priority: which cookies Chromium evicts first.",
    "regenerate_on_login": "req.session.regenerate in the login handler, not "
    "an express-session option: destroy the session and give it a new ID "
    "before setting the user.",
    "refresh_each_request": "Flask-Session only (the specimen under /lab-flask): "
    "rewrite the store on every request, and re-send a permanent session's "
    "cookie. Flask's default is on.",
}
SETTING_LABELS = {
    "store": "Store",
    "secure": "secure",
    "trust_proxy": "trust proxy",
    "http_only": "httpOnly",
    "same_site": "sameSite",
    "max_age": "maxAge (seconds)",
    "rolling": "rolling",
    "resave": "resave",
    "save_uninitialized": "saveUninitialized",
    "unset": "unset",
    "name": "name",
    "path": "path",
    "domain": "domain",
    "secrets": "secrets",
    "partitioned": "partitioned",
    "priority": "priority",
    "regenerate_on_login": "regenerate on login",
    "refresh_each_request": "SESSION_REFRESH_EACH_REQUEST",
}


def lab():
    return current_app.extensions["session_lab"]


def latest_views(count: int = 1) -> list[ExchangeView]:
    """Answer views of the learner's latest exchanges, oldest first."""
    learner = learners.current()
    records = lab().journal.exchanges(learner.id)
    studio = current_app.config["SESSION_COOKIE_NAME"]
    views = []
    start = max(0, len(records) - count)
    for index in range(start, len(records)):
        previous = records[index - 1] if index > 0 else None
        views.append(ExchangeView(records[index], previous, studio))
    return views


def panel_context() -> dict:
    """Answer what every exchange panel template needs."""
    views = latest_views(2)
    return {
        "view": views[-1] if views else None,
        "pair": views,
        "page_scheme": request.scheme,
        "page_path": hx.page_path(),
    }


@bp.get("/<name>")
def panel(name: str):
    template = PANEL_TEMPLATES.get(name)
    if template is None:
        return hx.render("panels/_missing.html", "panel.html", 404, name=name)
    return hx.render(template, "panel.html", **panel_context())


def settings_context(values=None, errors=None, saved=False) -> dict:
    learner = learners.current()
    current = learner.settings.to_dict()
    shown = dict(current)
    if values:
        shown.update(values)
    return {
        "values": shown,
        "errors": errors or {},
        "saved": saved,
        "stores": lab().stores.status(),
        "help": SETTING_HELP,
        "labels": SETTING_LABELS,
    }


@bp.get("/settings")
def settings():
    return hx.render("panels/_settings.html", "panel.html", **settings_context())


@bp.post("/settings")
def change_settings():
    learner = learners.current()
    try:
        changes = form_changes(request.form)
        settings = validated(learner.settings, changes)
    except SettingsError as error:
        log.warning("refused settings from the form: %s", error)
        context = settings_context(
            raw_values(request.form), {error.field: error.reason}
        )
        return hx.render("panels/_settings.html", "panel.html", 422, **context)

    learners.save_settings(settings)
    log.info("learner changed settings from the form")
    return hx.render(
        "panels/_settings.html",
        "panel.html",
        trigger=hx.SETTINGS_CHANGED,
        **settings_context(saved=True),
    )


def validated(current, changes: dict):
    """Apply changes with the checks POST /api/settings makes.

    :raise SettingsError: a value is not valid, or the store cannot be used.
    """
    settings = current.changed(changes, learners.reserved_cookie_names())
    if settings.store != current.store:
        problem = lab().stores.check(settings.store)
        if problem is not None:
            remedy = lab().stores.remedy(settings.store)
            reason = f"{settings.store} cannot be used: {problem}"
            raise SettingsError("store", f"{reason}. {remedy}".strip(". ") + ".")
    return settings


def form_changes(form) -> dict:
    """Read the settings form into the JSON shape Settings.changed takes.

    :raise SettingsError: max_age is not a whole number.
    """
    changes = {name: name in form for name in BOOLEAN_SETTINGS}
    for name in OPTIONAL_TEXT_SETTINGS:
        changes[name] = form.get(name, "").strip() or None
    for name in ("store", "name", "path", "unset"):
        changes[name] = form.get(name, "").strip()

    max_age = form.get("max_age", "").strip()
    if not max_age:
        changes["max_age"] = None
    elif max_age.isdigit():
        changes["max_age"] = int(max_age)
    else:
        raise SettingsError("max_age", "must be a whole number of seconds, or empty")

    lines = form.get("secrets", "").splitlines()
    changes["secrets"] = [line.strip() for line in lines if line.strip()]
    return changes


def raw_values(form) -> dict:
    """Answer the submitted values as typed, to show them again beside an error."""
    values = {name: name in form for name in BOOLEAN_SETTINGS}
    for name in (*OPTIONAL_TEXT_SETTINGS, "store", "name", "path", "unset", "max_age"):
        values[name] = form.get(name, "")
    values["secrets"] = form.get("secrets", "").splitlines()
    return values


@bp.get("/equivalents")
def show_equivalents():
    return hx.render("panels/_equivalents.html", "panel.html", **equivalents_context())


def equivalents_context() -> dict:
    learner = learners.current()
    settings = learner.settings.to_dict()
    step = current_step()
    requests = step.requests if step is not None else ()
    return {
        "express": equivalents.express_options(settings),
        "flask": equivalents.flask_config(settings),
        "curl": equivalents.curl_commands(settings, requests, request.host_url),
        "equivalents_url": url_for(
            "panels.show_equivalents",
            lesson=request.args.get("lesson"),
            step=request.args.get("step"),
        ),
    }


def current_step():
    """Answer the lesson step named by the query, for the curl of that step."""
    lesson = current_app.extensions["lessons"].get(request.args.get("lesson", ""))
    number = request.args.get("step", "")
    if lesson is None or not number.isdigit():
        return None
    return lesson.step(int(number))


@bp.app_template_global()
def attribute_note(name: str, value) -> str:
    return exchange.attribute_note(name, value)


@bp.app_template_filter()
def setting(value) -> str:
    """Write a setting's value as express-session's options would read."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@bp.app_template_filter()
def duration(seconds) -> str:
    """Write a time to live as hours, minutes and seconds."""
    if seconds is None:
        return "no expiry"
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min {secs:02d} s"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


@bp.app_template_global()
def race_lanes(pair: list) -> list:
    """Answer each exchange's place on a shared time axis, earliest start first.

    A record holds when it ended (``at``) and how long it took (``ms``), so its
    start is the one less the other.
    """
    spans = []
    for view in pair:
        end = view.record.get("at") or 0
        start = end - (view.record.get("ms") or 0) / 1000
        spans.append((start, end, view))
    spans.sort(key=lambda span: span[0])
    origin = spans[0][0]
    width = max(end for _, end, _ in spans) - origin or 1
    overlaps = all(
        a_start < b_end and b_start < a_end
        for a_start, a_end, _ in spans
        for b_start, b_end, _ in spans
    )
    lanes = []
    for start, end, view in spans:
        lanes.append(
            {
                "seq": view.seq,
                "line": f"{view.request.get('method')} {view.request.get('path')}",
                "start": f"{start - origin:.2f}",
                "end": f"{end - origin:.2f}",
                "ended": end,
                "x": round(2 + 96 * (start - origin) / width, 2),
                "width": max(1.5, round(96 * (end - start) / width, 2)),
                "operations": view.operations,
                "held": view.held_data(),
                "overlaps": overlaps,
            }
        )
    return lanes
