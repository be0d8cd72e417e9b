"""Walk the hijacking lesson in Chromium, with a second browser as the thief.

The truth is what the browsers and the store really hold: context.cookies()
for each browser, document.cookie in the page, and the memory store's own
cache, read in this process.
"""

import re
import time

from playwright.sync_api import expect

from .conftest import LiveServer
from .pages import LessonPage, browser_cookie, session_id

ATTACKER_EMAIL = "mallory@attacker.example"
READ_AS_SECOND = "Read the session as the second client"
EXPIRY_WAIT_SECONDS = 40


def fetch_json(page, path: str, method: str = "GET", form: dict | None = None):
    """Send a lab request from inside the page, as that browser, and answer its JSON."""
    return page.evaluate(
        """([path, method, form]) => fetch(path, {
            method,
            headers: {Accept: "application/json"},
            body: form ? new URLSearchParams(form) : undefined,
        }).then(r => r.json())""",
        [path, method, form],
    )


def second_browser(new_context, base: str):
    """Open a second browser on the studio's origin, holding no cookie yet.

    A static file needs no learner, so the page makes none of its own.
    """
    thief = new_context().new_page()
    thief.goto(f"{base}/static/lab.css")
    return thief


def log_in(lesson: LessonPage, number: int) -> dict:
    lesson.open("hijacking", number)
    lesson.use_step_settings()
    lesson.send("Log in as alice")
    held = browser_cookie(lesson.page, "sid")
    assert held is not None
    return held


def record_header(record: dict, name: str) -> str | None:
    for key, value in record["request"]["headers"]:
        if key.lower() == name:
            return value
    return None


def test_a_second_browser_with_the_cookies_is_the_learner(
    page, new_context, live_server
):
    lesson = LessonPage(page)
    page.goto("/")
    victim_cookie = log_in(lesson, 2)

    # A real second browser, given every cookie the first one holds.
    thief = second_browser(new_context, live_server.url)
    thief.context.add_cookies(page.context.cookies())
    assert browser_cookie(thief, "sid")["value"] == victim_cookie["value"]
    assert fetch_json(thief, "/lab/") == {"user": "alice"}
    form = {"key": "email", "value": ATTACKER_EMAIL}
    written = fetch_json(thief, "/lab/set", "POST", form)
    assert written == {"user": "alice", "email": ATTACKER_EMAIL}

    record = lesson.exchanges()[-1]
    assert f"sid={victim_cookie['value']}" in record_header(record, "cookie")
    assert record["cookie_id"] == session_id(victim_cookie["value"])

    lesson.open("hijacking", 4)
    lesson.predict(
        "user alice and email mallory@attacker.example. There is one session, "
        "and both clients are in it."
    )
    lesson.send("Read your session")

    expect(
        page.get_by_text("Your prediction is borne out by the record")
    ).to_be_visible()
    stored = lesson.api("/api/store")["sessions"]
    held = [row for row in stored if row["held"]]
    assert [row["id"] for row in held] == [session_id(victim_cookie["value"])]
    assert held[0]["data"]["user"] == "alice"
    assert held[0]["data"]["email"] == ATTACKER_EMAIL


