"""The other site and its visit token: the page, its policy, and what gets recorded."""

import html
import re
import time
from urllib.parse import urlsplit

import pytest

from app import visits
from app.demos.other_site import other_origin

from .conftest import JSON, Learner

# The test client's own host, where the learner's cookies are, and its twin.
LAB = "http://localhost"
OTHER = "http://127.0.0.1"
HX = {"HX-Request": "true"}


@pytest.fixture
def learner(app):
    return Learner(app.test_client())


def studio_id(learner: Learner) -> str:
    return learner.cookie("lab_learner", "/")


def token_for(app, learner: Learner, kinds=("link", "form", "frame"), at=None) -> str:
    return visits.make_token(
        app.secret_key, studio_id(learner), LAB, "/lessons/samesite/4", kinds, at=at
    )


def visit_link(learner: Learner, base: str = LAB) -> str:
    page = learner.client.get("/lessons/samesite/4", base_url=base).get_data(True)
    found = re.search(r'href="([^"]*/demos/elsewhere/[^"]*)"', page)
    assert found, "the step links to the other site"
    return html.unescape(found.group(1))


def bare(app):
    """A browser that sends only the cookies a test gives it."""
    return app.test_client(use_cookies=False)


@pytest.mark.parametrize(
    ("lab", "other"),
    [
        ("http://127.0.0.1:5000", "http://localhost:5000"),
        ("http://127.0.0.2:8000", "http://localhost:8000"),
        ("https://127.0.0.1:5443", "https://localhost:5443"),
        ("http://localhost:5000", "http://127.0.0.1:5000"),
        ("http://lab.localhost", "http://127.0.0.1"),
        ("http://[::1]:5000", "http://localhost:5000"),
        ("http://lab.test:5000", None),
        ("http://192.168.1.20:5000", None),
    ],
)
def test_the_other_site_is_the_loopback_name_the_lab_is_not_on(app, lab, other):
    with app.app_context():
        assert other_origin(lab) == other


def test_an_operator_can_name_the_other_site(make_app):
    app = make_app(OTHER_SITE_ORIGIN="https://other.example.org/")

    with app.app_context():
        assert other_origin("https://lab.example.org") == "https://other.example.org"


def test_the_step_links_to_the_other_host_with_a_token_for_this_learner(app, learner):
    link = visit_link(learner)

    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == OTHER
    token = parts.query.removeprefix("visit=")
    visit = visits.read_token(app.secret_key, token)
    assert visit.studio_id == studio_id(learner)
    assert visit.lab_origin == LAB
    assert visit.back == "/lessons/samesite/4"
    assert visit.kinds == ("link", "form", "frame")


def test_a_lab_on_a_name_without_a_twin_says_how_to_get_one(learner):
    page = learner.client.get("/lessons/samesite/4", base_url="http://lab.test:5000")

    text = page.get_data(True)
    assert page.status_code == 200
    assert "/demos/elsewhere/" not in text
    assert "SESSION_LAB_OTHER_SITE_ORIGIN" in text


def test_the_other_site_s_page_aims_at_the_lab_and_nothing_else(app, learner):
    link = visit_link(learner)

    response = bare(app).get(link)

    assert response.status_code == 200
    assert response.headers.getlist("Set-Cookie") == []
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert f"form-action {LAB};" in policy and f"frame-src {LAB};" in policy
    page = html.unescape(response.get_data(True))
    assert "<script" not in page
    token = urlsplit(link).query.removeprefix("visit=")
    assert f'href="{LAB}/lab/?via=link&visit={token}"' in page
    assert f'action="{LAB}/lab/set?via=form&visit={token}"' in page
    assert f'action="{LAB}/lab/" target="lab-frame"' in page
    assert f'href="{LAB}/lessons/samesite/4"' in page


