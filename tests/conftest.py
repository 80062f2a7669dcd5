"""Shared pytest fixtures."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from gdp_zero.factory import ChatOptions, build_session
from gdp_zero.llm import EndpointSettings, LLMSettings
from gdp_zero.llm.fake_server import FakeLLMServer
from gdp_zero.planners import GDPZeroConfig, PlannerTurn

# --- fake LLM server (gdp_zero.llm) ---------------------------------------------------------


@pytest.fixture
def fake_server(request: pytest.FixtureRequest) -> Iterator[FakeLLMServer]:
    """A started fake OpenAI-compatible server on 127.0.0.1.

    Options go through indirect parametrization, e.g.
    `@pytest.mark.parametrize("fake_server", [{"ignore_n": True}], indirect=True)`.
    """
    with FakeLLMServer(**getattr(request, "param", {})) as server:
        yield server


@pytest.fixture
def make_settings() -> Callable[..., LLMSettings]:
    """Build LLMSettings for a base URL; keyword args set endpoint or top-level fields.

    Backoff defaults are tiny so retry tests stay fast.
    """
    endpoint_fields = set(EndpointSettings.__dataclass_fields__)

    def make(base_url: str, **kw: Any) -> LLMSettings:
        endpoint = {"model": "fake-model", "base_url": base_url, "api_key": "sk-test-key"}
        endpoint |= {k: v for k, v in kw.items() if k in endpoint_fields}
        top = {"backoff_base_s": 0.001, "backoff_max_s": 0.01}
        top |= {k: v for k, v in kw.items() if k not in endpoint_fields}
        return LLMSettings(default=EndpointSettings(**endpoint), **top)

    return make


# --- the P4G corpus (read where it lies, never copied into the repository) ------------------

P4G_DIR_DEFAULT = "/work/shared/data/p4g"


@pytest.fixture(scope="session")
def p4g_location() -> Path:
    """Where the published P4G files should be: $GDP_ZERO_P4G_DIR, else the shared data folder."""
    return Path(os.environ.get("GDP_ZERO_P4G_DIR", P4G_DIR_DEFAULT))


@pytest.fixture(scope="session")
def p4g_dir(p4g_location: Path) -> Path:
    """The folder of the published P4G files; a test that needs them fails, saying so, without them."""
    folder = p4g_location
    if not (folder / "300_dialog.csv").is_file():
        pytest.fail(f"the P4G corpus is not at {folder}: set GDP_ZERO_P4G_DIR to the folder holding 300_dialog.csv")
    return folder


# --- a real terminal (tmux) ----------------------------------------------------------------------


def tmux(socket: str, *args: str) -> str:
    return subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True, timeout=20, check=True).stdout


@pytest.fixture
def tmux_socket() -> Iterator[str]:
    """A private tmux server's socket name; the server is killed after the test."""
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed (apt-get install -y tmux; .ci/run installs it)")
    socket = f"gdp-test-{uuid.uuid4().hex[:8]}"
    yield socket
    subprocess.run(["tmux", "-L", socket, "kill-server"], check=False, capture_output=True, timeout=20)


async def plan_first_reply(settings: LLMSettings, search: GDPZeroConfig, message: str = "Hi! What is this about?") -> PlannerTurn:
    """The persuader's turn after the opening and one message of the person, planned with `search`."""
    session = build_session(settings, ChatOptions(search=search))
    try:
        await session.open()
        planned = await session.send(message)
    finally:
        await session.aclose()
    assert planned is not None
    return planned
