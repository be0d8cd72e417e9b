"""Start, find, restart and stop the specimen workers.

Where each worker runs (its process, port and a token it proves itself with)
is kept in the instance folder, under a file lock, so every studio process
finds the same two workers. A worker's stdin is a pipe from the studio process
that started it: when that process ends, however it ends, the pipe closes and
the worker leaves too, so no worker outlives the studio.
"""

import atexit
import fcntl
import http.client
import json
import logging
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path, PurePath
from urllib.parse import urlencode

log = logging.getLogger(__name__)

WORKER_NAMES = ("a", "b")
BALANCED = "balanced"
ROOT = Path(__file__).resolve().parents[2]
SELF_PATH = "/demos/visitors/self"
ANSWER_LIMIT = 1024 * 1024
STOP_SECONDS = 5.0


@dataclass(frozen=True)
class Worker:
    """One worker process, as the registry in the instance folder knows it."""

    name: str
    pid: int
    port: int
    token: str
    started_at: float
    restarted_at: float | None = None
    previous_pid: int | None = None

    @property
    def title(self) -> str:
        return f"worker {self.name.upper()}"


class WorkerError(RuntimeError):
    """A worker could not be started, or did not answer."""


class RestartRefused(WorkerError):
    """A worker was restarted too recently to be restarted again."""

    def __init__(self, name: str, wait: float):
        super().__init__(
            f"worker {name.upper()} was restarted moments ago; every learner in "
            f"the class shares it, so it can be restarted again in {math.ceil(wait)} s"
        )
        self.wait = wait


class UnknownWorker(WorkerError):
    """A name that is not one of the workers'."""


def check_name(name: str) -> None:
    """:raise UnknownWorker: the name is not one of the workers."""
    if name not in WORKER_NAMES:
        known = ", ".join(WORKER_NAMES)
        raise UnknownWorker(f"there is no worker {name!r}; the workers are {known}")


