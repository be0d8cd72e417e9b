"""Lessons as data: Markdown files with front matter and typed steps.

A lesson file starts with YAML front matter (``id``, ``title``, ``summary``,
``prerequisites``). Text before the first step is the introduction. Each step
is a level-two heading ``## <kind>: <title>``, where kind is explain, try,
predict or notice; a fenced ``yaml`` block right under the heading holds the
step's data, and the Markdown after it is the step's text. docs/lessons.md
describes every field. A mistake in a file stops the app with a LessonError
naming the file and the line.
"""

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import frontmatter
import yaml
from markdown_it import MarkdownIt
from markupsafe import Markup

from .settings import STORE_NAMES, Settings, SettingsError

log = logging.getLogger(__name__)

STEP_KINDS = ("explain", "try", "predict", "notice")
PANELS = ("diagram", "headers", "cookie", "store", "decision", "browser", "settings")
METHODS = ("GET", "POST")
STORE_OPS = ("set", "touch", "destroy", "none")
LOOKUPS = ("hit", "miss", "none")
FRONT_MATTER_KEYS = {"id", "title", "summary", "prerequisites"}
MAX_REQUESTS = 2
MAX_DELAY_MS = 2000
# Where the specimens are mounted: express-session's, then Flask-Session's.
SPECIMEN_MOUNTS = ("/lab/", "/lab-flask/")

_LESSON_ID = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_CHOICE_ID = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_STEP_HEADING = re.compile(r"^(?P<kind>[a-z]+)\s*:\s*(?P<title>\S.*)$")

# Raw HTML is off, so nothing in a lesson reaches the page unescaped.
markdown = MarkdownIt("js-default", {"html": False})


