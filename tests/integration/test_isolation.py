"""Two learners on one studio share nothing: sessions, record or settings."""

from .conftest import Learner, sent_id


def test_a_second_learner_sees_nothing_of_the_first(lab_app, learner, probe):
    learner.configure(rolling=True, max_age=120)
    session_id = sent_id(learner.write("colour", "blue"))
    other = Learner(lab_app.test_client())

    assert other.id != learner.id
    assert other.exchanges() == []
    assert other.client.get("/api/store").json["sessions"] == []
    assert other.settings["rolling"] is False
    assert other.settings["max_age"] is None
    assert other.settings["secrets"] != learner.settings["secrets"]

    other.configure(store=probe.name)
    assert other.client.post("/api/reset").status_code == 200
    assert probe.data(learner.key(session_id)) is not None
    assert len(learner.exchanges()) == 1
    assert learner.settings["rolling"] is True


def test_the_first_learners_cookie_opens_nothing_for_the_second(
    lab_app, learner, probe
):
    session_id = sent_id(learner.write("colour", "blue"))
    stolen = learner.cookie()
    stored = probe.data(learner.key(session_id))
    other = Learner(lab_app.test_client())
    other.configure(store=probe.name)
    other.client.set_cookie("sid", stolen, path="/lab")

    response = other.read()

    record = other.last()
    assert record["cookie"]["problem"] == "signature invalid for every secret"
    assert response.json == {}
    assert record["session_id"] != session_id

    # Even with the first learner's secrets the ID is looked up under the
    # second learner's own prefix, where it does not exist.
    other.configure(secrets=learner.settings["secrets"])
    other.client.set_cookie("sid", stolen, path="/lab")

    response = other.read()

    record = other.last()
    assert record["cookie"]["verified"] is True
    assert record["cookie_id"] == session_id
    assert record["operations"][0] == {
        **record["operations"][0],
        "op": "get",
        "key": other.key(session_id),
        "result": "miss",
    }
    assert record["session_id"] != session_id
    assert response.json == {}
    assert sent_id(response) == record["session_id"]
    assert probe.data(learner.key(session_id)) == stored
    assert probe.data(other.key(session_id)) is None
    assert probe.keys(learner.id) == {learner.key(session_id)}
    rows = other.client.get("/api/store").json["sessions"]
    assert all(row["id"] != session_id for row in rows)
