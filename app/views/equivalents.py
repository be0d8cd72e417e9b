"""The learner's settings written as the code and commands that mean the same.

Where express-session, Flask-Session and the lab differ, the text says so in
a comment rather than pretending to an equivalent that does not exist.
"""

import json
import shlex

from ..settings import Settings

EXPRESS_STORES = {
    "memory": "new session.MemoryStore(), // the default; for development only",
    "cookie": None,
    "filesystem": "new FileStore({ path: './sessions' }), // session-file-store",
    "sqlite": "new SQLiteStore({ db: 'sessions.sqlite3' }), // connect-sqlite3",
    "redis": "new RedisStore({ client: redisClient }), // connect-redis",
    "memcached": "new MemcachedStore({ hosts: ['127.0.0.1:11211'] }), "
    "// connect-memcached",
    "postgresql": "new PgStore({ pool }), // connect-pg-simple",
    "mysql": "new MySQLStore({}, pool), // express-mysql-session",
}
FLASK_STORES = {
    "memory": ['SESSION_TYPE="cachelib",', "SESSION_CACHELIB=SimpleCache(),"],
    "filesystem": [
        'SESSION_TYPE="cachelib",',
        'SESSION_CACHELIB=FileSystemCache("flask_session"),',
    ],
    "sqlite": [
        'SESSION_TYPE="sqlalchemy",',
        'SQLALCHEMY_DATABASE_URI="sqlite:///sessions.sqlite3",',
    ],
    "redis": [
        'SESSION_TYPE="redis",',
        'SESSION_REDIS=Redis.from_url("redis://127.0.0.1:6379/0"),',
    ],
    "memcached": [
        'SESSION_TYPE="memcached",',
        'SESSION_MEMCACHED=Client("127.0.0.1:11211"),',
    ],
    "postgresql": [
        'SESSION_TYPE="sqlalchemy",',
        'SQLALCHEMY_DATABASE_URI="postgresql+psycopg://...",',
    ],
    "mysql": [
        'SESSION_TYPE="sqlalchemy",',
        'SQLALCHEMY_DATABASE_URI="mysql+pymysql://...",',
    ],
}


def js(value) -> str:
    """Write a value as a JavaScript literal."""
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return json.dumps(value)


def py(value) -> str:
    """Write a value as a Python literal, with double-quoted strings."""
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def express_options(settings: dict) -> str:
    """Answer the express-session call that matches the settings."""
    lines = []
    store = EXPRESS_STORES.get(settings["store"])
    if store is None:
        lines.append(
            "// The signed-cookie store has no express-session equivalent:"
            " cookie-session keeps the data in the cookie instead."
        )
    lines.append("app.use(session({")
    if store:
        lines.append(f"  store: {store}")
    count = len(settings["secrets"])
    secrets = ", ".join(["'\u2026'"] * count)
    lines.append(f"  secret: [{secrets}], // the first signs, every one verifies")
    lines.append(f"  name: {js(settings['name'])},")
    lines.append(f"  resave: {js(settings['resave'])},")
    lines.append(f"  saveUninitialized: {js(settings['save_uninitialized'])},")
    lines.append(f"  rolling: {js(settings['rolling'])},")
    lines.append(f"  unset: {js(settings['unset'])},")
    if settings["trust_proxy"]:
        lines.append("  proxy: true, // believe X-Forwarded-Proto from anyone")
    lines.append("  cookie: {")
    cookie = [
        f"    path: {js(settings['path'])},",
        f"    httpOnly: {js(settings['http_only'])},",
        f"    secure: {js(settings['secure'])},",
    ]
    max_age = settings["max_age"]
    cookie.append(
        "    maxAge: null, // a browser-session cookie"
        if max_age is None
        else f"    maxAge: {max_age * 1000}, // milliseconds"
    )
    if settings["same_site"]:
        cookie.append(f"    sameSite: {js(settings['same_site'])},")
    if settings["domain"]:
        cookie.append(f"    domain: {js(settings['domain'])},")
    if settings["partitioned"]:
        cookie.append("    partitioned: true,")
    if settings["priority"]:
        cookie.append(f"    priority: {js(settings['priority'])},")
    lines.extend(cookie)
    lines.append("  },")
    lines.append("}))")
    lines.extend(express_login(settings))
    return "\n".join(lines)


def express_login(settings: dict) -> list[str]:
    """Answer the login handler regenerate_on_login stands for.

    It is no option of express-session: the handler calls regenerate or not.
    """
    if not settings["regenerate_on_login"]:
        return [
            "// regenerate_on_login off: the login handler keeps the session, and",
            "// its ID, that the request came with",
            "app.post('/login', (req, res) => {",
            "  req.session.user = req.body.user",
            "  res.send('logged in')",
            "})",
        ]
    return [
        "// regenerate_on_login: the login handler calls regenerate (no option",
        "// of express-session): the old ID is destroyed, the session starts empty",
        "app.post('/login', (req, res, next) => {",
        "  req.session.regenerate((err) => {",
        "    if (err) return next(err)",
        "    req.session.user = req.body.user",
        "    res.send('logged in')",
        "  })",
        "})",
    ]


