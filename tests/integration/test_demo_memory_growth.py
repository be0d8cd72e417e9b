"""The growth demos: a burst fills worker B's memory; expiry alone frees nothing."""

import re
import time

import pytest

from tests.workerprobe import ask, held, number, worker

from .conftest import Learner


@pytest.fixture
def learner(worker_studio):
    return Learner(worker_studio.test_client())


def samples(html: str) -> list[list[int]]:
    table = html[html.index('data-testid="samples"') :]
    rows = re.findall(r"<tr>((?:<td>\d+</td>)+)</tr>", table)
    return [[int(cell) for cell in re.findall(r"<td>(\d+)</td>", row)] for row in rows]


def test_a_burst_adds_one_entry_per_visitor_to_worker_b(worker_studio, learner):
    learner.configure(max_age=600)
    learner.lab("GET", "/workers/b/")
    studio_cookie = learner.cookie("lab_learner", "/")
    before = held(worker_studio, "b", studio_cookie)

    answer = learner.client.post("/demos/memory/burst")

    html = answer.get_data(as_text=True)
    after = held(worker_studio, "b", studio_cookie)
    assert answer.status_code == 200
    assert after["yours"]["entries"] - before["yours"]["entries"] == 200
    assert number(html, "stored") == number(html, "cookies") == 200
    assert number(html, "entries-after") == after["store"]["entries"]
    assert number(html, "bytes-after") == after["store"]["bytes"]
    assert number(html, "entries-before") == before["store"]["entries"]
    counts = samples(html)
    assert [row[0] for row in counts] == list(range(0, 201, 10))
    assert [b[1] - a[1] for a, b in zip(counts, counts[1:])] == [10] * 20
    assert all(b[2] > a[2] for a, b in zip(counts, counts[1:]))
    served_by = int(re.search(r'data-pid="(\d+)"', html)[1])
    assert served_by == worker(worker_studio, "b").pid


def test_expired_sessions_stay_in_memory_until_a_write_prunes(worker_studio, learner):
    learner.configure(max_age=1)
    studio_cookie = learner.cookie("lab_learner", "/")
    learner.client.post("/demos/memory/burst")
    burst_over = time.time()
    while time.time() < burst_over + 2.1:
        time.sleep(0.2)

    census = learner.client.get("/demos/memory/census").get_data(as_text=True)

    truth = held(worker_studio, "b", studio_cookie)
    assert truth["yours"]["entries"] == truth["yours"]["expired"] == 200
    assert number(census, "census-entries") == truth["store"]["entries"]
    assert number(census, "census-expired") == truth["store"]["expired"]
    assert "still in memory" in census


def test_a_learner_keeps_at_most_400_visitor_sessions_on_the_worker(
    worker_studio, learner
):
    studio_cookie = learner.cookie("lab_learner", "/")
    for _ in range(3):
        html = learner.client.post("/demos/memory/burst").get_data(as_text=True)

    assert number(html, "evicted") == 200
    assert held(worker_studio, "b", studio_cookie)["yours"]["entries"] == 400


def test_an_overfilled_store_drops_expired_entries_then_live_ones(learner):
    answer = learner.client.post("/demos/memory/overfill")

    html = answer.get_data(as_text=True)
    counts = samples(html)
    entries = [row[1] for row in counts]
    expired = [row[2] for row in counts]
    assert answer.status_code == 200
    # The first wave, 60 visitors, is all expired after the wait, and still held.
    assert counts[61][0] == 60 and entries[61] == 60 and expired[61] == 60
    assert number(html, "after-wait") == 60
    # A write that finds more than 100 entries sweeps the expired ones out.
    drop = next(i for i in range(1, len(entries)) if entries[i] < entries[i - 1])
    assert entries[drop - 1] == 101 and expired[drop - 1] == 60
    assert expired[drop] == 0 and entries[drop] == 101 - 60 + 1
    # From then on the store never passes 101, pushing live sessions out.
    assert max(entries) == number(html, "peak") == 101
    assert entries[-1] == 101
    assert number(html, "live-evicted") == 150 - 101


def test_bursts_run_in_a_worker_only_and_on_the_memory_store(worker_studio, learner):
    studio_cookie = learner.cookie("lab_learner", "/")
    in_studio = learner.client.post("/demos/visitors/burst")
    assert in_studio.status_code == 404
    assert "never in the studio" in in_studio.get_json()["error"]

    learner.configure(store="sqlite")
    refused = learner.client.post("/demos/memory/burst")
    assert refused.status_code == 409
    assert "your lab uses sqlite" in refused.get_data(as_text=True)

    path, form = "/demos/visitors/burst", {"count": 201}
    status, answer = ask(worker_studio, "b", path, studio_cookie, "POST", form)
    assert status == 400 and "from 1 to 200" in answer["error"]
