"""The web app served for real on 127.0.0.1 and driven by Debian's chromium through Playwright.

One app for the whole session, on a fake LLM server this module owns, so a test can inject
faults (`ui_app.llm.fault_rate`) or latency and put them back. Searches are small to stay fast.
Screenshots go to test-artifacts/screenshots/ (printed in the header and the summary).
"""

from __future__ import annotations

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import shutil
import socket
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from gdp_zero.backends import DEMO_BANNER, Backend
from gdp_zero.llm.fake_server import FAULT_KINDS, FakeLLMServer
from gdp_zero.llm.settings import load_llm_settings
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.serving.limits import LimitSettings

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPO / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
# A key the browser must never see: the fake server accepts any key, so it is safe to use one.
SECRET_KEY = "sk-ui-test-secret-0123456789"
# expect() has its own timeout (5 s), apart from the page's: on a loaded machine a turn can take longer.
expect.set_options(timeout=20_000)
SMALL_SEARCH = GDPZeroConfig(simulations=4, realizations=2, prior_samples=3, value_samples=3, concurrency=4)
# Every test page comes from 127.0.0.1: per-address limits would soon refuse the suite itself.
ONE_ADDRESS_FOR_ALL = LimitSettings(max_sessions_per_client=1000, turns_per_minute=10_000)


def pytest_report_header(config: pytest.Config) -> str:
    return f"UI test screenshots: {SCREENSHOT_DIR}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    # The header hook only runs for initial conftests (`pytest tests/ui`); this one always does.
    if SCREENSHOT_DIR.is_dir() and any(SCREENSHOT_DIR.iterdir()):
        terminalreporter.write_line(f"UI test screenshots: {SCREENSHOT_DIR}")


@pytest.fixture(scope="module")
def ui_browser() -> Iterator[Browser]:
    """Chromium for one test module, then Playwright is stopped.

    This and `new_context` / `page` below replace pytest-playwright's session-scoped fixtures:
    sync Playwright keeps its event loop marked as running while it lives, so pytest-asyncio
    tests collected after the browser tests would fail with "Cannot run the event loop while
    another loop is running".
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (Playwright cannot download its own browser here)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_context(ui_browser: Browser) -> Iterator[Callable[[], BrowserContext]]:
    """Make a fresh browser context (its own cookies and storage): another person."""
    contexts: list[BrowserContext] = []

    def make() -> BrowserContext:
        context = ui_browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context: Callable[[], BrowserContext]) -> Page:
    return new_context().new_page()


@pytest.fixture(scope="session")
def docs_screenshot_dir() -> Path:
    return REPO / "docs" / "screenshots"


@pytest.fixture(scope="session")
def publish_screenshots(docs_screenshot_dir: Path) -> Callable[..., None]:
    """Copy screenshots to docs/screenshots/ (the README shows them) when missing or asked for
    (GDP_ZERO_UPDATE_SCREENSHOTS=1), so that a test run does not leave the committed ones changed
    (the fake replies differ from run to run)."""

    def publish(folder: Path, *names: str) -> None:
        refresh = os.environ.get("GDP_ZERO_UPDATE_SCREENSHOTS") == "1"
        docs_screenshot_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            if refresh or not (docs_screenshot_dir / name).exists():
                shutil.copyfile(folder / name, docs_screenshot_dir / name)
                print(f"copied to {docs_screenshot_dir / name}")

    return publish


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    shutil.rmtree(SCREENSHOT_DIR, ignore_errors=True)
    SCREENSHOT_DIR.mkdir(parents=True)
    print(f"\nUI screenshots are saved in {SCREENSHOT_DIR}")
    return SCREENSHOT_DIR


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServedApp:
    url: str
    demo: Any
    llm: FakeLLMServer
    secret: str = SECRET_KEY  # the API key the server holds; no page or download may contain it

    @property
    def registry(self) -> Any:
        return self.demo.gdp_registry

    def healthy(self) -> None:
        """Undo what a test injected into the shared fake server."""
        self.llm.fault_rate, self.llm.latency_s, self.llm.faults = 0.0, 0.0, FAULT_KINDS


@contextmanager
def served_app(
    *, limits: LimitSettings = ONE_ADDRESS_FOR_ALL, userinfo: str = "", data_dirs: tuple[Path, ...] = (),
    arena: Callable[[Any], Any] | None = None, trusted_proxies: tuple[str, ...] = ("127.0.0.1",),
) -> Iterator[ServedApp]:
    """The app on its own fake LLM server; `userinfo` ("user:password") goes into the base URL;
    the Strategies tab may read P4G files under `data_dirs`; `arena(settings)` makes the Arena tab's service."""
    from ui.app import build_app, serve

    llm = FakeLLMServer().start()
    base_url = llm.base_url.replace("http://", f"http://{userinfo}@") if userinfo else llm.base_url
    settings = load_llm_settings(None, {}, base_url=base_url, api_key=SECRET_KEY, model="fake-model", timeout_s=20.0)
    # A 20 s request timeout, not the default 60 (above): the fake server answers in milliseconds, so a request
    # lost on a loaded test machine is retried well within a browser test's 60 s wait for a reply.
    # One retry with tiny backoff: an injected endpoint failure surfaces in well under a second.
    settings = replace(settings, max_retries=1, backoff_base_s=0.01, backoff_max_s=0.02)
    backend = Backend("fake", settings, DEMO_BANNER)
    demo = build_app(backend, search=SMALL_SEARCH, limits=limits, data_dirs=data_dirs,
                     arena=arena(settings) if arena is not None else None)
    port = free_port()
    # The tests stand for a reverse proxy on this machine: its X-Forwarded-For names the client.
    serve(demo, host="127.0.0.1", port=port, block=False, quiet=True, trusted_proxies=trusted_proxies)
    url = f"http://127.0.0.1:{port}/"
    with urllib.request.urlopen(url, timeout=10) as response:  # served before any browser comes
        assert response.status == 200
    try:
        yield ServedApp(url, demo, llm)
    finally:
        demo.close()
        llm.stop()


@pytest.fixture(scope="session")
def start_app() -> Callable[..., ContextManager[ServedApp]]:
    """`with start_app(limits=..., userinfo=...) as app:` another app, for tests that need other settings."""
    return served_app


@pytest.fixture(scope="session")
def ui_app(p4g_location: Path) -> Iterator[ServedApp]:
    with served_app(data_dirs=(p4g_location,)) as app:
        yield app


@pytest.fixture
def app(ui_app: ServedApp) -> Iterator[ServedApp]:
    ui_app.healthy()
    yield ui_app
    ui_app.healthy()
