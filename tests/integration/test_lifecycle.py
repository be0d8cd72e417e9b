"""Signatures, secrets, login, logout, unset and the cookie path."""

import pytest

from app.specimen import signing

from .conftest import set_cookies, sent_id


def start(learner) -> tuple[str, str]:
    """Make a stored session holding a value; answer its ID and cookie value."""
    session_id = sent_id(learner.write("colour", "blue"))
    assert session_id is not None
    return session_id, learner.cookie()


def send_cookie(learner, value: str) -> None:
    learner.client.set_cookie("sid", value, path="/lab")


def operations(record) -> list[tuple[str, str, str | None]]:
    return [(op["op"], op["key"], op.get("result")) for op in record["operations"]]


@pytest.mark.parametrize(
    "forge, problem",
    [
        # Only the last character changes: A and B are hex digits too, so a
        # percent-escape it ends stays a valid one.
        (lambda value: value[:-1] + ("A" if value[-1] != "A" else "B"),
         "signature invalid for every secret"),
        (lambda value: value.split(".", 1)[0], "malformed: no signature"),
        (lambda value: value.replace("s%3A", "", 1), "unsigned: no s: prefix"),
    ],
    ids=["tampered", "no-signature", "unsigned"],
)
def test_a_bad_cookie_starts_a_new_session(learner, probe, forge, problem):
    session_id, value = start(learner)
    stored = probe.data(learner.key(session_id))
    send_cookie(learner, forge(value))

    response = learner.read()

    record = learner.last()
    assert record["cookie"]["problem"] == problem
    assert record["cookie"]["verified"] is False
    assert record["cookie_id"] is None
    assert record["session_id"] != session_id
    assert sent_id(response) == record["session_id"]
    assert [op for op, _, _ in operations(record)] == ["set"]
    assert response.json == {}
    assert probe.data(learner.key(session_id)) == stored


def test_an_unknown_id_is_not_adopted(learner, probe):
    secret = learner.settings["secrets"][0]
    unknown = "u" * 32
    send_cookie(learner, signing.sign(unknown, secret))

    response = learner.read()

    record = learner.last()
    assert record["cookie"]["verified"] is True
    assert record["cookie_id"] == unknown
    assert record["session_id"] != unknown
    assert sent_id(response) == record["session_id"]
    assert operations(record) == [
        ("get", learner.key(unknown), "miss"),
        ("set", learner.key(record["session_id"]), None),
    ]
    assert probe.data(learner.key(unknown)) is None
    assert probe.data(learner.key(record["session_id"])) is not None


def test_secret_rotation_signs_with_the_first_and_verifies_with_all(learner):
    learner.configure(secrets=["old-secret"], rolling=True)
    session_id, old_cookie = start(learner)

    learner.configure(secrets=["new-secret", "old-secret"])
    response = learner.read()

    record = learner.last()
    assert record["cookie"]["secret_index"] == 1
    assert record["session_id"] == session_id
    assert response.json == {"colour": "blue"}
    new_cookie = set_cookies(response)[0].split(";", 1)[0].split("=", 1)[1]
    assert new_cookie == signing.sign(session_id, "new-secret")
    assert new_cookie != old_cookie

    learner.configure(secrets=["new-secret"])
    assert learner.read().json == {"colour": "blue"}
    assert learner.last()["cookie"]["secret_index"] == 0

    send_cookie(learner, old_cookie)
    response = learner.read()
    record = learner.last()
    assert record["cookie"]["problem"] == "signature invalid for every secret"
    assert record["session_id"] != session_id
    assert response.json == {}


