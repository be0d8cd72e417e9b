"""The specimen against the real express-session 1.19, request by request.

The Node script runs each scenario on express-session's MemoryStore and
reports, per request, whether Set-Cookie came, whether the session ID was
new and which store methods ran; the specimen must report the same.
"""

import itertools
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import Learner, set_cookies

HERE = Path(__file__).resolve().parent
PACKAGES = ("express@5", "express-session@1.19.0")
DEFAULTS = {
    "resave": True,
    "save_uninitialized": True,
    "rolling": False,
    "unset": "keep",
    "max_age": None,
    "secure": False,
}

READ = ["GET", "/", None]
WRITE = ["POST", "/set", {"key": "colour", "value": "blue"}]
CHANGE = ["POST", "/set", {"key": "colour", "value": "green"}]
LOGIN = ["POST", "/login", {"user": "alice"}]
LOGOUT = ["POST", "/logout", None]
FORGET = ["POST", "/forget", None]


def stage(steps, **options):
    return {"options": {**DEFAULTS, **options}, "steps": steps}


def combinations():
    for values in itertools.product([True, False], repeat=3):
        resave, save_uninitialized, rolling = values
        options = {
            "resave": resave,
            "save_uninitialized": save_uninitialized,
            "rolling": rolling,
        }
        name = "-".join(f"{k}={v}" for k, v in options.items())
        yield name, [stage([READ, READ, WRITE, READ], **options)]


SCENARIOS = dict(combinations())
SCENARIOS.update(
    {
        "login-logout": [stage([WRITE, LOGIN, READ, LOGOUT, READ])],
        "login-logout-lean": [
            stage(
                [READ, WRITE, LOGIN, READ, LOGOUT, READ],
                resave=False,
                save_uninitialized=False,
            )
        ],
        "unset-keep": [stage([WRITE, FORGET, READ])],
        "unset-destroy": [stage([WRITE, FORGET, READ, WRITE, LOGOUT], unset="destroy")],
        "max-age": [stage([READ, WRITE, READ], max_age=600, resave=False)],
        "max-age-rolling": [stage([READ, READ, WRITE], max_age=600, rolling=True)],
        "secure-over-http": [stage([READ, READ, WRITE], secure=True)],
        "max-age-dropped": [stage([WRITE], max_age=600), stage([CHANGE, READ])],
        "max-age-added": [stage([WRITE]), stage([CHANGE, READ], max_age=600)],
        "secure-added": [
            stage([WRITE]),
            stage([READ, WRITE], secure=True, rolling=True),
        ],
    }
)


def express_options(options: dict) -> dict:
    cookie = {"path": "/", "secure": options["secure"]}
    if options["max_age"] is not None:
        cookie["maxAge"] = options["max_age"] * 1000
    return {
        "resave": options["resave"],
        "saveUninitialized": options["save_uninitialized"],
        "rolling": options["rolling"],
        "unset": options["unset"],
        "cookie": cookie,
    }


def installed_version() -> str | None:
    found = HERE / "node_modules" / "express-session" / "package.json"
    return json.loads(found.read_text())["version"] if found.exists() else None


@pytest.fixture(scope="module")
def express():
    """Answer a function running scenarios on express-session, installing it once."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run the real express-session")

    if installed_version() != "1.19.0":
        command = [
            npm, "install", "--no-save", "--no-package-lock", "--no-audit",
            "--no-fund", "--prefix", str(HERE), *PACKAGES,
        ]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=300)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            output = getattr(error, "stderr", b"") or b""
            pytest.skip(f"npm could not install {PACKAGES}: {output.decode()[-300:]}")

    def run(scenarios: list) -> list:
        converted = [
            {
                "stages": [
                    {"options": express_options(s["options"]), "steps": s["steps"]}
                    for s in stages
                ]
            }
            for stages in scenarios
        ]
        done = subprocess.run(
            [node, str(HERE / "express_sequence.js")],
            input=json.dumps(converted).encode(),
            capture_output=True,
            check=True,
            timeout=120,
        )
        return json.loads(done.stdout)

    return run


@pytest.fixture(scope="module")
def express_answers(express):
    return dict(zip(SCENARIOS, express(list(SCENARIOS.values()))))


def attribute_names(headers: list[str]) -> list[str]:
    if not headers:
        return []
    parts = headers[0].split(";")[1:]
    return sorted(part.strip().split("=")[0].lower() for part in parts)


def specimen_steps(app, stages) -> list:
    learner = Learner(app.test_client())
    steps = []
    for each in stages:
        learner.configure(**each["options"])
        for method, path, form in each["steps"]:
            held = learner.held()
            response = learner.lab(method, path, data=form)
            record = learner.last()
            steps.append(
                {
                    "status": response.status_code,
                    "cookie": bool(set_cookies(response)),
                    "attributes": attribute_names(set_cookies(response)),
                    "id": "new" if record["session_id"] != held else "same",
                    "ops": [op["op"] for op in record["operations"]],
                }
            )
    return steps


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_specimen_does_what_express_session_does(app, express_answers, name):
    assert specimen_steps(app, SCENARIOS[name]) == express_answers[name]