class Workers:
    """The studio's two workers: started on first use, restarted on request."""

    def __init__(self, app):
        self.config = app.config
        self.instance = Path(app.instance_path)
        self.folder = self.instance / "workers"
        self.children: dict[int, subprocess.Popen] = {}
        self.trusted: dict[str, Worker] = {}
        self._lock = threading.Lock()
        self._hooked = False

    def get(self, name: str) -> Worker:
        """Answer the worker, starting it first when it is not running.

        :raise WorkerError: the worker could not be started.
        """
        check_name(name)
        known = self.trusted.get(name)
        if known is not None and self.read(name) == known:
            return known

        with self.locked():
            found = self.read(name)
            if found is not None and self.answers(found):
                worker = found
            else:
                worker = self.spawn(name)
                self.write(worker)
        self.trusted[name] = worker
        return worker

    def forget(self, name: str) -> None:
        """Check the worker afresh next time: it did not answer."""
        self.trusted.pop(name, None)

    def restart(self, name: str) -> tuple[Worker | None, Worker]:
        """Stop the worker's process and start a new one in its place.

        :raise RestartRefused: it was restarted less than
            WORKER_RESTART_SECONDS ago, by anyone.
        :raise WorkerError: the new process could not be started.
        """
        check_name(name)
        interval = self.config["WORKER_RESTART_SECONDS"]
        with self.locked():
            old = self.read(name)
            now = time.time()
            if old is not None and old.restarted_at is not None:
                wait = old.restarted_at + interval - now
                if wait > 0:
                    raise RestartRefused(name, wait)

            if old is not None and self.answers(old):
                self.end(old)
            previous = old.pid if old is not None else None
            worker = self.spawn(name, restarted_at=now, previous_pid=previous)
            self.write(worker)
        self.trusted[name] = worker
        log.info("restarted worker %s: process %s, now %s", name, previous, worker.pid)
        return old, worker

    def call(self, name: str, method: str, path: str, cookie=None, form=None):
        """Ask a worker's demo routes for JSON, on behalf of the given cookies.

        :raise WorkerError: the worker could not be started or did not answer.
        """
        worker = self.get(name)
        timeout = self.config["WORKER_ANSWER_SECONDS"]
        try:
            return request_json(worker.port, method, path, cookie, form, timeout)
        except WorkerError:
            self.forget(name)
            raise

    def stop(self) -> None:
        """Stop every worker this studio process started, and wait for each."""
        with self._lock:
            children = list(self.children.values())
            self.children.clear()
        for process in children:
            stop_child(process)

        stopped = {process.pid for process in children}
        for name in WORKER_NAMES:
            found = self.read(name)
            if found is not None and found.pid in stopped:
                (self.folder / f"{name}.json").unlink(missing_ok=True)
        self.trusted.clear()

    def started_here(self) -> list[int]:
        """Answer the process IDs of the workers this studio process runs."""
        with self._lock:
            return [pid for pid, p in self.children.items() if p.poll() is None]

    def spawn(self, name, restarted_at=None, previous_pid=None) -> Worker:
        listener = socket.create_server(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        token = secrets.token_hex(16)
        command = [sys.executable, "-m", "app.workers", "--fd", str(listener.fileno())]
        try:
            # The socket is bound before the worker starts, so the port is
            # known at once and no other program can take it meanwhile.
            process = subprocess.Popen(
                command, stdin=subprocess.PIPE, pass_fds=(listener.fileno(),), cwd=ROOT
            )
        except OSError as error:
            raise WorkerError(f"could not start worker {name}: {error}") from error
        finally:
            listener.close()

        with self._lock:
            self.children[process.pid] = process
        self.hook_exit()
        worker = Worker(
            name, process.pid, port, token, time.time(), restarted_at, previous_pid
        )
        try:
            self.hand_over(process, name, token)
            self.wait_ready(worker, process)
        except WorkerError:
            with self._lock:
                self.children.pop(process.pid, None)
            stop_child(process)
            raise
        log.info("started worker %s as process %s on port %s", name, worker.pid, port)
        return worker

    def hand_over(self, process, name: str, token: str) -> None:
        """Give the worker its name, token and the studio's configuration.

        They go through the pipe rather than the command line or the
        environment, which other users of the machine can read.
        """
        payload = {
            "name": name,
            "token": token,
            "instance": str(self.instance),
            **portable(self.config),
        }
        try:
            process.stdin.write(json.dumps(payload).encode() + b"\n")
            process.stdin.flush()
        except OSError as error:
            raise WorkerError(f"worker {name} stopped before it started") from error

    def wait_ready(self, worker: Worker, process) -> None:
        limit = self.config["WORKER_START_SECONDS"]
        deadline = time.monotonic() + limit
        while True:
            code = process.poll()
            if code is not None:
                raise WorkerError(
                    f"{worker.title} stopped while starting (exit status {code}); "
                    "the studio's log holds its error"
                )
            left = deadline - time.monotonic()
            if left <= 0:
                raise WorkerError(f"{worker.title} did not answer within {limit} s")
            if self.answers(worker, timeout=min(5.0, left)):
                return
            time.sleep(0.1)

    def answers(self, worker: Worker, timeout: float = 2.0) -> bool:
        """Answer whether the worker's port is served by that very worker."""
        try:
            status, data = request_json(worker.port, "GET", SELF_PATH, timeout=timeout)
        except WorkerError:
            return False
        return (
            status == 200
            and data.get("token") == worker.token
            and data.get("pid") == worker.pid
        )

    def end(self, worker: Worker) -> None:
        """Stop a worker process and wait until it is gone."""
        with self._lock:
            process = self.children.pop(worker.pid, None)
        if process is not None:
            stop_child(process)
            return

        # Another studio process started it; its token was checked just now,
        # so the signal goes to the worker and to nothing else.
        try:
            os.kill(worker.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + STOP_SECONDS
        while time.monotonic() < deadline and self.answers(worker, timeout=0.5):
            time.sleep(0.05)

    def hook_exit(self) -> None:
        if not self._hooked:
            self._hooked = True
            atexit.register(self.stop)

    @contextmanager
    def locked(self):
        """Hold the instance folder's worker lock, across threads and processes.

        :raise WorkerError: the instance folder cannot hold the lock.
        """
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle = open(self.folder / ".lock", "a+")
        except OSError as error:
            message = f"cannot keep workers in {self.folder}: {error}"
            raise WorkerError(message) from error
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def read(self, name: str) -> Worker | None:
        try:
            data = json.loads((self.folder / f"{name}.json").read_text())
            return Worker(**data)
        except (OSError, ValueError, TypeError):
            return None

    def write(self, worker: Worker) -> None:
        """:raise WorkerError: the registry cannot be written; the worker stops."""
        path = self.folder / f"{worker.name}.json"
        partial = path.with_suffix(".partial")
        try:
            partial.write_text(json.dumps(asdict(worker)))
            os.replace(partial, path)
        except OSError as error:
            self.end(worker)
            message = f"cannot note {worker.title} in {path}: {error}"
            raise WorkerError(message) from error


def stop_child(process: subprocess.Popen) -> None:
    """Stop a worker this process started: close its pipe, signal it, reap it."""
    try:
        process.stdin.close()
    except OSError:
        pass
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def request_json(port: int, method: str, path: str, cookie=None, form=None, timeout=5):
    """Send one request to a worker and answer its status and JSON body.

    :raise WorkerError: the worker did not answer, or not with JSON.
    """
    headers = {"Accept": "application/json"}
    body = None
    if form is not None:
        body = urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if cookie:
        headers["Cookie"] = cookie

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body, headers)
        response = connection.getresponse()
        raw = response.read(ANSWER_LIMIT + 1)
    except (OSError, http.client.HTTPException) as error:
        message = f"the worker on port {port} did not answer: {error}"
        raise WorkerError(message) from error
    finally:
        connection.close()

    if len(raw) > ANSWER_LIMIT:
        raise WorkerError(f"the worker on port {port} answered too much")
    try:
        return response.status, json.loads(raw)
    except ValueError as error:
        raise WorkerError(f"the worker on port {port} answered no JSON") from error


def portable(config) -> dict:
    """Answer the configuration as JSON a worker rebuilds the same one from.

    Values that are objects (clients, engines) are left out: the worker makes
    its own from the same URLs.
    """
    plain, seconds = {}, {}
    for key, value in config.items():
        if not key.isupper() or key.startswith("SPECIMEN_WORKER"):
            continue
        if isinstance(value, timedelta):
            seconds[key] = value.total_seconds()
            continue
        if isinstance(value, PurePath):
            value = str(value)
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        plain[key] = value
    return {"config": plain, "seconds": seconds}
