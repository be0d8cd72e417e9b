"""The bots demos: cookie-less visitors fill the store, or not, and Flask-Session."""

import pytest
from cachelib import SimpleCache
from flask_session.cachelib import CacheLibSessionInterface

from app.demos.bots import flask_session_app, run_flask_session
from tests.workerprobe import held, number, shown

from .conftest import Learner


@pytest.fixture
def learner(worker_studio):
    return Learner(worker_studio.test_client())


@pytest.mark.parametrize(
    ("save_uninitialized", "added"), [(True, 100), (False, 0)], ids=["on", "off"]
)
def test_a_hundred_visitors_add_a_hundred_entries_or_none(
    worker_studio, learner, save_uninitialized, added
):
    learner.configure(save_uninitialized=save_uninitialized)
    learner.lab("GET", "/workers/b/")
    studio_cookie = learner.cookie("lab_learner", "/")
    before = held(worker_studio, "b", studio_cookie)

    answer = learner.client.post("/demos/bots/burst")

    html = answer.get_data(as_text=True)
    after = held(worker_studio, "b", studio_cookie)
    assert answer.status_code == 200
    assert after["yours"]["entries"] - before["yours"]["entries"] == added
    assert number(html, "yours-before") == before["yours"]["entries"]
    assert number(html, "yours-after") == after["yours"]["entries"]
    assert number(html, "stored") == number(html, "cookies") == added
    assert number(html, "entries-after") == after["store"]["entries"]
    word = "on" if save_uninitialized else "off"
    assert f"With saveUninitialized {word}" in shown(html, "bot-burst")
    decision = shown(html, "decision")
    assert decision.startswith("All visitors: new session: no cookie")
    assert ("saveUninitialized is on" in decision) == save_uninitialized


@pytest.mark.parametrize(
    ("consent", "stored"), [("no", 0), ("yes", 100)], ids=["read", "accept"]
)
def test_flask_session_stores_only_sessions_that_hold_something(
    learner, consent, stored
):
    answer = learner.client.post("/demos/bots/flask-session", data={"consent": consent})

    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert number(html, "fs-entries") == stored
    assert number(html, "fs-cookies") == stored


def test_the_flask_session_app_is_flask_session_itself():
    app = flask_session_app(SimpleCache())
    assert type(app.session_interface) is CacheLibSessionInterface
    assert run_flask_session(3, consent=True) == {
        "count": 3,
        "consent": True,
        "entries": 3,
        "cookies": 3,
    }
