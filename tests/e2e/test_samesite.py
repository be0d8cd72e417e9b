"""The SameSite lesson in Chromium: another site's link, form and frame, for real.

The lab runs on http://127.0.0.1:PORT and the other site on
http://localhost:PORT, one server with two names, so every request the other
site's page makes is cross-site to Chromium. Whether a request carried the
specimen's cookie is read from the Cookie header the server recorded, and
from what Chromium says it sent; the page's table must agree with both.
"""

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from .pages import LessonPage, browser_cookie
from .test_quality import serious_violations

OTHER_SITE = re.compile(r"^http://localhost:\d+/demos/elsewhere/\?visit=")
CONTROLS = {
    "frame": ("button", "Load the lab in the frame below"),
    "link": ("link", "Follow a link to the lab"),
    "form": ("button", "Submit a form that sets colour to green"),
}


def via(record: dict) -> str | None:
    target = record["request"]["line"].split(" ")[1]
    return (parse_qs(urlsplit(target).query).get("via") or [None])[0]


def received_cookies(record: dict) -> str:
    for name, value in record["request"]["headers"]:
        if name.lower() == "cookie":
            return value
    return ""


class OtherSite:
    """The other site's page, driven as a learner drives it, and what it sent."""

    def __init__(self, page):
        self.page = page
        self.requests = []
        self.sent = {}
        page.context.on("request", self._note)

    def _note(self, request) -> None:
        if "/lab/" in request.url:
            self.requests.append(request)

    def open(self) -> None:
        self.page.get_by_test_id("open-other-site").click()
        expect(self.page).to_have_url(OTHER_SITE)
        expect(self.page.get_by_role("heading", name="Another site")).to_be_visible()

    def use(self, *kinds: str) -> None:
        """Use the controls in order, noting the Cookie header Chromium sent."""
        for kind in kinds:
            role, name = CONTROLS[kind]
            control = self.page.get_by_role(role, name=name)
            wanted = f"via={kind}"
            if kind == "frame":
                with self.page.expect_response(lambda r: wanted in r.url):
                    control.click()
                self.sent[kind] = self.cookie_sent(wanted)
                continue
            with self.page.context.expect_page() as opened:
                control.click()
            tab = opened.value
            tab.wait_for_load_state()
            expect(tab.get_by_test_id("specimen-answer")).to_be_visible()
            self.sent[kind] = self.cookie_sent(wanted)
            tab.close()

    def cookie_sent(self, wanted: str) -> str:
        request = [r for r in self.requests if wanted in r.url][-1]
        return request.all_headers().get("cookie") or ""

    def back(self) -> None:
        self.page.get_by_role("link", name="Back to the lesson").click()
        expect(self.page).to_have_url(re.compile(r"^http://127\.0\.0\.1:\d+/lessons/"))


def cookie_names(header: str) -> list[str]:
    return [part.split("=", 1)[0].strip() for part in header.split(";") if part.strip()]


def set_up(lesson: LessonPage, number: int, label: str = "Set colour to red") -> dict:
    """Apply a round's settings, set colour = red, and answer that record."""
    lesson.open("samesite", number)
    lesson.use_step_settings()
    lesson.send(label)
    return lesson.exchanges()[-1]


def check_round(lesson: LessonPage, site: OtherSite, label: str, expected: dict):
    """Hold each kind's latest arrival to the record, to Chromium and to the table."""
    records = lesson.exchanges()
    row = lesson.page.get_by_test_id("arrivals-table").locator(
        f'tr[data-same-site="{label}"]'
    )
    for kind, carried in expected.items():
        record = [r for r in records if via(r) == kind][-1]
        assert ("sid" in cookie_names(received_cookies(record))) is carried, kind
        assert ("sid" in cookie_names(site.sent[kind])) is carried, kind
        cell = row.locator(f'td[data-kind="{kind}"]')
        expect(cell).to_have_attribute("data-carried", "yes" if carried else "no")
        expect(cell).to_contain_text(f"exchange {record['seq']}")
    return {kind: [r for r in records if via(r) == kind][-1] for kind in expected}


def test_lax_keeps_the_cookie_off_another_site_s_post_and_frame(page):
    lesson = LessonPage(page)
    page.goto("/")
    red = set_up(lesson, 2)
    assert browser_cookie(page, "sid")["sameSite"] == "Lax"

    lesson.open("samesite", 3)
    lesson.predict("No. A POST from another site does not carry a Lax cookie.")
    site = OtherSite(page)
    site.open()
    site.use("form")
    site.back()

    form = [r for r in lesson.exchanges() if via(r) == "form"][-1]
    assert cookie_names(received_cookies(form)) == []
    assert form["visit"] is True
    assert form["session_id"] != red["session_id"]
    assert form["decision"]["store_op"] == "set"
    planted = [v for k, v in form["response"]["headers"] if k.lower() == "set-cookie"]
    assert planted and "SameSite=Lax" in planted[0]
    # Chromium keeps a cookie set by the answer to a cross-site navigation.
    assert planted[0].startswith(f"sid={browser_cookie(page, 'sid')['value']};")
    expect(
        page.get_by_text("Your prediction is borne out by the record")
    ).to_be_visible()

    lesson.next_step()
    expect(page).to_have_url(re.compile(r"/lessons/samesite/4$"))
    site.open()
    site.use("frame", "link", "form")
    site.back()

    found = check_round(
        lesson, site, "Lax", {"frame": False, "link": True, "form": False}
    )
    assert "lab_learner" in cookie_names(received_cookies(found["link"]))
    assert "visit" not in found["link"]
    for kind in ("frame", "form"):
        assert "lab_learner" not in cookie_names(received_cookies(found[kind]))
        assert found[kind]["visit"] is True
    assert dict(found["link"]["request"]["headers"])["Sec-Fetch-Site"] == "cross-site"


