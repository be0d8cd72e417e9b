"""The two specimens side by side: each one's latest exchange, from the record."""

from flask import current_app

from .. import learners
from ..views import hx
from ..views.exchange import ExchangeView
from . import bp

# (record's specimen field, title, where it is mounted)
SPECIMENS = (
    ("express", "express-session 1.19, as the specimen", "/lab"),
    ("flask", "Flask-Session 0.8, unchanged", "/lab-flask"),
)


@bp.get("/flask_compare")
def flask_compare():
    return hx.render("demos/_flask_compare.html", "panel.html")


@bp.app_template_global()
def specimen_comparison() -> dict:
    """Answer each specimen's latest exchange, and whether they were one request."""
    learner = learners.current()
    records = current_app.extensions["session_lab"].journal.exchanges(learner.id)
    studio = current_app.config["SESSION_COOKIE_NAME"]

    sides = []
    for name, title, mount in SPECIMENS:
        own = [r for r in records if r.get("specimen", "express") == name]
        view = None
        if own:
            previous = own[-2] if len(own) > 1 else None
            view = ExchangeView(own[-1], previous, studio)
        sides.append({"name": name, "title": title, "mount": mount, "view": view})
    return {"sides": sides, "same_request": same_request(sides)}


def same_request(sides: list) -> bool:
    """Answer whether both latest exchanges asked for the same route."""
    asked = set()
    for side in sides:
        view = side["view"]
        if view is None:
            return False
        path = (view.request.get("path") or "")[len(side["mount"]):] or "/"
        asked.add((view.request.get("method"), path))
    return len(asked) == 1
