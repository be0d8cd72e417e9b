"""The two-workers demo: who served each exchange, and a session that comes and goes."""

import re

import pytest

from tests.workerprobe import held, number, worker

from .conftest import Learner, id_in


@pytest.fixture
def learner(worker_studio):
    return Learner(worker_studio.test_client())


def served_rows(learner) -> list[dict]:
    html = learner.client.get("/demos/memory/served").get_data(as_text=True)
    rows = re.findall(
        r'<tr data-seq="(\d+)" data-pid="(\d+)" data-worker="(\w*)">(.*?)</tr>',
        html,
        re.S,
    )
    return [
        {"seq": int(seq), "pid": int(pid), "worker": name, "cells": cells}
        for seq, pid, name, cells in rows
    ]


def test_the_table_names_the_process_that_served_each_exchange(worker_studio, learner):
    learner.lab("GET", "/workers/a/")
    learner.lab("GET", "/workers/b/")
    learner.lab("GET", "/")

    rows = served_rows(learner)

    records = learner.exchanges()[::-1]
    assert [(r["seq"], r["pid"], r["worker"]) for r in rows] == [
        (r["seq"], r["pid"], r["worker"] or "") for r in records
    ]
    assert rows[1]["pid"] == worker(worker_studio, "b").pid
    assert rows[2]["pid"] == worker(worker_studio, "a").pid
    assert len({row["pid"] for row in rows}) == 3
    assert "the studio" in rows[0]["cells"] and "worker B" in rows[1]["cells"]


def test_each_worker_box_is_that_worker_asked_directly(worker_studio, learner):
    learner.lab("GET", "/workers/balanced/")
    learner.lab("GET", "/workers/balanced/")
    studio_cookie = learner.cookie("lab_learner", "/")

    for name in ("a", "b"):
        box = learner.client.get(f"/demos/memory/worker/{name}").get_data(as_text=True)
        truth = held(worker_studio, name, studio_cookie)
        assert number(box, "worker-pid") == truth["pid"]
        assert truth["pid"] == worker(worker_studio, name).pid
        assert number(box, "worker-yours") == truth["yours"]["entries"]


def test_with_save_uninitialized_off_the_session_appears_and_disappears(
    worker_studio, learner
):
    learner.configure(save_uninitialized=False)
    colour = {"key": "colour", "value": "green"}
    learner.lab("POST", "/workers/balanced/set", data=colour)
    home = learner.last()["worker"]
    session_id = id_in(learner.cookie())

    seen = []
    for _ in range(4):
        answer = learner.lab("GET", "/workers/balanced/")
        record = learner.last()
        seen.append((record["worker"], answer.get_json().get("colour")))
        assert record["cookie_id"] == session_id
        assert "Set-Cookie" not in answer.headers

    other = "b" if home == "a" else "a"
    assert seen == [(other, None), (home, "green"), (other, None), (home, "green")]
    studio_cookie = learner.cookie("lab_learner", "/")
    assert held(worker_studio, home, studio_cookie, session_id)["session"] is not None
    assert held(worker_studio, other, studio_cookie, session_id)["session"] is None


def test_with_save_uninitialized_on_the_other_worker_takes_the_cookie_over(
    worker_studio, learner
):
    learner.lab("POST", "/workers/a/set", data={"key": "colour", "value": "green"})
    on_a = id_in(learner.cookie())

    learner.lab("GET", "/workers/b/")
    learner.lab("GET", "/workers/a/")

    studio_cookie = learner.cookie("lab_learner", "/")
    assert learner.last()["operations"][0]["result"] == "miss"
    assert id_in(learner.cookie()) != on_a
    # Worker A still holds the green session, but no cookie names it now.
    orphan = held(worker_studio, "a", studio_cookie, on_a)["session"]
    assert orphan["data"]["colour"] == "green"


def test_a_store_the_workers_share_keeps_the_session_on_both(worker_studio, learner):
    learner.configure(store="sqlite")
    colour = {"key": "colour", "value": "blue"}
    learner.lab("POST", "/workers/balanced/set", data=colour)

    for _ in range(2):
        answer = learner.lab("GET", "/workers/balanced/")
        assert learner.last()["operations"][0]["result"] == "hit"
        assert answer.get_json() == {"colour": "blue"}
    assert {r["worker"] for r in learner.exchanges()} == {"a", "b"}
