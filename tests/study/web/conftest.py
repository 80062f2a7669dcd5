"""Fixtures for the study's web tests: `gdp-zero study serve` on a free loopback port, Debian's chromium.

The browser fixtures are the web app's (tests/ui/conftest.py), imported so both suites start
chromium one way.
"""

from __future__ import annotations

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from pathlib import Path
from typing import Callable, Iterator

import pytest
from playwright.sync_api import expect

from gdp_zero.llm.fake_server import FakeLLMServer
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


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., StudyServer]]:
    """Start a study server: `start_server()` in demo mode, or `start_server(llm=fake)` on a given fake LLM."""
    servers: list[StudyServer] = []

    def start(llm: FakeLLMServer | None = None) -> StudyServer:
        server = StudyServer(db_url=f"sqlite:///{tmp_path / 'study.db'}", log=tmp_path / f"server-{len(servers)}.log",
                             llm_url=llm.base_url if llm is not None else None)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def study_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudyServer]:
    """One demo-mode server for a test module; its tests use participant ids of their own."""
    folder = tmp_path_factory.mktemp("study-server")
    server = StudyServer(db_url=f"sqlite:///{folder / 'study.db'}", log=folder / "server.log").start()
    yield server
    server.stop()