def test_the_demo_second_client_reads_and_writes_the_session(page):
    lesson = LessonPage(page)
    page.goto("/")
    victim_cookie = log_in(lesson, 2)
    lesson.next_step()
    expect(page).to_have_url(re.compile(r"/lessons/hijacking/3$"))

    copied = page.get_by_test_id("stolen-copied")
    expect(copied).to_have_text(f"sid={victim_cookie['value']}")
    before = lesson.exchange_count()
    page.get_by_role("button", name=READ_AS_SECOND).click()
    answer = page.get_by_test_id("stolen-answer")
    expect(answer.get_by_test_id("second-data")).to_contain_text("alice")
    lesson.wait_for_exchange(before + 1)

    record = lesson.exchanges()[-1]
    assert record_header(record, "x-lab-client") == "second-client"
    assert f"sid={victim_cookie['value']}" in record_header(record, "cookie")
    assert record["operations"][0]["result"] == "hit"
    expect(lesson.panel("headers")).to_contain_text("SessionLab-SecondClient")

    page.get_by_role("button", name="Set email as the second client").click()
    expect(answer).to_contain_text(ATTACKER_EMAIL)
    assert fetch_json(page, "/lab/") == {"user": "alice", "email": ATTACKER_EMAIL}

    page.locator("summary", has_text="Do it yourself from a terminal").click()
    page.get_by_role("button", name="Show the curl command").click()
    learner = browser_cookie(page, "lab_learner")["value"]
    command = page.get_by_test_id("stolen-command")
    both = f"lab_learner={learner}; sid={victim_cookie['value']}"
    expect(command).to_contain_text(both)


def test_the_injected_script_gets_nothing_with_http_only(page):
    lesson = LessonPage(page)
    page.goto("/")
    held = log_in(lesson, 5)
    assert held["httpOnly"] and held["path"] == "/"
    before = lesson.exchange_count()

    page.get_by_role("button", name="Run the injected script").click()

    loot = page.get_by_test_id("loot")
    expect(loot.get_by_test_id("loot-verdict")).to_contain_text("Nothing of sid")
    seen = page.evaluate("document.cookie")
    assert "sid=" not in seen
    read = page.get_by_test_id("injected-read")
    expect(read).to_have_text(seen or re.compile("^an empty string"))
    why = loot.get_by_test_id("loot-why")
    expect(why).to_contain_text("with the HttpOnly attribute")
    expect(why).to_contain_text("it did, with the script's")
    assert lesson.exchange_count() == before, "there was nothing to replay"


def test_the_injected_script_takes_the_cookie_without_http_only(page):
    lesson = LessonPage(page)
    page.goto("/")
    held = log_in(lesson, 6)
    assert not held["httpOnly"] and held["path"] == "/"
    before = lesson.exchange_count()

    page.get_by_role("button", name="Run the injected script").click()

    loot = page.get_by_test_id("loot")
    expect(loot.get_by_test_id("loot-verdict")).to_contain_text("The script found sid")
    assert f"sid={held['value']}" in page.evaluate("document.cookie")
    expect(page.get_by_test_id("injected-read")).to_contain_text(f"sid={held['value']}")
    expect(loot.get_by_test_id("loot-received")).to_contain_text(f"sid={held['value']}")
    expect(loot.get_by_test_id("second-data")).to_contain_text("alice")

    records = lesson.wait_for_record(before + 1)
    replay = records[-1]
    assert record_header(replay, "x-lab-client") == "second-client"
    assert f"sid={held['value']}" in record_header(replay, "cookie")
    assert [op["result"] for op in replay["operations"] if op["op"] == "get"] == ["hit"]
    expect(
        lesson.panel("browser").get_by_test_id("document-cookie")
    ).to_contain_text(f"sid={held['value']}")


def test_rolling_pushes_the_active_users_cookie(page):
    lesson = LessonPage(page)
    page.goto("/")
    first = log_in(lesson, 8)
    assert first["expires"] > time.time()

    lesson.next_step()
    expect(page).to_have_url(re.compile(r"/lessons/hijacking/9$"))
    lesson.predict(
        "No Set-Cookie. Your cookie keeps the Expires of the login, though the "
        "store's copy gets a fresh 300 seconds."
    )
    read = lesson.send("Read your session")

    assert read.header_values("set-cookie") == []
    assert browser_cookie(page, "sid")["expires"] == first["expires"]
    operations = lesson.exchanges()[-1]["operations"]
    ops = [(op["op"], op.get("ttl")) for op in operations]
    assert ops == [("get", None), ("set", 300)]
    expect(
        page.get_by_text("Your prediction is borne out by the record")
    ).to_be_visible()

    lesson.next_step()
    lesson.use_step_settings()
    # Expires counts whole seconds: let one pass so a push can show.
    page.wait_for_timeout(1100)
    rolled = lesson.send("Read your session")

    assert len(rolled.header_values("set-cookie")) == 1
    pushed = browser_cookie(page, "sid")
    assert pushed["value"] == first["value"]
    assert pushed["expires"] > first["expires"]


