"""The proxy burst: twenty forwarded requests, counted in the real store."""

import re

from .conftest import Learner, MemoryProbe

HX = {"HX-Request": "true"}
BURST = 20


def header(record: dict, name: str) -> str | None:
    return next(
        (value for key, value in record["request"]["headers"] if key.lower() == name),
        None,
    )


def run(learner: Learner):
    return learner.client.post("/demos/proxy_burst/run", headers=HX)


def counts(response) -> list[int]:
    cells = re.findall(r'data-testid="burst-entries">(\d+)<', response.get_data(True))
    return [int(cell) for cell in cells]


def test_without_trust_proxy_every_forwarded_request_is_a_new_session(learner, probe):
    learner.configure(secure=True, trust_proxy=False)

    response = run(learner)

    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "lab-exchange"
    records = learner.exchanges()[-BURST:]
    for record in records:
        assert record["request"]["line"] == "GET /lab/ HTTP/1.1"
        assert header(record, "x-forwarded-proto") == "https"
        assert header(record, "via") == "1.1 lab-proxy"
        assert record["cookie_id"] is None
        assert record["decision"]["store_op"] == "set"
        assert record["decision"]["set_cookie"] is False
    made = {learner.key(record["session_id"]) for record in records}
    assert len(made) == BURST
    assert probe.keys(learner.id) == made
    assert counts(response) == list(range(1, BURST + 1))


def test_with_trust_proxy_the_visitor_keeps_one_session(learner, probe):
    learner.configure(secure=True, trust_proxy=True)

    response = run(learner)

    first, *rest = learner.exchanges()[-BURST:]
    assert first["decision"]["set_cookie"] is True
    assert all(record["cookie_id"] == first["session_id"] for record in rest)
    assert all(record["decision"]["set_cookie"] is False for record in rest)
    assert probe.keys(learner.id) == {learner.key(first["session_id"])}
    assert counts(response) == [1] * BURST


def test_the_burst_touches_no_other_learner(lab_app, store_name, probe):
    other = Learner(lab_app.test_client())
    other.configure(store=store_name)
    other.read()
    theirs = probe.keys(other.id)
    bursting = Learner(lab_app.test_client())
    bursting.configure(store=store_name, secure=True)

    assert run(bursting).status_code == 200

    assert probe.keys(other.id) == theirs and len(theirs) == 1
    assert len(probe.keys(bursting.id)) == BURST
    assert len(other.exchanges()) == 1


def test_the_lab_limit_per_learner_shows_in_the_burst(make_app):
    app = make_app(SESSIONS_PER_LEARNER=5)
    learner = Learner(app.test_client())
    learner.configure(secure=True)

    response = run(learner)

    assert counts(response) == [1, 2, 3, 4, 5] + [5] * (BURST - 5)
    assert len(MemoryProbe(app).keys(learner.id)) == 5
    assert "keeps at most 5 sessions per learner" in response.get_data(True)


def test_the_cookie_store_is_refused_with_a_reason(client):
    learner = Learner(client)
    learner.configure(store="cookie", secure=True)

    response = run(learner)

    assert response.status_code == 422
    assert "The cookie store keeps nothing on the server" in response.get_data(True)
    assert learner.exchanges() == []


def test_a_browser_without_the_studio_cookie_is_told_to_reload(app):
    response = app.test_client(use_cookies=False).post(
        "/demos/proxy_burst/run", headers=HX
    )

    assert response.status_code == 422
    assert "sent no lab_learner cookie" in response.get_data(True)


def test_a_prediction_is_judged_on_the_burst_s_last_exchange(client):
    learner = Learner(client)
    applied = client.post("/lessons/tls/6/apply")
    predicted = client.post("/lessons/tls/6/predict", data={"choice": "twenty"})
    assert applied.status_code == predicted.status_code == 303

    run(learner)
    page = client.get("/lessons/tls/6/verdict", headers=HX).get_data(True)

    last = learner.last()["seq"]
    assert f"What the record shows (exchange {last})" in page
    assert "Your prediction is borne out by the record." in page
