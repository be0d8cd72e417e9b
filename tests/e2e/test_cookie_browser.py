"""What Chromium does with the cookie store's cookies, as the reasons claim."""

import secrets
from pathlib import Path

import pytest

from tests.services import serving

CHROMIUM = Path("/usr/lib/chromium/chromium")
OTHER_HOST = "lab.test"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": [f"--host-resolver-rules=MAP {OTHER_HOST} 127.0.0.1"],
    }


@pytest.fixture
def port(app):
    with serving(app) as port:
        yield port


def call(page, method, path, form=None, body=None):
    """Send a request from the page, as the lab's own pages do, and answer JSON."""
    return page.evaluate(
        """async ([method, path, form, body]) => {
            const headers = {Accept: "application/json"};
            let payload;
            if (form) payload = new URLSearchParams(form);
            if (body) {
                payload = JSON.stringify(body);
                headers["Content-Type"] = "application/json";
            }
            const response = await fetch(path, {method, headers, body: payload});
            return {status: response.status, json: await response.json()};
        }""",
        [method, path, form, body],
    )


def start(page, base, **settings):
    page.goto(f"{base}/api/settings")
    answer = call(page, "POST", "/api/settings", body={"store": "cookie", **settings})
    assert answer["status"] == 200, answer


def browser_cookie(page, name="sid"):
    found = [c for c in page.context.cookies() if c["name"] == name]
    return found[0] if found else None


def test_chromium_ignores_a_cookie_over_4096_bytes(page, port):
    start(page, f"http://127.0.0.1:{port}")
    call(page, "POST", "/lab/set", form={"key": "user", "value": "alice"})
    small = browser_cookie(page)["value"]

    big = secrets.token_urlsafe(3750)[:5000]
    answer = call(page, "POST", "/lab/set", form={"key": "blob", "value": big})
    assert answer["status"] == 200
    exchanges = call(page, "GET", "/api/exchanges")["json"]
    assert exchanges[-1]["cookie"]["size"]["over_limit"] is True

    assert browser_cookie(page)["value"] == small
    assert call(page, "GET", "/lab/")["json"] == {"user": "alice"}
    exchanges = call(page, "GET", "/api/exchanges")["json"]
    assert exchanges[-1]["cookie"]["received"]["raw"] == small


def test_chromium_keeps_a_secure_cookie_from_plain_http_on_127_0_0_1(page, port):
    start(page, f"http://127.0.0.1:{port}", secure=True)
    call(page, "POST", "/lab/set", form={"key": "user", "value": "alice"})

    kept = browser_cookie(page)
    assert kept is not None and kept["secure"] is True
    assert call(page, "GET", "/lab/")["json"] == {"user": "alice"}


def test_chromium_drops_a_secure_cookie_from_another_http_host(page, port):
    start(page, f"http://{OTHER_HOST}:{port}", secure=True)
    call(page, "POST", "/lab/set", form={"key": "user", "value": "alice"})

    exchanges = call(page, "GET", "/api/exchanges")["json"]
    assert any("; Secure" in v for k, v in exchanges[-1]["response"]["headers"])
    assert browser_cookie(page) is None
    assert call(page, "GET", "/lab/")["json"] == {}