def test_strict_keeps_the_cookie_off_even_a_link(page):
    lesson = LessonPage(page)
    page.goto("/")
    set_up(lesson, 5)
    assert browser_cookie(page, "sid")["sameSite"] == "Strict"

    lesson.open("samesite", 6)
    lesson.predict("No. Strict keeps the cookie off every cross-site request.")
    site = OtherSite(page)
    site.open()
    site.use("link")
    site.back()

    expect(
        page.get_by_text("Your prediction is borne out by the record")
    ).to_be_visible()
    lesson.next_step()
    site.open()
    site.use("frame", "form")
    site.back()

    found = check_round(
        lesson, site, "Strict", {"frame": False, "link": False, "form": False}
    )
    assert "lab_learner" in cookie_names(received_cookies(found["link"]))


def test_none_goes_with_the_link_and_the_form_and_the_forgery_works(page):
    lesson = LessonPage(page)
    page.goto("/")
    red = set_up(lesson, 8, "Set colour to red, as if over HTTPS")
    held = browser_cookie(page, "sid")
    assert held["sameSite"] == "None" and held["secure"]

    site = OtherSite(page)
    site.open()
    site.use("frame", "link", "form")
    site.back()

    # SameSite=None allows the frame too, but this Chromium blocks third-party
    # cookies by default; the next test allows them.
    check_round(lesson, site, "None", {"frame": False, "link": True, "form": True})
    stored = lesson.api("/api/store")["sessions"]
    mine = [row for row in stored if row["id"] == red["session_id"]]
    assert [row["data"]["colour"] for row in mine] == ["green"]
    assert mine[0]["held"]


@pytest.fixture
def open_browser(browser_type, browser_type_launch_args, live_server, tmp_path):
    """A Chromium profile whose settings allow third-party cookies."""
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    # CookieControlsMode 0: third-party cookies are not blocked.
    preferences = {"profile": {"cookie_controls_mode": 0}}
    (profile / "Default" / "Preferences").write_text(json.dumps(preferences))
    context = browser_type.launch_persistent_context(
        str(profile), base_url=live_server.url, **browser_type_launch_args
    )
    yield context
    context.close()


def test_none_reaches_a_frame_when_third_party_cookies_are_allowed(open_browser):
    page = open_browser.new_page()
    lesson = LessonPage(page)
    page.goto("/")
    set_up(lesson, 8, "Set colour to red, as if over HTTPS")

    site = OtherSite(page)
    site.open()
    site.use("frame")
    site.back()

    found = check_round(lesson, site, "None", {"frame": True})
    assert found["frame"]["visit"] is True
    assert "lab_learner" not in cookie_names(received_cookies(found["frame"]))


def test_without_samesite_chromium_treats_it_as_lax_but_lets_a_fresh_one_post(page):
    lesson = LessonPage(page)
    page.goto("/")
    made = set_up(lesson, 9)
    assert not any(
        "samesite" in value.lower()
        for name, value in made["response"]["headers"]
        if name.lower() == "set-cookie"
    )

    site = OtherSite(page)
    site.open()
    site.use("frame", "link", "form")
    site.back()

    found = check_round(
        lesson, site, "not set", {"frame": False, "link": True, "form": True}
    )
    age = found["form"]["at"] - made["at"]
    assert age < 120, "the Lax+POST exception holds for two minutes"
    seq = found["form"]["seq"]
    arrival = page.locator(f'[data-testid="arrival"][data-seq="{seq}"]')
    expect(arrival).to_contain_text("SameSite not set")


def test_the_other_site_page_sets_no_cookie_and_allows_only_the_lab(page, live_server):
    lesson = LessonPage(page)
    page.goto("/")
    lesson.open("samesite", 4)
    with page.expect_response(OTHER_SITE) as answer:
        page.get_by_test_id("open-other-site").click()

    response = answer.value
    policy = response.header_value("content-security-policy")
    assert "script-src" not in policy and "default-src 'none'" in policy
    assert f"form-action {live_server.url}" in policy
    assert f"frame-src {live_server.url}" in policy
    assert response.header_values("set-cookie") == []
    assert not [c for c in page.context.cookies() if c["domain"] == "localhost"]


def test_the_other_site_and_the_arrivals_pass_axe(page):
    lesson = LessonPage(page)
    page.goto("/")
    set_up(lesson, 2)
    lesson.open("samesite", 4)
    site = OtherSite(page)
    site.open()
    site.use("frame")

    assert serious_violations(page) == []
    site.back()
    expect(page.get_by_test_id("arrivals-table")).to_be_visible()
    assert serious_violations(page) == []


def test_every_step_opens_and_the_lesson_can_be_finished(page):
    lesson = LessonPage(page)
    page.goto("/")
    lesson.open("samesite", 1)

    for number in range(1, 11):
        expect(page).to_have_url(re.compile(rf"/lessons/samesite/{number}$"))
        lesson.next_step()

    expect(page).to_have_url(re.compile(r"/#lesson-samesite$"))
    progress = page.get_by_test_id("progress-samesite")
    expect(progress).to_contain_text("10 of 10 steps done")
