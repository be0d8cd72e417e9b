"""The scriptable surface: settings, the record and the store, as JSON."""

import logging

from flask import Blueprint, current_app, jsonify, request

from .. import learners
from ..inspect import store_contents
from ..recorder import EXPRESS, FLASK, held_id
from ..settings import Settings, SettingsError
from ..stores import StoreUnavailable

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__, url_prefix="/api")


def lab():
    return current_app.extensions["session_lab"]


@bp.get("/settings")
def read_settings():
    learner = learners.current()
    return jsonify(learner.settings.to_dict())


@bp.post("/settings")
def change_settings():
    learner = learners.current()
    changes = request.get_json(silent=True)
    if changes is None:
        return refuse(
            "settings", "send a JSON object with Content-Type application/json"
        )

    try:
        settings = learner.settings.changed(changes, learners.reserved_cookie_names())
    except SettingsError as error:
        return refuse(error.field, error.reason)

    if settings.store != learner.settings.store:
        problem = lab().stores.check(settings.store)
        if problem is not None:
            remedy = lab().stores.remedy(settings.store)
            reason = f"{settings.store} cannot be used: {problem}"
            return refuse("store", reason, remedy)

    learners.save_settings(settings)
    log.info("learner changed settings: %s", ", ".join(sorted(changes)))
    return jsonify(settings.to_dict())


@bp.get("/stores")
def list_stores():
    return jsonify(lab().stores.status())


@bp.get("/exchanges")
def list_exchanges():
    learner = learners.current()
    return jsonify(lab().journal.exchanges(learner.id))


@bp.get("/store")
def show_store():
    learner = learners.current()
    name = learner.settings.store
    # The express specimen's sessions; its last exchange says which one is held.
    record = [
        exchange
        for exchange in lab().journal.exchanges(learner.id)
        if exchange.get("specimen", "express") == "express"
    ]
    held = held_id(record[-1], learner.settings) if record else None
    try:
        rows = store_contents(lab(), learner.id, name, held, learner.settings)
    except StoreUnavailable as error:
        return jsonify(store=name, error=error.reason, sessions=None), 503
    return jsonify(store=name, sessions=rows)


@bp.post("/reset")
def reset():
    learner = learners.current()
    journal = lab().journal
    for status in lab().stores.status():
        if status["available"] and status["name"] != "cookie":
            forget_sessions(learner.id, status["name"])
            forget_sessions(learner.id, status["name"], FLASK)
    journal.clear(learner.id)

    settings = Settings()
    learners.save_settings(settings)
    learners.save_progress({})
    response = jsonify(settings.to_dict())
    old = learner.settings
    response.delete_cookie(old.name, path=old.path, domain=old.domain)
    response.delete_cookie(FLASK.cookie["name"], path=FLASK.cookie["path"])
    return response


def forget_sessions(learner_id: str, store_name: str, kind=EXPRESS) -> None:
    """Destroy every session one specimen keeps for the learner in one store."""
    journal = lab().journal
    store = lab().stores.get(store_name)
    index = kind.index(store_name)
    ids = journal.index(learner_id, index)
    for session_id in ids:
        try:
            store.destroy(kind.key(learner_id, session_id))
        except Exception as error:
            log.warning("reset could not destroy a %s session: %s", store_name, error)
    journal.index_discard(learner_id, index, ids)


def refuse(field: str, reason: str, remedy: str = ""):
    log.warning("refused settings: %s: %s", field, reason)
    body = {"error": f"{field}: {reason}", "field": field, "reason": reason}
    if remedy:
        body["remedy"] = remedy
    return jsonify(body), 400
