"""A store that cannot answer gives a clear 503, once, and no traceback."""

import logging

import pytest
from flask import request_started

from tests import services

from .conftest import JSON, Learner


def errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_store_no_longer_configured_is_a_503(app, caplog):
    learner = Learner(app.test_client())
    # Settings kept from a run that had Redis, read by one that has not.
    with learner.client.session_transaction() as studio_session:
        studio_session["settings"] = {**studio_session["settings"], "store": "redis"}

    response = learner.read()

    assert response.status_code == 503
    assert "redis store did not answer" in response.json["error"]
    assert "REDIS_URL is not set" in response.json["error"]
    record = learner.last()
    assert record["error"] == "not configured: REDIS_URL is not set"
    assert record["operations"] == []
    assert "the redis store is unavailable" in record["decision"]["summary"]
    assert errors(caplog) == []


@pytest.fixture
def own_redis():
    try:
        server = services.start_redis()
    except (FileNotFoundError, RuntimeError) as error:
        pytest.skip(f"no Redis for the test: {error}")
    yield server
    server.stop()


def test_a_store_lost_during_a_request_is_tried_once(make_app, own_redis, caplog):
    app = make_app(REDIS_URL=f"redis://127.0.0.1:{own_redis.port}/0")
    learner = Learner(app.test_client())
    learner.configure(store="redis")
    specimen = app.wsgi_app.mounts["/lab"].specimen

    def stop_the_store(sender, **extra):
        own_redis.stop()

    with request_started.connected_to(stop_the_store, specimen):
        response = learner.client.get("/lab/", headers=JSON)

    assert response.status_code == 503
    assert "redis store did not answer" in response.json["error"]
    failed = [
        r.getMessage() for r in caplog.records
        if r.name == "app.stores.base" and "failed on redis" in r.getMessage()
    ]
    assert len(failed) == 1 and failed[0].startswith("set ")
    assert not any("finalizing" in message for message in errors(caplog))


def test_the_studio_store_lost_is_a_503_for_the_lab(make_app, own_redis, caplog):
    app = make_app(REDIS_URL=f"redis://127.0.0.1:{own_redis.port}/0")
    learner = Learner(app.test_client())
    own_redis.stop()

    response = learner.client.get("/lab/", headers=JSON)

    assert response.status_code == 503
    assert "studio's own store" in response.get_data(as_text=True)
    assert response.headers.getlist("Set-Cookie") == []
    assert errors(caplog) == []
