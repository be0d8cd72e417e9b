"""secure, trust proxy and resave, as Chromium and the server really behave."""

import re

from playwright.sync_api import expect

from .conftest import LAB_HOST
from .pages import LessonPage, browser_cookie, cookie_value

FORWARDED_HTTPS = {"X-Forwarded-Proto": "https"}


def test_secure_over_plain_http_withholds_the_cookie_and_says_why(page):
    lesson = LessonPage(page)
    page.goto("/")
    lesson.open("options", 1)
    lesson.use_step_settings()
    lesson.predict(
        "The server sends no Set-Cookie, but still saves a new session in the store."
    )

    response = lesson.send()

    assert response.header_values("set-cookie") == []
    assert browser_cookie(page, "sid") is None
    record = lesson.exchanges()[-1]
    assert record["settings"]["secure"] is True
    assert record["decision"]["store_op"] == "set"
    note = lesson.panel("browser").locator('[data-kind="withheld"]')
    expect(note).to_contain_text("The server withheld Set-Cookie: secure is on")
    expect(note).to_contain_text("127.0.0.1 is localhost")
    expect(lesson.panel("decision")).to_contain_text("secure is on")
    expect(
        page.get_by_text("Your prediction is borne out by the record")
    ).to_be_visible()


def secure_behind_a_proxy(page, lesson: LessonPage):
    """Turn secure and trust proxy on, as a proxy's forwarded https needs."""
    page.context.set_extra_http_headers(FORWARDED_HTTPS)
    page.goto(f"{lesson.base}/")
    lesson.open("lifecycle", 5)
    lesson.change_setting("secure", on=True)
    lesson.change_setting("trust proxy", on=True)


def test_chromium_keeps_a_secure_cookie_on_localhost(page):
    lesson = LessonPage(page)
    secure_behind_a_proxy(page, lesson)

    first = lesson.send()

    assert first.request.all_headers()["x-forwarded-proto"] == "https"
    name, value = cookie_value(first.header_values("set-cookie")[0])
    assert name == "sid"
    assert "Secure" in first.header_values("set-cookie")[0]
    held = browser_cookie(page, "sid")
    assert held is not None and held["secure"] and held["value"] == value
    note = lesson.panel("browser").locator('[data-kind="secure-over-http"]')
    expect(note).to_contain_text("because it trusted X-Forwarded-Proto: https")
    expect(note).to_contain_text("Your browser keeps it: 127.0.0.1")

    second = lesson.send()

    assert f"sid={value}" in second.request.all_headers()["cookie"]
    expect(lesson.panel("cookie").get_by_test_id("received-verified")).to_contain_text(
        "yes"
    )
    expect(lesson.panel("browser").locator('[data-kind="dropped"]')).to_have_count(0)


def test_chromium_drops_a_secure_cookie_on_another_host(page, live_server):
    lesson = LessonPage(page, base=live_server.url_on(LAB_HOST))
    secure_behind_a_proxy(page, lesson)
    expect(page).to_have_url(re.compile(rf"^http://{LAB_HOST}:"))

    first = lesson.send()

    received = first.header_values("set-cookie")
    assert len(received) == 1 and "Secure" in received[0]
    assert browser_cookie(page, "sid") is None
    note = lesson.panel("browser").locator('[data-kind="secure-over-http"]')
    expect(note).to_contain_text(f"on {LAB_HOST}, which is not localhost")

    second = lesson.send()

    assert "sid=" not in (second.request.all_headers().get("cookie") or "")
    records = lesson.exchanges()
    assert records[-1]["cookie"]["raw"] is None
    assert records[-1]["session_id"] != records[-2]["session_id"]
    dropped = lesson.panel("browser").locator('[data-kind="dropped"]')
    expect(dropped).to_contain_text(
        f"Exchange {records[-2]['seq']} set sid, but this request came without it."
    )
    expect(dropped).to_contain_text("so the browser dropped it")


def test_the_resave_race_side_by_side(page):
    lesson = LessonPage(page)
    page.goto("/")
    lesson.open("options", 5)
    lesson.use_step_settings()
    lesson.send("Set colour to red")
    lesson.next_step()
    expect(page).to_have_url(re.compile(r"/lessons/options/6$"))
    lesson.use_step_settings()
    lesson.predict("red. The slow request saves the copy it read, over the newer one.")
    before = lesson.exchange_count()

    page.get_by_role("button", name="Send both").click()
    records = lesson.wait_for_record(before + 2)[-2:]

    slow, write = sorted(records, key=lambda r: r["at"] - r["ms"] / 1000)
    assert slow["request"]["path"] == "/lab/slow"
    assert write["request"]["path"] == "/lab/set"
    assert slow["at"] - slow["ms"] / 1000 < write["at"] - write["ms"] / 1000
    assert write["at"] < slow["at"], "the write ended while the slow read ran"
    assert [op["op"] for op in slow["operations"]] == ["get", "set"]

    stored = lesson.api("/api/store")["sessions"]
    held = [row for row in stored if row["held"]]
    assert [row["data"]["colour"] for row in held] == ["red"]

    race = lesson.panel("race")
    expect(race).to_contain_text("The two requests overlapped in time.")
    expect(race.get_by_test_id("race-held-1")).to_contain_text('"red"')
    expect(race.get_by_test_id("race-held-2")).to_contain_text('"blue"')
    expect(race.get_by_test_id("race-final")).to_contain_text('"red"')
    expect(
        page.get_by_text("Your prediction is borne out by the record")
    ).to_be_visible()


def test_with_resave_off_the_slow_read_only_touches(page):
    lesson = LessonPage(page)
    page.goto("/")
    lesson.open("options", 5)
    lesson.use_step_settings()
    lesson.send("Set colour to red")
    lesson.open("options", 7)
    lesson.use_step_settings()
    before = lesson.exchange_count()

    page.get_by_role("button", name="Send both").click()
    records = lesson.wait_for_record(before + 2)[-2:]

    slow = next(r for r in records if r["request"]["path"] == "/lab/slow")
    assert slow["settings"]["resave"] is False
    assert [op["op"] for op in slow["operations"]] == ["get", "touch"]
    expect(lesson.panel("race")).to_contain_text("The two requests overlapped in time.")
    stored = lesson.api("/api/store")["sessions"]
    held = [row["data"]["colour"] for row in stored if row["held"]]
    assert held == ["green"], "a touch must not write back the slow read's copy"