class LessonError(ValueError):
    """A lesson file is not valid; names the file, the line and what is wrong."""

    def __init__(self, path: Path | str, line: int | None, problem: str):
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {problem}")
        self.path = str(path)
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class LabRequest:
    """A request the learner's browser sends to the specimen."""

    method: str
    path: str
    form: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    label: str = ""
    delay_ms: int = 0

    @property
    def line(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def mount(self) -> str:
        return next(m for m in SPECIMEN_MOUNTS if self.path.startswith(m))


@dataclass(frozen=True)
class Choice:
    """One answer a learner may predict, and the record facts it stands for."""

    id: str
    text: str
    expect: dict


@dataclass(frozen=True)
class Step:
    """One step of a lesson, its text rendered and its data checked."""

    number: int
    kind: str
    title: str
    html: Markup
    line: int
    requests: tuple = ()
    settings: dict = field(default_factory=dict)
    defaults: bool = False
    forget_cookie: bool = False
    question: str = ""
    choices: tuple = ()
    answer: str = ""
    look_at: tuple = ()
    demo: str = ""

    @property
    def sends(self) -> bool:
        return bool(self.requests)

    @property
    def races(self) -> bool:
        """Answer whether the step sends two requests to the same specimen."""
        return len(self.requests) > 1 and len({r.mount for r in self.requests}) == 1

    @property
    def needs_settings(self) -> bool:
        return bool(self.settings) or self.defaults or self.forget_cookie

    def choice(self, choice_id: str) -> Choice | None:
        return next((c for c in self.choices if c.id == choice_id), None)


@dataclass(frozen=True)
class Lesson:
    """A lesson: its front matter, introduction and steps."""

    id: str
    title: str
    summary: str
    prerequisites: tuple
    intro: Markup
    steps: tuple
    path: Path

    def step(self, number: int) -> Step | None:
        if 1 <= number <= len(self.steps):
            return self.steps[number - 1]
        return None


class Catalogue:
    """Every lesson, in an order where prerequisites come first."""

    def __init__(self, lessons: list[Lesson]):
        self.lessons = lessons
        self.by_id = {lesson.id: lesson for lesson in lessons}

    def __iter__(self):
        return iter(self.lessons)

    def __len__(self):
        return len(self.lessons)

    def get(self, lesson_id: str) -> Lesson | None:
        return self.by_id.get(lesson_id)


def init_app(app) -> None:
    """Load every lesson at start, so a broken file stops the app at once."""
    folder = Path(
        app.config.get("LESSONS_FOLDER") or Path(app.root_path).parent / "lessons"
    )
    catalogue = load_lessons(folder)
    app.extensions["lessons"] = catalogue
    log.info("loaded %s lessons from %s", len(catalogue), folder)


def load_lessons(folder: Path) -> Catalogue:
    """Read and check every lessons/*.md file and the prerequisite graph.

    :raise LessonError: a file is malformed, an ID repeats, a prerequisite is
        unknown or prerequisites form a cycle.
    """
    lessons, seen = [], {}
    for path in sorted(Path(folder).glob("*.md")):
        lesson = load_lesson(path)
        if lesson.id in seen:
            raise LessonError(
                path, 2, f"id {lesson.id!r} is already used by {seen[lesson.id]}"
            )
        seen[lesson.id] = path.name
        lessons.append(lesson)

    check_prerequisites(lessons)
    return Catalogue(ordered(lessons))


def load_lesson(path: Path) -> Lesson:
    """Read one lesson file.

    :raise LessonError: the file is malformed; the error names its line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LessonError(path, None, f"cannot read the file: {error}") from error

    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise LessonError(
            path, 1, "a lesson starts with front matter between --- lines"
        )
    closing = next(
        (i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), None
    )
    if closing is None:
        raise LessonError(path, 1, "the front matter has no closing --- line")

    try:
        post = frontmatter.loads(text)
    except yaml.YAMLError as error:
        # python-frontmatter hands YAML the text from the end of the first ---
        # line, so YAML counts that line as its first.
        raise LessonError(
            path, _yaml_line(error, 1), f"front matter: {_yaml_problem(error)}"
        )
    meta = check_front_matter(path, post.metadata, lines)

    body = "\n".join(lines[closing + 1 :])
    intro, steps = parse_steps(path, body, closing + 2)
    if not steps:
        raise LessonError(
            path, closing + 2, "a lesson needs at least one '## kind: title' step"
        )
    return Lesson(path=path, intro=intro, steps=tuple(steps), **meta)


def check_front_matter(path: Path, meta: dict, lines: list[str]) -> dict:
    def line_of(key: str) -> int:
        for number, line in enumerate(lines[1:], 2):
            if line.startswith(f"{key}:"):
                return number
        return 1

    unknown = sorted(set(meta) - FRONT_MATTER_KEYS)
    if unknown:
        raise LessonError(
            path, line_of(unknown[0]), f"unknown front matter key {unknown[0]!r}"
        )
    for key in ("id", "title", "summary"):
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            raise LessonError(
                path, line_of(key), f"front matter needs {key}: a non-empty text"
            )
    if not _LESSON_ID.match(meta["id"]):
        raise LessonError(
            path, line_of("id"), "id must be lower-case letters, digits and -"
        )

    prerequisites = meta.get("prerequisites") or []
    if not isinstance(prerequisites, list) or not all(
        isinstance(item, str) for item in prerequisites
    ):
        raise LessonError(
            path, line_of("prerequisites"), "prerequisites must be a list of lesson ids"
        )
    return {
        "id": meta["id"],
        "title": meta["title"].strip(),
        "summary": meta["summary"].strip(),
        "prerequisites": tuple(prerequisites),
    }


def parse_steps(path: Path, body: str, first_line: int) -> tuple[Markup, list[Step]]:
    """Split the body at its step headings and check each step's data."""
    tokens = markdown.parse(body)
    body_lines = body.split("\n")
    headings = [
        index
        for index, token in enumerate(tokens)
        if token.type == "heading_open" and token.tag == "h2"
    ]
    for token in tokens:
        if token.type == "heading_open" and token.tag == "h1":
            raise LessonError(
                path,
                first_line + token.map[0],
                "use ## headings for steps; the title is in the front matter",
            )

    intro_end = tokens[headings[0]].map[0] if headings else len(body_lines)
    intro = render(body_lines[:intro_end])
    steps = []
    for number, start in enumerate(headings, 1):
        end = headings[number] if number < len(headings) else len(tokens)
        steps.append(
            parse_step(path, number, tokens[start:end], body_lines, first_line)
        )
    return intro, steps


def parse_step(path, number, tokens, body_lines, first_line) -> Step:
    heading_line = first_line + tokens[0].map[0]
    match = _STEP_HEADING.match(tokens[1].content.strip())
    if not match:
        raise LessonError(path, heading_line, "a step heading reads '## kind: title'")
    kind, title = match["kind"], match["title"].strip()
    if kind not in STEP_KINDS:
        allowed = ", ".join(STEP_KINDS)
        raise LessonError(
            path, heading_line, f"unknown step kind {kind!r}; use {allowed}"
        )

    text_start = tokens[0].map[1]
    data, data_line = {}, heading_line
    following = tokens[3] if len(tokens) > 3 else None
    if (
        following is not None
        and following.type == "fence"
        and following.info.strip() == "yaml"
    ):
        data_line = first_line + following.map[0] + 1
        data = read_data(path, following.content, data_line)
        text_start = following.map[1]

    text_end = _end_line(tokens, len(body_lines))
    html = render(body_lines[text_start:text_end])
    fields = check_step(path, kind, data, data_line)
    return Step(
        number=number,
        kind=kind,
        title=title,
        html=html,
        line=heading_line,
        **fields,
    )


def _end_line(tokens, default: int) -> int:
    for token in reversed(tokens):
        if token.map:
            return token.map[1]
    return default


def read_data(path: Path, source: str, line: int) -> dict:
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as error:
        raise LessonError(
            path, _yaml_line(error, line), f"step data: {_yaml_problem(error)}"
        )
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise LessonError(path, line, "step data must be a YAML mapping")
    return data


STEP_KEYS = {
    "explain": {"demo"},
    "notice": {"look_at", "demo"},
    "try": {
        "request",
        "requests",
        "settings",
        "defaults",
        "forget_cookie",
        "look_at",
        "demo",
    },
    "predict": {
        "request",
        "requests",
        "settings",
        "defaults",
        "forget_cookie",
        "question",
        "choices",
        "answer",
        "look_at",
        "demo",
    },
}
DEMO_FOLDER = Path(__file__).resolve().parent.parent / "templates" / "demos"
_DEMO_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


def check_step(path: Path, kind: str, data: dict, line: int) -> dict:
    """Check a step's data against its kind and answer the Step fields."""
    unknown = sorted(set(data) - STEP_KEYS[kind])
    if unknown:
        allowed = ", ".join(sorted(STEP_KEYS[kind])) or "no data"
        raise LessonError(
            path,
            _key_line(path, line, unknown[0]),
            f"a {kind} step takes {allowed}, not {unknown[0]!r}",
        )

    fields = {"look_at": check_look_at(path, data.get("look_at", []), line)}
    if "demo" in data:
        fields["demo"] = check_demo(path, data["demo"], _key_line(path, line, "demo"))
    # A step whose demo sends its own requests may leave out request.
    sends = "request" in data or "requests" in data or "demo" not in data
    if kind in ("try", "predict") and sends:
        fields.update(check_sending(path, data, line))
    elif kind in ("try", "predict"):
        # A demo that sends its own requests still needs its settings applied.
        fields.update(check_setup(path, data, line))
    if kind == "predict":
        fields.update(check_prediction(path, data, line))
    return fields


def check_demo(path: Path, name, line: int) -> str:
    """Check a step's demo names a template in templates/demos/."""
    if not isinstance(name, str) or not _DEMO_NAME.match(name):
        raise LessonError(path, line, "demo is a name such as restart_worker")
    if not (DEMO_FOLDER / f"_{name}.html").is_file():
        raise LessonError(path, line, f"no demo {name!r}: templates/demos/_{name}.html")
    return name


def check_look_at(path, value, line) -> tuple:
    if not isinstance(value, list) or any(item not in PANELS for item in value):
        raise LessonError(path, line, f"look_at lists panels among {', '.join(PANELS)}")
    return tuple(value)


def check_sending(path: Path, data: dict, line: int) -> dict:
    if ("request" in data) == ("requests" in data):
        raise LessonError(path, line, "give either request (one) or requests (a list)")
    raw = [data["request"]] if "request" in data else data["requests"]
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_REQUESTS:
        raise LessonError(
            path, line, f"requests is a list of 1 to {MAX_REQUESTS} requests"
        )
    requests = tuple(check_request(path, item, line) for item in raw)
    return {"requests": requests, **check_setup(path, data, line)}


def check_setup(path: Path, data: dict, line: int) -> dict:
    """Check the settings a step applies, and its defaults and forget_cookie."""
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        raise LessonError(path, line, "settings is a mapping of setting: value")
    try:
        Settings().changed(settings)
    except SettingsError as error:
        raise LessonError(
            path, _key_line(path, line, error.field), f"settings: {error}"
        )

    flags = {}
    for name in ("defaults", "forget_cookie"):
        value = data.get(name, False)
        if not isinstance(value, bool):
            raise LessonError(
                path, _key_line(path, line, name), f"{name} must be true or false"
            )
        flags[name] = value
    return {"settings": settings, **flags}


def check_request(path: Path, item, line: int) -> LabRequest:
    if not isinstance(item, dict):
        raise LessonError(path, line, "a request is a mapping with method and path")
    unknown = sorted(
        set(item) - {"method", "path", "form", "headers", "label", "delay_ms"}
    )
    if unknown:
        raise LessonError(
            path,
            _key_line(path, line, unknown[0]),
            f"unknown request key {unknown[0]!r}",
        )

    method = str(item.get("method", "")).upper()
    if method not in METHODS:
        raise LessonError(
            path, _key_line(path, line, "method"), "method is GET or POST"
        )
    target = item.get("path")
    if not isinstance(target, str) or not target.startswith(SPECIMEN_MOUNTS):
        raise LessonError(
            path,
            _key_line(path, line, "path"),
            "path starts with /lab/ (or /lab-flask/ for Flask-Session)",
        )

    form = _strings(path, line, item.get("form") or {}, "form")
    if form and method != "POST":
        raise LessonError(
            path, _key_line(path, line, "form"), "only a POST sends a form"
        )
    headers = _strings(path, line, item.get("headers") or {}, "headers")
    if any(not _HEADER_NAME.match(name) for name in headers):
        raise LessonError(
            path,
            _key_line(path, line, "headers"),
            "header names are letters, digits and -",
        )

    delay = item.get("delay_ms", 0)
    if (
        isinstance(delay, bool)
        or not isinstance(delay, int)
        or not 0 <= delay <= MAX_DELAY_MS
    ):
        raise LessonError(
            path, _key_line(path, line, "delay_ms"), f"delay_ms is 0 to {MAX_DELAY_MS}"
        )
    label = item.get("label", "")
    if not isinstance(label, str):
        raise LessonError(path, _key_line(path, line, "label"), "label is a text")
    return LabRequest(method, target, form, headers, label, delay)


def _strings(path, line, value, name) -> dict:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise LessonError(
            path, _key_line(path, line, name), f"{name} maps names to quoted texts"
        )
    return dict(value)


EXPECT_CHECKS = {
    "set_cookie": lambda v: isinstance(v, bool),
    "cookie_sent": lambda v: isinstance(v, bool),
    "same_id": lambda v: isinstance(v, bool),
    "verified": lambda v: isinstance(v, bool),
    "store_op": lambda v: v in STORE_OPS,
    "lookup": lambda v: v in LOOKUPS,
    "status": lambda v: (
        isinstance(v, int) and not isinstance(v, bool) and 100 <= v <= 599
    ),
    "held_data": lambda v: (
        isinstance(v, dict)
        and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items())
    ),
    "store": lambda v: v in STORE_NAMES,
}


