"""Flask-Session under /lab-flask does what its record says, in the real store.

The store is read without the app: SimpleCache's own entries in this process
for memory, and for Redis a client of the test's own that watches every
command with MONITOR, so a GET is seen as surely as a SET.
"""

import secrets
import threading
import time

import msgspec
import pytest
from flask import request, request_started
from redis import Redis

from app.specimen.flask_interface import store_key

from .conftest import JSON, Learner, sent_id

SHORT_TTL = 30


class FlaskMemoryProbe:
    """Read the memory store's SimpleCache directly, in this process."""

    def __init__(self, app):
        self.cache = app.extensions["session_lab"].stores.get("memory").cache

    def data(self, key):
        return self.cache.get(key)

    def ttl(self, key):
        item = self.cache._cache.get(key)
        return None if item is None else item[0] - time.time()

    def shorten(self, key, seconds):
        assert self.cache.set(key, self.cache.get(key), timeout=seconds)

    def keys(self):
        return set(self.cache._cache)

    def commands(self, key):
        """Answer None: SimpleCache keeps no trace of what was asked of it."""
        return None


class FlaskRedisProbe:
    """Read the test's own Redis, and hear every command through MONITOR."""

    def __init__(self, url):
        self.client = Redis.from_url(url, socket_timeout=5)
        self.watcher = Redis.from_url(url, socket_timeout=5).monitor()
        self.watcher.__enter__()
        self.commands("")

    def data(self, key):
        raw = self.client.get(key)
        return None if raw is None else msgspec.json.decode(raw)

    def ttl(self, key):
        pttl = self.client.pttl(key)
        return None if pttl < 0 else pttl / 1000

    def shorten(self, key, seconds):
        assert self.client.expire(key, seconds)
        self.commands("")

    def keys(self):
        return {key.decode() for key in self.client.scan_iter(count=500)}

    def commands(self, key):
        """Answer the verbs Flask-Session ran on the key since the last call.

        The recorder reads the store for its panel after the exchange, with
        a GET and a PTTL, which Flask-Session never sends: that read is left
        out.
        """
        verbs = self.all_commands(key)
        return verbs[:-2] if verbs[-2:] == ["get", "pttl"] else verbs

    def all_commands(self, key):
        """Answer the verbs Redis ran on the key since the last call, in order."""
        marker = secrets.token_hex(8)
        self.client.echo(marker)
        verbs = []
        while True:
            command = self.watcher.next_command()["command"]
            if marker in command:
                return verbs
            words = command.split()
            if key and len(words) > 1 and words[1] == key:
                verbs.append(words[0].lower())

    def close(self):
        self.watcher.__exit__(None, None, None)
        self.client.close()


@pytest.fixture
def flask_probe(lab_app, store_name, request):
    if store_name == "memory":
        yield FlaskMemoryProbe(lab_app)
        return
    probe = FlaskRedisProbe(request.getfixturevalue("redis_url"))
    yield probe
    probe.close()


def flask(learner, method, path, **options):
    headers = {**JSON, **options.pop("headers", {})}
    return learner.client.open(
        f"/lab-flask{path}", method=method, headers=headers, **options
    )


def held(learner):
    cookie = learner.client.get_cookie("session", path="/lab-flask")
    return None if cookie is None else cookie.value


def flask_key(learner, session_id):
    return store_key(learner.id, session_id)


def set_cookie(response):
    headers = response.headers.getlist("Set-Cookie")
    return [header for header in headers if header.startswith("session=")]


def session_keys(probe, learner) -> set[str]:
    """Answer the keys of sessions either specimen keeps for the learner."""
    sessions = (f"lab:{learner.id}:flask:", f"lab:{learner.id}:sess:")
    return {key for key in probe.keys() if key.startswith(sessions)}


def verbs(record):
    return [operation["op"] for operation in record["operations"]]


def test_an_empty_session_is_never_stored(learner, flask_probe):
    response = flask(learner, "GET", "/")

    record = learner.last()
    assert response.status_code == 200
    assert set_cookie(response) == []
    assert record["specimen"] == "flask"
    assert record["operations"] == []
    assert record["decision"]["store_op"] == "none"
    assert "Flask-Session never stores an empty session" in (
        record["decision"]["summary"]
    )
    assert session_keys(flask_probe, learner) == set()
    assert record["contents"] == []


