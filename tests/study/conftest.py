"""Study fixtures: a fresh database per test on SQLite and on PostgreSQL.

PostgreSQL comes from GDP_ZERO_TEST_POSTGRES_URL (`.ci/run` starts a server and sets it); without
it, the session starts a private server from the installed binaries (tests/private_postgres.py),
so the README's test command runs every case. Each test gets its own database with a random name,
dropped afterwards, so engineers sharing a server do not see each other's rows. With neither the
variable nor the postgresql package the PostgreSQL cases skip, saying why; under CI (CI=true) they
fail instead, because CI must run them.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from datetime import datetime
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gdp_zero.study.db import Database, database_url, open_database
from gdp_zero.study.models import utcnow
from gdp_zero.study.spec import load_study
from gdp_zero.validation import ConfigError
from tests.private_postgres import PrivatePostgres, installed_bin

POSTGRES_ENV = "GDP_ZERO_TEST_POSTGRES_URL"
BACKENDS = ("sqlite", "postgresql")


def postgres_server_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    bin_dir = installed_bin()
    if bin_dir is not None:
        os.environ[POSTGRES_ENV] = PrivatePostgres(bin_dir).start()  # once a session; later calls read it
        return os.environ[POSTGRES_ENV]
    message = (f"{POSTGRES_ENV} is not set and PostgreSQL is not installed: no server to test against "
               "(apt-get install -y postgresql, or name a server in the variable)")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def create_postgres_database() -> str:
    """A new, empty database on the test server; its URL."""
    server = make_url(database_url(postgres_server_url()))
    name = f"gdpz_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return server.set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database=make_url(database_url(postgres_server_url())).database), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextlib.contextmanager
def fresh_database(backend: str, folder: Path) -> Iterator[str]:
    """The URL of a fresh, empty study database: a SQLite file in `folder`, or a new PostgreSQL
    database, dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'study.db'}"
        return
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


def study_file_error(folder: Path, text: str) -> tuple[Path, str]:
    """Write `text` as a study file in `folder` and load it: the file and the ConfigError's message."""
    path = folder / "broken.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_study(path)
    return path, str(caught.value)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty study database on each backend."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


SMALL_STUDY_FILE = Path(__file__).parent / "small_study.toml"


class Clock:
    """A clock a test moves by hand (`clock.now += timedelta(...)`), for the service's timeouts."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    """The study database at `db_url`, opened for one test."""
    database = open_database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def small_study_file() -> Path:
    """A small study for tests: the shipped study's shape, a tiny search, chats of 1 to 3 turns."""
    return SMALL_STUDY_FILE
