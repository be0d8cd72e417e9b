"""Configuration defaults and the installation's own secret."""

import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path

log = logging.getLogger(__name__)

# Environment variables read as they are, because operators know them by these
# names; everything else can be set with the SESSION_LAB_ prefix.
SERVICE_VARIABLES = ("REDIS_URL", "MEMCACHED_SERVERS", "POSTGRES_URL", "MYSQL_URL")


class Defaults:
    """Settings every installation starts from.

    In production, override SECRET_KEY only if several servers must share it;
    set SESSION_COOKIE_SECURE to True whenever the studio is served over HTTPS.
    """

    # The studio's own session: the learner's identity, settings and progress.
    SESSION_TYPE = "sqlalchemy"
    SESSION_COOKIE_NAME = "lab_learner"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    SESSION_PERMANENT = True
    SESSION_KEY_PREFIX = "studio:"
    SESSION_REFRESH_EACH_REQUEST = False
    SESSION_CLEANUP_N_REQUESTS = 500
    SESSION_SQLALCHEMY_TABLE = "studio_sessions"
    PERMANENT_SESSION_LIFETIME = timedelta(days=1)

    # Services; empty means the store that needs it is shown as not configured.
    REDIS_URL = ""
    MEMCACHED_SERVERS = ""
    POSTGRES_URL = ""
    MYSQL_URL = ""

    # The table SQL stores keep specimen sessions in (SQLite, PostgreSQL, MySQL).
    SPECIMEN_SQL_TABLE = "lab_sessions"

    # Bounds that keep memory and storage flat however many learners come.
    RECORD_LENGTH = 30
    SESSIONS_PER_LEARNER = 40
    MEMORY_STORE_THRESHOLD = 20000
    FILE_STORE_THRESHOLD = 20000
    STORE_TIMEOUT_SECONDS = 1.0

    MAX_CONTENT_LENGTH = 64 * 1024

    # The SameSite lesson's other site: a second name of this server, such as
    # http://other.example.org:5000. Empty lets localhost and 127.0.0.1 stand
    # in for each other; set it when the lab is served under any other name.
    OTHER_SITE_ORIGIN = ""


def load_secret_key(instance_path: str) -> str:
    """Read the installation's secret, making a random one on first start.

    The file lives in the instance folder, which git ignores, so the secret
    never enters the repository.
    """
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()

    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another worker made it between the check and the open.
        return path.read_text().strip()

    with os.fdopen(descriptor, "w") as handle:
        handle.write(key)
    log.info("made a new secret key in %s", path)
    return key
