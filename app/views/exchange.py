"""Read an exchange record for the panels, adding nothing the record lacks.

Every value here comes from one record of the journal (what GET /api/exchanges
answers) or from comparing it with the record before it: the headers as they
crossed the wire, the cookie reading, the decision, the store operations and
the store's contents.
"""

import ipaddress
from dataclasses import dataclass
from urllib.parse import unquote

STUDIO_COOKIE_MASK = "\u2022" * 8

ATTRIBUTE_NOTES = {
    "path": "the browser sends the cookie only to URLs under {value}",
    "domain": "sent to {value} and its subdomains; without Domain, only to the "
    "host that set it",
    "expires": "the browser keeps the cookie until this moment; without Expires "
    "or Max-Age it is a browser-session cookie, gone when the browser closes",
    "max-age": "seconds until the browser deletes the cookie",
    "secure": "sent only over HTTPS; Chromium and Firefox also accept it on "
    "localhost over plain HTTP",
    "httponly": "page scripts cannot read it through document.cookie; the "
    "browser still sends it",
    "samesite": "decides whether requests from other sites carry it: Strict never, "
    "Lax only on top-level navigation, None always (and needs Secure)",
    "partitioned": "kept apart for each top-level site (CHIPS), so an embedded "
    "frame cannot follow you across sites",
    "priority": "which cookies Chromium evicts first when a site has too many",
}
REQUEST_NOTES = {
    "cookie": "the cookies the browser chose to send with this request",
    "x-forwarded-proto": "the scheme a proxy says the client used; believed only "
    "when trust_proxy is on",
    "hx-request": "sent by htmx, the library this page uses to send lab requests",
    "hx-trigger": "sent by htmx: the id of the button that sent the request",
    "hx-target": "sent by htmx: where the page shows the answer",
    "hx-current-url": "sent by htmx: the page the request came from",
    "x-lab-client": "added by a lesson's demo: this request came from a second "
    "client the server played, not from your browser",
}
RESPONSE_NOTES = {
    "set-cookie": "asks the browser to store a cookie; the browser may refuse",
    "hx-trigger": "added by the lab's recorder: it tells this page to reload its "
    "panels; it is not part of the specimen's answer",
    "vary": "tells caches the answer depends on these request headers; "
    "Flask-Session adds Cookie whenever the session was read",
}


@dataclass(frozen=True)
class CookiePair:
    """One name=value from a Cookie header, labelled by whose cookie it is."""

    name: str
    value: str
    role: str

    @property
    def shown(self) -> str:
        return STUDIO_COOKIE_MASK if self.role == "studio" else self.value


@dataclass(frozen=True)
class SetCookie:
    """A Set-Cookie header split into its name, value and attributes."""

    name: str
    value: str
    attributes: tuple

    def has(self, attribute: str) -> bool:
        return any(name.lower() == attribute for name, _ in self.attributes)

    def get(self, attribute: str) -> str | None:
        for name, value in self.attributes:
            if name.lower() == attribute:
                return value
        return None


def parse_cookie_header(value: str, specimen_name: str, studio_name: str) -> list:
    """Split a Cookie header into pairs, marking the specimen's and the studio's."""
    pairs = []
    for part in value.split(";"):
        name, _, content = part.strip().partition("=")
        if not name:
            continue
        role = "other"
        if name == specimen_name:
            role = "specimen"
        elif name == studio_name:
            role = "studio"
        pairs.append(CookiePair(name, content, role))
    return pairs


def parse_set_cookie(value: str) -> SetCookie:
    """Split a Set-Cookie header value into name, value and attributes."""
    first, *rest = value.split(";")
    name, _, content = first.strip().partition("=")
    attributes = []
    for part in rest:
        key, has_value, attribute_value = part.strip().partition("=")
        if key:
            attributes.append((key, attribute_value if has_value else None))
    return SetCookie(name, content, tuple(attributes))


def attribute_note(name: str, value: str | None) -> str:
    """Answer what a Set-Cookie attribute tells the browser, in one line."""
    note = ATTRIBUTE_NOTES.get(name.lower())
    if note is None:
        return "an attribute this lab does not explain"
    return note.format(value=value or "")


