"""Walk the memory lesson in Chromium against real worker processes.

The truth is what the workers' own memory holds, asked on their own ports,
what the browser sent and holds, and which processes really ran.
"""

import re
import time

import pytest
from playwright.sync_api import expect

from tests.workerprobe import alive, held, is_worker_process, worker

from .conftest import BORNE_OUT, WORKER_WAIT_MS
from .pages import LessonPage, browser_cookie, session_id
from .test_quality import serious_violations

pytestmark = pytest.mark.usefixtures("patient_expect")


def learner_cookie(page) -> str:
    return browser_cookie(page, "lab_learner")["value"]


def held_id(page) -> str:
    return session_id(browser_cookie(page, "sid")["value"])


def click_for_exchange(lesson: LessonPage, name: str) -> dict:
    """Press a demo button that sends a lab request; answer its record."""
    before = lesson.exchange_count()
    with lesson.page.expect_response(lambda r: "/lab/" in r.url):
        lesson.page.get_by_role("button", name=name, exact=True).click()
    lesson.wait_for_exchange(before + 1)
    return lesson.exchanges()[-1]


def test_the_memory_lesson_restarts_a_worker_and_shows_two(page, live_server):
    page.set_default_timeout(WORKER_WAIT_MS)
    app = live_server.app
    lesson = LessonPage(page)
    page.goto("/")
    lesson.open("memory", 1)
    lesson.next_step()

    # A session on worker A, served by a process that is not the studio.
    expect(page).to_have_url(re.compile(r"/lessons/memory/2$"))
    lesson.use_step_settings()
    lesson.send("Set colour to blue on worker A")
    record = lesson.exchanges()[-1]
    first_a = worker(app, "a")
    assert record["worker"] == "a" and record["pid"] == first_a.pid
    assert is_worker_process(first_a.pid)
    expect(lesson.panel("sequence").get_by_test_id("served-by")).to_have_text(
        f"Served by worker A, process {first_a.pid}"
    )
    blue = held_id(page)
    truth = held(app, "a", learner_cookie(page), blue)
    assert truth["session"]["data"]["colour"] == "blue"

    # The restart really replaces the process and empties its memory.
    lesson.next_step()
    box = page.get_by_test_id("worker-a")
    expect(box.get_by_test_id("worker-pid")).to_have_text(str(first_a.pid))
    expect(box.get_by_test_id("held-state")).to_contain_text(blue)
    expect(page.get_by_text("for everyone using this demo")).to_be_visible()
    page.get_by_role("button", name="Restart worker A").click()
    restarted = page.get_by_test_id("restarted")
    expect(restarted).to_be_visible()
    second_a = worker(app, "a")
    expect(page.get_by_test_id("new-pid")).to_have_text(str(second_a.pid))
    expect(page.get_by_test_id("old-pid")).to_have_text(str(first_a.pid))
    assert second_a.pid != first_a.pid
    assert not alive(first_a.pid) and alive(second_a.pid)
    truth = held(app, "a", learner_cookie(page), blue)
    assert truth["pid"] == second_a.pid
    assert truth["session"] is None and truth["yours"]["entries"] == 0
    expect(page.get_by_test_id("worker-a").get_by_test_id("worker-pid")).to_have_text(
        str(second_a.pid)
    )
    assert held_id(page) == blue, "the browser keeps its cookie through the restart"

    # The old cookie goes to the new process: a miss and a new ID.
    lesson.next_step()
    lesson.predict(
        "The lookup misses, so the server makes a new session with a new ID "
        "and sends Set-Cookie."
    )
    answer = lesson.send("Send GET /lab/workers/a/")
    assert session_id(sent_sid(answer.request)) == blue
    record = lesson.exchanges()[-1]
    assert record["pid"] == second_a.pid and record["cookie_id"] == blue
    assert record["operations"][0]["result"] == "miss"
    assert held_id(page) == record["session_id"] != blue
    expect(lesson.panel("decision")).to_contain_text(
        "the store has no session with that ID"
    )
    expect(page.get_by_text(BORNE_OUT)).to_be_visible()

    # Worker B is another process and knows nothing of worker A's session.
    lesson.next_step()
    lesson.next_step()
    lesson.send("Set colour to green on worker A")
    green = held_id(page)
    lesson.next_step()
    lesson.predict("It finds nothing, makes a new session and sends Set-Cookie for it.")
    lesson.send("Send GET /lab/workers/b/")
    record = lesson.exchanges()[-1]
    b = worker(app, "b")
    assert record["worker"] == "b" and record["pid"] == b.pid != second_a.pid
    assert is_worker_process(b.pid) and alive(second_a.pid)
    assert record["cookie_id"] == green and record["operations"][0]["result"] == "miss"
    assert held(app, "b", learner_cookie(page), green)["session"] is None
    expect(page.get_by_text(BORNE_OUT)).to_be_visible()

    # Back on A, the browser's cookie names B's session: A misses too, and
    # still holds the green session no cookie names.
    lesson.next_step()
    record = click_for_exchange(lesson, "GET via worker A")
    assert record["worker"] == "a" and record["operations"][0]["result"] == "miss"
    orphan = held(app, "a", learner_cookie(page), green)["session"]
    assert orphan["data"]["colour"] == "green"
    table = page.locator("table.served")
    expect(table.locator(f'tr[data-seq="{record["seq"]}"]')).to_contain_text(
        f"worker A, process {second_a.pid}"
    )
    expect(page.get_by_test_id("worker-b").get_by_test_id("worker-pid")).to_have_text(
        str(b.pid)
    )
    assert serious_violations(page) == []

    # With saveUninitialized off the session appears and disappears.
    lesson.next_step()
    lesson.use_step_settings()
    first = click_for_exchange(lesson, "Set colour to green via the balancer")
    kept = held_id(page)
    seen = []
    for _ in range(4):
        record = click_for_exchange(lesson, "GET via the balancer")
        assert record["cookie_id"] == kept and record["decision"]["set_cookie"] is False
        seen.append((record["worker"], record["operations"][0]["result"]))
    home = first["worker"]
    other = "b" if home == "a" else "a"
    assert seen == [(other, "miss"), (home, "hit"), (other, "miss"), (home, "hit")]
    expect(page.get_by_test_id("two-workers-answer")).to_contain_text("green")
    assert held_id(page) == kept

    # A store both share: a hit on each.
    lesson.next_step()
    lesson.use_step_settings()
    click_for_exchange(lesson, "Set colour to green via the balancer")
    served = {
        click_for_exchange(lesson, "GET via the balancer")["worker"] for _ in range(2)
    }
    assert served == {"a", "b"}
    assert [r["operations"][0]["result"] for r in lesson.exchanges()[-2:]] == [
        "hit",
        "hit",
    ]

    # A burst of 200 visitors adds 200 entries to worker B's memory.
    lesson.next_step()
    lesson.use_step_settings()
    change_max_age(page, 1)
    before = held(app, "b", learner_cookie(page))["yours"]["entries"]
    page.get_by_role("button", name="Send 200 visitors to worker B").click()
    growth = page.get_by_test_id("growth")
    expect(growth.get_by_test_id("stored")).to_have_text("200")
    burst_over = time.time()
    after = held(app, "b", learner_cookie(page))
    assert after["yours"]["entries"] == before + 200
    expect(growth.get_by_test_id("entries-after")).to_have_text(
        str(after["store"]["entries"])
    )
    expect(growth.locator("svg polyline")).to_have_count(2)

    # Past their expiry, the entries are all still there.
    lesson.next_step()
    while time.time() < burst_over + 2.1:
        page.wait_for_timeout(200)
    page.get_by_role("button", name="Count worker B's memory again").click()
    census = page.get_by_test_id("census")
    expect(census).to_be_visible()
    truth = held(app, "b", learner_cookie(page))
    assert truth["yours"]["entries"] == after["yours"]["entries"]
    assert truth["yours"]["expired"] >= 200
    expect(census.get_by_test_id("census-entries")).to_have_text(
        str(truth["store"]["entries"])
    )
    expect(census.get_by_test_id("census-expired")).to_have_text(
        str(truth["store"]["expired"])
    )

    # A small store, overfilled: the sweep, then live sessions pushed out.
    lesson.next_step()
    page.get_by_role("button", name="Overfill a small memory store").click()
    overfill = page.get_by_test_id("overfill")
    expect(overfill.get_by_test_id("after-wait")).to_have_text("60")
    expect(overfill.get_by_test_id("peak")).to_have_text("101")
    expect(overfill.get_by_test_id("live-evicted")).to_have_text("49")
    assert serious_violations(page) == []

    lesson.next_step()
    expect(page).to_have_url(re.compile(r"/lessons/memory/14$"))
    lesson.next_step()
    expect(page).to_have_url(re.compile(r"/#lesson-memory$"))


def sent_sid(request) -> str:
    """Answer the sid value a request carried in its Cookie header."""
    header = request.all_headers()["cookie"]
    return re.search(r"(?:^|; )sid=([^;]+)", header)[1]


def change_max_age(page, seconds: int) -> None:
    """Shorten maxAge through the studio's API, so expiry comes within the test."""
    status = page.evaluate(
        """seconds => fetch("/api/settings", {
            method: "POST",
            headers: {"Content-Type": "application/json"},
            body: JSON.stringify({max_age: seconds}),
        }).then(r => r.status)""",
        seconds,
    )
    assert status == 200
