"""Every server-side store on its real server, through the studio's test client.

Each step sends a lab request, then holds three accounts against each other:
the operations the record lists, what the store really holds (read with the
server's own client, see readers.py) and what GET /api/store shows.
"""

import re

import pytest
import sqlalchemy as sa
from redis import Redis

from tests import services
from tests.integration.readers import reader_for

STORES = ("memory", "filesystem", "sqlite", "redis", "memcached", "postgresql", "mysql")
SQL_STORES = ("sqlite", "postgresql", "mysql")
# The config each store needs, as conftest fixtures that skip when a server is absent.
SERVICES = {
    "sqlite": {"SPECIMEN_SQL_TABLE": "sql_table"},
    "redis": {"REDIS_URL": "redis_url"},
    "memcached": {"MEMCACHED_SERVERS": "memcached_servers"},
    "postgresql": {"POSTGRES_URL": "postgres_url", "SPECIMEN_SQL_TABLE": "sql_table"},
    "mysql": {"MYSQL_URL": "mysql_url", "SPECIMEN_SQL_TABLE": "sql_table"},
}
JSON = {"Accept": "application/json"}
MAX_AGE = 600
# memcached counts whole seconds and MariaDB keeps them, so a TTL read a
# moment apart from another can differ by a second or so.
TTL_SLACK = 2.5
SESSION_KEY = re.compile(r"lab:[A-Za-z0-9_-]+:sess:[A-Za-z0-9_-]{32}")


class Lab:
    """One learner driving the specimen on one store, with the store's reader."""

    def __init__(self, app, name: str):
        self.app = app
        self.name = name
        self.client = app.test_client()
        self.choose(store=name, resave=False, max_age=MAX_AGE)
        with self.client.session_transaction() as studio_session:
            self.learner = studio_session["learner"]
        self.reader = reader_for(name, app, self.learner)

    def choose(self, **settings) -> None:
        chosen = self.client.post("/api/settings", json=settings)
        assert chosen.status_code == 200, chosen.json

    @property
    def store(self):
        return self.app.extensions["session_lab"].stores.get(self.name)

    def key(self, session_id: str) -> str:
        return f"lab:{self.learner}:sess:{session_id}"

    def send(self, method: str, path: str, **form) -> dict:
        """Send a lab request and answer the exchange the record kept for it."""
        answer = self.client.open(path, method=method, data=form, headers=JSON)
        assert answer.status_code == 200, answer.json
        return self.exchanges()[-1]

    def exchanges(self) -> list:
        return self.client.get("/api/exchanges").json

    def shown(self) -> dict:
        answer = self.client.get("/api/store")
        assert answer.status_code == 200, answer.json
        assert answer.json["store"] == self.name
        return {row["id"]: row for row in answer.json["sessions"]}

    def seen_ids(self) -> set:
        ids = set()
        for exchange in self.exchanges():
            ids |= {exchange["session_id"], exchange["cookie_id"]} - {None}
        return ids

    def operations(self, exchange: dict) -> list:
        """Answer the exchange's store operations as (verb, session ID) pairs."""
        prefix = f"lab:{self.learner}:sess:"
        pairs = []
        for operation in exchange["operations"]:
            assert operation["key"].startswith(prefix), operation
            assert operation.get("result") != "error", operation
            pairs.append((operation["op"], operation["key"][len(prefix):]))
        return pairs

    def check(self, exchange: dict | None = None) -> dict:
        """Hold the store's real contents against /api/store; answer the former."""
        held = self.reader.sessions(self.seen_ids())
        shown = self.shown()
        assert set(shown) == set(held)
        for session_id, entry in held.items():
            assert shown[session_id]["data"] == entry.data
            assert shown[session_id]["ttl"] == pytest.approx(entry.ttl, abs=TTL_SLACK)
        if exchange is not None:
            assert {row["id"] for row in exchange["contents"]} == set(held)
        return held


@pytest.fixture
def lab_for(request, make_app):
    """Answer a maker of a Lab on the named store, its server configured."""
    made = []

    def make(name: str, **extra) -> Lab:
        config = {
            key: request.getfixturevalue(fixture)
            for key, fixture in SERVICES.get(name, {}).items()
        }
        config.update(extra)
        lab = Lab(make_app(**config), name)
        made.append(lab)
        return lab

    yield make
    for lab in made:
        lab.reader.close()


def without_cookie(data: dict) -> dict:
    return {key: value for key, value in data.items() if key != "cookie"}


