"""Serve one specimen worker on the socket the studio opened for it.

The studio writes one line of JSON to stdin (the worker's name, its token,
the instance folder and the configuration) and keeps the pipe open; when it
closes, the studio has gone, and so does the worker.
"""

import argparse
import json
import logging
import os
import sys
import threading
from datetime import timedelta

from werkzeug.serving import make_server

log = logging.getLogger("app.workers.main")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Serve one specimen worker.")
    parser.add_argument("--fd", type=int, required=True, help="the listening socket")
    arguments = parser.parse_args(argv)

    payload = json.loads(sys.stdin.buffer.readline())
    name = payload["name"]
    logging.basicConfig(
        level=logging.INFO,
        format=f"worker {name} %(levelname)s %(name)s: %(message)s",
    )
    # One line per request is the studio's to log, if anyone's.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    from app import create_app

    config = payload["config"]
    for key, seconds in payload["seconds"].items():
        config[key] = timedelta(seconds=seconds)
    config["SPECIMEN_WORKER"] = name
    config["SPECIMEN_WORKER_TOKEN"] = payload["token"]
    app = create_app(config, instance_path=payload["instance"])

    server = make_server("127.0.0.1", 0, app, threaded=True, fd=arguments.fd)
    threading.Thread(target=leave_with_the_studio, daemon=True).start()
    log.info("serving as process %s on port %s", os.getpid(), server.port)
    server.serve_forever()


def leave_with_the_studio() -> None:
    """Exit as soon as the studio's end of the pipe closes."""
    # The bare descriptor, not sys.stdin: a thread blocked in a buffered read
    # would hold its lock while the interpreter shuts down.
    while os.read(sys.stdin.fileno(), 4096):
        pass
    log.info("the studio closed the pipe: stopping")
    # Threads may be mid-request; nothing of a worker needs saving.
    os._exit(0)


if __name__ == "__main__":
    main()