def test_a_read_rewrites_the_store_with_refresh_on(learner, flask_probe):
    learner.configure(max_age=600)
    flask(learner, "POST", "/set", data={"key": "colour", "value": "blue"})
    session_id = held(learner)
    key = flask_key(learner, session_id)
    flask_probe.shorten(key, SHORT_TTL)

    response = flask(learner, "GET", "/")

    record = learner.last()
    assert verbs(record) == ["get", "set"]
    assert record["decision"]["store_op"] == "set"
    assert "stored, though unmodified: SESSION_REFRESH_EACH_REQUEST is on" in (
        record["decision"]["reasons"]
    )
    commands = flask_probe.commands(key)
    if commands is not None:
        assert commands == ["get", "set"]
    assert flask_probe.ttl(key) > 500
    assert flask_probe.data(key) == {"_permanent": True, "colour": "blue"}

    # Permanent and refreshed: the cookie comes again, with a new Expires.
    assert len(set_cookie(response)) == 1
    assert set_cookie(response)[0].startswith(f"session={session_id};")
    assert "Expires=" in set_cookie(response)[0]
    assert record["decision"]["set_cookie"] is True


def test_a_read_is_only_a_read_with_refresh_off(learner, flask_probe):
    learner.configure(max_age=600, refresh_each_request=False)
    flask(learner, "POST", "/set", data={"key": "colour", "value": "blue"})
    key = flask_key(learner, held(learner))
    flask_probe.shorten(key, SHORT_TTL)

    response = flask(learner, "GET", "/")

    record = learner.last()
    assert verbs(record) == ["get"]
    assert record["operations"][0]["result"] == "hit"
    assert record["decision"]["store_op"] == "none"
    assert set_cookie(response) == []
    commands = flask_probe.commands(key)
    if commands is not None:
        assert commands == ["get"]
    # No touch either: the time to live runs on from the last write.
    assert flask_probe.ttl(key) <= SHORT_TTL


def test_a_session_without_max_age_is_rewritten_but_its_cookie_not_resent(
    learner, flask_probe
):
    flask(learner, "POST", "/set", data={"key": "colour", "value": "blue"})
    key = flask_key(learner, held(learner))
    flask_probe.shorten(key, SHORT_TTL)

    response = flask(learner, "GET", "/")

    record = learner.last()
    assert verbs(record) == ["get", "set"]
    assert set_cookie(response) == []
    assert "the session is not permanent" in record["decision"]["summary"]
    assert flask_probe.ttl(key) > SHORT_TTL
    assert "_permanent" not in flask_probe.data(key)


def test_a_change_inside_the_cart_is_lost_by_flask_and_kept_by_express(
    learner, flask_probe, probe
):
    learner.configure(refresh_each_request=False, resave=False)
    for item in ("apple", "pear"):
        learner.lab("POST", "/append", data={"item": item})
        express = learner.last()
        answer = flask(learner, "POST", "/append", data={"item": item})
        flask_record = learner.last()

    assert express["decision"]["store_op"] == "set"
    assert probe.data(learner.key(learner.held()))["cart"] == ["apple", "pear"]

    # The answer showed the session in memory; the store kept the first write.
    assert answer.json["cart"] == ["apple", "pear"]
    assert flask_record["decision"]["store_op"] == "none"
    assert verbs(flask_record) == ["get"]
    key = flask_key(learner, held(learner))
    assert flask_probe.data(key)["cart"] == ["apple"]
    assert flask(learner, "GET", "/").json["cart"] == ["apple"]
    assert [row["data"]["cart"] for row in learner.last()["contents"]] == [["apple"]]


def test_session_modified_saves_the_change_inside(learner, flask_probe):
    learner.configure(refresh_each_request=False)
    flask(learner, "POST", "/append", data={"item": "apple"})
    key = flask_key(learner, held(learner))

    flask(learner, "POST", "/append", data={"item": "plum", "modified": "yes"})

    record = learner.last()
    assert verbs(record) == ["get", "set"]
    assert "session.modified is true" in record["decision"]["summary"]
    assert flask_probe.data(key)["cart"] == ["apple", "plum"]


