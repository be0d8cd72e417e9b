"""Walk the lifecycle lesson in Chromium and hold every panel to the truth.

The truth is what the browser really did: the Set-Cookie headers it received,
the Cookie headers it sent and the cookies it holds (context.cookies()).
"""

import re

from playwright.sync_api import expect

from .pages import LessonPage, browser_cookie, cookie_value, session_id


def header(record: dict, name: str) -> str | None:
    for key, value in record["request"]["headers"]:
        if key.lower() == name:
            return value
    return None


def test_the_first_and_second_request_as_the_browser_saw_them(page):
    lesson = LessonPage(page)
    page.goto("/")
    lesson.open("lifecycle", 1)
    lesson.next_step()
    expect(page).to_have_url(re.compile(r"/lessons/lifecycle/2$"))

    lesson.use_step_settings()
    lesson.predict(
        "It makes a new session ID, saves an empty session in the store "
        "and sends Set-Cookie."
    )
    first = lesson.send()

    # The browser sent no sid and received exactly one Set-Cookie for it.
    assert "sid=" not in (first.request.all_headers().get("cookie") or "")
    received = first.header_values("set-cookie")
    assert len(received) == 1
    name, value = cookie_value(received[0])
    assert name == "sid"
    held = browser_cookie(page, "sid")
    assert held is not None and held["value"] == value
    assert held["httpOnly"] and held["path"] == "/lab"
    new_id = session_id(value)

    headers = lesson.panel("headers")
    expect(headers.locator("tr.hl", has_text="Set-Cookie")).to_contain_text(value)
    attribute = headers.get_by_role("button", name="HttpOnly", exact=True)
    attribute.focus()
    expect(headers.get_by_role("tooltip")).to_contain_text(
        "HttpOnly: page scripts cannot read it through document.cookie"
    )
    expect(lesson.panel("sequence")).to_contain_text("no sid cookie")
    expect(lesson.panel("cookie").get_by_test_id("sent-id")).to_have_text(new_id)
    expect(lesson.panel("decision").get_by_test_id("store-op")).to_have_text("set")
    expect(lesson.panel("decision").get_by_test_id("set-cookie")).to_have_text("sent")
    session = lesson.panel("store").locator(f'[data-session-id="{new_id}"]')
    expect(session).to_contain_text("your browser holds this one")
    expect(
        page.get_by_text("Your prediction is borne out by the record")
    ).to_be_visible()

    # HttpOnly: the page's scripts see nothing, though the server got a cookie.
    assert page.evaluate("document.cookie") == ""
    browser_panel = lesson.panel("browser")
    expect(browser_panel.get_by_test_id("document-cookie")).to_contain_text("nothing")
    learner = browser_cookie(page, "lab_learner")
    expect(browser_panel.get_by_test_id("server-received")).to_contain_text(
        "the studio's own cookie, value masked"
    )
    expect(headers).not_to_contain_text(learner["value"])

    lesson.next_step()
    lesson.next_step()
    lesson.next_step()
    expect(page).to_have_url(re.compile(r"/lessons/lifecycle/5$"))
    second = lesson.send()

    sent = second.request.all_headers()["cookie"]
    assert f"sid={value}" in sent
    assert second.header_values("set-cookie") == []
    record = lesson.exchanges()[-1]
    assert header(record, "cookie") == sent
    assert [op["op"] for op in record["operations"]] == ["get", "set"]
    assert record["operations"][0]["result"] == "hit"

    expect(headers.locator("tr.hl", has_text="Cookie")).to_contain_text(value)
    expect(lesson.panel("sequence")).to_contain_text("signature verified")
    expect(lesson.panel("sequence").get_by_text("hit", exact=True)).to_be_visible()
    anatomy = lesson.panel("cookie")
    expect(anatomy.get_by_test_id("received-id")).to_have_text(new_id)
    expect(anatomy.get_by_test_id("received-verified")).to_contain_text(
        "yes, with secret 1"
    )
    expect(lesson.panel("decision")).to_contain_text("saved, though unmodified")
    expect(headers).to_contain_text("No Set-Cookie for sid in this response.")

    lesson.next_step()
    lesson.next_step()
    expect(page).to_have_url(re.compile(r"/lessons/lifecycle/7$"))
    lesson.predict(
        "No. The store is written, but the browser already holds the right ID."
    )
    third = lesson.send("Set colour to blue")

    assert third.header_values("set-cookie") == []
    assert browser_cookie(page, "sid")["value"] == value
    expect(session.locator("dd")).to_have_text('"blue"')
    stored = lesson.api("/api/store")["sessions"]
    assert [(row["id"], row["data"]["colour"]) for row in stored] == [(new_id, "blue")]
    expect(
        page.get_by_text("Your prediction is borne out by the record")
    ).to_be_visible()

    lesson.next_step()
    lesson.next_step()
    expect(page).to_have_url(re.compile(r"/#lesson-lifecycle$"))
    progress = page.get_by_test_id("progress-lifecycle")
    expect(progress).to_contain_text("8 of 8 steps done")
    expect(progress).to_contain_text("predictions: 2 of 2 borne out")


def test_save_uninitialized_off_sends_no_cookie(page):
    lesson = LessonPage(page)
    page.goto("/")
    lesson.open("lifecycle", 5)
    lesson.change_setting("saveUninitialized", on=False)

    response = lesson.send()

    assert response.header_values("set-cookie") == []
    assert browser_cookie(page, "sid") is None
    record = lesson.exchanges()[-1]
    assert record["settings"]["save_uninitialized"] is False
    assert record["operations"] == []
    expect(lesson.panel("decision")).to_contain_text("saveUninitialized is off")
    expect(lesson.panel("decision").get_by_test_id("set-cookie")).to_have_text("none")
    expect(lesson.panel("store").get_by_test_id("store-empty")).to_be_visible()
    expect(lesson.panel("sequence")).to_contain_text("no Set-Cookie")
