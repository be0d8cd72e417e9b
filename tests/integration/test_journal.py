"""The per-learner bound on sessions evicts the one least recently used."""

import pytest

from .conftest import Learner, MemoryProbe, sent_id

CAP = 3


@pytest.fixture(params=["sqlite", "redis"])
def bounded_app(request, make_app):
    """A studio whose record and index live in SQLite or in Redis."""
    if request.param == "redis":
        return make_app(
            SESSIONS_PER_LEARNER=CAP, REDIS_URL=request.getfixturevalue("redis_url")
        )
    return make_app(SESSIONS_PER_LEARNER=CAP)


@pytest.mark.parametrize("resave, used_by", [(True, "set"), (False, "touch")])
def test_the_session_in_use_is_not_the_one_evicted(bounded_app, resave, used_by):
    learner = Learner(bounded_app.test_client())
    learner.configure(resave=resave)
    probe = MemoryProbe(bounded_app)

    made, first_cookie = [], None
    for number in range(CAP):
        learner.client.delete_cookie("sid", path="/lab")
        made.append(sent_id(learner.write("n", str(number))))
        first_cookie = first_cookie or learner.cookie()
    learner.client.set_cookie("sid", first_cookie, path="/lab")
    learner.read()
    assert learner.last()["decision"]["store_op"] == used_by

    learner.client.delete_cookie("sid", path="/lab")
    newest = sent_id(learner.write("n", "new"))

    evicted = [
        op for op in learner.last()["operations"]
        if op["op"] == "destroy" and op.get("why") == "lab limit per learner"
    ]
    assert [op["key"] for op in evicted] == [learner.key(made[1])]
    kept = {made[0], made[2], newest}
    assert probe.keys(learner.id) == {learner.key(i) for i in kept}
    rows = learner.client.get("/api/store").json["sessions"]
    assert {row["id"] for row in rows} == kept