def test_a_form_only_visit_offers_the_form_alone(app, learner):
    token = token_for(app, learner, kinds=["form"])

    page = bare(app).get(f"/demos/elsewhere/?visit={token}", base_url=OTHER)

    text = page.get_data(True)
    assert "via=form" in text
    assert "via=link" not in text and "lab-frame" not in text


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("", "needs the visit token"),
        ("?visit=not-a-token", "expired or not valid"),
        (
            "?visit=" + "x" * (visits.TOKEN_LIMIT + 1),
            "too long to be one of the lab&#39;s",
        ),
    ],
    ids=["missing", "forged", "too long"],
)
def test_a_bad_visit_is_refused_with_a_reason(app, query, problem):
    response = bare(app).get(f"/demos/elsewhere/{query}", base_url=OTHER)

    assert response.status_code == 400
    assert problem in response.get_data(True)
    assert "form-action 'none'" in response.headers["Content-Security-Policy"]


def test_an_expired_visit_is_refused(app, learner):
    old = time.time() - visits.LIFETIME_SECONDS - 1
    token = token_for(app, learner, at=old)

    page = bare(app).get(f"/demos/elsewhere/?visit={token}", base_url=OTHER)
    lab = bare(app).get(f"/lab/?via=link&visit={token}", headers=JSON)

    assert page.status_code == 400 and "expired" in page.get_data(True)
    assert lab.status_code == 400
    assert "the visit token is expired or not valid" in lab.get_data(True)
    assert learner.exchanges() == []


def test_a_request_without_the_studio_cookie_is_recorded_by_its_token(app, learner):
    learner.configure(save_uninitialized=False)
    learner.write("colour", "red")
    sid = learner.cookie()
    token = token_for(app, learner)

    answer = bare(app).post(
        f"/lab/set?via=form&visit={token}",
        data={"key": "colour", "value": "green"},
        headers={**JSON, "Cookie": f"sid={sid}"},
    )

    assert answer.status_code == 200 and answer.json == {"colour": "green"}
    record = learner.last()
    assert record["visit"] is True
    cookie = dict(record["request"]["headers"])["Cookie"]
    assert cookie == f"sid={sid}", "the record keeps the Cookie header as it came"
    assert record["cookie_id"] == learner.held()


def test_the_studio_cookie_wins_over_a_token(app, learner):
    someone = Learner(app.test_client())
    token = token_for(app, someone)

    learner.lab("GET", f"/?via=link&visit={token}")

    assert "visit" not in learner.last()
    assert someone.exchanges() == []


def test_a_token_for_a_forgotten_learner_is_refused(app, learner):
    token = token_for(app, learner)
    learner.client.delete_cookie("lab_learner", path="/")
    with app.app_context():
        app.session_interface._delete_session("studio:" + token_id(app, token))

    answer = bare(app).get(f"/lab/?via=frame&visit={token}", headers=JSON)

    assert answer.status_code == 400
    assert "names a learner the studio no longer knows" in answer.get_data(True)


def token_id(app, token: str) -> str:
    return visits.read_token(app.secret_key, token).studio_id


def test_the_arrivals_table_reads_each_cookie_header_from_the_record(app, learner):
    learner.configure(same_site="lax", save_uninitialized=False)
    learner.write("colour", "red")
    token = token_for(app, learner)
    learner.lab("GET", f"/?via=link&visit={token}")
    bare(app).post(
        f"/lab/set?via=form&visit={token}",
        data={"key": "colour", "value": "green"},
        headers=JSON,
    )

    table = learner.client.get("/demos/other_site/arrivals", headers=HX)

    text = table.get_data(True)
    row = re.search(r'<tr data-same-site="Lax">(.*?)</tr>', text, re.S).group(1)
    assert re.search(r'data-kind="link" data-carried="yes"', row)
    assert re.search(r'data-kind="form" data-carried="no"', row)
    assert re.search(r'data-kind="frame" data-carried="untried"', row)
    assert "the lab knew you by the visit token" in text


def test_an_other_site_on_the_lab_s_own_host_is_refused(make_app):
    app = make_app(OTHER_SITE_ORIGIN="http://localhost:9000")
    learner = Learner(app.test_client())

    page = learner.client.get("/lessons/samesite/4").get_data(True)

    assert "/demos/elsewhere/" not in page
    assert "has the lab&#39;s own host name" in page
