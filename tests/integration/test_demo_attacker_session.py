"""The attacker_session demo: the attacker's own session, planted in the browser."""

from .conftest import id_in

HTMX = {"HX-Request": "true"}


def header(record: dict, name: str) -> str | None:
    for key, value in record["request"]["headers"]:
        if key.lower() == name:
            return value
    return None


def visit(learner):
    return learner.client.post("/demos/attacker_session/visit", headers=HTMX)


def plant(learner):
    return learner.client.post("/demos/attacker_session/plant", headers=HTMX)


def test_the_attacker_gets_a_real_session_of_their_own(learner, probe):
    learner.read()
    own_id = learner.held()

    response = visit(learner)

    body = response.get_data(as_text=True)
    assert response.headers["HX-Trigger"] == "lab-exchange"
    assert "The attacker now holds a real session" in body
    record = learner.last()
    assert header(record, "x-lab-client") == "second-client"
    assert header(record, "cookie").startswith("lab_learner=")
    attacker_id = record["session_id"]
    assert attacker_id != own_id
    assert probe.data(learner.key(attacker_id))["theme"] == "dark"
    assert learner.held() == own_id, "the browser's own cookie is untouched"


def test_planting_puts_the_attackers_cookie_in_the_browser(learner, probe):
    learner.read()
    visit(learner)
    attacker_id = learner.last()["session_id"]

    response = plant(learner)

    planted = response.headers.getlist("Set-Cookie")
    assert len(planted) == 1
    assert planted[0].startswith("sid=s%3A") and "Path=/lab" in planted[0]
    assert "HX-Trigger" not in response.headers
    assert learner.held() == attacker_id
    assert f"Set-Cookie: {planted[0]}" in response.get_data(as_text=True)

    read = learner.read()
    assert read.json == {"theme": "dark"}
    assert learner.last()["operations"][0]["result"] == "hit"
    assert id_in(learner.cookie()) == attacker_id


def test_the_planted_cookie_follows_the_cookie_settings(learner):
    learner.configure(name="app.sid", path="/lab/")
    visit(learner)

    planted = plant(learner).headers.getlist("Set-Cookie")

    assert planted[0].startswith("app.sid=") and "Path=/lab/" in planted[0]


def test_planting_before_the_attacker_has_a_session_is_refused(learner):
    response = plant(learner)

    assert response.status_code == 400
    assert response.headers.getlist("Set-Cookie") == []
    assert "The attacker has no session yet" in response.get_data(as_text=True)


def test_no_cookie_for_the_attacker_says_so(learner, probe):
    # secure is on and the request is plain HTTP: express-session holds the
    # cookie back, so there is nothing to plant.
    learner.configure(secure=True)

    body = visit(learner).get_data(as_text=True)

    assert "The server gave the attacker no cookie" in body
    assert "secure is on and the request is not secure" in body
    assert plant(learner).status_code == 400


def test_a_visit_without_the_studio_cookie_is_refused(app):
    client = app.test_client(use_cookies=False)

    response = client.post("/demos/attacker_session/visit", headers=HTMX)

    assert response.status_code == 400
    assert "sent no lab_learner cookie" in response.get_data(as_text=True)
