"""The cookie lesson's demo routes, held against the cookies really exchanged."""

import re
import secrets

import pytest
from werkzeug.http import parse_cookie

from app.specimen import cookie

JSON = {"Accept": "application/json"}
HTMX = {"HX-Request": "true"}


class Browser:
    """The test client as a learner's browser on the cookie store."""

    def __init__(self, client):
        self.client = client
        assert client.get("/api/settings").status_code == 200

    def configure(self, **changes) -> dict:
        answer = self.client.post("/api/settings", json=changes)
        assert answer.status_code == 200, answer.json
        return answer.json

    def lab(self, method: str, path: str, **form):
        return self.client.open(f"/lab{path}", method=method, data=form, headers=JSON)

    def demo(self, path: str, **form):
        return self.client.post(f"/demos/cookie/{path}", data=form, headers=HTMX)

    def fragment(self, path: str) -> str:
        answer = self.client.get(f"/demos/cookie/{path}", headers=HTMX)
        assert answer.status_code == 200
        return answer.get_data(as_text=True)

    def held(self, name: str = "sid") -> str | None:
        found = self.client.get_cookie(name, path="/lab")
        return None if found is None else found.value

    def hold(self, value: str) -> None:
        """Put a value in the jar, as a browser that refused a newer one keeps it."""
        self.client.set_cookie("sid", value, path="/lab")

    def last(self) -> dict:
        return self.client.get("/api/exchanges").json[-1]


def specimen_cookies(response, name: str = "sid") -> list[str]:
    headers = response.headers.getlist("Set-Cookie")
    return [header for header in headers if header.startswith(f"{name}=")]


def value_of(header: str) -> str:
    return next(iter(parse_cookie(header.split(";", 1)[0]).values()))


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#34;", '"')


@pytest.fixture
def browser(client):
    one = Browser(client)
    one.configure(store="cookie")
    return one


def test_the_decode_demo_shows_the_cookie_the_browser_holds(browser):
    assert "no lab request yet" in text_of(browser.fragment("decode"))
    browser.lab("GET", "/")
    assert "holds no sid cookie" in text_of(browser.fragment("decode"))

    browser.lab("POST", "/set", key="colour", value="blue")
    html = browser.fragment("decode")

    held = browser.held()
    seq = browser.last()["seq"]
    assert f'data-signed-cookie="{held}"' in html
    assert f"holds since exchange {seq}, {len(held)} bytes" in text_of(html)
    assert held.rsplit(".", 2)[0] in html
    # The page decodes it; the server sends the value alone, not the JSON.
    assert "colour" not in text_of(html)


def test_tampering_changes_one_payload_character_and_the_specimen_refuses(browser):
    browser.lab("POST", "/set", key="colour", value="blue")
    before = browser.held()

    answer = browser.demo("tamper")

    assert answer.status_code == 200
    (header,) = specimen_cookies(answer)
    assert "Path=/lab" in header and "HttpOnly" in header
    after = value_of(header)
    assert browser.held() == after
    old_payload, old_rest = before.split(".", 1)
    new_payload, new_rest = after.split(".", 1)
    assert new_rest == old_rest
    assert len(new_payload) == len(old_payload)
    assert sum(a != b for a, b in zip(old_payload, new_payload)) == 1
    claims = cookie.payload_text(new_payload)
    assert claims != '{"colour":"blue"}'
    assert claims in text_of(answer.get_data(as_text=True))

    read = browser.lab("GET", "/")
    assert read.json == {}
    assert specimen_cookies(read) == []
    received = browser.last()["cookie"]["received"]
    assert received["raw"] == after
    assert received["verified"] is False
    assert received["problem"] == "signature invalid for every secret"
    assert received["json"] == claims


def test_a_tampered_compressed_cookie_no_longer_unzips(browser):
    browser.lab("POST", "/set", key="note", value="la " * 400)
    before = browser.held()
    assert before.startswith(".")

    answer = browser.demo("tamper")

    after = value_of(specimen_cookies(answer)[0])
    assert after.startswith(".") and after != before
    assert cookie.payload_text(after.rsplit(".", 2)[0]) is None
    assert "no longer even unzips" in answer.get_data(as_text=True)
    assert browser.lab("GET", "/").json == {}


def test_the_demo_cookie_carries_the_specimen_attributes(browser):
    browser.configure(max_age=600, same_site="strict")
    (own,) = specimen_cookies(browser.lab("POST", "/set", key="colour", value="b"))

    (header,) = specimen_cookies(browser.demo("tamper"))

    def attributes(line):
        return {part.split("=")[0].strip() for part in line.split(";")[1:]}

    assert attributes(header) == attributes(own)
    assert {"Expires", "SameSite", "Path", "HttpOnly"} <= attributes(header)
    assert "SameSite=Strict" in header and "Path=/lab" in header


