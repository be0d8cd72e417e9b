"""The TLS lesson in Chromium: real HTTPS, plain HTTP, and a proxy that fills the store.

HTTPS is served for real, by Werkzeug with the certificate app/tls.py makes;
Chromium is told to accept it. The store is read from the memory store object
itself, in this process, not from anything the page says.
"""

import re

import pytest
from playwright.sync_api import expect

from app.tls import certificate_for

from .conftest import LiveServer
from .pages import LessonPage, browser_cookie, cookie_value, session_id
from .test_quality import serious_violations

BURST = 20


@pytest.fixture
def https_server(make_app):
    app = make_app(SESSION_COOKIE_SECURE=True)
    certificate = certificate_for(app.instance_path, "127.0.0.1")
    server = LiveServer(app, ssl_context=certificate)
    yield server
    server.stop()


@pytest.fixture
def https_page(browser, https_server):
    context = browser.new_context(ignore_https_errors=True, base_url=https_server.url)
    yield context.new_page()
    context.close()


def header(record: dict, name: str) -> str | None:
    return next(
        (value for key, value in record["request"]["headers"] if key.lower() == name),
        None,
    )


def stored_ids(server) -> list[str]:
    """Answer every specimen session ID the memory store holds, read from the store."""
    cache = server.app.extensions["session_lab"].stores.get("memory").cache
    keys = [key for key in cache._cache if ":sess:" in key]
    learners = {key.split(":")[1] for key in keys}
    assert len(learners) <= 1, "one browser, so one learner"
    return [key.rsplit(":", 1)[-1] for key in keys]


def test_over_https_the_secure_cookie_is_set_and_kept(https_page):
    page = https_page
    lesson = LessonPage(page)
    page.goto("/")
    lesson.open("tls", 1)
    connection = page.get_by_test_id("connection")
    expect(connection.get_by_test_id("connection-scheme")).to_contain_text("HTTPS")
    expect(connection.get_by_test_id("connection-secure")).to_have_text("yes")
    expect(connection.get_by_test_id("connection-studio")).to_contain_text("Secure")
    assert browser_cookie(page, "lab_learner")["secure"]

    lesson.next_step()
    expect(page).to_have_url(re.compile(r"^https://127\.0\.0\.1:\d+/lessons/tls/2$"))
    lesson.use_step_settings()
    first = lesson.send()

    received = first.header_values("set-cookie")
    assert len(received) == 1 and "Secure" in received[0], received
    name, value = cookie_value(received[0])
    held = browser_cookie(page, "sid")
    assert name == "sid" and held is not None
    assert held["secure"] and held["value"] == value
    record = lesson.exchanges()[-1]
    assert record["settings"]["secure"] is True
    assert record["decision"]["set_cookie"] is True
    expect(lesson.panel("decision").get_by_test_id("set-cookie")).to_have_text("sent")

    second = lesson.send()

    assert f"sid={value}" in second.request.all_headers()["cookie"]
    record = lesson.exchanges()[-1]
    assert record["cookie_id"] == session_id(value) == record["session_id"]
    assert record["operations"][0]["result"] == "hit"


def test_over_plain_http_the_server_withholds_the_cookie(page, live_server):
    lesson = LessonPage(page)
    page.goto("/")
    lesson.open("tls", 1)
    expect(page.get_by_test_id("connection-scheme")).to_contain_text("HTTP: plain")
    expect(page.get_by_test_id("connection-secure")).to_have_text("no")
    expect(page.get_by_test_id("connection-studio")).to_contain_text("not Secure")

    lesson.open("tls", 2)
    lesson.use_step_settings()
    first = lesson.send()
    second = lesson.send()

    for response in (first, second):
        assert response.header_values("set-cookie") == []
        assert "sid=" not in (response.request.all_headers().get("cookie") or "")
    assert browser_cookie(page, "sid") is None
    records = lesson.exchanges()[-2:]
    for record in records:
        assert record["decision"]["store_op"] == "set"
        assert record["decision"]["reasons"][-1].startswith(
            "no Set-Cookie: secure is on and the request is not secure"
        )
    made = [record["session_id"] for record in records]
    assert made[0] != made[1], "no cookie came back, so a second session was made"
    assert set(made) <= set(stored_ids(live_server))
    expect(lesson.panel("decision")).to_contain_text("secure is on")
    expect(lesson.panel("browser").locator('[data-kind="withheld"]')).to_contain_text(
        "The server withheld Set-Cookie"
    )


