"""The studio's pages: the lessons, each step, and the learner's progress."""

import logging

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)

from .. import learners
from ..lessons import outcome
from ..specimen import flask_interface
from ..settings import Settings, SettingsError
from . import hx
from .exchange import ExchangeView, facts
from .panels import equivalents_context, lab, panel_context, settings_context, validated

log = logging.getLogger(__name__)
bp = Blueprint("pages", __name__)

# Scripts and styles come from this origin only, and never inline.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


@bp.after_app_request
def protect(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def catalogue():
    return current_app.extensions["lessons"]


def lesson_progress(progress: dict, lesson_id: str) -> dict:
    entry = progress.get(lesson_id) or {}
    return {
        "done": list(entry.get("done") or []),
        "predictions": dict(entry.get("predictions") or {}),
    }


@bp.get("/")
def home():
    learner = learners.current()
    rows = []
    for lesson in catalogue():
        progress = lesson_progress(learner.progress, lesson.id)
        answered = [p for p in progress["predictions"].values() if "right" in p]
        rows.append(
            {
                "lesson": lesson,
                "done": len(set(progress["done"])),
                "total": len(lesson.steps),
                "answered": len(answered),
                "right": sum(1 for p in answered if p["right"]),
                "needs": [catalogue().get(i) for i in lesson.prerequisites],
            }
        )
    return render_template("home.html", rows=rows)


def find(lesson_id: str, number: int | None = None):
    lesson = catalogue().get(lesson_id)
    if lesson is None:
        abort(404, description=f"There is no lesson {lesson_id!r}.")
    if number is None:
        return lesson, None
    step = lesson.step(number)
    if step is None:
        abort(404, description=f"{lesson.title} has no step {number}.")
    return lesson, step


@bp.get("/lessons/<lesson_id>")
def lesson(lesson_id: str):
    lesson, _ = find(lesson_id)
    done = set(lesson_progress(learners.current().progress, lesson.id)["done"])
    first_open = next((s.number for s in lesson.steps if s.number not in done), 1)
    return redirect(url_for("pages.step", lesson_id=lesson.id, number=first_open))


@bp.get("/lessons/<lesson_id>/<int:number>")
def step(lesson_id: str, number: int):
    lesson, step = find(lesson_id, number)
    context = step_context(lesson, step)
    return hx.render("lessons/_step.html", "lesson.html", **context)


def step_context(lesson, step, applied: bool = False, error: str = "") -> dict:
    learner = learners.current()
    progress = lesson_progress(learner.progress, lesson.id)
    prediction = progress["predictions"].get(str(step.number))
    return {
        "lesson": lesson,
        "step": step,
        "done": set(progress["done"]),
        "prediction": prediction,
        "verdict": verdict(step, prediction),
        "setup": setup_state(step, learner.settings, applied, error),
        **panel_context(),
        **settings_context(),
        **equivalents_context_for(lesson, step),
    }


def equivalents_context_for(lesson, step) -> dict:
    context = equivalents_context()
    context["equivalents_url"] = url_for(
        "panels.show_equivalents", lesson=lesson.id, step=step.number
    )
    context["curl"] = context["curl"] if step.sends else ""
    return context


def wanted_settings(step, current: Settings) -> Settings:
    """Answer the settings the step asks for, starting from the learner's own.

    :raise SettingsError: the step's settings cannot be used here (a store
        that is not available on this installation).
    """
    base = Settings(secrets=current.secrets) if step.defaults else current
    return validated(base, step.settings) if step.settings else base


def setup_state(step, current: Settings, applied: bool, error: str) -> dict:
    if not step.needs_settings:
        return {}
    try:
        wanted = wanted_settings(step, current)
    except SettingsError as problem:
        return {
            "error": str(problem),
            "applied": False,
            "matches": False,
            "changes": [],
        }

    now, then = current.to_dict(), wanted.to_dict()
    changes = [(name, then[name]) for name in then if now[name] != then[name]]
    shown = changes or [(name, then[name]) for name in step.settings]
    return {
        "applied": applied,
        "matches": not changes,
        "changes": shown,
        "forget_cookie": step.forget_cookie,
        "error": error,
    }


@bp.post("/lessons/<lesson_id>/<int:number>/apply")
def apply_settings(lesson_id: str, number: int):
    lesson, step = find(lesson_id, number)
    learner = learners.current()
    old = learner.settings
    location = url_for("pages.step", lesson_id=lesson.id, number=step.number)
    try:
        settings = wanted_settings(step, old)
    except SettingsError as error:
        log.warning(
            "could not apply the settings of %s step %s: %s", lesson.id, number, error
        )
        context = {"lesson": lesson, "step": step}
        context["setup"] = setup_state(step, old, False, str(error))
        return hx.redirect_or_fragment(location, "lessons/_setup.html", **context)

    learners.save_settings(settings)
    context = {"lesson": lesson, "step": step}
    context["setup"] = setup_state(step, settings, True, "")
    response = hx.redirect_or_fragment(
        location, "lessons/_setup.html", trigger=hx.SETTINGS_CHANGED, **context
    )
    if step.forget_cookie:
        for cookie in {
            (old.name, old.path, old.domain),
            (settings.name, settings.path, settings.domain),
            (flask_interface.COOKIE_NAME, flask_interface.MOUNT, None),
        }:
            response.delete_cookie(cookie[0], path=cookie[1], domain=cookie[2])
    return response


@bp.post("/lessons/<lesson_id>/<int:number>/predict")
def predict(lesson_id: str, number: int):
    lesson, step = find(lesson_id, number)
    location = url_for("pages.step", lesson_id=lesson.id, number=step.number)
    choice = step.choice(request.form.get("choice", ""))
    learner = learners.current()
    progress = learner.progress
    entry = lesson_progress(progress, lesson.id)
    if step.kind != "predict" or choice is None:
        context = step_context(lesson, step)
        context["prediction_error"] = "Choose one of the answers first."
        return hx.render("lessons/_prediction.html", "lesson.html", 422, **context)

    records = lab().journal.exchanges(learner.id)
    after = records[-1]["seq"] if records else 0
    entry["predictions"][str(step.number)] = {"choice": choice.id, "after": after}
    progress[lesson.id] = entry
    learners.save_progress(progress)
    return hx.redirect_or_fragment(
        location, "lessons/_prediction.html", **step_context(lesson, step)
    )


@bp.get("/lessons/<lesson_id>/<int:number>/verdict")
def show_verdict(lesson_id: str, number: int):
    lesson, step = find(lesson_id, number)
    context = step_context(lesson, step)
    return hx.render("lessons/_verdict.html", "lesson.html", **context)


@bp.post("/lessons/<lesson_id>/<int:number>/done")
def finish_step(lesson_id: str, number: int):
    lesson, step = find(lesson_id, number)
    learner = learners.current()
    progress = learner.progress
    entry = lesson_progress(progress, lesson.id)
    if step.number not in entry["done"]:
        entry["done"].append(step.number)

    prediction = entry["predictions"].get(str(step.number))
    judged = verdict(step, prediction)
    if judged and not judged["waiting"]:
        prediction["outcome"] = judged["shown"].id if judged["shown"] else None
        prediction["right"] = judged["right"]
    progress[lesson.id] = entry
    learners.save_progress(progress)

    following = lesson.step(step.number + 1)
    if following is None:
        return redirect(url_for("pages.home", _anchor=f"lesson-{lesson.id}"), 303)
    return redirect(
        url_for("pages.step", lesson_id=lesson.id, number=following.number), 303
    )


def verdict(step, prediction: dict | None) -> dict | None:
    """Check a prediction against the exchanges recorded after it was made.

    A step that sends two requests is judged on the one that ended last; a
    step whose demo sends the requests, on the latest exchange.
    """
    if step.kind != "predict" or not prediction:
        return None
    learner = learners.current()
    records = lab().journal.exchanges(learner.id)
    later = [r for r in records if r.get("seq", 0) > prediction.get("after", 0)]
    needed = max(1, len(step.requests))
    if len(later) < needed:
        return {"waiting": True, "sent": len(later), "needed": needed}

    studio = current_app.config["SESSION_COOKIE_NAME"]
    judged = later[needed - 1] if step.requests else later[-1]
    index = records.index(judged)
    previous = records[index - 1] if index > 0 else None
    view = ExchangeView(judged, previous, studio)
    found = facts(view)
    shown = outcome(step, found)
    return {
        "waiting": False,
        "seq": view.seq,
        "facts": found,
        "shown": shown,
        "predicted": step.choice(prediction.get("choice", "")),
        "expected": step.choice(step.answer),
        "right": shown is not None and shown.id == prediction.get("choice"),
    }


@bp.app_errorhandler(404)
def not_found(error):
    message = getattr(error, "description", "") or "There is nothing at this address."
    return render_template("error.html", title="Not found", message=message), 404
