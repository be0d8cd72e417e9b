"""express-session's decisions as tables, checked against the stores themselves.

Each row is one option set and what express-session 1.19 does on four requests:
the first with no cookie, a read with the cookie, a write, another read. Every
step is (Set-Cookie sent, session ID new or same, store operation).
"""

import pytest

from .conftest import sent_id

SHORT_TTL = 100

READ = ("GET", "/", None)
WRITE = ("POST", "/set", {"key": "colour", "value": "blue"})
STEPS = (READ, READ, WRITE, READ)

# (resave, save_uninitialized, rolling), then the four steps.
TABLE = [
    (
        (True, True, False),
        ((True, "new", "set"), (False, "same", "set"),
         (False, "same", "set"), (False, "same", "set")),
    ),
    (
        (True, True, True),
        ((True, "new", "set"), (True, "same", "set"),
         (True, "same", "set"), (True, "same", "set")),
    ),
    (
        (False, True, False),
        ((True, "new", "set"), (False, "same", "touch"),
         (False, "same", "set"), (False, "same", "touch")),
    ),
    (
        (False, True, True),
        ((True, "new", "set"), (True, "same", "touch"),
         (True, "same", "set"), (True, "same", "touch")),
    ),
    (
        (True, False, False),
        ((False, "new", "none"), (False, "new", "none"),
         (True, "new", "set"), (False, "same", "set")),
    ),
    (
        (True, False, True),
        ((False, "new", "none"), (False, "new", "none"),
         (True, "new", "set"), (True, "same", "set")),
    ),
    (
        (False, False, False),
        ((False, "new", "none"), (False, "new", "none"),
         (True, "new", "set"), (False, "same", "touch")),
    ),
    (
        (False, False, True),
        ((False, "new", "none"), (False, "new", "none"),
         (True, "new", "set"), (True, "same", "touch")),
    ),
]

# What Redis runs for each operation, heard through keyspace events.
REDIS_COMMANDS = {"set": ["set", "expire"], "touch": ["expire"], "none": []}


def label(options):
    resave, save_uninitialized, rolling = options
    return f"resave={resave}-saveUninitialized={save_uninitialized}-rolling={rolling}"


@pytest.mark.parametrize(
    "options, expected", TABLE, ids=[label(options) for options, _ in TABLE]
)
def test_sequence(learner, probe, options, expected):
    resave, save_uninitialized, rolling = options
    learner.configure(
        resave=resave, save_uninitialized=save_uninitialized, rolling=rolling
    )
    data = {}

    for number, ((method, path, form), step) in enumerate(zip(STEPS, expected), 1):
        sends_cookie, id_change, store_op = step
        held = learner.held()
        if held is not None:
            probe.shorten(learner.key(held), SHORT_TTL)
            assert probe.ttl(learner.key(held)) <= SHORT_TTL
            probe.events(learner.key(held))
        stored_before = probe.data(learner.key(held)) if held else None

        response = learner.lab(method, path, data=form)
        assert response.status_code == 200, f"step {number}"
        if form:
            data[form["key"]] = form["value"]

        record = learner.last()
        session_id = record["session_id"]
        key = learner.key(session_id)
        where = f"step {number}: {record['decision']['summary']}"

        assert bool(sent_id(response)) is sends_cookie, where
        if sends_cookie:
            assert sent_id(response) == session_id, where
        assert record["cookie_id"] == held, where
        assert "made with" not in where, "no setting changed"
        assert (session_id != held) is (id_change == "new"), where

        assert record["decision"]["store_op"] == store_op, where
        assert record["decision"]["set_cookie"] is sends_cookie, where
        verbs = [operation["op"] for operation in record["operations"]]
        assert verbs == (["get"] if held else []) + (
            [] if store_op == "none" else [store_op]
        ), where

        events = probe.events(key)
        if events is not None:
            assert events == REDIS_COMMANDS[store_op], where

        stored = probe.data(key)
        if store_op == "none":
            assert stored is None, where
            continue

        assert {k: v for k, v in stored.items() if k != "cookie"} == data, where
        assert probe.ttl(key) > 10 * SHORT_TTL, f"{where}: the TTL was not reset"
        if store_op == "touch":
            assert stored == stored_before, f"{where}: touch rewrote the data"
        assert learner.held() == session_id, where
