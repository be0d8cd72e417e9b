"""The regenerate_on_login setting: the API, the form, the login and the equivalents."""

import pytest

from .conftest import FORM, HTMX, Learner, sent_id


def test_it_is_on_by_default(client):
    assert client.get("/api/settings").json["regenerate_on_login"] is True


@pytest.mark.parametrize("value", ["false", 0, None, []])
def test_a_value_that_is_not_a_boolean_is_refused(client, value):
    before = client.get("/api/settings").json

    response = client.post("/api/settings", json={"regenerate_on_login": value})

    assert response.status_code == 400
    assert response.json["field"] == "regenerate_on_login"
    assert response.json["reason"] == "must be true or false"
    assert client.get("/api/settings").json == before


def test_the_settings_form_turns_it_off_and_on(client):
    client.get("/")

    off = client.post("/panels/settings", data=FORM, headers=HTMX)
    assert off.status_code == 200
    assert client.get("/api/settings").json["regenerate_on_login"] is False

    form = {**FORM, "regenerate_on_login": "on"}
    client.post("/panels/settings", data=form, headers=HTMX)
    assert client.get("/api/settings").json["regenerate_on_login"] is True
    panel = client.get("/panels/settings", headers=HTMX).get_data(as_text=True)
    checkbox = 'id="setting-regenerate_on_login" name="regenerate_on_login" checked'
    assert checkbox in panel


@pytest.mark.parametrize("regenerate", [True, False])
def test_login_regenerates_only_when_it_is_on(learner, probe, regenerate):
    learner.configure(regenerate_on_login=regenerate)
    learner.write("theme", "dark")
    before = learner.held()

    login = learner.lab("POST", "/login", data={"user": "alice"})

    record = learner.last()
    ops = [op["op"] for op in record["operations"]]
    if regenerate:
        assert sent_id(login) == record["session_id"] != before
        assert ops == ["get", "destroy", "set"]
        assert probe.data(learner.key(before)) is None
        assert login.json == {"user": "alice"}
    else:
        assert sent_id(login) is None and record["session_id"] == before
        assert ops == ["get", "set"]
        assert probe.data(learner.key(before))["user"] == "alice"
        assert login.json == {"theme": "dark", "user": "alice"}
        assert "login without regenerate" in record["decision"]["summary"]


@pytest.mark.parametrize("regenerate", [True, False])
def test_the_cookie_store_clears_at_login_only_when_it_is_on(client, regenerate):
    learner = Learner(client)
    learner.configure(store="cookie", regenerate_on_login=regenerate)
    learner.write("theme", "dark")

    login = learner.lab("POST", "/login", data={"user": "alice"})

    expected = {"user": "alice"} if regenerate else {"theme": "dark", "user": "alice"}
    assert login.json == expected
    assert learner.read().json == expected


@pytest.mark.parametrize(
    "regenerate, express, flask",
    [
        (True, "req.session.regenerate((err)", "app.session_interface.regenerate"),
        (False, "keeps the session, and", "sets the user and keeps the ID"),
    ],
)
def test_the_equivalents_say_what_the_login_handler_does(
    client, regenerate, express, flask
):
    learner = Learner(client)
    learner.configure(regenerate_on_login=regenerate)

    panel = client.get("/panels/equivalents", headers=HTMX).get_data(as_text=True)

    assert express in panel
    assert flask in panel
    if not regenerate:
        assert "regenerate(" not in panel
