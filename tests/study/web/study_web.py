"""`gdp-zero study serve` for real, as tests and the benchmark start it, and its API over plain HTTP.

Each server is the real command in its own process (so a test can kill and restart it) on a
SQLite file of the caller's, with the demo's fake LLM (`--llm fake`) or, given a `FakeLLMServer`,
the real openai client against it (latency, faults).
"""

from __future__ import annotations

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import functools
import http.client
import http.cookiejar
import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.ui.conftest import free_port
from ui.study.participant import CHAT_OVER

REPO = Path(__file__).resolve().parents[3]
STUDY_FILE = REPO / "studies" / "gdpzero_vs_prompting.toml"
ADMIN_PASSWORD = "correct horse battery staple"
START_TIMEOUT_S = 90


@dataclass
class StudyServer:
    """A running `gdp-zero study serve`; `restart()` brings it back on the same port and database."""

    db_url: str
    log: Path
    llm_url: str | None = None  # an OpenAI-compatible endpoint (a fake server's); None: the demo's own fake (`--llm fake --allow-demo`)
    study_file: Path = STUDY_FILE
    password: str | None = ADMIN_PASSWORD
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None
    # Every test and benchmark participant comes from 127.0.0.1: the per-address turn limits are
    # raised unless a test is about them.
    turns_per_minute: int = 10_000
    max_turns_in_flight: int = 1_000
    participations_per_hour: int = 10_000
    trusted_proxies: tuple[str, ...] = ()  # 127.0.0.1: a test's X-Forwarded-For names the client

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def participant_url(self, **params: str) -> str:
        return self.url + ("?" + urllib.parse.urlencode(params) if params else "")

    def command(self) -> list[str]:
        llm = ["--llm", "fake", "--allow-demo"] if self.llm_url is None else ["--llm", "openai", "--base-url", self.llm_url, "--model", "fake-model"]
        command = [sys.executable, "-m", "gdp_zero.cli", "study", "serve", str(self.study_file), "--db", self.db_url,
                   "--host", "127.0.0.1", "--port", str(self.port), *llm,
                   "--turns-per-minute", str(self.turns_per_minute), "--max-turns-in-flight", str(self.max_turns_in_flight),
                   "--participations-per-hour", str(self.participations_per_hour),
                   *[flag for proxy in self.trusted_proxies for flag in ("--trusted-proxy", proxy)]]
        # Without a password the researcher pages are served only with --local-only (loopback here).
        return command + (["--admin-password", self.password] if self.password else ["--local-only"])

    def start(self) -> StudyServer:
        env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(REPO)}
        env.pop("GDP_ZERO_ADMIN_PASSWORD", None)
        if self.llm_url is not None:
            env["OPENAI_API_KEY"] = "sk-fake-study-key"  # the fake accepts any key; the real client wants one
        out = open(self.log, "a", encoding="utf-8")
        self.process = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO)
        out.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gdp-zero study serve exited with {self.process.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url + "config", timeout=2) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        raise AssertionError(f"gdp-zero study serve did not come up in {START_TIMEOUT_S} s:\n{self.output()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine dies."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def restart(self) -> StudyServer:
        self.stop()
        return self.start()

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8") if self.log.exists() else ""


# --- the participant flow over plain HTTP, as the page calls it ------------------------------------


class FromAddress(urllib.request.HTTPHandler):
    """HTTP connections that leave from one local address: on Linux all of 127.0.0.0/8 is this machine,
    so 127.0.0.2 and 127.0.0.3 are two more clients a server (or a proxy in front of it) can tell apart."""

    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(http.client.HTTPConnection, source_address=(self.address, 0)), req)


class GradioCall:
    """Call one of the participant app's events over HTTP (`/gradio_api/call/<name>`), as the page does.

    The query string carries the recruitment parameters, as the page's URL does for the browser.
    Returns the last data the event streamed (a generator's final update), or raises with its error.
    """

    def __init__(self, base_url: str, timeout_s: float = 120, *, cookies: bool = False, client: str | None = None,
                 source: str | None = None) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout_s = timeout_s
        # `client` goes out as X-Forwarded-For: another address to a server that trusts 127.0.0.1 as its proxy
        # (or a forged one, to a proxy that must not pass it on as the client's).
        self.headers = {"X-Forwarded-For": client} if client else {}
        # With cookies, calls keep what the server sets, as a browser does (a proxy's sticky-routing cookie);
        # with a `source`, they come from that loopback address.
        handlers: list[urllib.request.BaseHandler] = [urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())] if cookies else []
        handlers += [FromAddress(source)] if source else []
        self.open = urllib.request.build_opener(*handlers).open

    def __call__(self, api_name: str, *data: Any, params: dict[str, str] | None = None) -> list[Any]:
        query = "?" + urllib.parse.urlencode(params) if params else ""
        body = json.dumps({"data": list(data)}).encode()
        request = urllib.request.Request(f"{self.base_url}gradio_api/call/{api_name}{query}", body,
                                         {"Content-Type": "application/json", **self.headers})
        with self.open(request, timeout=self.timeout_s) as response:
            event_id = json.load(response)["event_id"]
        stream_request = urllib.request.Request(f"{self.base_url}gradio_api/call/{api_name}/{event_id}", headers=self.headers)
        with self.open(stream_request, timeout=self.timeout_s) as stream:
            last: list[Any] | None = None
            kind = None
            for raw in stream:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    kind = line[len("event: "):]
                elif line.startswith("data: "):
                    payload = json.loads(line[len("data: "):])
                    if kind == "error":
                        raise RuntimeError(f"{api_name}: {payload}")
                    if kind in ("generating", "complete") and payload is not None:
                        last = payload
                    if kind == "complete":
                        break
        if last is None:
            raise RuntimeError(f"{api_name}: no data")
        return last


