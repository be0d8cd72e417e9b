"""Walk the bots lesson in Chromium: bursts counted in worker B's real store.

The browser's side is the consent step: what Set-Cookie the browser really
received, and which cookie it really holds.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.workerprobe import held, worker

from .conftest import BORNE_OUT, WORKER_WAIT_MS
from .pages import LessonPage, browser_cookie
from .test_quality import serious_violations

pytestmark = pytest.mark.usefixtures("patient_expect")


def yours_on_b(app, page) -> int:
    """Answer how many sessions of this learner worker B's memory holds now."""
    if worker(app, "b") is None:
        return 0
    cookie = browser_cookie(page, "lab_learner")["value"]
    return held(app, "b", cookie)["yours"]["entries"]


def test_the_bots_lesson_fills_the_store_or_not(page, live_server):
    page.set_default_timeout(WORKER_WAIT_MS)
    app = live_server.app
    lesson = LessonPage(page)
    page.goto("/")
    lesson.open("bots", 1)
    lesson.next_step()

    # saveUninitialized on: a hundred visitors, a hundred stored sessions.
    expect(page).to_have_url(re.compile(r"/lessons/bots/2$"))
    lesson.use_step_settings()
    before = yours_on_b(app, page)
    page.get_by_role("button", name="Send 100 visitors without a cookie").click()
    burst = page.get_by_test_id("bot-burst")
    expect(burst.get_by_test_id("stored")).to_have_text("100")
    after = yours_on_b(app, page)
    assert after - before == 100
    expect(burst.get_by_test_id("cookies")).to_have_text("100")
    expect(burst.get_by_test_id("yours-after")).to_have_text(str(after))
    assert serious_violations(page) == []

    # saveUninitialized off: no cookie reaches the browser before it writes.
    lesson.next_step()
    lesson.use_step_settings()
    assert browser_cookie(page, "sid") is None
    lesson.predict(
        "Only with the answer to Accept, when something was first written "
        "to the session."
    )
    count = lesson.exchange_count()
    responses = []
    page.on("response", lambda r: responses.append(r) if "/lab/" in r.url else None)
    page.get_by_role("button", name="Send both").click()
    read, accept = lesson.wait_for_record(count + 2)[-2:]
    expect(page.get_by_text(BORNE_OUT)).to_be_visible()

    assert read["request"]["path"] == "/lab/"
    assert accept["request"]["path"] == "/lab/set"
    by_path = {r.url.rsplit("/lab", 1)[1]: r for r in responses}
    assert by_path["/"].header_values("set-cookie") == []
    assert "sid=" not in (by_path["/set"].request.all_headers().get("cookie") or "")
    names = [v.split("=", 1)[0] for v in by_path["/set"].header_values("set-cookie")]
    assert names == ["sid"]
    assert browser_cookie(page, "sid") is not None
    assert read["decision"]["store_op"] == "none"
    assert accept["decision"]["store_op"] == "set"

    # The same burst with saveUninitialized off: nothing stored, no cookie.
    lesson.next_step()
    lesson.next_step()
    lesson.use_step_settings()
    before = yours_on_b(app, page)
    page.get_by_role("button", name="Send 100 visitors without a cookie").click()
    burst = page.get_by_test_id("bot-burst")
    expect(burst).to_contain_text("With saveUninitialized off")
    expect(burst.get_by_test_id("stored")).to_have_text("0")
    expect(burst.get_by_test_id("cookies")).to_have_text("0")
    assert yours_on_b(app, page) == before
    expect(burst.get_by_test_id("yours-after")).to_have_text(str(before))

    # Flask-Session keeps only the sessions that hold something.
    lesson.next_step()
    page.get_by_role("button", name="100 visitors read the page").click()
    result = page.get_by_test_id("flask-session-burst")
    expect(result).to_contain_text("read the page")
    expect(result.get_by_test_id("fs-entries")).to_have_text("0")
    expect(result.get_by_test_id("fs-cookies")).to_have_text("0")
    page.get_by_role("button", name="100 visitors press Accept").click()
    expect(result).to_contain_text("pressed Accept")
    expect(result.get_by_test_id("fs-entries")).to_have_text("100")
    expect(result.get_by_test_id("fs-cookies")).to_have_text("100")

    lesson.next_step()
    expect(page).to_have_url(re.compile(r"/lessons/bots/7$"))
