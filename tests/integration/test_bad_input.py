"""Bad input gets a clear 4xx naming the problem, and changes nothing."""

import pytest

from .conftest import JSON, Learner, sent_id

MALFORMED_COOKIES = [
    ("sid=garbage", "unsigned: no s: prefix"),
    ("sid=s:", "malformed: no signature"),
    ("sid=s%3A", "malformed: no signature"),
    ("sid=s%3A.", "malformed: no signature"),
    ("sid=s:\xff\xfe.\x80", "signature invalid for every secret"),
    ("sid=s%3A%FF%FE.%C0%80", "unsigned: no s: prefix, as the value does not decode"),
    ("sid=%", "unsigned: no s: prefix, as the value does not decode"),
    ("sid=s%3A%zz.%", "unsigned: no s: prefix, as the value does not decode"),
    ("sid=" + "a" * 6144, "unsigned: no s: prefix"),
    ("sid=s%3A" + "x" * 6144 + ".sig", "signature invalid for every secret"),
    ("sid=", "no cookie"),
    (";;; = ;sid", "no cookie"),
]


@pytest.mark.parametrize("cookies, problem", MALFORMED_COOKIES)
def test_a_malformed_cookie_is_a_new_session(learner, probe, cookies, problem):
    session_id = sent_id(learner.write("colour", "blue"))
    stored = probe.data(learner.key(session_id))

    response = learner.raw("GET", "/", cookies)

    record = learner.last()
    assert response.status_code == 200
    assert response.json == {}
    assert record["cookie"]["problem"] == problem
    assert record["session_id"] != session_id
    assert sent_id(response) == record["session_id"]
    assert probe.data(learner.key(session_id)) == stored


@pytest.mark.parametrize(
    "route, form, status, words",
    [
        ("/set", {"key": "k", "value": "v" * 8193}, 413, "value is 8193 characters"),
        ("/set", {"key": "k" * 65, "value": "v"}, 413, "key is 65 characters"),
        ("/set", {"value": "v"}, 400, "send the form field key"),
        ("/set", {"key": "k"}, 400, "send the form field value"),
        ("/set", {"key": "", "value": "v"}, 400, "send the form field key"),
        ("/set", {"key": "cookie", "value": "v"}, 400, "'cookie'"),
        ("/set", {"key": "k", "value": "v" * 70000}, 413, "limit of 65536 bytes"),
        ("/login", {}, 400, "send the form field user"),
        ("/slow?ms=abc", None, 400, "ms must be a whole number"),
        ("/slow?ms=1e3", None, 400, "ms must be a whole number"),
    ],
)
def test_bad_lab_input_is_refused_and_the_session_kept(
    learner, probe, route, form, status, words
):
    session_id = sent_id(learner.write("colour", "blue"))
    stored = probe.data(learner.key(session_id))
    method = "GET" if form is None else "POST"

    response = learner.lab(method, route, data=form)

    assert response.status_code == status
    assert words.lower() in response.json["error"].lower()
    assert learner.held() == session_id
    assert learner.last()["session_id"] == session_id
    after = probe.data(learner.key(session_id))
    assert {k: v for k, v in after.items() if k != "cookie"} == {"colour": "blue"}
    assert after["cookie"] == stored["cookie"]


def test_a_lab_session_holds_a_bounded_number_of_keys(learner):
    for number in range(20):
        assert learner.write(f"k{number}", "v").status_code == 200

    response = learner.write("one-too-many", "v")

    assert response.status_code == 400
    assert "at most 20 keys" in response.json["error"]
    assert len(learner.read().json) == 20


def test_a_lab_request_without_the_studio_cookie_is_a_clear_400(app):
    client = app.test_client()

    response = client.get("/lab/", headers=JSON)

    assert response.status_code == 400
    assert "lab_learner" in response.get_data(as_text=True)
    assert response.headers.getlist("Set-Cookie") == []


@pytest.mark.parametrize(
    "cookie", ["lab_learner=forged", "lab_learner=\xff\xfe", "lab_learner="]
)
def test_an_unknown_studio_cookie_is_a_clear_400(app, cookie):
    client = app.test_client(use_cookies=False)

    response = client.get("/lab/", environ_overrides={"HTTP_COOKIE": cookie})

    assert response.status_code == 400
    assert "lab_learner" in response.get_data(as_text=True)


BAD_SETTINGS = [
    ("store", "nosuch"),
    ("store", 5),
    ("secure", "yes"),
    ("secure", 1),
    ("http_only", None),
    ("same_site", "sometimes"),
    ("same_site", True),
    ("max_age", -1),
    ("max_age", 0),
    ("max_age", "60"),
    ("max_age", 1.5),
    ("max_age", True),
    ("max_age", 10**9),
    ("rolling", "true"),
    ("resave", 0),
    ("save_uninitialized", None),
    ("secrets", []),
    ("secrets", "one"),
    ("secrets", [""]),
    ("secrets", [1]),
    ("secrets", ["s"] * 6),
    ("secrets", ["s" * 257]),
    ("trust_proxy", "1"),
    ("name", ""),
    ("name", "a b"),
    ("name", "x" * 65),
    ("name", 5),
    ("name", "lab_learner"),
    ("path", "lab"),
    ("path", "/a;b"),
    ("path", "/a b"),
    ("path", None),
    ("domain", "http://example.test"),
    ("domain", ""),
    ("domain", 5),
    ("unset", "maybe"),
    ("partitioned", "no"),
    ("refresh_each_request", "yes"),
    ("priority", "urgent"),
    ("regenerate_on_login", "yes"),
    ("nosuch", 1),
]


@pytest.mark.parametrize("field, value", BAD_SETTINGS)
def test_a_bad_setting_is_refused_by_name(client, field, value):
    before = client.get("/api/settings").json

    response = client.post("/api/settings", json={"rolling": True, field: value})

    assert response.status_code == 400
    assert response.json["field"] == field
    assert response.json["error"].startswith(f"{field}: ")
    assert client.get("/api/settings").json == before


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"rolling=true", "application/x-www-form-urlencoded"),
        (b'{"rolling": true', "application/json"),
        (b"\xff\xfe", "application/json"),
        (b"null", "application/json"),
        (b'["rolling"]', "application/json"),
        (b'"rolling"', "application/json"),
        (b'{"rolling": true}', "text/plain"),
    ],
)
def test_settings_that_are_not_a_json_object_are_refused(client, body, content_type):
    before = client.get("/api/settings").json

    response = client.post(
        "/api/settings", data=body, headers={"Content-Type": content_type}
    )

    assert response.status_code == 400
    assert response.json["field"] == "settings"
    assert client.get("/api/settings").json == before


def test_an_oversized_settings_body_is_refused(client):
    before = client.get("/api/settings").json

    response = client.post("/api/settings", json={"name": "x" * 70000})

    assert response.status_code == 413
    assert client.get("/api/settings").json == before


def test_a_store_that_is_not_configured_is_refused_with_a_remedy(client):
    response = client.post("/api/settings", json={"store": "redis"})

    assert response.status_code == 400
    assert response.json["field"] == "store"
    assert "REDIS_URL" in response.json["remedy"]
    assert client.get("/api/settings").json["store"] == "memory"


def test_refused_input_never_reaches_a_500(app):
    learner = Learner(app.test_client())
    for cookies, _ in MALFORMED_COOKIES:
        for path in ("/", "/set", "/login", "/logout", "/forget", "/slow?ms=x"):
            response = learner.raw("POST" if path != "/" else "GET", path, cookies)
            assert response.status_code < 500, (cookies, path)