def check_prediction(path: Path, data: dict, line: int) -> dict:
    question = data.get("question")
    if not isinstance(question, str) or not question.strip():
        raise LessonError(
            path, _key_line(path, line, "question"), "a predict step needs a question"
        )

    raw = data.get("choices")
    if not isinstance(raw, list) or len(raw) < 2:
        raise LessonError(
            path,
            _key_line(path, line, "choices"),
            "a predict step needs two or more choices",
        )
    choices, ids = [], set()
    for item in raw:
        choice = check_choice(path, item, line)
        if choice.id in ids:
            raise LessonError(
                path,
                _key_line(path, line, "choices"),
                f"choice id {choice.id!r} repeats",
            )
        ids.add(choice.id)
        choices.append(choice)

    answer = data.get("answer")
    if answer not in ids:
        raise LessonError(
            path, _key_line(path, line, "answer"), "answer names one of the choice ids"
        )
    return {"question": question.strip(), "choices": tuple(choices), "answer": answer}


def check_choice(path: Path, item, line: int) -> Choice:
    if not isinstance(item, dict) or set(item) != {"id", "text", "expect"}:
        raise LessonError(
            path,
            _key_line(path, line, "choices"),
            "each choice has id, text and expect",
        )
    if not isinstance(item["id"], str) or not _CHOICE_ID.match(item["id"]):
        raise LessonError(
            path,
            _key_line(path, line, "id"),
            "a choice id is lower-case letters, digits and -",
        )
    if not isinstance(item["text"], str) or not item["text"].strip():
        raise LessonError(path, _key_line(path, line, "text"), "a choice needs a text")

    expect = item["expect"]
    if not isinstance(expect, dict) or not expect:
        raise LessonError(
            path, _key_line(path, line, "expect"), "expect maps record facts to values"
        )
    for name, value in expect.items():
        check = EXPECT_CHECKS.get(name)
        if check is None:
            known = ", ".join(EXPECT_CHECKS)
            raise LessonError(
                path, _key_line(path, line, name), f"unknown fact {name!r}; use {known}"
            )
        if not check(value):
            raise LessonError(
                path,
                _key_line(path, line, name),
                f"{name}: {value!r} is not a valid value",
            )
    return Choice(item["id"], item["text"].strip(), dict(expect))


