"""Lesson files: every shipped lesson is valid, and broken ones are refused."""

from pathlib import Path
from textwrap import dedent

import pytest

from app.lessons import (
    PANELS,
    STEP_KINDS,
    LessonError,
    load_lesson,
    load_lessons,
    matches,
    outcome,
)
from app.settings import Settings

LESSONS = Path(__file__).resolve().parents[2] / "lessons"

GOOD = """\
---
id: {id}
title: A lesson
summary: What it teaches.
prerequisites: {prerequisites}
---

Introduction.

## try: Send a request

```yaml
request:
  method: GET
  path: /lab/
```

Text of the step.
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(dedent(text), encoding="utf-8")
    return path


def test_every_lesson_loads_and_follows_the_schema():
    catalogue = load_lessons(LESSONS)
    ids = [lesson.id for lesson in catalogue]

    assert ids[:2] == ["lifecycle", "options"]
    assert len(set(ids)) == len(ids)
    for lesson in catalogue:
        assert lesson.title and lesson.summary
        assert lesson.steps, lesson.id
        for step in lesson.steps:
            assert step.kind in STEP_KINDS
            assert set(step.look_at) <= set(PANELS)
            Settings().changed(step.settings)
            for request in step.requests:
                assert request.path.startswith(("/lab/", "/lab-flask/"))
                assert request.method in ("GET", "POST")
            if step.kind == "predict":
                sends = step.requests or step.demo
                assert sends, f"{lesson.id} step {step.number} sends nothing"
                assert step.choice(step.answer) is not None
                assert len(step.choices) >= 2


def test_prerequisites_name_known_lessons_and_come_first():
    catalogue = load_lessons(LESSONS)
    seen = set()

    for lesson in catalogue:
        for needed in lesson.prerequisites:
            assert catalogue.get(needed) is not None
            assert needed in seen, f"{lesson.id} is listed before {needed}"
        seen.add(lesson.id)
    assert catalogue.get("options").prerequisites == ("lifecycle",)


def test_lesson_text_keeps_raw_html_escaped(tmp_path):
    text = GOOD.format(id="escape", prerequisites="[]").replace(
        "Text of the step.", "Text <script>alert(1)</script> and <b>bold</b>."
    )
    lesson = load_lesson(write(tmp_path, "escape.md", text))

    html = str(lesson.steps[0].html)
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


MALFORMED = [
    ("no front matter", "# Title\n\ntext\n", 1, "front matter"),
    (
        "unknown step kind",
        GOOD.format(id="a", prerequisites="[]").replace("## try:", "## guess:"),
        10,
        "unknown step kind 'guess'",
    ),
    (
        "broken step YAML",
        GOOD.format(id="a", prerequisites="[]").replace(
            "  path: /lab/", "  path: [/lab/"
        ),
        15,
        "step data",
    ),
    (
        "setting that does not exist",
        GOOD.format(id="a", prerequisites="[]").replace(
            "request:", "settings:\n  resav: false\nrequest:"
        ),
        14,
        "resav: no such setting",
    ),
    (
        "path outside the lab",
        GOOD.format(id="a", prerequisites="[]").replace("path: /lab/", "path: /api/"),
        15,
        "path starts with /lab/",
    ),
    (
        "missing summary",
        GOOD.format(id="a", prerequisites="[]").replace(
            "summary: What it teaches.", "summary: ''"
        ),
        4,
        "summary",
    ),
    (
        "demo with no template",
        GOOD.format(id="a", prerequisites="[]").replace(
            "request:", "demo: no_such_demo\nrequest:"
        ),
        13,
        "no demo 'no_such_demo'",
    ),
    (
        "demo step with a setting that does not exist",
        GOOD.format(id="a", prerequisites="[]").replace(
            "request:\n  method: GET\n  path: /lab/",
            "demo: proxy_burst\nsettings:\n  secure: maybe",
        ),
        15,
        "secure: must be true or false",
    ),
    (
        "bad front matter YAML",
        GOOD.format(id="a", prerequisites="[oops"),
        5,
        "front matter",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_a_malformed_file_is_refused_with_its_name_and_line(
    tmp_path, text, line, problem
):
    path = write(tmp_path, "broken.md", text)

    with pytest.raises(LessonError) as caught:
        load_lessons(tmp_path)

    error = caught.value
    assert error.path == str(path)
    assert error.line == line
    assert problem in error.problem
    assert str(error).startswith(f"{path}:{line}: ")


def test_a_step_whose_demo_sends_keeps_its_settings(tmp_path):
    text = GOOD.format(id="demo", prerequisites="[]").replace(
        "request:\n  method: GET\n  path: /lab/",
        "demo: proxy_burst\ndefaults: true\nsettings:\n  secure: true",
    )
    step = load_lesson(write(tmp_path, "demo.md", text)).steps[0]

    assert step.demo == "proxy_burst"
    assert step.requests == ()
    assert step.settings == {"secure": True} and step.defaults
    assert step.needs_settings


def test_a_predict_answer_must_be_one_of_its_choices(tmp_path):
    text = """\
    ---
    id: guess
    title: Guess
    summary: A prediction with a wrong answer key.
    ---

    ## predict: What happens

    ```yaml
    request: {method: GET, path: /lab/}
    question: Is a cookie sent?
    choices:
      - {id: yes-sent, text: It is sent, expect: {set_cookie: true}}
      - {id: not-sent, text: It is not, expect: {set_cookie: false}}
    answer: maybe
    ```
    """
    path = write(tmp_path, "guess.md", text)

    with pytest.raises(LessonError) as caught:
        load_lesson(path)
    assert caught.value.line == 15
    assert "answer names one of the choice ids" in str(caught.value)


def test_an_unknown_prerequisite_is_refused(tmp_path):
    write(tmp_path, "a.md", GOOD.format(id="a", prerequisites="[nowhere]"))

    with pytest.raises(LessonError) as caught:
        load_lessons(tmp_path)
    assert caught.value.path.endswith("a.md")
    assert caught.value.line == 5
    assert "unknown prerequisite 'nowhere'" in str(caught.value)


def test_a_prerequisite_cycle_is_refused(tmp_path):
    write(tmp_path, "a.md", GOOD.format(id="a", prerequisites="[c]"))
    write(tmp_path, "b.md", GOOD.format(id="b", prerequisites="[a]"))
    write(tmp_path, "c.md", GOOD.format(id="c", prerequisites="[b]"))

    with pytest.raises(LessonError) as caught:
        load_lessons(tmp_path)
    assert "prerequisites form a cycle" in str(caught.value)
    assert caught.value.line == 5


def test_a_repeated_id_is_refused(tmp_path):
    write(tmp_path, "a.md", GOOD.format(id="same", prerequisites="[]"))
    write(tmp_path, "b.md", GOOD.format(id="same", prerequisites="[]"))

    with pytest.raises(LessonError, match=r"b\.md:2: id 'same' is already used"):
        load_lessons(tmp_path)


FACTS = {
    "status": 200,
    "set_cookie": False,
    "cookie_sent": True,
    "store_op": "set",
    "lookup": "hit",
    "same_id": True,
    "held_data": {"colour": "red"},
}


@pytest.mark.parametrize(
    ("expect", "expected"),
    [
        ({"set_cookie": False, "store_op": "set"}, True),
        ({"set_cookie": True}, False),
        ({"held_data": {"colour": "red"}}, True),
        ({"held_data": {"colour": "blue"}}, False),
        ({"lookup": "miss"}, False),
        ({"status": 200, "same_id": True}, True),
    ],
)
def test_a_choice_matches_the_facts_of_the_record(expect, expected):
    assert matches(expect, FACTS) is expected


def test_the_outcome_is_the_choice_the_record_bears_out():
    catalogue = load_lessons(LESSONS)
    race = next(s for s in catalogue.get("options").steps if len(s.requests) == 2)

    assert outcome(race, FACTS).id == "red"
    assert outcome(race, {**FACTS, "held_data": {"colour": "blue"}}).id == "blue"
    assert outcome(race, {**FACTS, "held_data": None}) is None


DEMO_STEP = """\
---
id: a
title: A lesson
summary: What it teaches.
---

## try: Use a demo

```yaml
demo: restart_worker
forget_cookie: true
settings:
  {setting}
```
"""


def test_a_demo_step_without_requests_keeps_its_settings(tmp_path):
    text = DEMO_STEP.format(setting="save_uninitialized: false")
    path = write(tmp_path, "demo.md", text)

    step = load_lesson(path).steps[0]

    assert step.demo == "restart_worker"
    assert step.requests == ()
    assert step.settings == {"save_uninitialized": False}
    assert step.forget_cookie and step.needs_settings


def test_a_demo_step_with_a_bad_setting_is_refused(tmp_path):
    path = write(tmp_path, "demo.md", DEMO_STEP.format(setting="resav: false"))

    with pytest.raises(LessonError) as caught:
        load_lesson(path)

    assert caught.value.line == 13
    assert "resav: no such setting" in caught.value.problem
