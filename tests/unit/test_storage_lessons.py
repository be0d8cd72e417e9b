"""The cache and database lessons' predictions are judged on the store used too."""

from pathlib import Path

import pytest

from app.lessons import LessonError, load_lesson, load_lessons, outcome

LESSONS = Path(__file__).resolve().parents[2] / "lessons"
ON_REDIS = {
    "status": 200,
    "set_cookie": True,
    "cookie_sent": False,
    "store_op": "set",
    "lookup": "none",
    "same_id": False,
    "held_data": {"note": "n"},
    "store": "redis",
}


def step_titled(lesson_id: str, title: str):
    lesson = load_lessons(LESSONS).get(lesson_id)
    return next(step for step in lesson.steps if step.title == title)


def test_the_note_on_redis_is_borne_out_only_on_redis():
    step = step_titled("cache", "The same note on Redis")

    assert outcome(step, ON_REDIS).id == "in-redis"
    assert outcome(step, {**ON_REDIS, "store": "memory"}) is None
    on_cookie = {**ON_REDIS, "store": "cookie", "store_op": "none"}
    assert outcome(step, on_cookie).id == "in-cookie"


def test_a_store_fact_names_a_store(tmp_path):
    path = tmp_path / "a.md"
    path.write_text(
        "---\nid: a\ntitle: A\nsummary: S.\nprerequisites: []\n---\n\n"
        "## predict: P\n\n```yaml\nrequest:\n  method: GET\n  path: /lab/\n"
        "question: Q?\nchoices:\n  - id: x\n    text: X\n    expect: {store: nowhere}\n"
        "  - id: y\n    text: Y\n    expect: {store: redis}\nanswer: x\n```\n",
        encoding="utf-8",
    )

    with pytest.raises(LessonError, match="store: 'nowhere' is not a valid value"):
        load_lesson(path)
