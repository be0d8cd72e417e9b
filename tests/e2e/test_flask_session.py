"""Walk the Flask-Session lesson in Chromium, holding it to the browser and store.

Every step sends the same request to both specimens. What each really did is
read three ways: the responses Chromium received, the cookies it kept
(context.cookies()), and the memory store's own SimpleCache in the served app.
"""

import re
import time

from playwright.sync_api import expect

from app.specimen.flask_interface import store_key
from app.stores import session_key

from .conftest import LAB_HOST
from .pages import LessonPage, browser_cookie, session_id
from .test_quality import serious_violations

SHORT_TTL = 30


class Both:
    """The two exchanges one Send both made, and the store they share."""

    def __init__(self, page, lesson, cache):
        self.page = page
        self.lesson = lesson
        self.cache = cache

    def send(self):
        """Press Send both; answer both responses, then both records."""
        before = self.lesson.exchange_count()
        answered = len(self.lesson.lab_responses)
        with self.page.expect_response(lambda r: "/lab-flask/" in r.url):
            self.page.get_by_role("button", name="Send both").click()
        express, flask = self.lesson.wait_for_record(before + 2)[-2:]
        assert (express["specimen"], flask["specimen"]) == ("express", "flask")
        self.lesson.wait_for_exchange(before + 2)

        compare = self.page.locator("#flask-compare")
        for side, record in (("express", express), ("flask", flask)):
            expect(compare.get_by_test_id(f"compare-{side}")).to_contain_text(
                f"Exchange {record['seq']}:"
            )
        responses = self.lesson.lab_responses[answered:]
        by_path = {r.url.split("/", 3)[3].split("/", 1)[0]: r for r in responses}
        return by_path["lab"], by_path["lab-flask"], express, flask

    def side(self, name):
        return self.page.locator("#flask-compare").get_by_test_id(f"compare-{name}")

    def flask_key(self, record) -> str:
        """Answer the store key of the Flask-Session session the browser holds."""
        held = browser_cookie(self.page, "session")["value"]
        return store_key(learner_of(record), held)

    def express_key(self, record) -> str:
        """Answer the store key of the express session the browser holds."""
        sid = browser_cookie(self.page, "sid")["value"]
        return session_key(learner_of(record), session_id(sid))

    def ttl(self, key) -> float:
        expires, _ = self.cache._cache[key]
        return expires - time.time()

    def shorten(self, key):
        assert self.cache.set(key, self.cache.get(key), timeout=SHORT_TTL)


def learner_of(record) -> str:
    """Answer the learner's ID, read from the first store key of a record."""
    return record["operations"][0]["key"].split(":")[1]


def set_cookies(response, name):
    return [h for h in response.header_values("set-cookie") if h.startswith(f"{name}=")]


def verbs(record):
    return [operation["op"] for operation in record["operations"]]


def borne_out(page):
    verdict = page.get_by_text("Your prediction is borne out by the record")
    expect(verdict).to_be_visible()