def flask_config(settings: dict) -> str:
    """Answer the Flask and Flask-Session 0.8 configuration nearest the settings."""
    lines = []
    store = FLASK_STORES.get(settings["store"])
    if store is None:
        lines.append("# Flask's own session is the signed cookie: no Flask-Session.")
    lines.append("app.config.update(")
    for line in store or []:
        lines.append(f"    {line}")
    lines.append('    SECRET_KEY="\u2026",  # Flask-Session 0.8 does not sign the ID')
    lines.append(f"    SESSION_COOKIE_NAME={py(settings['name'])},")
    lines.append(f"    SESSION_COOKIE_PATH={py(settings['path'])},")
    lines.append(f"    SESSION_COOKIE_HTTPONLY={py(settings['http_only'])},")
    lines.append(f"    SESSION_COOKIE_SECURE={py(settings['secure'])},")
    same_site = settings["same_site"].capitalize() if settings["same_site"] else None
    lines.append(f"    SESSION_COOKIE_SAMESITE={py(same_site)},")
    lines.append(f"    SESSION_COOKIE_DOMAIN={py(settings['domain'])},")
    if settings["max_age"] is None:
        lines.append("    SESSION_PERMANENT=False,  # a browser-session cookie")
    else:
        lines.append("    SESSION_PERMANENT=True,")
        lines.append(
            f"    PERMANENT_SESSION_LIFETIME=timedelta(seconds={settings['max_age']}),"
        )
    lines.append(
        f"    SESSION_REFRESH_EACH_REQUEST={py(settings['refresh_each_request'])},"
        "  # rewrites the store, like resave; re-sends permanent cookies, like rolling"
    )
    if settings["partitioned"]:
        lines.append(
            "    # partitioned: Flask-Session 0.8 ignores SESSION_COOKIE_PARTITIONED"
        )
    lines.append(")")
    if settings["save_uninitialized"]:
        lines.append(
            "# saveUninitialized: no equivalent; Flask-Session never stores an"
            " empty session"
        )
    if settings["unset"] == "destroy":
        lines.append("# unset: 'destroy': call session.clear() to delete the session")
    if settings["priority"]:
        lines.append("# priority: Flask writes no Priority attribute")
    if settings["trust_proxy"]:
        lines.append("app.wsgi_app = ProxyFix(app.wsgi_app, x_proto=1)")
    lines.append(flask_login(settings))
    return "\n".join(lines)


def flask_login(settings: dict) -> str:
    """Answer what the login view does for regenerate_on_login, as a comment."""
    if settings["store"] == "cookie":
        return (
            "# login: a cookie session has no ID to regenerate; the view calls"
            " session.clear() before setting the user"
        )
    if settings["regenerate_on_login"]:
        return (
            "# regenerate_on_login: the login view calls"
            " app.session_interface.regenerate(session), which keeps the data"
        )
    return "# regenerate_on_login off: the login view sets the user and keeps the ID"


def curl_commands(settings: dict, requests, base_url: str) -> str:
    """Answer curl commands that send the step's requests as this learner's would be."""
    base = base_url.rstrip("/")
    lines = [
        "# curl is a learner of its own: keep its cookies in a jar.",
        f"curl -c jar -b jar -s -o /dev/null {shlex.quote(base + '/api/settings')}",
    ]
    changes = changed_settings(settings)
    if changes:
        body = json.dumps(changes, separators=(", ", ": "))
        lines.append(
            "curl -c jar -b jar -H 'Content-Type: application/json' "
            f"-d {shlex.quote(body)} {shlex.quote(base + '/api/settings')}"
        )
    commands = [curl_request(request, base) for request in requests]
    if len(commands) == 2:
        delay = requests[1].delay_ms / 1000
        lines.append(f"{commands[0]} &")
        lines.append(f"sleep {delay:g}; {commands[1]}; wait")
    else:
        lines.extend(commands)
    if not requests:
        lines.append(f"curl -c jar -b jar -i {shlex.quote(base + '/lab/')}")
    return "\n".join(lines)


def curl_request(request, base: str) -> str:
    parts = ["curl -c jar -b jar -i -H 'Accept: text/html'"]
    for name, value in request.headers.items():
        parts.append(f"-H {shlex.quote(f'{name}: {value}')}")
    for name, value in request.form.items():
        parts.append(f"--data-urlencode {shlex.quote(f'{name}={value}')}")
    if request.method == "POST" and not request.form:
        parts.append("-X POST")
    parts.append(shlex.quote(base + request.path))
    return " ".join(parts)


def changed_settings(settings: dict) -> dict:
    """Answer the settings that differ from the defaults, secrets left out."""
    defaults = Settings().to_dict()
    return {
        name: value
        for name, value in settings.items()
        if name != "secrets" and defaults.get(name) != value
    }