@pytest.mark.parametrize("name", STORES)
def test_store_holds_what_the_record_and_panel_say(name, lab_for):
    lab = lab_for(name)

    first = lab.send("GET", "/lab/")
    session_id = first["session_id"]
    assert lab.operations(first) == [("set", session_id)]
    held = lab.check(first)
    assert set(held) == {session_id}
    assert set(held[session_id].data) == {"cookie"}
    assert held[session_id].ttl == pytest.approx(MAX_AGE, abs=TTL_SLACK)

    written = lab.send("POST", "/lab/set", key="colour", value="teal")
    assert lab.operations(written) == [("get", session_id), ("set", session_id)]
    assert written["operations"][0]["result"] == "hit"
    held = lab.check(written)
    assert without_cookie(held[session_id].data) == {"colour": "teal"}
    assert held[session_id].ttl == pytest.approx(MAX_AGE, abs=TTL_SLACK)

    # A life shortened in the store itself shows in the panel as it really is.
    lab.reader.shorten(session_id, 120)
    before = lab.check()[session_id]
    assert before.ttl == pytest.approx(120, abs=TTL_SLACK)

    # The touch must give the session its whole max_age again: the one it was
    # made with, which express keeps even when the option changes later. A store
    # that rewrote the entry instead would change the cookie's expires in the data.
    lab.choose(max_age=2 * MAX_AGE)
    touched = lab.send("GET", "/lab/")
    assert lab.operations(touched) == [("get", session_id), ("touch", session_id)]
    after = lab.check(touched)[session_id]
    assert after.ttl == pytest.approx(MAX_AGE, abs=TTL_SLACK)
    assert without_cookie(after.data) == without_cookie(before.data)
    if not lab.reader.touch_rewrites:
        assert after.raw == before.raw

    login = lab.send("POST", "/lab/login", user="ada")
    new_id = login["session_id"]
    assert new_id != session_id
    assert lab.operations(login) == [
        ("get", session_id),
        ("destroy", session_id),
        ("set", new_id),
    ]
    held = lab.check(login)
    assert set(held) == {new_id}
    assert without_cookie(held[new_id].data) == {"user": "ada"}

    logout = lab.send("POST", "/lab/logout")
    assert lab.operations(logout) == [("get", new_id), ("destroy", new_id)]
    assert lab.check(logout) == {}


@pytest.mark.parametrize("name", STORES)
def test_a_session_larger_than_a_socket_read_comes_back_whole(name, lab_for):
    # Several reads' worth of value: a client that read the store's answer
    # only up to its first line would leave the rest on the socket.
    lab = lab_for(name)
    values = {f"part{n}": str(n) * 8000 for n in range(4)}
    for key, value in values.items():
        written = lab.send("POST", "/lab/set", key=key, value=value)

    held = lab.check(written)
    assert without_cookie(held[written["session_id"]].data) == values
    again = lab.send("GET", "/lab/")
    assert lab.operations(again) == [
        ("get", written["session_id"]),
        ("touch", written["session_id"]),
    ]
    after = lab.check(again)
    assert after.keys() == held.keys()
    assert all(after[key].data == held[key].data for key in held)


def test_redis_keeps_specimen_sessions_under_the_learners_prefix(lab_for):
    lab = lab_for("redis")
    first = lab.send("POST", "/lab/set", key="colour", value="teal")["session_id"]
    lab.client.delete_cookie("sid", path="/lab")
    second = lab.send("GET", "/lab/")["session_id"]
    assert set(lab.check()) == {first, second}

    client = Redis.from_url(lab.app.config["REDIS_URL"])
    try:
        keys = [key.decode() for key in client.scan_iter(count=1000)]
    finally:
        client.close()
    sessions = [key for key in keys if SESSION_KEY.fullmatch(key)]
    others = [key for key in keys if not SESSION_KEY.fullmatch(key)]
    mine = {key for key in sessions if key.startswith(f"lab:{lab.learner}:")}
    assert mine == {lab.key(first), lab.key(second)}
    assert not [key for key in others if "sess:" in key]
    # The studio's own keys are in the same Redis, under other names.
    assert f"lab:{lab.learner}:record" in others
    assert f"lab:{lab.learner}:index:redis" in others
    assert any(key.startswith("studio:") for key in others)


@pytest.mark.parametrize("name", SQL_STORES)
def test_expired_rows_stay_until_the_cleanup(name, lab_for):
    lab = lab_for(name)
    session_id = lab.send("POST", "/lab/set", key="colour", value="teal")["session_id"]
    lab.reader.shorten(session_id, -30)

    held = lab.check()
    assert held[session_id].ttl < 0
    row = lab.shown()[session_id]
    assert row["expired"] is True
    assert row["ttl"] == pytest.approx(-30, abs=TTL_SLACK)

    prefix = f"lab:{lab.learner}:"
    assert lab.store.count_rows(prefix) == {"rows": 1, "expired": 1}
    assert lab.store.clean_up(prefix) == {
        "before": {"rows": 1, "expired": 1},
        "after": {"rows": 0, "expired": 0},
    }
    assert lab.check() == {}


