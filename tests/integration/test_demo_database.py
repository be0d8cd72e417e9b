"""The database lesson's demos against real tables: SQLite, PostgreSQL, MySQL.

Rows and counts on the page are held against a plain query of the table,
made with a connection of the test's own; timings are checked for what they
read and leave behind, never for how fast they were.
"""

import time
from datetime import datetime, timezone
from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa
from redis import Redis

from app.demos import database
from tests.integration.conftest import Learner, sent_id
from tests.integration.fragments import Fragment

HTMX = {"HX-Request": "true"}
SERVICES = {
    "sqlite": {"SPECIMEN_SQL_TABLE": "sql_table"},
    "postgresql": {"POSTGRES_URL": "postgres_url", "SPECIMEN_SQL_TABLE": "sql_table"},
    "mysql": {"MYSQL_URL": "mysql_url", "SPECIMEN_SQL_TABLE": "sql_table"},
}


class Table:
    """The specimen's session table, read with a query of the test's own."""

    def __init__(self, app, name: str):
        self.name = app.config["SPECIMEN_SQL_TABLE"]
        if name == "sqlite":
            path = Path(app.instance_path) / "specimen.sqlite3"
            self.engine = sa.create_engine(f"sqlite:///{path}")
        elif name == "postgresql":
            self.engine = sa.create_engine(app.config["POSTGRES_URL"])
        else:
            self.engine = sa.create_engine(app.config["MYSQL_URL"])

    def rows(self, prefix: str = "") -> list:
        query = sa.text(
            f"SELECT id, session_id, data, expiry FROM {self.name} "
            "WHERE session_id LIKE :prefix ORDER BY id"
        )
        with self.engine.connect() as connection:
            return connection.execute(query, {"prefix": prefix + "%"}).all()

    def expired(self, prefix: str = "") -> int:
        now = utc_now()
        return sum(1 for row in self.rows(prefix) if expiry_of(row) <= now)

    def close(self) -> None:
        self.engine.dispose()


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def expiry_of(row) -> datetime:
    value = row.expiry
    return datetime.fromisoformat(value) if isinstance(value, str) else value


@pytest.fixture(params=list(SERVICES))
def sql_name(request):
    return request.param


@pytest.fixture
def sql_app(sql_name, make_app, request):
    config = {
        key: request.getfixturevalue(fixture)
        for key, fixture in SERVICES[sql_name].items()
    }
    return make_app(**config)


@pytest.fixture
def table(sql_app, sql_name):
    made = Table(sql_app, sql_name)
    yield made
    made.close()


def expired_of(table: Table, learners: list[str]) -> int:
    return sum(table.expired(f"lab:{learner}:") for learner in learners)


def demo(learner: Learner, method: str, path: str, **options):
    answer = learner.client.open(
        f"/demos/database/{path}", method=method, headers=HTMX, **options
    )
    return answer, Fragment(answer.get_data(as_text=True))


def visitors_of(learner: Learner) -> list[str]:
    with learner.client.session_transaction() as studio_session:
        return [item["learner"] for item in studio_session.get("visitors", [])]


def test_the_row_on_the_page_is_the_row_in_the_table(sql_app, sql_name, table):
    learner = Learner(sql_app.test_client())
    learner.configure(store=sql_name)
    session_id = sent_id(learner.write("colour", "blue"))

    answer, fragment = demo(learner, "GET", "row")

    (row,) = table.rows(learner.key(session_id))
    data = bytes(row.data)
    assert answer.status_code == 200
    assert fragment.text("row-session-id") == learner.key(session_id) == row.session_id
    assert fragment.text("row-id").split()[0] == str(row.id)
    assert int(fragment.text("row-bytes")) == len(data)
    assert fragment.text("row-hex") == data.hex(" ")
    decoded = msgspec.msgpack.decode(data)
    assert decoded["colour"] == "blue"
    assert msgspec.json.decode(fragment.text("row-decoded")) == decoded
    shown = datetime.fromisoformat(fragment.text("row-expiry"))
    assert abs((shown - expiry_of(row)).total_seconds()) < 1
    assert f"FROM {table.name} WHERE" in answer.get_data(as_text=True)


def test_a_destroyed_session_has_no_row(client):
    learner = Learner(client)
    learner.configure(store="sqlite")
    learner.write("colour", "blue")
    learner.lab("POST", "/logout")

    answer, fragment = demo(learner, "GET", "row")

    assert answer.status_code == 200
    assert fragment.has("row-missing")


