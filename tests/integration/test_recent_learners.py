"""Settings reach the next exchange at once, whichever process serves it."""

from app.learners import SETTINGS_COOKIE

from .conftest import JSON, Learner


def test_a_change_of_settings_reaches_a_process_that_read_the_old_ones(
    make_app, redis_url
):
    # Two studios on one Redis are two processes; the second keeps what it read.
    first, second = make_app(REDIS_URL=redis_url), make_app(REDIS_URL=redis_url)
    learner = Learner(first.test_client())
    learner.configure(store="redis", name="before")
    elsewhere = second.test_client()

    def exchange_elsewhere() -> dict:
        for name, path in (("lab_learner", "/"), (SETTINGS_COOKIE, "/")):
            elsewhere.set_cookie(name, learner.cookie(name, path), path=path)
        response = elsewhere.get("/lab/", headers=JSON)
        assert response.status_code == 200
        return learner.last()

    assert exchange_elsewhere()["settings"]["name"] == "before"
    learner.configure(name="after")

    record = exchange_elsewhere()

    assert record["settings"]["name"] == "after"
    assert record["store"] == "redis"


def test_every_change_of_settings_sends_a_new_settings_cookie(client):
    learner = Learner(client)
    versions = [learner.cookie(SETTINGS_COOKIE, "/")]
    for name in ("one", "two", "one"):
        learner.configure(name=name)
        versions.append(learner.cookie(SETTINGS_COOKIE, "/"))

    assert None not in versions
    assert len(set(versions)) == len(versions)


def test_without_the_settings_cookie_each_exchange_reads_the_settings(client):
    learner = Learner(client)
    learner.raw("GET", "/", "")
    learner.configure(name="changed")

    # raw sends the studio cookie alone, as a hand-written curl command does.
    learner.raw("GET", "/", "")

    assert learner.last()["settings"]["name"] == "changed"


def test_the_settings_cookie_is_no_name_for_the_specimens_cookie(client):
    learner = Learner(client)

    response = client.post("/api/settings", json={"name": SETTINGS_COOKIE})

    assert response.status_code == 400
    assert response.json["field"] == "name"
    assert learner.settings["name"] == "sid"
