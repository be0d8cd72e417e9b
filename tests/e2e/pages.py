"""Page objects for the studio, found by role and name as a learner finds them."""

import re
from urllib.parse import unquote, urlsplit

from playwright.sync_api import Page, Response, expect

PANEL_TITLES = {
    "sequence": "Sequence",
    "decision": "Decision",
    "headers": "Headers",
    "cookie": "Cookie anatomy",
    "store": "Store",
    "browser": "Browser and server",
    "race": "Side by side",
}


class LessonPage:
    """One step of a lesson, its controls and the live panels beside it."""

    def __init__(self, page: Page, base: str = ""):
        self.page = page
        self.base = base
        self.lab_responses: list[Response] = []
        page.on("response", self._note_response)

    def _note_response(self, response: Response) -> None:
        if is_lab(response.url):
            self.lab_responses.append(response)

    def open(self, lesson_id: str, number: int) -> "LessonPage":
        self.page.goto(f"{self.base}/lessons/{lesson_id}/{number}")
        expect(self.page.get_by_role("heading", level=1)).to_be_visible()
        return self

    def use_step_settings(self) -> None:
        self.page.get_by_role("button", name="Use this step's settings").click()
        expect(
            self.page.get_by_role("status").filter(has_text="Applied")
        ).to_be_visible()

    def predict(self, text: str) -> None:
        self.page.get_by_role("radio", name=text).check()
        self.page.get_by_role("button", name="Lock in my prediction").click()
        expect(self.page.get_by_text("You predicted")).to_be_visible()

    def send(self, name: str = "Send GET /lab/") -> Response:
        """Press a send button and wait until every panel shows the new exchange."""
        before = self.exchange_count()
        with self.page.expect_response(lambda r: is_lab(r.url)) as answer:
            self.page.get_by_role("button", name=name, exact=True).click()
        self.wait_for_exchange(before + 1)
        return answer.value

    def exchange_count(self) -> int:
        return len(self.exchanges())

    def exchanges(self) -> list:
        """Answer the learner's record, as GET /api/exchanges gives it."""
        return self.api("/api/exchanges")

    def api(self, path: str):
        """Fetch studio JSON from inside the page, with the browser's cookies.

        The page's own fetch resolves names as Chromium does, so it reaches
        lab.test where Playwright's request client would not.
        """
        return self.page.evaluate("path => fetch(path).then(r => r.json())", path)

    def wait_for_exchange(self, count: int) -> None:
        seq = self.wait_for_record(count)[-1]["seq"]
        for name in ("sequence", "decision", "headers", "cookie", "store", "browser"):
            expect(self.panel(name)).to_contain_text(f"exchange {seq}")

    def wait_for_record(self, count: int) -> list:
        for _ in range(100):
            records = self.exchanges()
            if len(records) >= count:
                return records
            self.page.wait_for_timeout(50)
        raise AssertionError(f"the record never reached {count} exchanges")

    def panel(self, name: str):
        title = PANEL_TITLES[name]
        return self.page.get_by_role("region", name=re.compile(f"^{re.escape(title)}"))

    def next_step(self) -> None:
        # Wait for the next page to load: a button clicked before htmx has
        # processed the page does nothing.
        with self.page.expect_navigation():
            self.page.get_by_role(
                "button", name=re.compile("^(Done, next step|Finish)")
            ).click()

    def open_settings(self) -> None:
        summary = self.page.get_by_text("Settings: every option")
        if self.page.locator("details.fold[open]").count() == 0:
            summary.click()

    def change_setting(self, label: str, on: bool) -> None:
        self.open_settings()
        box = self.page.get_by_role("checkbox", name=label, exact=True)
        box.set_checked(on)
        self.page.get_by_role("button", name="Apply settings").click()
        expect(self.page.get_by_role("status").filter(has_text="Saved")).to_be_visible()


def is_lab(url: str) -> bool:
    """Answer whether a URL is a specimen's: express's /lab or Flask-Session's."""
    return urlsplit(url).path.startswith(("/lab/", "/lab-flask/"))


def cookie_value(set_cookie: str) -> tuple[str, str]:
    """Answer the name and value a Set-Cookie header sets."""
    first = set_cookie.split(";", 1)[0]
    name, _, value = first.partition("=")
    return name.strip(), value.strip()


def session_id(value: str) -> str:
    """Answer the session ID inside an express-style signed cookie value."""
    decoded = unquote(value)
    assert decoded.startswith("s:"), decoded
    return decoded[2:].rsplit(".", 1)[0]


def browser_cookie(page: Page, name: str) -> dict | None:
    """Answer the cookie the browser itself holds under the name, if any."""
    return next((c for c in page.context.cookies() if c["name"] == name), None)
