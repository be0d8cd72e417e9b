"""Visit tokens: they say whose visit it is, hide it, and expire."""

import base64
import time

import pytest

from app import visits

KEY = "a secret key for these tests only"


def token(**changes) -> str:
    values = {
        "studio_id": "studio-session-id",
        "lab_origin": "http://127.0.0.1:5000",
        "back": "/lessons/samesite/4",
        "kinds": ["link", "form", "frame"],
    }
    values.update(changes)
    return visits.make_token(KEY, **values)


def altered(text: str, at: int = 30) -> str:
    """Answer the text with one character changed."""
    swap = "B" if text[at] == "A" else "A"
    return text[:at] + swap + text[at + 1 :]


def test_a_token_reads_back_as_the_visit_it_was_made_for():
    made = time.time()
    visit = visits.read_token(KEY, token(at=made))

    assert visit.studio_id == "studio-session-id"
    assert visit.lab_origin == "http://127.0.0.1:5000"
    assert visit.back == "/lessons/samesite/4"
    assert visit.kinds == ("link", "form", "frame")
    assert visit.expires_at == int(made) + visits.LIFETIME_SECONDS


def test_a_token_does_not_show_the_studio_session_it_names():
    raw = base64.urlsafe_b64decode(token(studio_id="findme-studio-id"))

    assert b"findme-studio-id" not in raw
    assert b"findme" not in token(studio_id="findme-studio-id").encode()


def test_kinds_the_other_site_does_not_offer_are_dropped():
    visit = visits.read_token(KEY, token(kinds=["form", "script", "frame"]))

    assert visit.kinds == ("form", "frame")


@pytest.mark.parametrize(
    ("made", "problem"),
    [
        (lambda: None, "needs the visit token"),
        (lambda: "", "needs the visit token"),
        (lambda: "x" * (visits.TOKEN_LIMIT + 1), "too long"),
        (lambda: altered(token()), "expired or not valid"),
        (lambda: visits.make_token("another key", "s", "o", "/", []), "not valid"),
        (
            lambda: token(at=time.time() - visits.LIFETIME_SECONDS - 5),
            "expired or not valid",
        ),
    ],
    ids=["missing", "empty", "too long", "altered", "other key", "expired"],
)
def test_a_bad_token_is_refused_with_a_reason(made, problem):
    with pytest.raises(visits.VisitError, match=problem):
        visits.read_token(KEY, made())


def test_the_token_is_found_in_the_query_string():
    environ = {"QUERY_STRING": "via=form&visit=abc-def_ghi%3D"}

    assert visits.token_in(environ) == "abc-def_ghi="
    assert visits.token_in({"QUERY_STRING": "via=form"}) is None
    assert visits.token_in({}) is None
