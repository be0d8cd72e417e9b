"""Drive Debian's Chromium against a live studio served from a thread.

Each test gets a fresh app from make_app on a free port; pytest-playwright's
context is pointed at it through base_url. A failing test leaves a screenshot
of every open page in test-results/.
"""

import os
import re
import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

CHROMIUM = "/usr/lib/chromium/chromium"
LAB_HOST = "lab.test"
RESULTS = Path(__file__).resolve().parents[2] / "test-results"


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            # A host name that is not localhost, on loopback: where browsers
            # drop Secure cookies that arrive over plain HTTP.
            f"--host-resolver-rules=MAP {LAB_HOST} 127.0.0.1",
        ],
    }


class LiveServer:
    """A studio served on 127.0.0.1 from a thread, stopped at teardown.

    Given an ssl_context (a certificate and key), it serves HTTPS only.
    """

    def __init__(self, app, ssl_context=None):
        self.app = app
        self.scheme = "https" if ssl_context else "http"
        self.server = make_server(
            "127.0.0.1", 0, app, threaded=True, ssl_context=ssl_context
        )
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def url_on(self, host: str) -> str:
        return f"{self.scheme}://{host}:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def live_server(make_app):
    server = LiveServer(make_app())
    yield server
    server.stop()


@pytest.fixture
def browser_context_args(browser_context_args, live_server):
    return {**browser_context_args, "base_url": live_server.url}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.e2e_failed = report.failed
    return report


@pytest.fixture(autouse=True)
def screenshot_on_failure(request, context):
    """Keep a picture of every page still open when a test fails.

    Asking for the context sets it up first, so it is still open here.
    """
    yield
    if not getattr(request.node, "e2e_failed", False):
        return
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.nodeid)[-120:]
    folder = RESULTS / name
    folder.mkdir(parents=True, exist_ok=True)
    for number, page in enumerate(context.pages):
        page.screenshot(path=str(folder / f"failure-{number}.png"), full_page=True)


# Starting a worker is a whole interpreter starting the app: on a busy
# machine that takes seconds, so the worker lessons' waits are generous.
WORKER_WAIT_MS = 90_000
EXPECT_WAIT_MS = 5_000
BORNE_OUT = "Your prediction is borne out by the record"


@pytest.fixture
def patient_expect():
    """Wait as long for workers in expect() as elsewhere, for the tests that ask."""
    expect.set_options(timeout=WORKER_WAIT_MS)
    yield
    expect.set_options(timeout=EXPECT_WAIT_MS)
