"""Walk the cookie lesson in Chromium and hold its demos to what the browser did.

The truth is the browser's: the Cookie headers it sent, the Set-Cookie
headers it received and the cookies it holds (context.cookies()).
"""

import json
import re

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from app.specimen import cookie

from .pages import LessonPage, browser_cookie, cookie_value

LIMIT = cookie.BROWSER_LIMIT


def go_to(lesson: LessonPage, number: int) -> None:
    lesson.next_step()
    expect(lesson.page).to_have_url(re.compile(rf"/lessons/cookie/{number}$"))


def borne_out(page) -> None:
    expect(
        page.get_by_text("Your prediction is borne out by the record")
    ).to_be_visible()


def serious_violations(page) -> list:
    results = Axe().run(page)
    return [
        (violation["id"], len(violation["nodes"]))
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def held(page) -> str | None:
    found = browser_cookie(page, "sid")
    return None if found is None else found["value"]


def test_read_tamper_and_outgrow_the_cookie(page):
    lesson = LessonPage(page)
    page.goto("/")
    lesson.open("cookie", 1)
    lesson.use_step_settings()
    lesson.predict("No Set-Cookie at all.")
    first = lesson.send()
    assert first.header_values("set-cookie") == []
    assert held(page) is None
    borne_out(page)

    go_to(lesson, 2)
    written = lesson.send("Set colour to blue")
    (header,) = written.header_values("set-cookie")
    name, value = cookie_value(header)
    assert (name, held(page)) == ("sid", value)
    expect(lesson.panel("store")).to_contain_text("the session is the sid cookie")

    # The page's script decodes the held cookie; the server sent no JSON.
    go_to(lesson, 3)
    record = lesson.exchanges()[-1]
    assert record["cookie"]["sent"]["raw"] == value
    decoded = page.get_by_test_id("decoded-in-page")
    expect(decoded).to_have_text(record["cookie"]["sent"]["json"])
    assert json.loads(decoded.inner_text()) == {"colour": "blue"}

    go_to(lesson, 4)
    page.get_by_role("button", name="Change one character of my cookie").click()
    tampered = page.get_by_test_id("tampered-json")
    expect(tampered).not_to_have_text('{"colour":"blue"}')
    changed = held(page)
    assert changed != value and changed.split(".", 1)[1] == value.split(".", 1)[1]
    lesson.predict(
        "It finds the signature does not match, ignores the cookie and starts "
        "a new empty session, without an error."
    )
    refused = lesson.send()
    assert f"sid={changed}" in refused.request.all_headers()["cookie"]
    assert refused.header_values("set-cookie") == []
    expect(page.get_by_test_id("result-1")).to_contain_text("holds no data")
    received = lesson.exchanges()[-1]["cookie"]["received"]
    assert (received["raw"], received["verified"]) == (changed, False)
    expect(lesson.panel("cookie").get_by_test_id("received-verified")).to_contain_text(
        "no: signature invalid for every secret"
    )
    borne_out(page)

    go_to(lesson, 5)
    go_to(lesson, 6)
    lesson.use_step_settings()
    assert held(page) is None
    sizes = []
    for number in (1, 2, 3):
        response = lesson.send(f"Add note-{number}: 1,000 random characters")
        if number > 1:
            sent = response.request.all_headers()["cookie"]
            record = lesson.exchanges()[-1]
            assert record["cookie"]["size"]["cookie_header"] == len(sent)
            sizes.append(len(sent))
            row = page.locator(f'tr[data-seq="{record["seq"]}"]')
            expect(row.locator('[data-cell="cookie-header"]')).to_have_text(
                str(len(sent))
            )
    assert sizes[0] + 900 < sizes[1]
    kept = held(page)

    too_big = lesson.send("Add note-4: 1,000 random characters")
    (header,) = too_big.header_values("set-cookie")
    name, big = cookie_value(header)
    assert len(name) + len(big) > LIMIT
    expect(page.get_by_test_id("size-answer")).to_contain_text("note-4")
    # Chromium ignored that Set-Cookie: it still holds the cookie it had.
    assert held(page) == kept
    assert all(c["value"] != big for c in page.context.cookies())
    over = lesson.exchanges()[-1]
    row = page.locator(f'tr[data-seq="{over["seq"]}"]')
    expect(row).to_contain_text(f"{len(name) + len(big)} over {LIMIT}")

    after = lesson.send()
    sent = after.request.all_headers()["cookie"]
    assert f"sid={kept}" in sent and big not in sent
    result = page.get_by_test_id("result-1")
    expect(result).to_contain_text("note-3")
    expect(result).not_to_contain_text("note-4")
    carried = lesson.exchanges()[-1]
    assert carried["cookie"]["received"]["raw"] == kept
    assert carried["cookie"]["size"]["cookie_header"] == len(sent)
    expect(
        page.locator(f'tr[data-seq="{carried["seq"]}"] [data-cell="carried"]')
    ).to_contain_text(f"not the one exchange {over['seq']} set")
    assert serious_violations(page) == []


def test_crack_keyboard_cat_and_forge_an_admin(page):
    lesson = LessonPage(page)
    page.goto("/")
    lesson.open("cookie", 8)
    lesson.use_step_settings()
    assert lesson.api("/api/settings")["secrets"] == ["keyboard cat"]
    lesson.send("Log in as alice")

    go_to(lesson, 9)
    mine = lesson.send()
    own = held(page)
    assert f"sid={own}" in mine.request.all_headers()["cookie"]
    page.get_by_role("button", name="Try the word list on my cookie").click()
    expect(page.get_by_test_id("cracked-secret")).to_have_text("keyboard cat")
    words = cookie.common_secrets()
    expect(page.get_by_test_id("cracked-guesses")).to_have_text(
        str(words.index("keyboard cat") + 1)
    )
    expect(page.get_by_test_id("word-count")).to_have_text(str(len(words)))
    expect(page.get_by_test_id("crack-answer")).to_contain_text(own)

    go_to(lesson, 10)
    page.get_by_role("button", name="Forge my cookie").click()
    expect(page.get_by_test_id("forged-data")).to_have_text('{"user": "admin"}')
    forged = held(page)
    assert forged != own
    assert cookie.signing_serializer(["keyboard cat"]).loads(forged) == {
        "user": "admin"
    }
    lesson.predict("It accepts it, and the session says user = admin.")
    accepted = lesson.send()

    assert f"sid={forged}" in accepted.request.all_headers()["cookie"]
    result = page.get_by_test_id("result-1")
    expect(result.locator("dt")).to_have_text(["user"])
    expect(result.locator("dd")).to_have_text(["admin"])
    record = lesson.exchanges()[-1]
    received = record["cookie"]["received"]
    assert (received["raw"], received["verified"]) == (forged, True)
    assert received["data"] == {"user": "admin"}
    assert "secret 1, the current key, verified it" in record["decision"]["reasons"][0]
    expect(lesson.panel("store")).to_contain_text("admin")
    borne_out(page)
    assert serious_violations(page) == []


def test_rotation_keeps_the_old_cookie_until_its_secret_goes(page):
    lesson = LessonPage(page)
    page.goto("/")
    lesson.open("cookie", 12)
    lesson.use_step_settings()
    lesson.send("Set colour to green")
    signed_old = held(page)
    assert cookie.signing_serializer(["old"]).loads(signed_old) == {"colour": "green"}

    go_to(lesson, 13)
    lesson.use_step_settings()
    lesson.predict("Yes. Every secret in the list verifies, so old still does.")
    kept = lesson.send()
    assert kept.header_values("set-cookie") == []
    expect(page.get_by_test_id("result-1")).to_contain_text("green")
    received = lesson.exchanges()[-1]["cookie"]["received"]
    assert (received["raw"], received["secret_index"]) == (signed_old, 1)
    expect(lesson.panel("cookie").get_by_test_id("received-verified")).to_contain_text(
        "yes, with secret 2 of 2"
    )
    borne_out(page)

    go_to(lesson, 14)
    go_to(lesson, 15)
    lesson.use_step_settings()
    lesson.predict("It is refused and the server starts a new empty session.")
    lesson.send()
    expect(page.get_by_test_id("result-1")).to_contain_text("holds no data")
    received = lesson.exchanges()[-1]["cookie"]["received"]
    assert (received["raw"], received["verified"]) == (signed_old, False)
    assert held(page) == signed_old
    borne_out(page)

    go_to(lesson, 16)
    lesson.next_step()
    progress = page.get_by_test_id("progress-cookie")
    # This walk began at step 12: five steps done, both its predictions right.
    expect(progress).to_contain_text("5 of 16 steps done")
    expect(progress).to_contain_text("predictions: 2 of 2 borne out")


def test_the_page_unzips_a_compressed_cookie_without_the_secret(page):
    lesson = LessonPage(page)
    page.goto("/")
    lesson.open("cookie", 1)
    lesson.use_step_settings()
    page.evaluate(
        """() => fetch("/lab/set", {
            method: "POST",
            body: new URLSearchParams({key: "note", value: "la ".repeat(400)}),
        })"""
    )
    record = lesson.wait_for_record(1)[-1]
    sent = record["cookie"]["sent"]
    assert sent["compressed"] is True and sent["raw"] == held(page)

    lesson.open("cookie", 3)
    expect(page.get_by_test_id("decoded-in-page")).to_have_text(sent["json"])
    assert json.loads(sent["json"]) == {"note": "la " * 400}