def test_secure_is_sent_over_http_by_flask_and_withheld_by_express(
    learner, flask_probe, probe
):
    learner.configure(secure=True)

    express = learner.write("colour", "red")
    express_record = learner.last()
    answer = flask(learner, "POST", "/set", data={"key": "colour", "value": "red"})
    record = learner.last()

    assert sent_id(express) is None
    assert express_record["decision"]["set_cookie"] is False
    assert probe.data(learner.key(express_record["session_id"])) is not None

    [header] = set_cookie(answer)
    attributes = [part.strip() for part in header.split(";")]
    assert "Secure" in attributes
    assert record["request"]["line"].startswith("POST /lab-flask/set ")
    assert record["decision"]["set_cookie"] is True
    assert "sends the cookie all the same" in record["decision"]["summary"]
    assert flask_probe.data(flask_key(learner, record["session_id"])) == {
        "colour": "red"
    }


def test_logout_deletes_the_session_and_clears_the_cookie(learner, flask_probe):
    flask(learner, "POST", "/set", data={"key": "colour", "value": "blue"})
    session_id = held(learner)
    key = flask_key(learner, session_id)
    flask_probe.commands(key)

    response = flask(learner, "POST", "/logout")

    record = learner.last()
    assert verbs(record) == ["get", "destroy"]
    assert record["operations"][1]["key"] == key
    assert record["decision"]["store_op"] == "destroy"
    [header] = set_cookie(response)
    assert header.startswith("session=;") and "Max-Age=0" in header
    commands = flask_probe.commands(key)
    if commands is not None:
        assert commands == ["get", "del"]
    assert flask_probe.data(key) is None
    assert held(learner) is None
    assert record["contents"] == []


def test_login_regenerates_the_id_and_keeps_the_data(learner, flask_probe):
    flask(learner, "POST", "/set", data={"key": "colour", "value": "blue"})
    old = held(learner)

    response = flask(learner, "POST", "/login", data={"user": "ann"})

    record = learner.last()
    new = held(learner)
    assert new != old and record["session_id"] == new
    assert set_cookie(response)[0].startswith(f"session={new};")
    assert verbs(record) == ["get", "destroy", "set"]
    assert record["operations"][1]["why"] == "regenerate"
    assert flask_probe.data(flask_key(learner, old)) is None
    assert flask_probe.data(flask_key(learner, new)) == {
        "colour": "blue",
        "user": "ann",
    }
    assert [row["id"] for row in record["contents"]] == [new]
    assert record["contents"][0]["held"] is True


def test_an_unknown_id_is_not_adopted(learner, flask_probe):
    learner.client.set_cookie("session", "chosen-by-an-attacker", path="/lab-flask")

    response = flask(learner, "POST", "/login", data={"user": "ann"})

    record = learner.last()
    assert record["operations"][0] == {
        **record["operations"][0],
        "op": "get",
        "key": flask_key(learner, "chosen-by-an-attacker"),
        "result": "miss",
    }
    assert record["session_id"] != "chosen-by-an-attacker"
    assert set_cookie(response)[0].startswith(f"session={record['session_id']};")
    assert flask_probe.data(flask_key(learner, record["session_id"])) == {
        "user": "ann"
    }


@pytest.mark.parametrize("value", ["x:sess:y", "a" * 200, "%00%ff"])
def test_a_cookie_that_is_no_id_is_not_sent_to_the_store(learner, flask_probe, value):
    learner.client.set_cookie("session", value, path="/lab-flask")

    response = flask(learner, "POST", "/set", data={"key": "colour", "value": "x"})

    record = learner.last()
    assert response.status_code == 200
    assert verbs(record) == ["set"]
    assert "not looked up" in record["decision"]["summary"]
    made = session_keys(flask_probe, learner)
    assert made == {flask_key(learner, record["session_id"])}


def test_flask_keys_never_look_like_express_keys(learner, flask_probe, probe):
    for path, form in (("/set", {"key": "a", "value": "b"}), ("/", None)):
        flask(learner, "POST" if form else "GET", path, data=form)

    assert probe.keys(learner.id) == set()
    keys = flask_probe.keys()
    prefix = f"lab:{learner.id}:flask:"
    mine = {key for key in keys if key.startswith(prefix)}
    assert mine == {flask_key(learner, held(learner))}
    assert not [key for key in keys if "sess:" in key and learner.id in key]


