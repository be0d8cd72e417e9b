"""The restart demo: a worker's process replaced, its memory really emptied."""

import pytest

from tests.workerprobe import alive, held, number, shown, worker

from .conftest import Learner, id_in, sent_id


@pytest.fixture
def learner(worker_studio):
    return Learner(worker_studio.test_client())


def test_the_worker_box_shows_what_the_worker_really_holds(worker_studio, learner):
    made = learner.lab("POST", "/workers/a/set", data={"key": "colour", "value": "1"})
    session_id = sent_id(made)

    box = learner.client.get("/demos/memory/worker/a").get_data(as_text=True)

    truth = held(worker_studio, "a", learner.cookie("lab_learner", "/"), session_id)
    assert number(box, "worker-pid") == worker(worker_studio, "a").pid == truth["pid"]
    assert number(box, "worker-entries") == truth["store"]["entries"]
    assert number(box, "worker-yours") == truth["yours"]["entries"] == 1
    assert session_id in shown(box, "held-state")
    assert 'colour: "1"' in shown(box, "held-state")


def test_a_restart_empties_the_memory_and_the_cookie_points_at_nothing(
    worker_studio, learner
):
    made = learner.lab("POST", "/workers/a/set", data={"key": "colour", "value": "1"})
    session_id = sent_id(made)
    studio_cookie = learner.cookie("lab_learner", "/")
    before = worker(worker_studio, "a")

    answer = learner.client.post("/demos/memory/restart/a")

    html = answer.get_data(as_text=True)
    after = worker(worker_studio, "a")
    assert answer.status_code == 200
    assert answer.headers["HX-Trigger"] == "worker-restarted"
    assert number(html, "old-pid") == before.pid and not alive(before.pid)
    assert number(html, "new-pid") == after.pid != before.pid and alive(after.pid)
    truth = held(worker_studio, "a", studio_cookie, session_id)
    assert truth["pid"] == after.pid
    assert truth["session"] is None and truth["yours"]["entries"] == 0
    assert f"session <code>{session_id}</code> is gone" in html

    # The browser still sends the old cookie, and finds nothing behind it.
    assert id_in(learner.cookie()) == session_id
    again = learner.lab("GET", "/workers/a/")
    record = learner.last()
    assert record["cookie_id"] == session_id and record["pid"] == after.pid
    assert record["operations"][0]["result"] == "miss"
    assert sent_id(again) == record["session_id"] != session_id
    assert again.get_json() == {}


def test_a_second_restart_too_soon_is_refused_and_says_why(worker_studio, learner):
    learner.lab("GET", "/workers/a/")
    assert learner.client.post("/demos/memory/restart/a").status_code == 200
    running = worker(worker_studio, "a")
    worker_studio.config["WORKER_RESTART_SECONDS"] = 600
    try:

        refused = learner.client.post("/demos/memory/restart/a")

        assert refused.status_code == 429
        assert "can be restarted again in" in shown(
            refused.get_data(as_text=True), "demo-problem"
        )
        assert worker(worker_studio, "a") == running and alive(running.pid)
    finally:
        worker_studio.config["WORKER_RESTART_SECONDS"] = 0


def test_an_unknown_worker_is_a_clear_404(learner):
    for path in ("/demos/memory/worker/c", "/demos/memory/restart/zz"):
        method = "POST" if "restart" in path else "GET"
        answer = learner.client.open(path, method=method)
        assert answer.status_code == 404
        assert "the workers are a, b" in answer.get_data(as_text=True)