def check_prerequisites(lessons: list[Lesson]) -> None:
    """Check every prerequisite names a lesson and that none depends on itself.

    :raise LessonError: an unknown id, or a cycle (named by its files).
    """
    by_id = {lesson.id: lesson for lesson in lessons}
    for lesson in lessons:
        for needed in lesson.prerequisites:
            if needed not in by_id:
                line = _front_line(lesson.path, "prerequisites")
                raise LessonError(lesson.path, line, f"unknown prerequisite {needed!r}")

    state = {}

    def visit(lesson: Lesson, trail: list[Lesson]) -> None:
        if state.get(lesson.id) == "done":
            return
        if state.get(lesson.id) == "open":
            cycle = trail[trail.index(lesson) :] + [lesson]
            names = " -> ".join(item.id for item in cycle)
            line = _front_line(lesson.path, "prerequisites")
            raise LessonError(lesson.path, line, f"prerequisites form a cycle: {names}")
        state[lesson.id] = "open"
        for needed in lesson.prerequisites:
            visit(by_id[needed], trail + [lesson])
        state[lesson.id] = "done"

    for lesson in lessons:
        visit(lesson, [])


def ordered(lessons: list[Lesson]) -> list[Lesson]:
    """Answer the lessons with each after its prerequisites, else by file name."""
    placed, result = set(), []
    remaining = list(lessons)
    while remaining:
        for lesson in remaining:
            if all(needed in placed for needed in lesson.prerequisites):
                placed.add(lesson.id)
                result.append(lesson)
                remaining.remove(lesson)
                break
    return result


