"""The panels and the prediction facts, read from real cookie-store exchanges."""

import re
import secrets

import pytest

from app.views.exchange import ExchangeView, facts

JSON = {"Accept": "application/json"}
HTMX = {"HX-Request": "true"}


@pytest.fixture
def lab(client):
    answer = client.post("/api/settings", json={"store": "cookie"})
    assert answer.status_code == 200, answer.json
    return answer.json


def panel_text(client, name: str) -> str:
    html = client.get(f"/panels/{name}", headers=HTMX).get_data(as_text=True)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def latest_facts(client) -> dict:
    records = client.get("/api/exchanges").json
    previous = records[-2] if len(records) > 1 else None
    return facts(ExchangeView(records[-1], previous, "lab_learner"))


def test_a_verified_cookie_is_read_not_replaced_by_a_new_id(client, lab):
    client.post("/lab/set", data={"key": "colour", "value": "blue"}, headers=JSON)
    client.get("/lab/", headers=JSON)

    sequence = panel_text(client, "sequence")
    assert "signature verified with secret 1; session read from the cookie" in sequence
    assert "a new ID is generated" not in sequence

    anatomy = panel_text(client, "cookie")
    assert '{"colour": "blue"}' in anatomy
    assert "yes, with secret 1 of 1" in anatomy
    value = client.get_cookie("sid", path="/lab").value
    assert f"{len(value)} bytes of value" in anatomy

    store = panel_text(client, "store")
    assert "the session is the sid cookie itself" in store
    assert f"{len(value)} bytes your browser holds this one" in store
    assert "the server accepts it" in store
    assert latest_facts(client)["verified"] is True


def test_a_cookie_signed_with_another_secret_is_shown_refused(client, lab):
    client.post("/lab/set", data={"key": "colour", "value": "blue"}, headers=JSON)
    client.post("/api/settings", json={"secrets": ["another secret"]})
    client.get("/lab/", headers=JSON)

    assert "cookie ignored signature invalid for every secret" in panel_text(
        client, "sequence"
    )
    assert "no: signature invalid for every secret" in panel_text(client, "cookie")
    store = panel_text(client, "store")
    assert "the server refuses it: signature invalid for every secret" in store
    assert latest_facts(client)["verified"] is False


def test_no_cookie_makes_a_new_empty_session_not_an_id(client, lab):
    client.get("/lab/", headers=JSON)

    assert "no cookie a new empty session" in panel_text(client, "sequence")
    assert "the server made a new empty session" in panel_text(client, "cookie")
    assert latest_facts(client)["verified"] is False


def test_an_oversized_cookie_is_flagged_and_the_older_one_stays_held(client, lab):
    client.post("/lab/set", data={"key": "colour", "value": "blue"}, headers=JSON)
    small = client.get_cookie("sid", path="/lab").value
    big = secrets.token_urlsafe(4000)[:5000]
    client.post("/lab/set", data={"key": "blob", "value": big}, headers=JSON)

    record = client.get("/api/exchanges").json[-1]
    size = record["cookie"]["size"]
    assert size["over_limit"] is True
    anatomy = panel_text(client, "cookie")
    assert f"{size['name_value']} bytes of name and value" in anatomy
    assert "over the 4096 bytes Chromium accepts" in anatomy

    rows = client.get("/api/store").json["sessions"]
    assert [(row["bytes"], row["data"]) for row in rows] == [
        (len(small), {"colour": "blue"})
    ]


def test_the_express_reading_still_gives_the_verified_fact(client):
    client.get("/api/settings")
    client.get("/lab/", headers=JSON)
    assert latest_facts(client)["verified"] is False
    client.get("/lab/", headers=JSON)
    assert latest_facts(client)["verified"] is True
