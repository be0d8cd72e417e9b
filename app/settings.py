"""The learner's specimen settings: express-session's options, and one more."""

import re
import secrets
from dataclasses import dataclass, field, fields

STORE_NAMES = (
    "memory",
    "cookie",
    "filesystem",
    "sqlite",
    "redis",
    "memcached",
    "postgresql",
    "mysql",
)
SAME_SITE_VALUES = ("lax", "strict", "none")
UNSET_VALUES = ("keep", "destroy")
PRIORITY_VALUES = ("low", "medium", "high")
MAX_AGE_LIMIT = 7 * 24 * 3600
SECRET_COUNT_LIMIT = 5
SECRET_LENGTH_LIMIT = 256

_COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$")
_DOMAIN = re.compile(r"^\.?[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
_PATH = re.compile(r"^/[\x21-\x3a\x3c-\x7e]{0,127}$")


class SettingsError(ValueError):
    """A setting a learner sent is not valid; names the field and why."""

    def __init__(self, field_name: str, reason: str):
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


def new_secret() -> str:
    """Make a strong specimen secret, different for every learner."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Settings:
    """The options that decide what the specimen does on the next request.

    Names follow express-session's, in snake case; max_age is in seconds.
    """

    store: str = "memory"
    secure: bool = False
    http_only: bool = True
    same_site: str | None = None
    max_age: int | None = None
    rolling: bool = False
    resave: bool = True
    save_uninitialized: bool = True
    secrets: tuple[str, ...] = field(default_factory=lambda: (new_secret(),))
    trust_proxy: bool = False
    name: str = "sid"
    path: str = "/lab"
    domain: str | None = None
    unset: str = "keep"
    partitioned: bool = False
    priority: str | None = None
    # Not an option of express-session but of the app using it: whether the
    # specimen's login handler calls req.session.regenerate before setting user.
    regenerate_on_login: bool = True
    # Flask-Session's own option, for the specimen under /lab-flask; Flask's
    # default is on. express-session has none like it.
    refresh_each_request: bool = True

    def to_dict(self) -> dict:
        """Answer the settings as JSON-ready data."""
        # Every value is immutable, so asdict's deep copy would be wasted work
        # on each recorded exchange.
        data = {name: getattr(self, name) for name in _FIELD_NAMES}
        data["secrets"] = list(self.secrets)
        return data

    def changed(self, changes: dict, reserved_names=()) -> "Settings":
        """Answer a copy with the changes applied, each validated.

        :raise SettingsError: a field is unknown or its value is not valid.
        """
        if not isinstance(changes, dict):
            raise SettingsError("settings", "send a JSON object of fields")

        values = self.to_dict()
        for name, value in changes.items():
            check = _CHECKS.get(name)
            if check is None:
                raise SettingsError(name, "no such setting")
            values[name] = check(name, value)

        if values["name"] in reserved_names:
            raise SettingsError("name", "that name is the lab's own cookie")

        values["secrets"] = tuple(values["secrets"])
        return Settings(**values)

    @classmethod
    def from_dict(cls, data: dict | None) -> "Settings":
        """Rebuild settings kept in the learner's session, ignoring stale keys."""
        if not data:
            return cls()

        values = {k: v for k, v in data.items() if k in _KNOWN_FIELDS}
        if "secrets" in values:
            values["secrets"] = tuple(values["secrets"])
        return cls(**values)


_FIELD_NAMES = tuple(f.name for f in fields(Settings))
_KNOWN_FIELDS = frozenset(_FIELD_NAMES)


def _boolean(name, value):
    if not isinstance(value, bool):
        raise SettingsError(name, "must be true or false")
    return value


def _choice(options, nullable=False):
    def check(name, value):
        if value is None and nullable:
            return None
        if not isinstance(value, str) or value.lower() not in options:
            allowed = ", ".join(options) + (", or null" if nullable else "")
            raise SettingsError(name, f"must be one of {allowed}")
        return value.lower()

    return check


def _max_age(name, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingsError(name, "must be a whole number of seconds or null")
    if not 1 <= value <= MAX_AGE_LIMIT:
        raise SettingsError(name, f"must be between 1 and {MAX_AGE_LIMIT} seconds")
    return value


def _secrets(name, value):
    if not isinstance(value, list) or not value:
        raise SettingsError(name, "must be a non-empty list of strings")
    if len(value) > SECRET_COUNT_LIMIT:
        raise SettingsError(name, f"at most {SECRET_COUNT_LIMIT} secrets")
    for secret in value:
        if not isinstance(secret, str) or not secret:
            raise SettingsError(name, "each secret must be a non-empty string")
        if len(secret) > SECRET_LENGTH_LIMIT:
            limit = SECRET_LENGTH_LIMIT
            raise SettingsError(name, f"each secret at most {limit} characters")
    return value


def _pattern(regex, what, nullable=False):
    def check(name, value):
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not regex.match(value):
            raise SettingsError(name, f"must be {what}")
        return value

    return check


_CHECKS = {
    "store": _choice(STORE_NAMES),
    "secure": _boolean,
    "http_only": _boolean,
    "same_site": _choice(SAME_SITE_VALUES, nullable=True),
    "max_age": _max_age,
    "rolling": _boolean,
    "resave": _boolean,
    "save_uninitialized": _boolean,
    "secrets": _secrets,
    "trust_proxy": _boolean,
    "name": _pattern(_COOKIE_NAME, "a cookie name of 1 to 64 token characters"),
    "path": _pattern(_PATH, "a path starting with / (no spaces or semicolons)"),
    "domain": _pattern(_DOMAIN, "a host name such as example.test, or null", True),
    "unset": _choice(UNSET_VALUES),
    "partitioned": _boolean,
    "priority": _choice(PRIORITY_VALUES, nullable=True),
    "regenerate_on_login": _boolean,
    "refresh_each_request": _boolean,
}
