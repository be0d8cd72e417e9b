"""Ask a specimen worker directly, past the studio, and check on its process."""

import os
import re
import time
from html import unescape
from pathlib import Path

from app.workers.pool import request_json


def worker(app, name: str):
    """Answer the worker the studio's registry names, or None."""
    return app.extensions["specimen_workers"].read(name)


def ask(app, name: str, path: str, learner_cookie: str, method="GET", form=None):
    """Call a worker's own API on its port, as the learner whose cookie is given."""
    found = worker(app, name)
    assert found is not None, f"worker {name} is not running"
    cookie = f"lab_learner={learner_cookie}"
    return request_json(found.port, method, path, cookie, form, timeout=30)


def held(app, name: str, learner_cookie: str, session_id: str = "") -> dict:
    """Answer what the worker's memory holds for the learner, asked just now."""
    path = "/demos/visitors/held" + (f"?id={session_id}" if session_id else "")
    status, answer = ask(app, name, path, learner_cookie)
    assert status == 200, answer
    return answer


def alive(pid: int) -> bool:
    """Answer whether a process runs; an exited one awaiting its reaper does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def gone(pid: int, seconds: float = 20.0) -> bool:
    """Wait, within bounds, for a process to end; answer whether it did."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return not alive(pid)


def is_worker_process(pid: int) -> bool:
    """Answer whether the process runs ``python -m app.workers``."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"app.workers" in command and pid != os.getpid()


def shown(html: str, testid: str) -> str:
    """Answer the text of the element with that data-testid in a fragment."""
    pattern = rf'<(\w+)[^>]*data-testid="{re.escape(testid)}"[^>]*>(.*?)</\1>'
    match = re.search(pattern, html, re.S)
    assert match is not None, f"no {testid} in {html[:400]}"
    text = re.sub(r"<[^>]+>", "", match.group(2))
    return " ".join(unescape(text).split())


def number(html: str, testid: str) -> int:
    return int(shown(html, testid))


def workers_started_by(parent: int) -> list[int]:
    """Answer the running specimen workers whose parent is the given process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, ppid = fields[0], int(fields[1])
        if ppid == parent and state != "Z" and is_worker_process(int(entry.name)):
            found.append(int(entry.name))
    return found
