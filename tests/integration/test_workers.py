"""The specimen workers: real processes, a relay that changes nothing, no orphans."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app import create_app
from app.workers import WORKER_NAMES, RestartRefused
from tests.workerprobe import alive, ask, gone, held, is_worker_process, worker

from .conftest import Learner, id_in, sent_id, set_cookies
from app.learners import SETTINGS_COOKIE

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def learner(worker_studio):
    return Learner(worker_studio.test_client())


def test_each_worker_is_a_process_of_its_own(worker_studio, learner):
    learner.lab("POST", "/workers/a/set", data={"key": "colour", "value": "blue"})
    learner.lab("GET", "/workers/b/")

    first, second = learner.exchanges()[-2:]
    assert (first["worker"], second["worker"]) == ("a", "b")
    assert first["pid"] != second["pid"]
    assert os.getpid() not in (first["pid"], second["pid"])
    for record in (first, second):
        assert is_worker_process(record["pid"])
        path = "/demos/visitors/self"
        status, answer = ask(worker_studio, record["worker"], path, "")
        assert status == 200 and answer["pid"] == record["pid"]


def test_the_worker_records_the_request_the_browser_sent(learner):
    response = learner.lab(
        "GET", "/workers/a/?look=1", headers={"X-Probe": "relayed as sent"}
    )

    record = learner.last()
    assert response.status_code == 200
    assert record["request"]["line"] == "GET /lab/workers/a/?look=1 HTTP/1.1"
    headers = {name.lower(): value for name, value in record["request"]["headers"]}
    assert headers["x-probe"] == "relayed as sent"
    studio_cookies = ("lab_learner", SETTINGS_COOKIE)
    assert set(headers["cookie"].split("; ")) == {
        f"{name}={learner.cookie(name, '/')}" for name in studio_cookies
    }
    sent = [v for k, v in record["response"]["headers"] if k.lower() == "set-cookie"]
    assert response.headers.getlist("Set-Cookie") == sent
    assert response.headers["HX-Trigger"] == "lab-exchange"


def test_the_cookie_path_covers_both_workers_and_the_studio(learner):
    made = learner.lab("POST", "/workers/a/set", data={"key": "k", "value": "v"})
    session_id = sent_id(made)

    assert "Path=/lab" in set_cookies(made)[0]
    for path in ("/workers/b/", "/"):
        learner.lab("GET", path)
        assert learner.last()["cookie_id"] == session_id
        # Worker B and the studio's own lab miss it, and each makes its own.
        session_id = id_in(learner.cookie())


def test_a_session_made_on_one_worker_is_unknown_to_the_other(worker_studio, learner):
    made = learner.lab("POST", "/workers/a/set", data={"key": "colour", "value": "red"})
    session_id = sent_id(made)
    studio_cookie = learner.cookie("lab_learner", "/")

    on_a = held(worker_studio, "a", studio_cookie, session_id)
    on_b = held(worker_studio, "b", studio_cookie, session_id)
    assert on_a["session"]["data"]["colour"] == "red"
    assert on_b["session"] is None

    learner.lab("GET", "/workers/b/")
    record = learner.last()
    assert record["cookie_id"] == session_id
    assert record["operations"][0]["result"] == "miss"
    assert record["session_id"] != session_id


def test_the_balancer_sends_each_learner_to_a_and_b_in_turn(worker_studio, learner):
    for _ in range(4):
        learner.lab("GET", "/workers/balanced/")

    served = [(r["worker"], r["request"]["path"]) for r in learner.exchanges()[-4:]]
    workers = [name for name, _ in served]
    assert workers in (["a", "b", "a", "b"], ["b", "a", "b", "a"])
    assert {path for _, path in served} == {"/lab/workers/balanced/"}


def test_every_worker_keeps_its_own_index_of_memory_sessions(worker_studio, learner):
    made = learner.lab("POST", "/workers/a/set", data={"key": "n", "value": "1"})
    on_a = sent_id(made)
    learner.lab("GET", "/workers/b/")

    # Worker B lists only what its memory holds, and leaves A's index alone.
    listed = [row["id"] for row in learner.last()["contents"]]
    assert listed == [id_in(learner.cookie())]
    status, answer = ask(
        worker_studio, "a", "/api/store", learner.cookie("lab_learner", "/")
    )
    assert status == 200
    assert [row["id"] for row in answer["sessions"]] == [on_a]


def test_unknown_workers_and_strangers_get_a_clear_answer(worker_studio):
    stranger = worker_studio.test_client()
    assert stranger.get("/lab/workers/a/").status_code == 400
    assert "No learner" in stranger.get("/lab/workers/a/").get_data(as_text=True)

    learner = Learner(worker_studio.test_client())
    for path in ("/workers/c/", "/workers/", "/workers"):
        response = learner.lab("GET", path)
        assert response.status_code == 404, path
        assert "/lab/workers/a/" in response.get_data(as_text=True)


def test_a_worker_that_died_is_started_again_by_the_next_request(
    worker_studio, learner
):
    learner.lab("POST", "/workers/b/set", data={"key": "colour", "value": "red"})
    old = worker(worker_studio, "b")
    os.kill(old.pid, signal.SIGKILL)
    assert gone(old.pid)

    learner.lab("GET", "/workers/b/")

    record = learner.last()
    assert record["worker"] == "b" and record["pid"] != old.pid
    assert record["operations"][0]["result"] == "miss"


def test_a_second_studio_process_finds_the_same_workers(worker_studio, learner):
    learner.lab("GET", "/workers/a/")
    learner.lab("GET", "/workers/b/")
    running = worker(worker_studio, "a")
    twin = create_app({"TESTING": True}, instance_path=worker_studio.instance_path)
    try:
        found = twin.extensions["specimen_workers"].get("a")
        assert found == running
        assert twin.extensions["specimen_workers"].started_here() == []

        # The balancer's turn comes from the record, so the twin takes it up.
        client = twin.test_client()
        client.set_cookie("lab_learner", learner.cookie("lab_learner", "/"))
        for expected in ("a", "b"):
            client.get("/lab/workers/balanced/", headers={"Accept": "application/json"})
            assert learner.last()["worker"] == expected
    finally:
        twin.extensions["session_lab"].stores.close()


def test_a_studio_process_restarts_a_worker_another_one_started(
    worker_studio, learner
):
    learner.lab("POST", "/workers/b/set", data={"key": "colour", "value": "red"})
    old = worker(worker_studio, "b")
    studio_cookie = learner.cookie("lab_learner", "/")
    twin = create_app(
        {"TESTING": True, "WORKER_RESTART_SECONDS": 0},
        instance_path=worker_studio.instance_path,
    )
    twin_workers = twin.extensions["specimen_workers"]
    try:
        replaced, fresh = twin_workers.restart("b")

        assert replaced == old and gone(old.pid)
        assert twin_workers.started_here() == [fresh.pid]
        assert held(worker_studio, "b", studio_cookie)["yours"]["entries"] == 0
    finally:
        twin_workers.stop()
        twin.extensions["session_lab"].stores.close()
    assert not alive(fresh.pid) and worker(worker_studio, "b") is None


def test_restarts_are_limited_for_the_whole_class(worker_studio, learner):
    learner.lab("GET", "/workers/a/")
    workers = worker_studio.extensions["specimen_workers"]
    worker_studio.config["WORKER_RESTART_SECONDS"] = 600
    try:
        old, fresh = workers.restart("a")
        assert not alive(old.pid) and alive(fresh.pid)
        with pytest.raises(RestartRefused) as refused:
            workers.restart("a")
        assert "can be restarted again in" in str(refused.value)
        assert worker(worker_studio, "a") == fresh
    finally:
        worker_studio.config["WORKER_RESTART_SECONDS"] = 0


def test_stopping_the_pool_leaves_no_worker_behind(make_app):
    app = make_app()
    learner = Learner(app.test_client())
    learner.lab("GET", "/workers/balanced/")
    learner.lab("GET", "/workers/balanced/")
    workers = app.extensions["specimen_workers"]
    pids = workers.started_here()
    assert len(pids) == len(WORKER_NAMES)

    workers.stop()

    assert [pid for pid in pids if alive(pid)] == []
    assert all(worker(app, name) is None for name in WORKER_NAMES)


STUDIO = textwrap.dedent(
    """
    import sys, time
    from app import create_app
    app = create_app({"TESTING": True}, instance_path=sys.argv[1])
    workers = app.extensions["specimen_workers"]
    pids = [workers.get(name).pid for name in ("a", "b")]
    sys.stdout.write(" ".join(map(str, pids)) + "\\n")
    sys.stdout.flush()
    time.sleep(600)
    """
)


def test_workers_leave_when_their_studio_is_killed(tmp_path):
    studio = subprocess.Popen(
        [sys.executable, "-c", STUDIO, str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        pids = [int(pid) for pid in studio.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(pid) for pid in pids)

        # SIGKILL: no atexit runs; only the closed pipe tells the workers.
        studio.kill()
        studio.wait(timeout=10)

        assert [pid for pid in pids if not gone(pid)] == []
    finally:
        if studio.poll() is None:
            studio.kill()
            studio.wait()
        studio.stdout.close()


def test_an_instance_folder_that_cannot_hold_workers_is_a_clear_503(make_app):
    app = make_app()
    (Path(app.instance_path) / "workers").write_text("a file where the folder goes")
    learner = Learner(app.test_client())

    answer = learner.lab("GET", "/workers/a/")

    assert answer.status_code == 503
    assert "Worker A is not available: cannot keep workers in" in answer.get_data(
        as_text=True
    )
    assert app.extensions["specimen_workers"].started_here() == []