def test_the_lesson_side_by_side(page, live_server):
    lesson = LessonPage(page)
    cache = live_server.app.extensions["session_lab"].stores.get("memory").cache
    both = Both(page, lesson, cache)
    page.goto("/")
    lesson.open("flask-session", 1)
    expect(both.side("flask")).to_contain_text("No exchange with this specimen yet.")
    lesson.next_step()

    # The first request: express-session saves an empty session, Flask-Session nothing.
    lesson.use_step_settings()
    lesson.predict("It stores nothing and sends no cookie.")
    express_answer, flask_answer, express, flask = both.send()
    assert len(set_cookies(express_answer, "sid")) == 1
    assert flask_answer.header_values("set-cookie") == []
    assert browser_cookie(page, "session") is None
    assert browser_cookie(page, "sid") is not None
    assert flask["operations"] == [] and express["decision"]["store_op"] == "set"
    assert not [key for key in list(cache._cache) if ":flask:" in key]
    expect(both.side("flask").get_by_test_id("store-op")).to_have_text("none")
    borne_out(page)
    lesson.next_step()

    # A value: now Flask-Session stores the session and the browser learns its ID.
    _, flask_answer, _, flask = both.send()
    [sent] = set_cookies(flask_answer, "session")
    held = browser_cookie(page, "session")
    assert sent.startswith(f"session={held['value']};")
    assert held["path"] == "/lab-flask" and held["httpOnly"]
    key = both.flask_key(flask)
    assert cache.get(key) == {"_permanent": True, "colour": "blue"}
    expect(both.side("flask").get_by_test_id("held")).to_have_text(
        '{"_permanent": true, "colour": "blue"}'
    )
    assert serious_violations(page) == []
    lesson.next_step()

    # A read with refresh on: the store is rewritten and the cookie re-sent.
    lesson.predict(
        "It rewrites the store and sends Set-Cookie again, with a later Expires."
    )
    both.shorten(key)
    express_answer, flask_answer, express, flask = both.send()
    assert verbs(flask) == ["get", "set"]
    assert both.ttl(key) > 500
    assert len(set_cookies(flask_answer, "session")) == 1
    assert set_cookies(express_answer, "sid") == []
    assert verbs(express) == ["get", "set"]
    expect(lesson.panel("decision")).to_contain_text(
        "stored, though unmodified: SESSION_REFRESH_EACH_REQUEST is on"
    )
    borne_out(page)
    lesson.next_step()
    lesson.next_step()

    # Refresh off: express-session touches, Flask-Session only reads.
    expect(page).to_have_url(re.compile(r"/lessons/flask-session/6$"))
    lesson.use_step_settings()
    lesson.predict("It reads the session and leaves the store alone.")
    both.shorten(key)
    _, flask_answer, express, flask = both.send()
    assert verbs(flask) == ["get"] and verbs(express) == ["get", "touch"]
    assert both.ttl(key) <= SHORT_TTL
    assert flask_answer.header_values("set-cookie") == []
    borne_out(page)
    lesson.next_step()

    # The cart, then a change inside it.
    both.send()
    lesson.next_step()
    lesson.predict("It stores nothing, so the store keeps the cart with apple alone.")
    _, flask_answer, express, flask = both.send()
    assert "pear" in flask_answer.text()
    assert cache.get(key)["cart"] == ["apple"]
    assert cache.get(both.express_key(express))["cart"] == ["apple", "pear"]
    assert flask["decision"]["store_op"] == "none"
    expect(both.side("flask").get_by_test_id("held")).to_contain_text('["apple"]')
    expect(both.side("express").get_by_test_id("held")).to_contain_text(
        '["apple", "pear"]'
    )
    borne_out(page)
    lesson.next_step()

    # session.modified = True saves it; the lost pear stays lost.
    _, _, express, flask = both.send()
    assert cache.get(key)["cart"] == ["apple", "plum"]
    assert cache.get(both.express_key(express))["cart"] == ["apple", "pear", "plum"]
    lesson.next_step()

    # Log out: Flask-Session clears the cookie, express-session leaves it.
    express_answer, flask_answer, express, flask = both.send()
    [cleared] = set_cookies(flask_answer, "session")
    assert "Max-Age=0" in cleared
    assert browser_cookie(page, "session") is None
    assert set_cookies(express_answer, "sid") == []
    assert browser_cookie(page, "sid") is not None
    assert cache.get(key) is None and verbs(flask) == ["get", "destroy"]
    lesson.next_step()

    # Secure over plain HTTP: sent by Flask-Session, withheld by express-session.
    lesson.use_step_settings()
    lesson.predict(
        "It stores the session and sends Set-Cookie with Secure, over plain HTTP."
    )
    express_answer, flask_answer, express, flask = both.send()
    [sent] = set_cookies(flask_answer, "session")
    assert "Secure" in [part.strip() for part in sent.split(";")]
    assert set_cookies(express_answer, "sid") == []
    assert browser_cookie(page, "sid") is None
    kept = browser_cookie(page, "session")
    assert kept is not None and kept["secure"], "127.0.0.1 keeps a Secure cookie"
    assert cache.get(both.flask_key(flask)) == {"_permanent": True, "colour": "red"}
    note = lesson.panel("browser").locator('[data-kind="secure-over-http"]')
    expect(note).to_contain_text(
        "Flask-Session never asks whether the request is secure"
    )
    expect(note).to_contain_text("Your browser keeps it: 127.0.0.1")
    borne_out(page)

    lesson.next_step()
    lesson.next_step()
    lesson.next_step()
    expect(page).to_have_url(re.compile(r"/#lesson-flask-session$"))
    progress = page.get_by_test_id("progress-flask-session")
    expect(progress).to_contain_text("13 of 13 steps done")
    expect(progress).to_contain_text("predictions: 5 of 5 borne out")


def test_chromium_drops_flask_sessions_secure_cookie_on_another_host(page, live_server):
    lesson = LessonPage(page, base=live_server.url_on(LAB_HOST))
    both = Both(page, lesson, None)
    page.goto(live_server.url_on(LAB_HOST) + "/")
    lesson.open("flask-session", 11)
    lesson.use_step_settings()
    lesson.predict(
        "It stores the session and sends Set-Cookie with Secure, over plain HTTP."
    )

    _, flask_answer, _, flask = both.send()

    [sent] = set_cookies(flask_answer, "session")
    assert "Secure" in [part.strip() for part in sent.split(";")]
    assert browser_cookie(page, "session") is None
    assert flask["decision"]["set_cookie"] is True
    note = lesson.panel("browser").locator('[data-kind="secure-over-http"]')
    expect(note).to_contain_text(f"on {LAB_HOST}, which is not localhost")