@pytest.mark.parametrize(
    "options",
    [{}, {"resave": False, "save_uninitialized": False}],
    ids=["defaults", "resave-off-uninitialized-off"],
)
def test_login_regenerates_the_id(learner, probe, options):
    learner.configure(**options)
    old_id, _ = start(learner)
    probe.events(learner.key(old_id))

    response = learner.lab("POST", "/login", data={"user": "alice"})

    record = learner.last()
    new_id = record["session_id"]
    assert new_id != old_id
    assert sent_id(response) == new_id
    assert response.json == {"user": "alice"}
    assert operations(record) == [
        ("get", learner.key(old_id), "hit"),
        ("destroy", learner.key(old_id), None),
        ("set", learner.key(new_id), None),
    ]
    assert probe.data(learner.key(old_id)) is None
    stored = probe.data(learner.key(new_id))
    assert {k: v for k, v in stored.items() if k != "cookie"} == {"user": "alice"}
    assert probe.keys(learner.id) == {learner.key(new_id)}
    events = probe.events(learner.key(old_id))
    if events is not None:
        assert events == ["del"]


def test_logout_destroys_without_a_cookie_and_the_dead_id_misses(learner, probe):
    session_id, value = start(learner)

    response = learner.lab("POST", "/logout")

    record = learner.last()
    assert set_cookies(response) == []
    assert record["decision"]["store_op"] == "destroy"
    assert record["decision"]["set_cookie"] is False
    assert operations(record) == [
        ("get", learner.key(session_id), "hit"),
        ("destroy", learner.key(session_id), None),
    ]
    assert probe.data(learner.key(session_id)) is None
    assert learner.cookie() == value

    response = learner.read()

    record = learner.last()
    assert record["cookie_id"] == session_id
    assert record["session_id"] != session_id
    assert operations(record)[0] == ("get", learner.key(session_id), "miss")
    assert sent_id(response) == record["session_id"]
    assert response.json == {}


@pytest.mark.parametrize(
    "unset, route, verbs, kept",
    [
        ("keep", "/forget", ["get"], True),
        ("destroy", "/forget", ["get", "destroy"], False),
        ("keep", "/logout", ["get", "destroy"], False),
        # express destroys again at the end: req.session is gone and unset
        # is destroy (index.js shouldDestroy).
        ("destroy", "/logout", ["get", "destroy", "destroy"], False),
    ],
)
def test_unset_keep_or_destroy(learner, probe, unset, route, verbs, kept):
    learner.configure(unset=unset)
    session_id, _ = start(learner)
    stored = probe.data(learner.key(session_id))

    response = learner.lab("POST", route)

    record = learner.last()
    assert set_cookies(response) == []
    assert [op for op, _, _ in operations(record)] == verbs
    assert {key for _, key, _ in operations(record)} == {learner.key(session_id)}
    assert record["decision"]["store_op"] == ("none" if kept else "destroy")
    assert probe.data(learner.key(session_id)) == (stored if kept else None)


@pytest.mark.parametrize(
    "path, has_session",
    [
        ("/lab", True),
        ("/", True),
        ("/la", True),
        ("/elsewhere", False),
        ("/lab/deeper", False),
    ],
)
def test_the_cookie_path_decides_whether_there_is_a_session(
    learner, probe, path, has_session
):
    learner.configure(path=path)

    response = learner.write("colour", "blue")

    record = learner.last()
    assert bool(set_cookies(response)) is has_session
    assert bool(record["operations"]) is has_session
    assert bool(probe.keys(learner.id)) is has_session
    if not has_session:
        assert record["decision"]["store_op"] == "none"
        assert f"not under the cookie path {path}" in record["decision"]["summary"]
        assert record["cookie"] is None


def test_a_quoted_cookie_value_is_read_as_express_reads_it(learner):
    session_id, value = start(learner)

    response = learner.raw("GET", "/", f'sid="{value}"')

    assert response.json == {"colour": "blue"}
    assert learner.last()["session_id"] == session_id


def test_the_first_of_two_cookies_with_the_name_counts(learner):
    session_id, value = start(learner)

    response = learner.raw("GET", "/", f"sid={value}; sid=s%3Aother.sig")

    assert response.json == {"colour": "blue"}
    assert learner.last()["session_id"] == session_id