def render(lines: list[str]) -> Markup:
    """Render lesson Markdown to HTML; raw HTML in the source stays escaped."""
    return Markup(markdown.render("\n".join(lines)))


def render_inline(text: str) -> Markup:
    """Render one line of lesson Markdown, such as a choice, without a paragraph."""
    return Markup(markdown.renderInline(text))


def _front_line(path: Path, key: str) -> int | None:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith(f"{key}:"):
            return number
    return None


def _key_line(path: Path, first: int, key: str) -> int:
    """Answer the line of a key inside a step's YAML block, or the block's first."""
    lines = path.read_text(encoding="utf-8").splitlines()
    pattern = re.compile(rf"^\s*(?:-\s*)?{re.escape(str(key))}\s*:")
    for number in range(first, len(lines) + 1):
        text = lines[number - 1]
        if text.strip().startswith("```") and number > first:
            break
        if pattern.match(text):
            return number
    return first


def _yaml_line(error: yaml.YAMLError, offset: int) -> int:
    # An unclosed bracket is reported at the end of the text; the context mark
    # points at the bracket itself, which is where the mistake is.
    mark = getattr(error, "context_mark", None) or getattr(error, "problem_mark", None)
    return offset + mark.line if mark is not None else offset


def _yaml_problem(error: yaml.YAMLError) -> str:
    problem = getattr(error, "problem", None)
    return problem or str(error).splitlines()[0]


def matches(expect: dict, facts: dict) -> bool:
    """Answer whether a choice's expected facts are what the record shows."""
    for name, wanted in expect.items():
        found = facts.get(name)
        if name == "held_data":
            if not isinstance(found, dict):
                return False
            if any(found.get(key) != value for key, value in wanted.items()):
                return False
        elif found != wanted:
            return False
    return True


def outcome(step: Step, facts: dict) -> Choice | None:
    """Answer the choice the record bears out, or None when it bears out none."""
    return next((c for c in step.choices if matches(c.expect, facts)), None)