@pytest.mark.parametrize("path", ["tamper", "crack"])
def test_a_demo_without_a_cookie_says_what_to_send(browser, path):
    browser.lab("GET", "/")

    answer = browser.demo(path)

    assert answer.status_code == 409
    assert specimen_cookies(answer) == []
    assert "sid cookie" in text_of(answer.get_data(as_text=True))


@pytest.mark.parametrize("path", ["tamper", "crack", "forge"])
def test_a_demo_on_another_store_refuses(client, path):
    browser = Browser(client)
    browser.lab("POST", "/set", key="colour", value="blue")

    answer = browser.demo(path, key="user", value="admin")

    assert answer.status_code == 409
    assert "this demo needs the cookie store" in text_of(answer.get_data(as_text=True))
    assert specimen_cookies(answer) == []


def size_rows(html: str) -> dict:
    """Answer the size table's cells by exchange number."""
    rows = {}
    for seq, body in re.findall(r'<tr data-seq="(\d+)"[^>]*>(.*?)</tr>', html, re.S):
        cells = dict(re.findall(r'data-cell="([a-z-]+)">(.*?)</td>', body, re.S))
        rows[int(seq)] = {name: text_of(value).strip() for name, value in cells.items()}
    return rows


def note_button(html: str) -> tuple[str, str]:
    key = re.search(r'"key": "(note-\d+)"', html)[1]
    value = re.search(r'"value": "([A-Za-z0-9_-]+)"', html)[1]
    return key, value


def test_the_size_table_is_the_record_s_and_grows_with_each_note(browser):
    headers = []
    for number in (1, 2, 3):
        key, value = note_button(browser.fragment("sizes"))
        assert key == f"note-{number}"
        assert len(value) == 1000
        browser.lab("POST", "/set", key=key, value=value)
        browser.lab("GET", "/")
        record = browser.last()
        cookie_header = dict(record["request"]["headers"])["Cookie"]
        headers.append(len(cookie_header))

    rows = size_rows(browser.fragment("sizes"))
    exchanges = browser.client.get("/api/exchanges").json
    reads = [record for record in exchanges if record["request"]["method"] == "GET"]
    assert [int(rows[r["seq"]]["cookie-header"]) for r in reads] == headers
    assert headers[0] + 900 < headers[1] and headers[1] + 900 < headers[2]
    for record in reads:
        assert int(rows[record["seq"]]["carried"]) == len("sid") + len(
            record["cookie"]["received"]["raw"]
        )


def test_a_cookie_over_the_limit_is_flagged_and_the_older_one_seen_next(browser):
    for _ in range(3):
        key, value = note_button(browser.fragment("sizes"))
        browser.lab("POST", "/set", key=key, value=value)
    kept = browser.held()

    key, value = note_button(browser.fragment("sizes"))
    written = browser.lab("POST", "/set", key=key, value=value)
    (header,) = specimen_cookies(written)
    size = len("sid") + len(value_of(header))
    assert size > cookie.BROWSER_LIMIT
    # Chromium ignores that Set-Cookie: the jar keeps what it had, as it does.
    browser.hold(kept)
    assert browser.lab("GET", "/").json.keys() == {"note-1", "note-2", "note-3"}

    records = browser.client.get("/api/exchanges").json
    rows = size_rows(browser.fragment("sizes"))
    over, after = rows[records[-2]["seq"]], rows[records[-1]["seq"]]
    assert over["set-cookie"] == f"{size} over 4096: the browser ignores it"
    assert f"not the one exchange {records[-2]['seq']} set" in after["carried"]
    assert note_button(browser.fragment("sizes"))[0] == "note-4"


def test_the_word_list_recovers_keyboard_cat_from_the_cookie_sent(browser):
    browser.configure(secrets=["keyboard cat"])
    browser.lab("POST", "/login", user="alice")
    browser.lab("GET", "/")
    sent = browser.last()["cookie"]["received"]["raw"]
    assert sent == browser.held()

    other = cookie.forge({"user": "mallory"}, "secret")
    answer = browser.demo("crack", value=other)

    html = answer.get_data(as_text=True)
    words = cookie.common_secrets()
    assert answer.status_code == 200
    assert specimen_cookies(answer) == []
    assert '<code data-testid="cracked-secret">keyboard cat</code>' in html
    guesses = words.index("keyboard cat") + 1
    assert f'data-testid="cracked-guesses">{guesses}<' in html
    assert f'<span data-testid="word-count">{len(words)}</span>' in html
    assert sent in html and other not in html


