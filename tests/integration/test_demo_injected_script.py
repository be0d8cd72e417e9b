"""The injected_script demo's loot route: the attacker's server and its replay.

The route replays only what the script sent; what the browser itself sent
with the request is used to explain, never to replay.
"""

from app.specimen import signing

from .conftest import id_in

HTMX = {"HX-Request": "true", "HX-Current-URL": "http://localhost/lessons/hijacking/5"}


def header(record: dict, name: str) -> str | None:
    for key, value in record["request"]["headers"]:
        if key.lower() == name:
            return value
    return None


def log_in(learner, **settings) -> str:
    learner.configure(**settings)
    learner.lab("POST", "/login", data={"user": "alice"})
    return learner.cookie("sid", settings.get("path", "/lab"))


def loot(learner, stolen: str):
    return learner.client.post(
        "/demos/injected_script/loot", data={"stolen": stolen}, headers=HTMX
    )


def test_an_http_only_cookie_leaves_the_attacker_nothing(learner):
    log_in(learner, http_only=True, path="/")
    count = len(learner.exchanges())

    response = loot(learner, "")

    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "HX-Trigger" not in response.headers
    assert "Nothing of <code>sid</code>" in body
    assert "with the HttpOnly attribute" in body
    assert "it did, with the script's own request" in body
    assert len(learner.exchanges()) == count


def test_a_cookie_under_another_path_is_explained_by_its_path(learner):
    log_in(learner, http_only=False, path="/lab")

    body = loot(learner, "").get_data(as_text=True)

    assert "<code>Path=/lab</code>, which does not cover this page" in body
    assert "/lessons/hijacking/5" in body


def test_what_the_script_took_is_replayed_as_the_attacker(learner, probe):
    value = log_in(learner, http_only=False, path="/")

    response = loot(learner, f"theme=light; sid={value}")

    body = response.get_data(as_text=True)
    assert response.headers["HX-Trigger"] == "lab-exchange"
    assert "The script found <code>sid</code>" in body
    assert "<dt>user</dt><dd>alice</dd>" in body
    record = learner.last()
    assert header(record, "x-lab-client") == "second-client"
    assert header(record, "cookie").endswith(f"; sid={value}")
    assert record["cookie_id"] == id_in(value)
    assert probe.data(learner.key(id_in(value)))["user"] == "alice"


def test_only_what_the_script_sent_is_replayed(learner):
    # The browser sends the real sid with the request (its Path is /), but the
    # script sent a made-up one: the attacker has only that.
    real = log_in(learner, http_only=True, path="/")
    made_up = signing.sign("m" * 32, "not-the-secret")

    response = loot(learner, f"sid={made_up}")

    body = response.get_data(as_text=True)
    assert "The specimen answered with an empty session." in body
    record = learner.last()
    assert header(record, "cookie").endswith(f"; sid={made_up}")
    assert real not in header(record, "cookie")
    assert record["cookie"]["verified"] is False


def test_a_value_no_cookie_header_can_carry_is_refused(learner):
    log_in(learner, http_only=False, path="/")
    count = len(learner.exchanges())

    response = loot(learner, 'sid=a "quoted" value')

    assert response.status_code == 400
    assert "a Cookie header cannot" in response.get_data(as_text=True)
    assert len(learner.exchanges()) == count


def test_an_oversized_loot_is_refused(learner):
    response = loot(learner, "x" * 9000)

    assert response.status_code == 413
    assert "the limit is 8192" in response.get_data(as_text=True)
