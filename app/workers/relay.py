"""The relay under /lab/workers/: a small reverse proxy to the workers.

``/lab/workers/a/...`` goes to worker a, ``/lab/workers/b/...`` to worker b,
and ``/lab/workers/balanced/...`` to each in turn, as a load balancer would:
to the worker that did not serve the learner's latest exchange, read from
the record, so every studio process takes the same turn.
The path, the headers and the body go through as the browser sent them, and
the answer comes back as the worker gave it, Set-Cookie and all; only the
hop-by-hop headers, which belong to one connection, stay behind.

The path stays under /lab, so the specimen's cookie (Path=/lab by default)
is the same one for the studio's own lab and for both workers: what one
worker sets, the browser sends to the other.
"""

import http.client
import logging
from urllib.parse import quote, urlsplit

from ..recorder import STUDIO_STATE_ERRORS, PlainAnswer
from .pool import BALANCED, WORKER_NAMES, WorkerError

log = logging.getLogger(__name__)

# RFC 9110 section 7.6.1: these describe one connection, not the message.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}
# The worker's HTTP server adds these, and so does the studio's own server
# on the way out; passing the worker's on would send them twice.
SERVER_ADDED = {"date", "server"}
ANSWER_LIMIT = 1024 * 1024


class Relay:
    """WSGI app that hands lab requests to a worker and its answer back."""

    def __init__(self, studio, recorder):
        self.studio = studio
        self.recorder = recorder

    def __call__(self, environ, start_response):
        name = environ.get("PATH_INFO", "").lstrip("/").split("/", 1)[0]
        if name not in (*WORKER_NAMES, BALANCED):
            return self.unknown(name)(environ, start_response)

        try:
            learner = self.recorder.learner(environ)
            if learner is not None and name == BALANCED:
                name = self.next_turn(learner.id)
        except STUDIO_STATE_ERRORS as error:
            log.warning("relay refused a request: the studio's store failed: %s", error)
            return self.recorder.studio_down()(environ, start_response)
        if learner is None:
            return self.recorder.no_learner()(environ, start_response)

        workers = self.studio.extensions["specimen_workers"]
        try:
            body = read_body(environ, self.studio.config["MAX_CONTENT_LENGTH"])
        except ValueError as error:
            refusal = PlainAnswer("413 Content Too Large", str(error))
            return refusal(environ, start_response)

        try:
            status, headers, content = self.forward(workers, name, environ, body)
        except WorkerError as error:
            log.warning("relay could not reach worker %s: %s", name, error)
            message = f"Worker {name.upper()} is not available: {error}."
            return PlainAnswer("503 Service Unavailable", message)(
                environ, start_response
            )
        start_response(status, headers)
        return [content]

    def forward(self, workers, name: str, environ: dict, body: bytes):
        """Send the request to the worker, starting it again once if it is gone.

        :raise WorkerError: the worker could not be started or did not answer.
        """
        timeout = self.studio.config["WORKER_ANSWER_SECONDS"]
        worker = workers.get(name)
        try:
            return send(worker.port, environ, body, timeout)
        except WorkerError:
            if workers.answers(worker):
                raise
        # The process is gone (it crashed, or was stopped): a dead process
        # served nothing, so sending to its successor repeats nothing.
        workers.forget(name)
        worker = workers.get(name)
        return send(worker.port, environ, body, timeout)

    def next_turn(self, learner_id: str) -> str:
        """Answer the worker that did not serve the learner's latest worker exchange."""
        journal = self.studio.extensions["session_lab"].journal
        served = [r.get("worker") for r in journal.exchanges(learner_id)]
        last = next((w for w in reversed(served) if w in WORKER_NAMES), None)
        if last is None:
            return WORKER_NAMES[0]
        return WORKER_NAMES[(WORKER_NAMES.index(last) + 1) % len(WORKER_NAMES)]

    def unknown(self, name: str) -> PlainAnswer:
        names = ", ".join(f"/lab/workers/{n}/" for n in (*WORKER_NAMES, BALANCED))
        return PlainAnswer(
            "404 Not Found", f"There is no worker {name!r} here: use one of {names}"
        )


def read_body(environ: dict, limit: int) -> bytes:
    """Read the request body whole.

    :raise ValueError: it is larger than the lab takes.
    """
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise ValueError(f"the request body is over the lab's limit of {limit} bytes")
    return environ["wsgi.input"].read(length) if length > 0 else b""


def target(environ: dict) -> str:
    """Answer the request target as the browser sent it."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        parts = urlsplit(raw)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    path = quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
    query = environ.get("QUERY_STRING")
    return f"{path}?{query}" if query else path


def request_headers(environ: dict) -> list[tuple[str, str]]:
    """Answer the request's end-to-end headers, as the server received them."""
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").title()
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            name = key.replace("_", "-").title()
        else:
            continue
        if name.lower() not in HOP_BY_HOP:
            headers.append((name, value))
    return headers


def send(port: int, environ: dict, body: bytes, timeout: float):
    """Send one request to a worker; answer its status line, headers and body.

    :raise WorkerError: the worker did not answer in full.
    """
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.putrequest(
            environ.get("REQUEST_METHOD", "GET"),
            target(environ),
            skip_host=True,
            skip_accept_encoding=True,
        )
        for name, value in request_headers(environ):
            connection.putheader(name, value)
        connection.endheaders(body or None)
        response = connection.getresponse()
        content = response.read(ANSWER_LIMIT + 1)
    except (OSError, http.client.HTTPException) as error:
        raise WorkerError(f"it did not answer: {error}") from error
    finally:
        connection.close()

    if len(content) > ANSWER_LIMIT:
        raise WorkerError("its answer is larger than the relay passes on")
    headers = [
        (name, value)
        for name, value in response.getheaders()
        if name.lower() not in HOP_BY_HOP | SERVER_ADDED
    ]
    return f"{response.status} {response.reason}", headers, content
