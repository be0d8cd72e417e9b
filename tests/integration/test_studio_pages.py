"""The studio's pages and fragments through the test client."""

import pytest

from app.lessons import LessonError

from .conftest import FORM, HTMX


def test_a_broken_lesson_stops_the_app_with_its_file_and_line(make_app, tmp_path):
    folder = tmp_path / "lessons"
    folder.mkdir()
    broken = folder / "broken.md"
    broken.write_text(
        "---\nid: broken\ntitle: Broken\nsummary: x\n---\n\n## wander: Off\n",
        encoding="utf-8",
    )

    with pytest.raises(LessonError) as caught:
        make_app(LESSONS_FOLDER=str(folder))
    assert str(caught.value).startswith(f"{broken}:7: unknown step kind 'wander'")


def test_pages_carry_a_policy_without_inline_scripts(client):
    response = client.get("/lessons/lifecycle/1")

    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert b"<script>" not in response.data


def test_one_address_answers_a_fragment_or_a_page(client):
    client.get("/")

    fragment = client.get("/panels/headers", headers=HTMX)
    page = client.get("/panels/headers")

    assert fragment.data.lstrip().startswith(
        b'<section class="panel" id="panel-headers"'
    )
    assert page.data.lstrip().startswith(b"<!doctype html>")
    for response in (fragment, page):
        assert "HX-Request" in response.headers["Vary"]


def test_the_settings_form_refuses_a_bad_value_and_changes_nothing(client):
    before = client.get("/api/settings").get_json()

    response = client.post(
        "/panels/settings", data={**FORM, "name": "<b>bad name</b>"}, headers=HTMX
    )

    assert response.status_code == 422
    assert b"a cookie name of 1 to 64 token characters" in response.data
    assert b"&lt;b&gt;bad name&lt;/b&gt;" in response.data
    assert b"<b>bad name</b>" not in response.data
    assert client.get("/api/settings").get_json() == before


def test_the_settings_form_saves_as_the_api_would(client):
    client.get("/")

    response = client.post(
        "/panels/settings", data={**FORM, "max_age": "60"}, headers=HTMX
    )

    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "settings-changed"
    settings = client.get("/api/settings").get_json()
    assert settings["max_age"] == 60
    assert settings["secure"] is False
    assert settings["secrets"] == ["a-secret-of-this-test"]


def test_an_unavailable_store_is_refused_with_its_remedy(client):
    client.get("/")

    response = client.post("/panels/settings", data={**FORM, "store": "redis"})

    assert response.status_code == 422
    assert (
        b"redis cannot be used: not configured: REDIS_URL is not set" in response.data
    )
    assert b"Set REDIS_URL" in response.data
    assert client.get("/api/settings").get_json()["store"] == "memory"


def test_an_unknown_lesson_or_step_is_a_plain_404(client):
    assert client.get("/lessons/nowhere/1").status_code == 404
    missing = client.get("/lessons/lifecycle/99")
    assert missing.status_code == 404
    assert b"has no step 99" in missing.data


def test_a_signed_cookie_reading_shows_what_the_record_has(app, client):
    """Render a flask-kind cookie reading, with and without its optional parts."""
    client.get("/")
    with client.session_transaction() as session:
        learner = session["learner"]
    journal = app.extensions["session_lab"].journal
    record = {
        "at": 0,
        "ms": 1,
        "settings": {"name": "session", "path": "/lab", "secrets": ["k"]},
        "request": {"method": "GET", "path": "/lab/", "headers": []},
        "response": {"status": "200 OK", "headers": []},
        "cookie": {
            "kind": "flask",
            "payload": "eyJjb2xvdXIiOiJyZWQifQ",
            "data": {"colour": "red"},
            "timestamp": 1780000000,
            "signature": "sig",
            "verified": True,
        },
        "decision": None,
        "operations": [],
    }
    journal.append(learner, record)

    full = client.get("/panels/cookie", headers=HTMX).get_data(as_text=True)

    assert "eyJjb2xvdXIiOiJyZWQifQ" in full
    assert '<code>{"colour": "red"}</code>' in full
    assert "1780000000" in full and "yes" in full

    journal.append(learner, {**record, "cookie": {"kind": "flask", "signature": "s"}})
    bare = client.get("/panels/cookie", headers=HTMX)

    assert bare.status_code == 200
    assert "Payload" not in bare.get_data(as_text=True)
