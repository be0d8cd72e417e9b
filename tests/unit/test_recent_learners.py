"""The recorder's memory of learners: keyed by both cookies, bounded, brief."""

from flask import Flask

from app.learners import SETTINGS_COOKIE, Learner, RecentLearners
from app.settings import Settings


def studio() -> Flask:
    app = Flask(__name__)
    app.config["SESSION_COOKIE_NAME"] = "lab_learner"
    return app


def environ(cookie: str) -> dict:
    return {"HTTP_COOKIE": cookie}


def test_the_key_needs_the_studio_cookie_and_the_settings_cookie():
    recent, app = RecentLearners(), studio()

    assert recent.key(app, environ("lab_learner=a")) is None
    assert recent.key(app, environ(f"{SETTINGS_COOKIE}=v")) is None
    assert recent.key(app, environ("")) is None
    both = environ(f"lab_learner=a; sid=s%3Ax.y; {SETTINGS_COOKIE}=v")
    assert recent.key(app, both) == ("a", "v")


def test_another_studio_cookie_with_the_same_version_finds_nothing():
    recent, app = RecentLearners(), studio()
    mine = recent.key(app, environ(f"lab_learner=mine; {SETTINGS_COOKIE}=v"))
    recent.put(mine, Learner("mine", Settings()))

    theirs = recent.key(app, environ(f"lab_learner=theirs; {SETTINGS_COOKIE}=v"))

    assert recent.get(theirs) is None
    assert recent.get(mine).id == "mine"


def test_the_learner_used_least_recently_goes_past_the_limit():
    recent = RecentLearners(limit=2)
    for name in ("one", "two"):
        recent.put((name, "v"), Learner(name, Settings()))
    recent.get(("one", "v"))

    recent.put(("three", "v"), Learner("three", Settings()))

    assert recent.get(("two", "v")) is None
    assert [recent.get((name, "v")).id for name in ("one", "three")] == [
        "one",
        "three",
    ]


def test_an_entry_past_its_lifetime_is_read_again():
    recent = RecentLearners(lifetime=0)
    recent.put(("one", "v"), Learner("one", Settings()))

    assert recent.get(("one", "v")) is None
    assert recent.entries == {}
