"""The side-by-side demo shows each specimen's latest exchange as it happened."""

import html
import re

from .conftest import JSON, Learner
from .test_flask_specimen import flask, flask_key, held, set_cookie

HTMX = {"HX-Request": "true"}


def side(page: str, name: str) -> str:
    """Answer the part of the demo that shows one specimen."""
    start = page.index(f'data-testid="compare-{name}"')
    return page[start : page.index("</article>", start)]


def shown(part: str, testid: str) -> str:
    """Answer the text of the element with the test id, as a learner reads it."""
    found = re.search(rf'data-testid="{testid}">(.*?)</(dd|ol|strong)>', part, re.S)
    assert found, f"no {testid} in {part}"
    text = re.sub(r"<[^>]+>", " ", found.group(1))
    return " ".join(html.unescape(text).split())


def demo(learner) -> str:
    response = learner.client.get("/demos/flask_compare", headers=HTMX)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    return response.get_data(as_text=True)


def test_before_any_exchange_each_side_waits(client):
    learner = Learner(client)

    page = demo(learner)

    assert "No exchange with this specimen yet." in side(page, "express")
    assert "No exchange with this specimen yet." in side(page, "flask")


def test_each_side_shows_what_its_specimen_sent_and_its_store_holds(app):
    learner = Learner(app.test_client())
    learner.configure(max_age=600)
    form = {"key": "colour", "value": "blue"}
    express = learner.lab("POST", "/set", data=form)
    answer = flask(learner, "POST", "/set", data=form)

    page = demo(learner)

    express_side, flask_side = side(page, "express"), side(page, "flask")
    assert "The same request went to both" in page
    assert shown(express_side, "set-cookie").startswith(
        express.headers["Set-Cookie"].split(";")[0]
    )
    [sent] = set_cookie(answer)
    assert shown(flask_side, "set-cookie") == sent
    assert shown(flask_side, "ops") == "set , time to live 600 s"
    assert shown(flask_side, "store-op") == "set"

    memory = app.extensions["session_lab"].stores.get("memory").cache
    stored = memory.get(flask_key(learner, held(learner)))
    assert stored == {"_permanent": True, "colour": "blue"}
    assert shown(flask_side, "held") == '{"_permanent": true, "colour": "blue"}'
    assert shown(express_side, "held") == '{"colour": "blue"}'


def test_different_routes_are_said_to_differ(client):
    learner = Learner(client)
    learner.read()
    flask(learner, "POST", "/set", data={"key": "colour", "value": "blue"})

    page = demo(learner)

    assert "asked for different routes" in page
    assert shown(side(page, "flask"), "cookie-sent") == "none"


def test_what_the_learner_typed_is_escaped(client):
    learner = Learner(client)
    flask(learner, "POST", "/set", data={"key": "note", "value": "<b>bold</b>"})

    page = demo(learner)

    assert "<b>bold</b>" not in page
    assert "\\u003cb\\u003ebold" in page or "&lt;b&gt;bold" in page


def test_without_htmx_the_demo_is_a_page_of_its_own(client):
    Learner(client)

    response = client.get("/demos/flask_compare")

    assert response.status_code == 200
    assert b"<html" in response.data and b'id="flask-compare"' in response.data


def test_the_lesson_steps_carry_the_demo_and_no_race_panel(client):
    Learner(client)

    both = client.get("/lessons/flask-session/3").get_data(as_text=True)
    race = client.get("/lessons/options/6").get_data(as_text=True)

    assert 'id="flask-compare"' in both
    assert 'hx-post="/lab-flask/set"' in both and 'hx-post="/lab/set"' in both
    assert 'id="panel-race"' not in both
    assert 'id="panel-race"' in race


def test_the_settings_form_keeps_refresh_each_request(client):
    learner = Learner(client)
    form = {"store": "memory", "name": "sid", "path": "/lab", "unset": "keep"}
    form["secrets"] = "\n".join(learner.settings["secrets"])

    client.post("/panels/settings", data={**form, "resave": "on"}, headers=HTMX)
    assert learner.settings["refresh_each_request"] is False

    client.post(
        "/panels/settings",
        data={**form, "refresh_each_request": "on"},
        headers=HTMX,
    )
    assert learner.settings["refresh_each_request"] is True
    equivalents = client.get("/panels/equivalents", headers=HTMX)
    assert b"SESSION_REFRESH_EACH_REQUEST=True" in equivalents.data


def test_the_flask_panels_speak_of_flask_session(client):
    learner = Learner(client)
    flask(learner, "POST", "/set", data={"key": "colour", "value": "blue"})
    session_id = held(learner)

    decision = client.get("/panels/decision", headers=HTMX).get_data(as_text=True)
    cookie = client.get("/panels/cookie", headers=HTMX).get_data(as_text=True)
    store = client.get("/api/store", headers=JSON).json

    assert "Flask-Session, /lab-flask" in decision
    assert "SESSION_REFRESH_EACH_REQUEST true" in decision
    assert f'data-testid="sent-id">{session_id}<' in cookie
    # The store API speaks of the express specimen, which holds nothing here.
    assert store["sessions"] == []