def test_a_strong_secret_outlasts_the_word_list(browser):
    browser.lab("POST", "/set", key="user", value="alice")
    browser.lab("GET", "/")

    html = browser.demo("crack").get_data(as_text=True)

    count = len(cookie.common_secrets())
    assert "Not found" in html
    assert f'data-testid="cracked-guesses">{count}<' in html


def test_a_forged_cookie_is_set_and_the_specimen_accepts_it(browser):
    browser.configure(secrets=["keyboard cat"])
    browser.lab("POST", "/login", user="alice")
    browser.lab("GET", "/")

    answer = browser.demo("forge", key="user", value="admin")

    assert answer.status_code == 200
    (header,) = specimen_cookies(answer)
    forged = value_of(header)
    assert browser.held() == forged
    assert cookie.signing_serializer(["keyboard cat"]).loads(forged) == {
        "user": "admin"
    }
    assert browser.lab("GET", "/").json == {"user": "admin"}
    received = browser.last()["cookie"]["received"]
    assert received["raw"] == forged
    assert received["verified"] is True and received["secret_index"] == 0
    assert received["data"] == {"user": "admin"}


def test_forging_keeps_the_rest_of_the_session(browser):
    browser.configure(secrets=["changeme"])
    browser.lab("POST", "/set", key="theme", value="dark")
    browser.lab("GET", "/")

    browser.demo("forge", key="role", value="owner")

    assert browser.lab("GET", "/").json == {"theme": "dark", "role": "owner"}


def test_forging_with_a_strong_secret_is_refused(browser):
    browser.lab("POST", "/set", key="user", value="alice")
    browser.lab("GET", "/")

    answer = browser.demo("forge", key="user", value="admin")

    assert answer.status_code == 422
    assert specimen_cookies(answer) == []
    assert "no secret to forge with" in text_of(answer.get_data(as_text=True))
    assert browser.lab("GET", "/").json == {"user": "alice"}


@pytest.mark.parametrize(
    "form, problem",
    [
        ({"value": "admin"}, "Fill in the field key."),
        ({"key": "", "value": "admin"}, "Fill in the field key."),
        ({"key": "k" * 65, "value": "admin"}, "key is 65 characters; the limit is 64."),
        ({"key": "user", "value": "v" * 201}, "value is 201 characters; the limit"),
    ],
)
def test_a_bad_forge_form_is_refused_plainly(browser, form, problem):
    browser.configure(secrets=["keyboard cat"])
    browser.lab("POST", "/set", key="user", value="alice")
    browser.lab("GET", "/")

    answer = browser.client.post("/demos/cookie/forge", data=form, headers=HTMX)

    assert answer.status_code == 422
    assert problem in text_of(answer.get_data(as_text=True))
    assert specimen_cookies(answer) == []


def test_a_forged_cookie_over_the_limit_is_refused(browser):
    browser.configure(secrets=["keyboard cat"])
    data = {f"note-{n}": secrets.token_urlsafe(1000)[:1000] for n in (1, 2, 3)}
    filler = secrets.token_urlsafe(1000)[:1000]
    # The longest fourth note whose cookie the browser still keeps.
    length = max(
        n
        for n in range(0, 1000, 10)
        if len("sid") + len(cookie.forge({**data, "note-4": filler[:n]}, "k")) <= 4090
    )
    for key, value in {**data, "note-4": filler[:length]}.items():
        browser.lab("POST", "/set", key=key, value=value)
    browser.lab("GET", "/")
    held = browser.held()
    assert browser.last()["cookie"]["received"]["raw"] == held

    extra = secrets.token_urlsafe(200)[:200]
    answer = browser.demo("forge", key="user", value=extra)

    assert answer.status_code == 422
    assert "over the 4096 bytes a browser keeps" in text_of(
        answer.get_data(as_text=True)
    )
    assert specimen_cookies(answer) == []
    assert browser.held() == held


def test_the_lesson_pages_render_their_demos(browser):
    browser.lab("POST", "/set", key="colour", value="blue")
    steps = {
        3: 'data-signed-cookie="',
        4: "Change one character of my cookie",
        6: "random characters</button>",
        9: "Try the word list on my cookie",
        10: "Forge my cookie",
    }
    for number, text in steps.items():
        page = browser.client.get(f"/lessons/cookie/{number}")
        assert page.status_code == 200
        assert text in page.get_data(as_text=True)
