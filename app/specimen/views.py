"""The specimens' routes: read, set, append, log in, log out, and a slow read.

This is the code the learner talks to; each route is what an express app's
handler would do with ``req.session``. Both specimens run these same views:
the session each one opens says its verbs in its own library's terms.
"""

import logging
import time

from flask import Blueprint, current_app, jsonify, render_template, request, session
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    RequestEntityTooLarge,
)

from ..stores.base import StoreUnavailable

log = logging.getLogger(__name__)
bp = Blueprint("specimen", __name__)

KEY_LIMIT = 64
VALUE_LIMIT = 8192
SESSION_KEY_LIMIT = 20
SLOW_LIMIT_MS = 5000
CART_LIMIT = 20
# Keys a session library keeps for itself, by the library's name.
RESERVED_KEYS = {"cookie": "express-session"}


class LabInputError(ValueError):
    """A lab request's form is not valid; the session is left unchanged."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@bp.get("/")
def read():
    return answer()


@bp.post("/set")
def set_value():
    key = field("key", KEY_LIMIT)
    value = field("value", VALUE_LIMIT, allow_empty=True)
    reserved = getattr(session, "own_keys", RESERVED_KEYS)
    if key in reserved:
        raise LabInputError(f"the key {key!r} is {reserved[key]}'s own")
    if key not in session and len(session) >= SESSION_KEY_LIMIT:
        raise LabInputError(f"a lab session holds at most {SESSION_KEY_LIMIT} keys")

    session[key] = value
    return answer()


@bp.post("/append")
def append():
    item = field("item", KEY_LIMIT)
    cart = session.get("cart")
    if cart is None:
        if len(session) >= SESSION_KEY_LIMIT:
            raise LabInputError(f"a lab session holds at most {SESSION_KEY_LIMIT} keys")
        session["cart"] = [item]
    elif not isinstance(cart, list):
        raise LabInputError("cart holds a text, not a list: log out to start again")
    elif len(cart) >= CART_LIMIT:
        raise LabInputError(f"a lab cart holds at most {CART_LIMIT} items")
    else:
        # A change inside the list, not to a key of the session: only a
        # library that compares the whole session notices it.
        cart.append(item)

    if request.form.get("modified") == "yes":
        # Flask-Session's documented remedy; express-session's hash needs none.
        session.modified = True
    return answer()


@bp.post("/login")
def login():
    user = field("user", KEY_LIMIT)
    exchange = session.exchange
    if exchange.settings.regenerate_on_login:
        session.regenerate()
    else:
        exchange.decision.reasons.append(
            "login without regenerate (regenerate_on_login is off): the user is "
            "written into the session the request came with"
        )
    session["user"] = user
    return answer()


@bp.post("/logout")
def logout():
    session.destroy()
    return answer(destroyed=True)


@bp.post("/forget")
def forget():
    session.unset()
    return answer(destroyed=True)


@bp.get("/slow")
def slow():
    try:
        ms = int(request.args.get("ms", "1000"))
    except ValueError:
        raise LabInputError("ms must be a whole number of milliseconds") from None

    time.sleep(max(0, min(ms, SLOW_LIMIT_MS)) / 1000)
    return answer()


def field(name: str, limit: int, allow_empty: bool = False) -> str:
    """Read one form field, refusing what the lab cannot keep."""
    value = request.form.get(name)
    if value is None or (not value and not allow_empty):
        raise LabInputError(f"send the form field {name}")
    if len(value) > limit:
        message = f"{name} is {len(value)} characters; the limit is {limit}"
        raise LabInputError(message, 413)
    return value


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > 0


def answer(destroyed: bool = False, status: int = 200):
    data = {} if destroyed else dict(session)
    if wants_json():
        return jsonify(data), status
    page = render_template("specimen/_answer.html", data=data, destroyed=destroyed)
    return page, status


def problem(message: str, status: int):
    if wants_json():
        return jsonify(error=message), status
    return render_template("specimen/_problem.html", message=message), status


@bp.app_errorhandler(LabInputError)
def refuse_input(error):
    log.warning("refused lab input: %s", error)
    return problem(str(error), error.status)


@bp.app_errorhandler(StoreUnavailable)
def store_down(error):
    log.warning("specimen store unavailable: %s", error)
    return problem(
        f"The {error.store} store did not answer ({error.reason}). "
        "Choose another store in the settings.",
        503,
    )


@bp.app_errorhandler(RequestEntityTooLarge)
def body_too_large(error):
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    log.warning("refused lab input: a body over %s bytes", limit)
    return problem(f"the request body is over the lab's limit of {limit} bytes", 413)


@bp.app_errorhandler(HTTPException)
def http_error(error):
    return problem(error.description or error.name, error.code or 400)


@bp.app_errorhandler(InternalServerError)
def unexpected(error):
    original = getattr(error, "original_exception", None)
    if isinstance(original, StoreUnavailable):
        return store_down(original)
    if isinstance(original, LabInputError):
        return refuse_input(original)
    log.error("specimen failed", exc_info=original or error)
    return problem("The specimen failed unexpectedly; the error is in the log.", 500)


def init_app(app):
    app.register_blueprint(bp)
