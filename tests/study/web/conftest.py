"""Fixtures for the study's web tests: `gdp-zero study serve` on a free loopback port, Debian's chromium.

The browser fixtures are the web app's (tests/ui/conftest.py), imported so both suites start
chromium one way. The servers run on SQLite and on PostgreSQL (tests/study/conftest.py makes a
fresh database for each), so a whole participation is checked on both stores a study may use.
"""

from __future__ import annotations

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from pathlib import Path
from typing import Callable, Iterator

import pytest
from playwright.sync_api import expect

from gdp_zero.llm.fake_server import FakeLLMServer
from tests.study.conftest import BACKENDS, fresh_database
from tests.study.web.study_web import StudyServer
from tests.ui.conftest import screenshot_dir, ui_browser  # noqa: F401  (fixtures)


EXPECT_TIMEOUT_MS = 30_000  # a study page waits on a server process and, in its chat, on the LLM
DEFAULT_EXPECT_TIMEOUT_MS = 5_000  # Playwright's


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """Page assertions wait up to 30 s here (a loaded machine), and Playwright's default again after."""
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    yield
    expect.set_options(timeout=DEFAULT_EXPECT_TIMEOUT_MS)


@pytest.fixture(params=BACKENDS)
def start_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., StudyServer]]:
    """Start a study server: `start_server()` in demo mode, or `start_server(llm=fake)` on a given fake LLM.

    Every server a test starts shares the test's one database (a restart finds what was stored)."""
    servers: list[StudyServer] = []
    with fresh_database(request.param, tmp_path) as db_url:

        def start(llm: FakeLLMServer | None = None) -> StudyServer:
            server = StudyServer(db_url=db_url, log=tmp_path / f"server-{len(servers)}.log",
                                 llm_url=llm.base_url if llm is not None else None)
            servers.append(server)
            return server.start()

        yield start
        for server in servers:
            server.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def study_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudyServer]:
    """One demo-mode server for a test module and database; its tests use participant ids of their own."""
    folder = tmp_path_factory.mktemp("study-server")
    with fresh_database(request.param, folder) as db_url:
        server = StudyServer(db_url=db_url, log=folder / "server.log").start()
        yield server
        server.stop()
