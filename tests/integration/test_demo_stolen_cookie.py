"""The stolen_cookie demo: a second client replays the browser's cookie.

Each replay is checked against the store, read with its own client, and
against the exchange the recorder wrote.
"""

import time

from .conftest import id_in

HTMX = {"HX-Request": "true"}
ATTACKER_EMAIL = "mallory@attacker.example"


def header(record: dict, name: str) -> str | None:
    for key, value in record["request"]["headers"]:
        if key.lower() == name:
            return value
    return None


def log_in(learner) -> str:
    response = learner.lab("POST", "/login", data={"user": "alice"})
    assert response.json == {"user": "alice"}
    return learner.cookie()


def demo(learner, method: str, route: str):
    path = f"/demos/stolen_cookie/{route}"
    return learner.client.open(path, method=method, headers=HTMX)


def test_nothing_is_copied_before_the_browser_has_a_cookie(learner):
    copy = demo(learner, "GET", "copy")
    read = demo(learner, "POST", "read")

    assert "Nothing to copy yet" in copy.get_data(as_text=True)
    assert read.status_code == 400
    assert "There is no sid cookie to copy yet" in read.get_data(as_text=True)
    assert learner.exchanges() == []


def test_the_copy_is_the_cookie_that_crossed_the_wire(learner):
    value = log_in(learner)

    copy = demo(learner, "GET", "copy").get_data(as_text=True)

    assert f"sid={value}" in copy
    assert "the Set-Cookie your browser was given" in copy
    learner.read()
    again = demo(learner, "GET", "copy").get_data(as_text=True)
    assert "the Cookie header your browser sent" in again


def test_the_second_client_reads_the_session_the_cookie_names(learner, probe):
    value = log_in(learner)
    session_id = id_in(value)

    response = demo(learner, "POST", "read")

    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "lab-exchange"
    body = response.get_data(as_text=True)
    assert 'data-lookup="hit"' in body
    assert "<dt>user</dt><dd>alice</dd>" in body
    record = learner.last()
    assert header(record, "x-lab-client") == "second-client"
    assert header(record, "user-agent").startswith("SessionLab-SecondClient")
    assert f"sid={value}" in header(record, "cookie")
    assert record["cookie_id"] == record["session_id"] == session_id
    assert record["operations"][0]["result"] == "hit"
    assert probe.data(learner.key(session_id))["user"] == "alice"


def test_the_second_clients_write_lands_in_the_browsers_session(learner, probe):
    value = log_in(learner)

    response = demo(learner, "POST", "write")

    assert ATTACKER_EMAIL in response.get_data(as_text=True)
    stored = probe.data(learner.key(id_in(value)))
    assert (stored["user"], stored["email"]) == ("alice", ATTACKER_EMAIL)
    assert learner.read().json == {"user": "alice", "email": ATTACKER_EMAIL}


def test_the_curl_command_carries_both_cookies(learner):
    value = log_in(learner)
    studio = learner.cookie("lab_learner", "/")

    command = demo(learner, "GET", "command").get_data(as_text=True)

    assert f"Cookie: lab_learner={studio}; sid={value}" in command
    assert "http://localhost/lab/" in command


def test_after_logout_the_copy_names_nothing(learner, probe):
    value = log_in(learner)
    session_id = id_in(value)
    learner.lab("POST", "/logout")
    assert probe.data(learner.key(session_id)) is None

    response = demo(learner, "POST", "read")

    body = response.get_data(as_text=True)
    assert 'data-lookup="miss"' in body
    assert "The specimen answered with an empty session." in body
    record = learner.last()
    assert record["cookie"]["verified"] and record["cookie_id"] == session_id
    assert record["session_id"] != session_id

    # The second client was given a new session; the panel says whose it is.
    panel = learner.client.get("/panels/store", headers=HTMX).get_data(as_text=True)
    assert "the second client holds this one" in panel
    assert "your browser holds this one" not in panel


def test_a_stolen_cookie_stops_working_when_the_store_entry_expires(learner, probe):
    learner.configure(max_age=1, save_uninitialized=False)
    value = log_in(learner)
    key = learner.key(id_in(value))
    assert probe.data(key)["user"] == "alice"

    # Wait on the store itself: the entry's own time to live runs out.
    deadline = time.monotonic() + 10
    while probe.data(key) is not None:
        assert time.monotonic() < deadline, "the store entry never expired"
        time.sleep(0.1)
    if probe.name == "redis":
        assert key not in probe.keys(learner.id), "Redis removed the key"

    response = demo(learner, "POST", "read")

    body = response.get_data(as_text=True)
    assert 'data-lookup="miss"' in body
    record = learner.last()
    assert record["cookie"]["verified"] is True
    assert record["decision"]["store_op"] == "none"
    assert record["decision"]["set_cookie"] is False
    assert probe.keys(learner.id) <= {key}


def test_a_client_with_no_record_has_nothing_to_replay(app):
    client = app.test_client(use_cookies=False)

    response = client.post("/demos/stolen_cookie/read", headers=HTMX)

    assert response.status_code == 400
    assert "no sid cookie to copy yet" in response.get_data(as_text=True)