# Where the participant app's events put the token and the phase in their outputs (ui/study/participant.py).
TOKEN_OUTPUT, PHASE_OUTPUT = 0, 1


class ApiParticipant:
    """One participant driven through the HTTP API, as their page would drive it; `waits` are the bot turns' waits."""

    def __init__(self, call: GradioCall, participant_id: str | None, params: dict[str, str] | None = None) -> None:
        self.call = call
        self.params = {"PROLIFIC_PID": participant_id, **(params or {})} if participant_id else dict(params or {})
        self.token: str | None = None
        self.phase: str | None = None
        self.last: list[Any] = []
        self.waits: list[float] = []  # seconds from sending a message (or the pre-survey) to the stored reply

    def step(self, api_name: str, *data: Any, timed: bool = False) -> list[Any]:
        started = time.monotonic()
        self.last = self.call(api_name, self.token, *data, params=self.params if api_name == "enter" else None)
        if timed:
            self.waits.append(time.monotonic() - started)
        token = self.last[TOKEN_OUTPUT]
        if isinstance(token, str):
            self.token = token
        phase = self.last[PHASE_OUTPUT]
        if isinstance(phase, str):
            self.phase = phase
        return self.last

    def text(self) -> str:
        """Everything the last call returned, as one string (to look for what must not be there)."""
        return json.dumps(self.last)

    @property
    def chat_over(self) -> bool:
        """The chat cannot go on: the turn limit, or the dialogue ended (a message tagged as agreeing to donate)."""
        return CHAT_OVER in self.text()

    def complete(self, messages: list[str], ratings: list[Any], pre: int = 3,
                 post: tuple[Any, ...] = (4, 3, "Strongly disagree", 4, 4, "0.5", "")) -> int:
        """consent -> pre-survey (the opening turn) -> up to len(messages) turns, each reply rated -> finish -> post-survey.

        `ratings` has one rating per bot message (a tuple for a study with several rating items), the
        greeting's first: a study that does not rate the greeting (the shipped one: rate_from = 1)
        leaves it unused. Returns the messages sent: fewer when the dialogue ends early. `post` follows the shipped study's post-survey: persuasive,
        natural, the attention check, coherent, donation intention, donation amount, comments.
        """
        self.step("enter")
        self.step("consent")
        self.step("pre_survey", pre, timed=True)
        sent = 0
        for text, rating in zip(messages, ratings):
            if sent > 0 or self.phase == "rating":
                self.expect("rating")
                self.step("rate", *as_values(rating))
            if self.chat_over:
                break
            self.step("send", text, timed=True)
            sent += 1
        else:
            if not self.chat_over:  # the answer to the study's last bot message ends the chat: nothing to rate
                self.expect("rating")
                self.step("rate", *as_values(ratings[len(messages)]))
        self.step("finish")
        self.expect("post_survey")
        self.step("post_survey", *post)
        self.expect("complete")
        return sent

    def expect(self, phase: str) -> None:
        if self.phase != phase:
            raise AssertionError(f"expected phase {phase!r}, got {self.phase!r}: {self.text()[:500]}")


def as_values(rating: Any) -> tuple[Any, ...]:
    """A bot message's rating as the rate event's inputs: one value per rating item."""
    return rating if isinstance(rating, tuple) else (rating,)


def publish_screenshot(taken: Path, name: str) -> None:
    """Copy a test's screenshot to docs/screenshots/ (what the README shows) when missing or when
    GDP_ZERO_UPDATE_SCREENSHOTS=1: a test run does not churn the committed ones (fake replies vary)."""
    target = REPO / "docs" / "screenshots" / name
    if os.environ.get("GDP_ZERO_UPDATE_SCREENSHOTS") == "1" or not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(taken, target)
