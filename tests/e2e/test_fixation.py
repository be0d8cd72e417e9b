"""Walk the fixation lesson in Chromium: a victim's browser and an attacker's.

The attacker's session is made by the lesson's demo; a second browser context
holding the attacker's cookie then reads what that cookie names, before and
after the victim logs in. The store is read from the memory store's cache.
"""

import re

from playwright.sync_api import expect

from .pages import LessonPage, browser_cookie, session_id

VISIT = "Visit as the attacker"
PLANT = "Plant the attacker's cookie in your browser"
ATTACKER_READS = "Read the session with the attacker's copy"
BORNE_OUT = "Your prediction is borne out by the record"


def fetch_json(page, path: str):
    return page.evaluate(
        """path => fetch(path, {headers: {Accept: "application/json"}})
            .then(r => r.json())""",
        path,
    )


def attacker_browser(new_context, victim_page, value: str, base: str):
    """Open the attacker's browser, holding the attacker's own sid.

    It carries the victim's lab_learner cookie as well: the lab keeps each
    learner's sessions apart under it, and this attacker attacks this learner.
    """
    learner = browser_cookie(victim_page, "lab_learner")
    attacker = new_context().new_page()
    attacker.context.add_cookies(
        [
            {**learner},
            {"name": "sid", "value": value, "url": f"{base}/lab/"},
        ]
    )
    attacker.goto(f"{base}/")
    return attacker


def plant_attackers_session(page) -> str:
    """Press the demo's two buttons; answer the cookie the attacker holds."""
    page.get_by_role("button", name=VISIT).click()
    held = page.get_by_test_id("attacker-cookie").locator("code")
    expect(held).to_be_visible()
    value = held.inner_text()

    page.get_by_role("button", name=PLANT).click()
    expect(page.get_by_test_id("planted-header")).to_contain_text(f"sid={value}")
    assert browser_cookie(page, "sid")["value"] == value
    return value


def test_fixation_fails_with_regenerate_and_works_without(
    page, new_context, live_server
):
    lesson = LessonPage(page)
    cache = live_server.app.extensions["session_lab"].stores.get("memory").cache
    page.goto("/")
    lesson.open("fixation", 2)
    lesson.use_step_settings()
    lesson.send("Visit the lab")
    own_id = session_id(browser_cookie(page, "sid")["value"])

    lesson.next_step()
    expect(page).to_have_url(re.compile(r"/lessons/fixation/3$"))
    value = plant_attackers_session(page)
    fixed_id = session_id(value)
    assert fixed_id != own_id
    key = next(
        op["key"] for op in lesson.exchanges()[-1]["operations"] if op["op"] == "set"
    )
    stored = cache.get(key)
    assert stored["theme"] == "dark" and set(stored) == {"cookie", "theme"}
    attacker = attacker_browser(new_context, page, value, live_server.url)
    assert fetch_json(attacker, "/lab/") == {"theme": "dark"}

    lesson.next_step()
    lesson.send("Visit the lab")
    record = lesson.exchanges()[-1]
    assert record["cookie_id"] == fixed_id
    assert record["operations"][0]["result"] == "hit"

    # With regenerate: the attacker's ID is destroyed at login.
    lesson.next_step()
    expect(page).to_have_url(re.compile(r"/lessons/fixation/5$"))
    lesson.predict(
        "No. The attacker's session is destroyed, and yours gets a new ID in a "
        "new Set-Cookie."
    )
    login = lesson.send("Log in as alice")
    expect(page.get_by_text(BORNE_OUT)).to_be_visible()

    record = lesson.exchanges()[-1]
    assert [(op["op"], op.get("why")) for op in record["operations"]] == [
        ("get", None),
        ("destroy", "regenerate"),
        ("set", None),
    ]
    assert key not in cache._cache
    new_value = browser_cookie(page, "sid")["value"]
    assert login.header_values("set-cookie")[0].startswith(f"sid={new_value};")
    assert session_id(new_value) not in (fixed_id, own_id)
    assert fetch_json(attacker, "/lab/") == {}

    lesson.next_step()
    page.get_by_role("button", name=ATTACKER_READS).click()
    answer = page.get_by_test_id("attacker-read-answer")
    expect(answer.locator('[data-lookup="miss"]')).to_be_visible()
    expect(answer).not_to_contain_text("alice")

    # Without regenerate: the login keeps the attacker's ID.
    lesson.next_step()
    expect(page).to_have_url(re.compile(r"/lessons/fixation/7$"))
    lesson.use_step_settings()
    value = plant_attackers_session(page)
    fixed_id = session_id(value)
    key = f"{key.rsplit(':', 1)[0]}:{fixed_id}"
    lesson.send("Visit the lab")
    assert lesson.exchanges()[-1]["cookie_id"] == fixed_id

    lesson.next_step()
    lesson.predict(
        "Yes. The user is written into the attacker's session, under the "
        "attacker's ID."
    )
    login = lesson.send("Log in as alice")
    expect(page.get_by_text(BORNE_OUT)).to_be_visible()

    assert login.header_values("set-cookie") == []
    assert browser_cookie(page, "sid")["value"] == value
    assert cache.get(key)["user"] == "alice"
    attacker.context.add_cookies(
        [{"name": "sid", "value": value, "url": f"{live_server.url}/lab/"}]
    )
    assert fetch_json(attacker, "/lab/") == {"theme": "dark", "user": "alice"}

    lesson.next_step()
    page.get_by_role("button", name=ATTACKER_READS).click()
    answer = page.get_by_test_id("attacker-read-answer")
    expect(answer.locator('[data-lookup="hit"]')).to_be_visible()
    expect(answer.get_by_test_id("second-data")).to_contain_text("alice")

    lesson.next_step()
    lesson.next_step()
    expect(page).to_have_url(re.compile(r"/#lesson-fixation$"))
    progress = page.get_by_test_id("progress-fixation")
    expect(progress).to_contain_text("predictions: 2 of 2 borne out")
