"""The memory lesson's demos: restart a worker, two workers, a store that grows.

The studio's side of them: each route asks the pool for a worker (starting
it on first use), calls the worker's own API as the learner, and renders
what the worker answered. Nothing here touches the studio's own memory store.
"""

import logging
import math
import time
from urllib.parse import quote

from flask import current_app, request

from .. import learners
from ..recorder import held_id
from ..views import hx
from ..views.exchange import ExchangeView, facts
from ..workers import (
    RestartRefused,
    UnknownWorker,
    WorkerError,
    check_name,
    workers_of,
)
from . import bp

log = logging.getLogger(__name__)

GROWTH_VISITORS = 200
GROWTH_SAMPLE_EVERY = 10
SERVED_SHOWN = 8
BURST_WORKER = "b"
WORKER_RESTARTED = "worker-restarted"


def pool():
    """:raise WorkerError: this app is a worker, which runs no workers itself."""
    workers = workers_of(current_app)
    if workers is None:
        raise WorkerError("a worker runs no demos of its own; use the studio")
    return workers


def lab():
    return current_app.extensions["session_lab"]


def cookie_header() -> str:
    """Answer the browser's Cookie header, to call a worker as this learner."""
    return request.headers.get("Cookie", "")


def latest_record(learner) -> dict | None:
    records = lab().journal.exchanges(learner.id)
    return records[-1] if records else None


def browser_holds(learner) -> tuple[str | None, int | None]:
    """Answer the session ID the browser holds after its latest exchange, and when.

    A signed-cookie exchange leaves the browser no ID, only the session itself.
    """
    record = latest_record(learner)
    if record is None or record.get("store") == "cookie":
        return None, None
    return held_id(record), record.get("seq")


def problem(message: str, status: int):
    """Answer why a demo could not run, in the place its result would go."""
    template = "demos/memory/_problem.html"
    return hx.render(template, template, status, message=message)


def worker_context(name: str, learner) -> dict:
    """Ask the worker what its memory holds, for this learner and in all.

    :raise WorkerError: the worker could not be started or did not answer.
    """
    held, seq = browser_holds(learner)
    worker = pool().get(name)
    path = "/demos/visitors/held" + (f"?id={quote(held)}" if held else "")
    status, answer = pool().call(name, "GET", path, cookie_header())
    if status != 200:
        raise WorkerError(answer.get("error") or f"it answered {status}")
    return {
        "worker": worker,
        "answer": answer,
        "held_id": held,
        "held_seq": seq,
        "up_for": max(0, int(time.time() - worker.started_at)),
        "restart_seconds": current_app.config["WORKER_RESTART_SECONDS"],
    }


@bp.get("/memory/worker/<name>")
def show_worker(name: str):
    learner = learners.current()
    try:
        check_name(name)
        context = worker_context(name, learner)
    except UnknownWorker as error:
        return problem(str(error), 404)
    except WorkerError as error:
        return problem(str(error), 503)
    template = "demos/memory/_worker.html"
    return hx.render(template, template, **context)


@bp.post("/memory/restart/<name>")
def restart_worker(name: str):
    learner = learners.current()
    try:
        check_name(name)
        before = worker_context(name, learner)
        old, fresh = pool().restart(name)
        context = worker_context(name, learner)
    except UnknownWorker as error:
        return problem(str(error), 404)
    except RestartRefused as error:
        return problem(str(error), 429)
    except WorkerError as error:
        return problem(str(error), 503)

    log.info("a learner restarted worker %s", name)
    context["restarted"] = {"old": old, "before": before["answer"]}
    return hx.render(
        "demos/memory/_restarted.html",
        "demos/memory/_restarted.html",
        trigger=WORKER_RESTARTED,
        **context,
    )


@bp.get("/memory/served")
def memory_served():
    learner = learners.current()
    records = lab().journal.exchanges(learner.id)
    studio = current_app.config["SESSION_COOKIE_NAME"]
    rows = []
    for index in range(max(0, len(records) - SERVED_SHOWN), len(records)):
        previous = records[index - 1] if index > 0 else None
        view = ExchangeView(records[index], previous, studio)
        rows.append({"view": view, "facts": facts(view)})
    return hx.render(
        "demos/memory/_served.html", "demos/memory/_served.html", rows=rows[::-1]
    )


@bp.post("/memory/burst")
def memory_burst():
    learners.current()
    form = {"count": GROWTH_VISITORS, "every": GROWTH_SAMPLE_EVERY}
    return visitors_answer("/demos/visitors/burst", form, "demos/memory/_growth.html")


@bp.post("/memory/overfill")
def memory_overfill():
    learners.current()
    template = "demos/memory/_overfill.html"
    return visitors_answer("/demos/visitors/overfill", {}, template)


@bp.get("/memory/census")
def memory_census():
    learner = learners.current()
    try:
        context = worker_context(BURST_WORKER, learner)
    except WorkerError as error:
        return problem(str(error), 503)
    template = "demos/memory/_census.html"
    return hx.render(template, template, **context)


def visitors_answer(path: str, form: dict, template: str):
    """Run visitors on worker B and render its answer, or why there is none."""
    try:
        status, answer = pool().call(BURST_WORKER, "POST", path, cookie_header(), form)
    except WorkerError as error:
        return problem(str(error), 503)
    if status != 200:
        return problem(answer.get("error") or f"worker B answered {status}", status)
    return hx.render(template, template, answer=answer)


@bp.app_template_global()
def memory_chart(samples: list, keys, width: int = 360, height: int = 150) -> dict:
    """Answer a line chart's geometry for some measures of the samples.

    The axes start at zero so a flat line reads as flat and a drop as a drop.
    """
    keys = [keys] if isinstance(keys, str) else list(keys)
    left, right, top, bottom = 48, 8, 8, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    most_x = max((s["visitors"] for s in samples), default=0) or 1
    most_y = nice_ceiling(max((s[k] for s in samples for k in keys), default=0))

    def points(key: str) -> str:
        return " ".join(
            f"{left + plot_w * s['visitors'] / most_x:.1f},"
            f"{top + plot_h - plot_h * s[key] / most_y:.1f}"
            for s in samples
        )

    return {
        "width": width,
        "height": height,
        "left": left,
        "top": top,
        "bottom": top + plot_h,
        "right": left + plot_w,
        "lines": [{"key": key, "points": points(key)} for key in keys],
        "y_ticks": [
            {"value": v, "y": round(top + plot_h - plot_h * v / most_y, 1)}
            for v in (0, most_y // 2, most_y)
        ],
        "x_ticks": [
            {"value": v, "x": round(left + plot_w * v / most_x, 1)}
            for v in (0, most_x // 2, most_x)
        ],
    }


def nice_ceiling(value: int) -> int:
    """Answer a round number at least as large as the value, for an axis."""
    if value <= 0:
        return 10
    step = 10 ** max(0, int(math.log10(value)) - 1)
    return int(math.ceil(value / step) * step)