def test_each_learner_keeps_their_own_prefix_across_threads(
    lab_app, learner, flask_probe, store_name
):
    other = Learner(lab_app.test_client())
    other.configure(store=store_name)
    flask(learner, "POST", "/set", data={"key": "who", "value": "first"})
    flask(other, "POST", "/set", data={"key": "who", "value": "second"})
    specimen = lab_app.wsgi_app.mounts["/lab-flask"].specimen
    sleeping = threading.Event()
    slow = {}

    def note_the_slow_one(sender, **extra):
        if request.path == "/slow":
            sleeping.set()

    def slow_read():
        slow["answer"] = flask(learner, "GET", "/slow?ms=400")

    with request_started.connected_to(note_the_slow_one, specimen):
        thread = threading.Thread(target=slow_read)
        thread.start()
        assert sleeping.wait(5)
        # The slow request has opened its session; the second learner's run
        # whole before it saves.
        for number in range(3):
            flask(other, "POST", "/set", data={"key": "n", "value": str(number)})
        thread.join(10)

    assert slow["answer"].status_code == 200
    slow_record = learner.exchanges()[-1]
    assert slow_record["request"]["path"] == "/lab-flask/slow"
    assert [op["key"] for op in slow_record["operations"]] == [
        flask_key(learner, held(learner))
    ] * 2
    assert flask_probe.data(flask_key(learner, held(learner))) == {"who": "first"}
    assert flask_probe.data(flask_key(other, held(other))) == {
        "who": "second",
        "n": "2",
    }


def test_the_record_names_the_flask_specimen_and_its_cookie(learner):
    flask(learner, "POST", "/set", data={"key": "colour", "value": "blue"})
    learner.write("colour", "blue")

    flask_record, express_record = learner.exchanges()

    assert flask_record["specimen"] == "flask"
    assert flask_record["settings"]["name"] == "session"
    assert flask_record["settings"]["path"] == "/lab-flask"
    assert flask_record["cookie"] == {
        "kind": "flask-session",
        "raw": None,
        "session_id": None,
        "found": False,
    }
    assert express_record["specimen"] == "express"
    assert express_record["settings"]["name"] == "sid"


def test_reset_forgets_the_flask_sessions_too(learner, flask_probe):
    flask(learner, "POST", "/set", data={"key": "colour", "value": "blue"})
    key = flask_key(learner, held(learner))
    assert flask_probe.data(key) is not None

    response = learner.client.post("/api/reset")

    assert response.status_code == 200
    assert flask_probe.data(key) is None
    assert held(learner) is None


def test_the_cookie_store_is_refused_plainly(app, caplog):
    learner = Learner(app.test_client())
    learner.configure(store="cookie")

    response = flask(learner, "POST", "/set", data={"key": "colour", "value": "x"})

    assert response.status_code == 409
    assert "signed-cookie store keeps nothing there" in response.json["error"]
    record = learner.last()
    assert record["operations"] == [] and record["contents"] is None
    assert set_cookie(response) == []
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_unset_is_refused_with_what_to_do_instead(app):
    learner = Learner(app.test_client())

    response = flask(learner, "POST", "/forget")

    assert response.status_code == 400
    assert "/lab-flask/logout" in response.json["error"]


def test_a_store_no_longer_configured_is_a_503(app, caplog):
    learner = Learner(app.test_client())
    with learner.client.session_transaction() as studio_session:
        studio_session["settings"] = {**studio_session["settings"], "store": "redis"}

    response = flask(learner, "GET", "/")

    assert response.status_code == 503
    assert "REDIS_URL is not set" in response.json["error"]
    record = learner.last()
    assert record["operations"] == []
    assert "the redis store is unavailable" in record["decision"]["summary"]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_flask_session_keys_are_its_own_and_the_library_is_left_alone(app):
    learner = Learner(app.test_client())
    interface = app.extensions["session_lab"].stores.get("memory").interface

    flask(learner, "POST", "/set", data={"key": "colour", "value": "blue"})

    # The copy had the prefix and the wrappers; the store's interface has none.
    assert interface.key_prefix == ""
    assert "_upsert_session" not in vars(interface)
    assert "should_set_storage" not in vars(interface)
    answer = flask(learner, "POST", "/set", data={"key": "_permanent", "value": "x"})
    assert answer.status_code == 400
    assert answer.json["error"] == "the key '_permanent' is Flask-Session's own"
