"""The attacker_reads demo: fixation with regenerate on login, and without."""

import pytest

from .conftest import sent_id, set_cookies

HTMX = {"HX-Request": "true"}


def planted_login(learner, regenerate: bool) -> tuple[str, object]:
    """Plant the attacker's session, then log in; answer its ID and the login."""
    learner.configure(regenerate_on_login=regenerate)
    learner.read()
    learner.client.post("/demos/attacker_session/visit", headers=HTMX)
    attacker_id = learner.last()["session_id"]
    learner.client.post("/demos/attacker_session/plant", headers=HTMX)
    assert learner.held() == attacker_id

    login = learner.lab("POST", "/login", data={"user": "alice"})
    assert login.json["user"] == "alice"
    return attacker_id, login


def read(learner):
    return learner.client.post("/demos/attacker_reads/read", headers=HTMX)


def test_with_regenerate_the_attackers_copy_reads_nothing(learner, probe):
    attacker_id, login = planted_login(learner, regenerate=True)

    record = learner.last()
    assert record["cookie_id"] == attacker_id
    assert record["session_id"] != attacker_id
    assert ("destroy", "regenerate") in [
        (op["op"], op.get("why")) for op in record["operations"]
    ]
    assert probe.data(learner.key(attacker_id)) is None
    assert sent_id(login) == learner.held() == record["session_id"]
    assert login.json == {"user": "alice"}, "express's regenerate starts afresh"

    body = read(learner).get_data(as_text=True)

    assert 'data-lookup="miss"' in body
    assert "alice" not in body
    assert learner.last()["cookie_id"] == attacker_id


def test_without_regenerate_the_attacker_is_logged_in(learner, probe):
    attacker_id, login = planted_login(learner, regenerate=False)

    record = learner.last()
    assert record["cookie_id"] == record["session_id"] == attacker_id
    assert "destroy" not in [op["op"] for op in record["operations"]]
    assert set_cookies(login) == [], "not even a Set-Cookie gives it away"
    assert any("regenerate_on_login is off" in r for r in record["decision"]["reasons"])
    assert probe.data(learner.key(attacker_id))["user"] == "alice"

    response = read(learner)

    body = response.get_data(as_text=True)
    assert response.headers["HX-Trigger"] == "lab-exchange"
    assert 'data-lookup="hit"' in body
    assert "<dt>theme</dt><dd>dark</dd><dt>user</dt><dd>alice</dd>" in body


@pytest.mark.parametrize("regenerate", [True, False])
def test_the_record_marks_the_attackers_exchanges(learner, regenerate):
    planted_login(learner, regenerate)

    read(learner)

    panel = learner.client.get("/panels/headers", headers=HTMX).get_data(as_text=True)
    assert "X-Lab-Client" in panel
    assert "came from a second client the server played" in panel


def test_reading_before_the_attacker_has_a_session_is_refused(learner):
    response = read(learner)

    assert response.status_code == 400
    assert "The attacker has no session yet" in response.get_data(as_text=True)
    assert learner.exchanges() == []