def test_the_first_forwarded_value_is_the_one_believed(page):
    lesson = LessonPage(page)
    page.goto("/")
    lesson.open("tls", 5)
    lesson.use_step_settings()
    lesson.predict("Yes. The first value, https, is the one express-session believes.")

    response = lesson.send("Send with X-Forwarded-Proto https, http")

    assert response.request.all_headers()["x-forwarded-proto"] == "https, http"
    received = response.header_values("set-cookie")
    assert len(received) == 1 and "Secure" in received[0]
    record = lesson.exchanges()[-1]
    assert header(record, "x-forwarded-proto") == "https, http"
    assert record["settings"]["trust_proxy"] is True
    expect(
        page.get_by_text("Your prediction is borne out by the record")
    ).to_be_visible()


def run_burst(page, lesson: LessonPage) -> list:
    """Press the burst button and answer the records it added.

    The record keeps the latest 30 exchanges, so new ones are found by number.
    """
    records = lesson.exchanges()
    last = records[-1]["seq"] if records else 0
    summary = page.get_by_test_id("burst-summary")
    expect(summary).to_have_count(0)
    page.get_by_role("button", name="Send 20 requests through the proxy").click()
    expect(summary).to_be_visible()
    added = [record for record in lesson.exchanges() if record["seq"] > last]
    assert len(added) == BURST
    return added


def burst_counts(page) -> list[int]:
    page.get_by_text("Every exchange of the burst").click()
    cells = page.get_by_test_id("burst-entries")
    expect(cells).to_have_count(BURST)
    return [int(text) for text in cells.all_inner_texts()]


def test_behind_a_proxy_without_trust_every_request_fills_the_store(page, live_server):
    lesson = LessonPage(page)
    page.goto("/")
    lesson.open("tls", 6)
    lesson.use_step_settings()
    lesson.predict(
        "Twenty sessions. The server never sends the cookie, so every request "
        "comes without one and starts a new session, which is saved."
    )
    before = len(stored_ids(live_server))

    records = run_burst(page, lesson)

    for record in records:
        assert header(record, "x-forwarded-proto") == "https"
        assert header(record, "via") == "1.1 lab-proxy"
        assert "sid=" not in (header(record, "cookie") or "")
        sent = [name.lower() for name, _ in record["response"]["headers"]]
        assert "set-cookie" not in sent
        assert record["decision"]["store_op"] == "set"
    made = {record["session_id"] for record in records}
    held = stored_ids(live_server)
    assert len(made) == BURST and made <= set(held)
    assert len(held) == before + BURST
    assert burst_counts(page) == list(range(before + 1, before + BURST + 1))
    expect(page.get_by_test_id("burst-after")).to_have_text(str(len(held)))
    expect(
        page.get_by_text("Your prediction is borne out by the record")
    ).to_be_visible()

    lesson.next_step()
    expect(page).to_have_url(re.compile(r"/lessons/tls/7$"))
    lesson.use_step_settings()
    records = run_burst(page, lesson)

    first, *rest = records
    assert "set-cookie" in [name.lower() for name, _ in first["response"]["headers"]]
    assert all(record["cookie_id"] == first["session_id"] for record in rest)
    assert len(stored_ids(live_server)) == len(held) + 1
    assert burst_counts(page) == [len(held) + 1] * BURST


def test_the_connection_and_the_burst_pass_axe(page):
    lesson = LessonPage(page)
    page.goto("/")
    lesson.open("tls", 1)
    assert serious_violations(page) == []

    lesson.open("tls", 6)
    lesson.use_step_settings()
    run_burst(page, lesson)
    page.get_by_text("Every exchange of the burst").click()
    assert serious_violations(page) == []


def test_every_step_opens_and_the_lesson_can_be_finished(page):
    lesson = LessonPage(page)
    page.goto("/")
    lesson.open("tls", 1)

    for number in range(1, 9):
        expect(page).to_have_url(re.compile(rf"/lessons/tls/{number}$"))
        lesson.next_step()

    expect(page).to_have_url(re.compile(r"/#lesson-tls$"))
    expect(page.get_by_test_id("progress-tls")).to_contain_text("8 of 8 steps done")
