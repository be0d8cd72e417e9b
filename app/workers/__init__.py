"""Specimen workers: real processes serving the lab, for the memory lessons.

The memory store lives inside one process. To show what that means the studio
starts two processes of its own, workers ``a`` and ``b``, when a lesson first
needs them. Each runs the whole app with the studio's configuration and
instance folder, so it knows the learners and writes to the same record, and
each has a memory store of its own. The relay under /lab/workers/ hands a
learner's request to one of them unchanged and hands the answer back.

The studio itself is never restarted by a lesson: only these workers are.
"""

from flask import Flask

from .pool import (
    BALANCED,
    WORKER_NAMES,
    RestartRefused,
    UnknownWorker,
    Worker,
    WorkerError,
    Workers,
    check_name,
)
from .relay import Relay

__all__ = [
    "BALANCED",
    "WORKER_NAMES",
    "RestartRefused",
    "UnknownWorker",
    "Worker",
    "WorkerError",
    "Workers",
    "check_name",
    "init_app",
    "workers_of",
]

RELAY_PATH = "/lab/workers"


def init_app(app: Flask, recorder) -> dict:
    """Set up the pool or, in a worker, its own index; answer the extra mounts.

    The studio mounts the relay at /lab/workers. A worker mounts the recorder
    at the paths the relay forwards to it, so it sees the very path the
    browser asked for and records it as it is.
    """
    app.extensions["specimen_recorder"] = recorder
    name = app.config.get("SPECIMEN_WORKER")
    if name:
        lab = app.extensions["session_lab"]
        lab.journal = WorkerIndex(lab.journal, name)
        return {f"{RELAY_PATH}/{name}": recorder, f"{RELAY_PATH}/{BALANCED}": recorder}

    app.extensions["specimen_workers"] = Workers(app)
    return {RELAY_PATH: Relay(app, recorder)}


def workers_of(app: Flask) -> Workers | None:
    """Answer the studio's pool of workers, or None inside a worker."""
    return app.extensions.get("specimen_workers")


class WorkerIndex:
    """The shared record, with this worker's own index of memory sessions.

    The index lists the sessions a learner holds in each store. A memory store
    is one per process, so each worker keeps its index of memory sessions
    apart: otherwise every process would drop from the index, as gone, the
    sessions that only another process holds.
    """

    def __init__(self, journal, worker: str):
        self.journal = journal
        self.worker = worker

    def __getattr__(self, name):
        return getattr(self.journal, name)

    def store_name(self, store: str) -> str:
        return f"{store}@{self.worker}" if store == "memory" else store

    def index(self, learner: str, store: str) -> list:
        return self.journal.index(learner, self.store_name(store))

    def file(self, learner: str, exchange: dict, store: str, *rest):
        return self.journal.file(learner, exchange, self.store_name(store), *rest)

    def index_discard(self, learner: str, store: str, session_ids) -> None:
        self.journal.index_discard(learner, self.store_name(store), session_ids)