def split_signed(value: str) -> dict | None:
    """Split an express-style ``s:<id>.<signature>`` value, as found on the wire."""
    decoded = unquote(value)
    if not decoded.startswith("s:"):
        return None
    session_id, dot, signature = decoded[2:].rpartition(".")
    if not dot:
        return None
    return {"decoded": decoded, "id": session_id, "signature": signature}


def split_segments(value: str) -> dict | None:
    """Split a Flask-style ``payload.timestamp.signature`` value, undecoded."""
    compressed = value.startswith(".")
    parts = value[1:].split(".") if compressed else value.split(".")
    if len(parts) != 3:
        return None
    payload, timestamp, signature = parts
    return {
        "payload": payload,
        "compressed": compressed,
        "timestamp": timestamp,
        "signature": signature,
    }


def is_local_host(host: str | None) -> bool:
    """Answer whether browsers treat the host as a secure context over HTTP."""
    if not host:
        return False
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class ExchangeView:
    """One recorded exchange, read for display, with the one before it."""

    def __init__(self, record: dict, previous: dict | None, studio_cookie: str):
        self.record = record
        self.previous = previous
        self.studio_cookie = studio_cookie
        self.settings = record.get("settings") or {}
        self.cookie_name = self.settings.get("name", "")

    @property
    def seq(self):
        return self.record.get("seq")

    @property
    def request(self) -> dict:
        return self.record.get("request") or {}

    @property
    def response(self) -> dict:
        return self.record.get("response") or {}

    @property
    def status(self) -> str:
        return self.response.get("status") or ""

    @property
    def status_code(self) -> int | None:
        try:
            return int(self.status.split()[0])
        except (IndexError, ValueError):
            return None

    @property
    def decision(self) -> dict | None:
        return self.record.get("decision")

    @property
    def reading(self) -> dict | None:
        return self.record.get("cookie")

    @property
    def received(self) -> dict | None:
        """Answer what the server made of the cookie the request carried.

        The cookie store's block holds it under ``received``, beside the
        cookie sent and the sizes; express's reading is the block itself.
        """
        reading = self.reading
        if reading and reading.get("kind") == "flask" and "received" in reading:
            return reading["received"]
        return reading

    @property
    def signed_cookie(self) -> bool:
        return self.record.get("store") == "cookie"

    @property
    def operations(self) -> list:
        return self.record.get("operations") or []

    def request_header(self, name: str) -> str | None:
        for key, value in self.request.get("headers", []):
            if key.lower() == name:
                return value
        return None

    @property
    def host(self) -> str | None:
        return self.request_header("host")

    @property
    def host_name(self) -> str | None:
        """Answer the Host header without its port."""
        host = self.host
        if not host or host.endswith("]"):
            return host
        return host.rsplit(":", 1)[0] if ":" in host else host

    @property
    def from_second_client(self) -> bool:
        """Answer whether a demo's second client sent this, not the browser."""
        return self.request_header("x-lab-client") is not None

    @property
    def forwarded_proto(self) -> str | None:
        return self.request_header("x-forwarded-proto")

    def cookie_pairs(self) -> list:
        header = self.request_header("cookie") or ""
        return parse_cookie_header(header, self.cookie_name, self.studio_cookie)

    @property
    def specimen_cookie(self) -> CookiePair | None:
        return next((p for p in self.cookie_pairs() if p.role == "specimen"), None)

    def request_rows(self) -> list:
        """Answer the request headers as rows; the Cookie row carries its pairs."""
        rows = []
        for name, value in self.request.get("headers", []):
            lower = name.lower()
            pairs = self.cookie_pairs() if lower == "cookie" else None
            rows.append(
                {
                    "name": name,
                    "value": value,
                    "pairs": pairs,
                    "highlight": lower == "cookie",
                    "note": REQUEST_NOTES.get(lower),
                }
            )
        return rows

    def set_cookies(self) -> list:
        return [
            parse_set_cookie(value)
            for name, value in self.response.get("headers", [])
            if name.lower() == "set-cookie"
        ]

    @property
    def specimen_set_cookie(self) -> SetCookie | None:
        return next((c for c in self.set_cookies() if c.name == self.cookie_name), None)

    def response_rows(self) -> list:
        rows = []
        for name, value in self.response.get("headers", []):
            lower = name.lower()
            rows.append(
                {
                    "name": name,
                    "value": value,
                    "cookie": parse_set_cookie(value)
                    if lower == "set-cookie"
                    else None,
                    "highlight": lower == "set-cookie",
                    "note": RESPONSE_NOTES.get(lower),
                }
            )
        return rows

    def sent_cookie_anatomy(self) -> dict | None:
        """Answer the parts of the value the response asked the browser to keep."""
        cookie = self.specimen_set_cookie
        if cookie is None or not cookie.value:
            return None
        return split_signed(cookie.value) or split_segments(cookie.value)

    def sequence(self) -> list:
        """Answer the messages of the exchange, in order, for the sequence panel."""
        method = self.request.get("method") or ""
        path = self.request.get("path") or ""
        pair = self.specimen_cookie
        if pair is not None:
            carried = f"Cookie: {self.cookie_name}={short(pair.value, 18)}"
        else:
            carried = f"no {self.cookie_name} cookie"
        messages = [message("browser", "server", f"{method} {path}", carried)]

        reading = self.received
        if reading is not None:
            messages.append(message("server", "server", *self.reading_words(reading)))

        for operation in self.operations:
            messages.extend(operation_messages(operation))

        decision = self.decision
        if (
            decision
            and decision.get("store_op") == "none"
            and not any(
                op.get("op") in ("set", "touch", "destroy") for op in self.operations
            )
        ):
            messages.append(message("server", "server", "store left alone", ""))
        if self.record.get("error"):
            messages.append(
                message("server", "server", "store unavailable", self.record["error"])
            )

        sent = self.specimen_set_cookie
        if sent is not None:
            answer = f"Set-Cookie: {sent.name}={short(sent.value, 18)}"
        else:
            answer = "no Set-Cookie"
        messages.append(
            message("server", "browser", self.status or "no answer", answer)
        )
        return messages

    def reading_words(self, reading: dict) -> tuple[str, str]:
        if reading.get("kind") == "flask-session" and reading.get("raw"):
            return "ID read", "unsigned: the cookie's value is the ID"
        if reading.get("verified"):
            index = reading.get("secret_index")
            which = f"secret {index + 1}" if isinstance(index, int) else "a secret"
            found = "session read from the cookie" if self.signed_cookie else "ID read"
            return "signature verified", f"with {which}; {found}"
        if reading.get("raw") is None:
            if self.signed_cookie:
                return "no cookie", "a new empty session"
            return "no cookie", "a new ID is generated"
        return "cookie ignored", reading.get("problem") or "it did not verify"

    def store_rows(self) -> list | None:
        contents = self.record.get("contents")
        if contents is None:
            return None
        rows = []
        # Only express-session keeps a cookie inside the session it stores.
        express = self.record.get("specimen", "express") == "express"
        for entry in contents:
            data = dict(entry.get("data") or {})
            cookie = data.pop("cookie", None) if express else None
            rows.append(
                {
                    "id": entry.get("id"),
                    "data": data,
                    "cookie": cookie if isinstance(cookie, dict) else None,
                    "ttl": entry.get("ttl"),
                    "held": bool(entry.get("held")),
                    # The cookie store's one row is the cookie itself.
                    "where": entry.get("where", "store"),
                    "bytes": entry.get("bytes"),
                    "verified": entry.get("verified"),
                    "problem": entry.get("problem"),
                }
            )
        return rows

    def held_data(self) -> dict | None:
        for row in self.store_rows() or []:
            if row["held"]:
                return row["data"]
        return None

    def withheld_by_secure(self) -> bool:
        """Answer whether the secure gate kept Set-Cookie from the browser."""
        return bool((self.decision or {}).get("withheld_by_secure"))

    def notes(self, page_scheme: str) -> list:
        """Answer where the browser and the server did not see the same thing."""
        notes = []
        host = self.host_name or "this host"
        local = is_local_host(self.host)
        plain = page_scheme == "http"
        if self.withheld_by_secure():
            browser = (
                f"Your browser would have kept a Secure cookie here: {host} is "
                "localhost, a secure context."
                if local
                else f"Over plain HTTP on {host} your browser would have dropped it "
                "anyway."
            )
            notes.append(
                {
                    "kind": "withheld",
                    "text": "The server withheld Set-Cookie: secure is on and it did "
                    "not consider the request secure (plain HTTP and no trusted "
                    "X-Forwarded-Proto: https). The refusal is the server's. "
                    + browser,
                }
            )

        sent = self.specimen_set_cookie
        if sent is not None and sent.has("secure") and plain:
            why = (
                f"it trusted X-Forwarded-Proto: {self.forwarded_proto}"
                if self.forwarded_proto
                else "it considered the request secure"
            )
            if self.record.get("specimen") == "flask":
                why = "Flask-Session never asks whether the request is secure"
            if local:
                fate = (
                    f"Your browser keeps it: {host} is localhost, which browsers "
                    "treat as a secure context."
                )
            else:
                fate = (
                    f"Your browser drops a Secure cookie that arrives over plain "
                    f"HTTP on {host}, which is not localhost: the next request will "
                    "come without it."
                )
            notes.append(
                {
                    "kind": "secure-over-http",
                    "text": f"The server sent a Secure cookie over plain HTTP, because "
                    f"{why}. {fate}",
                }
            )

        dropped = self.dropped_since_previous()
        if dropped is not None:
            notes.append(
                {"kind": "dropped", "text": self.dropped_words(dropped, local)}
            )
        return notes

    def dropped_since_previous(self) -> SetCookie | None:
        """Answer the cookie the previous response set that this request lacked."""
        if self.previous is None or self.specimen_cookie is not None:
            return None
        before = ExchangeView(self.previous, None, self.studio_cookie)
        if self.from_second_client or before.from_second_client:
            # Two clients, two cookie jars: one's cookie is not the other's.
            return None
        cookie = before.specimen_set_cookie
        if cookie is None or cookie.name != self.cookie_name or not cookie.value:
            return None
        if cookie.get("expires") and "1970" in cookie.get("expires"):
            return None
        return cookie

    def dropped_words(self, cookie: SetCookie, local: bool) -> str:
        start = (
            f"Exchange {self.previous.get('seq')} set {cookie.name}, but this "
            "request came without it."
        )
        if cookie.has("secure") and not local:
            return (
                f"{start} The cookie was Secure and arrived over plain HTTP on "
                f"{self.host_name}, which is not localhost, so the browser dropped it. "
                "The server saw no cookie and made a new session."
            )
        return (
            f"{start} The browser did not keep it or did not send it here: look at "
            "its Path, Domain and Expires."
        )