@pytest.mark.parametrize("name", SQL_STORES)
def test_reading_an_expired_row_deletes_it(name, lab_for):
    lab = lab_for(name)
    old_id = lab.send("POST", "/lab/set", key="colour", value="teal")["session_id"]
    lab.reader.shorten(old_id, -30)

    again = lab.send("GET", "/lab/")
    new_id = again["session_id"]
    assert new_id != old_id
    assert lab.operations(again) == [("get", old_id), ("set", new_id)]
    assert again["operations"][0]["result"] == "miss"
    assert set(lab.check(again)) == {new_id}


def test_unreachable_stores_are_listed_refused_and_leave_others_working(make_app):
    closed = services.free_port()
    app = make_app(
        MEMCACHED_SERVERS=f"127.0.0.1:{closed}",
        POSTGRES_URL=f"postgresql+psycopg://postgres@127.0.0.1:{closed}/test",
        MYSQL_URL=f"mysql+pymysql://root@127.0.0.1:{closed}/test",
    )
    client = app.test_client()
    listed = {row["name"]: row for row in client.get("/api/stores").json}

    for name in ("memcached", "postgresql", "mysql"):
        assert listed[name]["available"] is False
        assert "Connection refused" in listed[name]["reason"]
        assert "\n" not in listed[name]["reason"]
        assert listed[name]["remedy"]
        refused = client.post("/api/settings", json={"store": name})
        assert refused.status_code == 400
        assert refused.json["field"] == "store"
        assert name in refused.json["reason"]
        assert listed[name]["reason"] in refused.json["reason"]
    assert client.get("/api/settings").json["store"] == "memory"

    for name in ("memory", "filesystem", "sqlite"):
        assert listed[name]["available"] is True
        assert client.post("/api/settings", json={"store": name}).status_code == 200
        answer = client.post("/lab/set", data={"key": "k", "value": name}, headers=JSON)
        assert answer.status_code == 200
        assert answer.json["k"] == name


def test_memcached_servers_must_name_one_server(make_app):
    app = make_app(MEMCACHED_SERVERS="127.0.0.1:11211, 127.0.0.1:11212")
    listed = {row["name"]: row for row in app.test_client().get("/api/stores").json}
    assert listed["memcached"]["available"] is False
    assert "names 2 servers" in listed["memcached"]["reason"]


def assert_down(lab: Lab) -> None:
    """Check the lab answers 503, with the store's name, and other stores work."""
    client = lab.client
    answer = client.get("/lab/", headers=JSON)
    assert answer.status_code == 503
    assert f"The {lab.name} store did not answer" in answer.json["error"]
    exchange = lab.exchanges()[-1]
    assert exchange["operations"][0]["op"] == "get"
    assert exchange["operations"][0]["result"] == "error"

    page = client.get("/lab/", headers={"Accept": "text/html"})
    assert page.status_code == 503
    assert lab.name.encode() in page.data

    shown = client.get("/api/store")
    assert shown.status_code == 503
    assert shown.json["store"] == lab.name
    assert shown.json["error"]

    assert client.post("/api/settings", json={"store": "sqlite"}).status_code == 200
    assert client.post("/lab/set", data={"key": "k", "value": "v"}).status_code == 200


def test_memcached_that_goes_down_answers_503(lab_for):
    try:
        server = services.start_memcached()
    except (FileNotFoundError, RuntimeError) as error:
        pytest.skip(f"no memcached for the tests: {error}")
    try:
        lab = lab_for("memcached", MEMCACHED_SERVERS=f"127.0.0.1:{server.port}")
        lab.send("POST", "/lab/set", key="colour", value="teal")
    finally:
        server.stop()
    assert_down(lab)


RELAYED = pytest.mark.parametrize(
    ("name", "variable", "port"),
    [("postgresql", "POSTGRES_URL", 5432), ("mysql", "MYSQL_URL", 3306)],
)


def relayed_url(request, name, variable, port):
    """Answer a relay to the real database and the app's URL through it.

    The database stays up; stopping the relay is the database going away.
    """
    real = sa.make_url(request.getfixturevalue(SERVICES[name][variable]))
    relay = services.Relay(real.host, real.port or port)
    url = real.set(host="127.0.0.1", port=relay.port)
    return relay, url.render_as_string(hide_password=False)


@RELAYED
def test_database_that_goes_away_answers_503(name, variable, port, request, lab_for):
    relay, url = relayed_url(request, name, variable, port)
    try:
        lab = lab_for(name, **{variable: url})
        lab.send("POST", "/lab/set", key="colour", value="teal")
    finally:
        relay.stop()
    assert_down(lab)


@RELAYED
def test_database_connection_lost_between_requests_is_made_again(
    name, variable, port, request, lab_for
):
    relay, url = relayed_url(request, name, variable, port)
    try:
        lab = lab_for(name, **{variable: url})
        written = lab.send("POST", "/lab/set", key="colour", value="teal")
        relay.cut()

        again = lab.send("GET", "/lab/")
    finally:
        relay.stop()
    session_id = written["session_id"]
    assert again["session_id"] == session_id
    assert lab.operations(again) == [("get", session_id), ("touch", session_id)]
