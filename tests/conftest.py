"""Fixtures shared by every tier: a fresh app per test and the real servers."""

import os
import secrets

import pytest
import sqlalchemy as sa

from app import create_app
from tests import services

SERVICE_VARIABLES = ("REDIS_URL", "MEMCACHED_SERVERS", "POSTGRES_URL", "MYSQL_URL")
POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MYSQL_URL = os.environ.get("TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Keep the operator's variables out of every test's configuration."""
    for name in list(os.environ):
        if name.startswith(("FLASK_", "SESSION_LAB_")) or name in SERVICE_VARIABLES:
            monkeypatch.delenv(name)


@pytest.fixture(scope="session", autouse=True)
def no_worker_left_behind():
    """Fail the run if a specimen worker it started is still running at its end."""
    yield
    from tests.workerprobe import workers_started_by

    assert workers_started_by(os.getpid()) == [], "specimen workers outlived the run"


@pytest.fixture(scope="session")
def redis_server():
    try:
        server = services.start_redis()
    except (FileNotFoundError, RuntimeError) as error:
        pytest.skip(f"no Redis for the tests: {error}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server):
    return f"redis://127.0.0.1:{redis_server.port}/0"


@pytest.fixture(scope="session")
def memcached_server():
    try:
        server = services.start_memcached()
    except (FileNotFoundError, RuntimeError) as error:
        pytest.skip(f"no memcached for the tests: {error}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def memcached_servers(memcached_server):
    return f"127.0.0.1:{memcached_server.port}"


def _database(url: str, label: str):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as error:
        engine.dispose()
        pytest.skip(f"no {label} at {url}: {type(error).__name__}")
    return engine


@pytest.fixture(scope="session")
def postgres_url():
    _database(POSTGRES_URL, "PostgreSQL").dispose()
    return POSTGRES_URL


@pytest.fixture(scope="session")
def mysql_url():
    _database(MYSQL_URL, "MySQL").dispose()
    return MYSQL_URL


@pytest.fixture(scope="session")
def sql_table():
    """A table name of this run's own, dropped from every database it reached."""
    name = f"lab_test_{secrets.token_hex(4)}"
    yield name
    for url in (POSTGRES_URL, MYSQL_URL):
        engine = sa.create_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
        except Exception:
            pass
        finally:
            engine.dispose()


@pytest.fixture
def make_app(tmp_path):
    """Build a fresh studio with its own instance folder and the given config."""
    made = []

    def build(**config):
        config.setdefault("TESTING", True)
        app = create_app(config, instance_path=str(tmp_path / f"instance{len(made)}"))
        made.append(app)
        return app

    yield build
    # Closed here, not left to the collector: an unclosed database connection
    # warns when collected, and warnings are errors.
    for app in made:
        app.extensions["session_lab"].stores.close()
        # Specimen workers are processes: each test stops the ones it started.
        app.extensions["specimen_workers"].stop()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()
