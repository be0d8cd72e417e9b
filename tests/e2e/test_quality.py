"""Keyboard use, accessibility, the origin rule and the size of a lesson page."""

from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from .pages import LessonPage

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
PAGE_BUDGET_BYTES = 100_000


def focused(page) -> dict:
    return page.evaluate(
        """() => {
            const element = document.activeElement;
            const style = getComputedStyle(element);
            return {
                text: (element.innerText || element.value || "").trim(),
                tag: element.tagName,
                outline: style.outlineStyle,
                width: parseFloat(style.outlineWidth),
            };
        }"""
    )


def tab_to(page, text: str, limit: int = 60) -> dict:
    """Press Tab until the focused element's text starts with the given text."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        if now["text"].startswith(text):
            assert now["outline"] != "none" and now["width"] >= 2, now
            return now
    raise AssertionError(f"Tab never reached {text!r}")


def test_a_lesson_works_with_tab_and_enter_alone(page):
    lesson = LessonPage(page)
    page.goto("/")

    tab_to(page, "Skip to the content")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    tab_to(page, "A session's life")
    page.keyboard.press("Enter")
    expect(page).to_have_url(lesson_url(page, "lifecycle", 1))

    tab_to(page, "Done, next step")
    page.keyboard.press("Enter")
    expect(page).to_have_url(lesson_url(page, "lifecycle", 2))
    tab_to(page, "Use this step's settings")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Applied")).to_be_visible()

    tab_to(page, "TRY The second request")
    page.keyboard.press("Enter")
    expect(page).to_have_url(lesson_url(page, "lifecycle", 5))
    tab_to(page, "Send GET /lab/")
    page.keyboard.press("Enter")
    lesson.wait_for_exchange(1)
    expect(lesson.panel("decision").get_by_test_id("set-cookie")).to_have_text("sent")

    tab_to(page, "Done, next step")
    page.keyboard.press("Enter")
    expect(page).to_have_url(lesson_url(page, "lifecycle", 6))


def lesson_url(page, lesson_id: str, number: int) -> str:
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(page.url))
    return f"{origin}/lessons/{lesson_id}/{number}"


def serious_violations(page) -> list:
    results = Axe().run(page)
    return [
        (violation["id"], violation["impact"], len(violation["nodes"]))
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_home_and_lesson_pages_pass_axe(page, viewport):
    page.set_viewport_size(viewport)
    lesson = LessonPage(page)
    page.goto("/")
    assert serious_violations(page) == []

    lesson.open("lifecycle", 2)
    lesson.use_step_settings()
    lesson.predict(
        "It makes a new session ID, saves an empty session in the store "
        "and sends Set-Cookie."
    )
    lesson.send()
    lesson.open_settings()
    assert serious_violations(page) == []

    lesson.open("options", 6)
    assert serious_violations(page) == []


def test_no_request_leaves_the_origin(page, live_server):
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    lesson = LessonPage(page)
    page.goto("/")
    lesson.open("lifecycle", 2)
    lesson.use_step_settings()
    lesson.predict(
        "It makes a new session ID, saves an empty session in the store "
        "and sends Set-Cookie."
    )
    lesson.send()
    lesson.open_settings()

    origins = {"{0.scheme}://{0.netloc}".format(urlsplit(url)) for url in requests}
    assert origins == {live_server.url}
    assert any("/panels/" in url for url in requests)


def test_the_lesson_page_is_small(page):
    responses = []
    page.on("response", lambda response: responses.append(response))
    page.goto("/lessons/lifecycle/1")
    page.wait_for_load_state("load")

    sizes = {urlsplit(r.url).path: len(r.body()) for r in responses}
    assert {"/static/lab.css", "/static/lab.js", "/static/htmx-2.0.11.min.js"} <= set(
        sizes
    )
    assert sum(sizes.values()) < PAGE_BUDGET_BYTES, sizes