def test_logging_out_kills_every_copy(page, live_server):
    lesson = LessonPage(page)
    page.goto("/")
    log_in(lesson, 2)
    lesson.open("hijacking", 12)
    page.get_by_role("button", name=READ_AS_SECOND).click()
    answer = page.get_by_test_id("stolen-answer")
    expect(answer.get_by_test_id("second-data")).to_contain_text("alice")
    key = lesson.exchanges()[-1]["operations"][0]["key"]
    cache = live_server.app.extensions["session_lab"].stores.get("memory").cache
    assert cache.get(key)["user"] == "alice"

    lesson.send("Log out")
    assert key not in cache._cache
    page.get_by_role("button", name=READ_AS_SECOND).click()

    expect(answer.locator('[data-lookup="miss"]')).to_be_visible()
    expect(answer.get_by_test_id("second-data")).to_have_text(
        "The specimen answered with an empty session."
    )


def memory_entry(server: LiveServer, key: str):
    """Answer the memory store's (expires at, pickled session) for the key."""
    cache = server.app.extensions["session_lab"].stores.get("memory").cache
    return cache, cache._cache.get(key)


def test_a_stolen_cookie_stops_working_when_the_store_entry_expires(
    page, new_context, live_server
):
    lesson = LessonPage(page)
    thief = second_browser(new_context, live_server.url)
    page.goto("/")
    held = log_in(lesson, 13)

    # The thief's copy has no Expires: a client that ignores it, as curl does.
    # It is used at once, well inside the session's 15 seconds.
    thief.context.add_cookies([{**c, "expires": -1} for c in page.context.cookies()])
    login = lesson.exchanges()[-1]
    key = next(op["key"] for op in login["operations"] if op["op"] == "set")
    cache, _ = memory_entry(live_server, key)
    assert fetch_json(thief, "/lab/") == {"user": "alice"}
    assert login["settings"]["max_age"] == 15

    # The thief's read gave the session 15 more seconds in the store.
    used = lesson.exchanges()[-1]
    assert [(op["op"], op["key"], op.get("ttl")) for op in used["operations"]] == [
        ("get", key, None),
        ("set", key, 15),
    ]

    # Wait on the store itself, not on a clock of the test's own.
    deadline = time.monotonic() + EXPIRY_WAIT_SECONDS
    while cache.get(key) is not None:
        assert time.monotonic() < deadline, "the store entry never expired"
        page.wait_for_timeout(250)

    # SimpleCache keeps an expired entry's bytes until it prunes, but answers
    # it as absent, and that answer is what the specimen's lookup gets.
    _, (expired_at, _) = memory_entry(live_server, key)
    assert expired_at <= time.time()
    assert browser_cookie(page, "sid") is None, "the victim's browser let it go too"
    assert browser_cookie(thief, "sid")["value"] == held["value"]
    assert fetch_json(thief, "/lab/") == {}
    after = lesson.exchanges()[-1]
    assert after["cookie"]["verified"], "the signature still verifies"
    assert [op["result"] for op in after["operations"] if op["op"] == "get"] == ["miss"]
    assert after["decision"]["store_op"] == "none", "saveUninitialized is off"

    page.get_by_role("button", name=READ_AS_SECOND).click()
    answer = page.get_by_test_id("stolen-answer")
    expect(answer.locator('[data-lookup="miss"]')).to_be_visible()
    expect(lesson.panel("store").get_by_test_id("store-empty")).to_be_visible()