def message(source: str, target: str, label: str, detail: str) -> dict:
    return {"from": source, "to": target, "label": label, "detail": detail}


def operation_messages(operation: dict) -> list:
    verb = operation.get("op", "")
    key = operation.get("key", "")
    session_id = key.rsplit(":", 1)[-1]
    label = f"{verb} {short(session_id, 10)}"
    detail = ""
    if operation.get("ttl") is not None:
        detail = f"time to live {operation['ttl']} s"
    if operation.get("why"):
        detail = operation["why"]
    messages = [message("server", "store", label, detail)]
    result = operation.get("result")
    if verb == "get" or result == "error":
        messages.append(message("store", "server", result or "answer", ""))
    return messages


def short(text: str | None, length: int) -> str:
    """Answer text cut to length with an ellipsis, for labels in tight places."""
    if text is None:
        return ""
    return text if len(text) <= length else text[: length - 1] + "\u2026"


def facts(view: ExchangeView) -> dict:
    """Answer the facts a prediction is checked against, read from the record."""
    record = view.record
    lookup = next(
        (op.get("result") for op in view.operations if op.get("op") == "get"), None
    )
    decision = view.decision or {}
    cookie_id = record.get("cookie_id")
    return {
        "status": view.status_code,
        "set_cookie": view.specimen_set_cookie is not None,
        "cookie_sent": view.specimen_cookie is not None,
        "store_op": decision.get("store_op") or "none",
        "lookup": lookup or "none",
        "same_id": cookie_id is not None and cookie_id == record.get("session_id"),
        "held_data": view.held_data(),
        "verified": bool((view.received or {}).get("verified")),
        "store": record.get("store"),
    }