def test_expired_rows_stay_until_the_cleanup_deletes_them(
    sql_app, sql_name, table, monkeypatch
):
    monkeypatch.setattr(database, "VISITOR_MAX_AGE", 3)
    learner = Learner(sql_app.test_client())
    learner.configure(store=sql_name)
    learner.write("colour", "blue")
    mine = f"lab:{learner.id}:"

    answer, fragment = demo(learner, "POST", "visitors")
    visitors = visitors_of(learner)
    assert answer.status_code == 200
    assert len(visitors) == 5
    assert fragment.numbers("rows-visitors") == [5, 0]
    assert sum(len(table.rows(f"lab:{v}:")) for v in visitors) == 5

    deadline = time.monotonic() + 10
    while expired_of(table, visitors) < 5 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert expired_of(table, visitors) == 5

    for _ in range(3):
        whole = [len(table.rows()), table.expired()]
        _, counted = demo(learner, "GET", "rows")
        if [len(table.rows()), table.expired()] == whole:
            break
    everyone = whole[0]
    assert counted.numbers("rows-visitors") == [5, 5]
    assert counted.numbers("rows-yours") == [len(table.rows(mine)), 0]
    assert counted.numbers("rows-table") == whole

    answer, cleaned = demo(learner, "POST", "cleanup")

    assert answer.status_code == 200
    assert table.expired() == 0
    assert sum(len(table.rows(f"lab:{v}:")) for v in visitors) == 0
    assert len(table.rows(mine)) == 1
    assert int(cleaned.text("cleanup-deleted")) == everyone - len(table.rows())
    assert cleaned.numbers("before-visitors") == [5, 5]
    assert cleaned.numbers("after-visitors") == [0, 0]
    assert cleaned.numbers("after-yours") == [1, 0]
    assert learner.read().status_code == 200
    assert learner.last()["operations"][0]["result"] == "hit"


def test_timed_reads_cover_every_store_and_leave_no_copies(
    make_app, redis_url, memcached_servers
):
    app = make_app(REDIS_URL=redis_url, MEMCACHED_SERVERS=memcached_servers)
    learner = Learner(app.test_client())
    learner.configure(store="sqlite")
    session_id = sent_id(learner.write("colour", "blue"))
    table = Table(app, "sqlite")
    before = table.rows(learner.key(session_id))

    answer, fragment = demo(learner, "POST", "timings", data={"reads": "50"})

    assert answer.status_code == 200
    for name in ("memory", "sqlite", "redis", "memcached"):
        for figure in ("median", "p90"):
            shown = fragment.text(f"{figure}-{name}")
            assert shown.endswith(" ms") and float(shown.split()[0]) >= 0
    html = answer.get_data(as_text=True)
    untimed = fragment.text("untimed")
    assert "PostgreSQL: not configured: POSTGRES_URL is not set" in untimed
    assert "50 reads of your session on each store" in html

    redis = Redis.from_url(redis_url)
    try:
        assert not redis.exists(learner.key(session_id))
    finally:
        redis.close()
    memory = app.extensions["session_lab"].stores.get("memory")
    assert memory.peek(learner.key(session_id)) is None
    memcached = app.extensions["session_lab"].stores.get("memcached")
    assert memcached.peek(learner.key(session_id)) is None
    assert table.rows(learner.key(session_id)) == before
    table.close()


@pytest.mark.parametrize("reads", ["0", "1001", "many", "-5", ""])
def test_the_timings_refuse_a_count_out_of_bounds(client, reads):
    learner = Learner(client)
    learner.configure(store="sqlite")
    learner.write("colour", "blue")

    answer, _ = demo(learner, "POST", "timings", data={"reads": reads})

    assert answer.status_code == 400
    assert "reads must be a whole number from 1 to 1000" in answer.get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    "method, path", [("GET", "rows"), ("POST", "visitors"), ("POST", "cleanup")]
)
def test_a_demo_on_a_store_that_is_not_sql_says_what_to_do(client, method, path):
    learner = Learner(client)

    answer, _ = demo(learner, method, path)

    assert answer.status_code == 400
    assert "choose SQLite, PostgreSQL or MySQL" in answer.get_data(as_text=True)


def test_the_row_and_timings_wait_for_a_session(client):
    learner = Learner(client)
    learner.configure(store="sqlite")

    for method, path in (("GET", "row"), ("POST", "timings")):
        answer, _ = demo(learner, method, path)
        assert answer.status_code == 400, path
        assert "holds no session" in answer.get_data(as_text=True), path


def test_the_lesson_reads_and_says_how_to_enable_a_missing_database(client):
    client.get("/")
    for number in range(1, 8):
        assert client.get(f"/lessons/database/{number}").status_code == 200

    page = client.get("/lessons/database/1").get_data(as_text=True)
    assert "Set POSTGRES_URL, for example" in page
    assert "Set MYSQL_URL, for example" in page
    assert "configured and answering, always" in page
