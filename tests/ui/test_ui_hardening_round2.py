"""The chat app under the second round of probes, over plain HTTP (tests/ui/gradio_http.py):
a flood kept alive by cheap events, oversized and half-sent bodies, routes no page uses, a forged
X-Forwarded-For, and what `gdp-zero ui` leaves on disk when it is stopped with SIGTERM.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import resource
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gdp_zero.serving.heads import HEAD_TIMEOUT_S
from gdp_zero.serving.limits import LimitSettings
from gdp_zero.serving.logs import MAX_MESSAGE_CHARS, REPEATS_SHOWN
from tests.study.web.test_access import status_of
from tests.test_serving_http import raw
from tests.ui.conftest import free_port
from tests.ui.gradio_http import NO_TOKEN, ON_LOAD, ON_SEND, call, new_session

REPO = Path(__file__).resolve().parents[2]
FLOOD = ["random", 1, 1, 0.25, 1, "", "puct"]  # planner, simulations, k, Q0, c_puct, time budget, root rule


def fn_index_of(base_url: str, elem_id: str, trigger: str) -> int:
    """The event index of `trigger` on the component with `elem_id`, from the page's /config."""
    with urllib.request.urlopen(base_url + "config", timeout=20) as response:
        config = json.load(response)
    ids = {c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == elem_id}
    for dependency in config["dependencies"]:
        if any(target[0] in ids and target[1] == trigger for target in dependency["targets"]):
            return dependency["id"]
    raise AssertionError(f"no {trigger} event on #{elem_id}")


def test_cheap_events_keep_no_session_and_a_newcomer_gets_in(start_app: Callable[..., Any]) -> None:
    limits = LimitSettings(max_sessions=3, max_sessions_per_client=1, idle_timeout_s=600, yield_after_idle_s=6)
    with start_app(limits=limits) as app:
        flood = {f"10.0.0.{n}": new_session() for n in range(1, 4)}
        for client, session in flood.items():
            assert call(app.url, ON_LOAD, [*FLOOD, NO_TOKEN], session, client=client).success
        look = fn_index_of(app.url, "turn-select", "select")  # choosing a turn to view: no LLM turn
        stop = threading.Event()

        def keep_alive() -> None:  # the probe's trick: a cheap event per session, again and again
            while not stop.is_set():
                for client, session in flood.items():
                    call(app.url, look, [None], session, client=client)
                time.sleep(0.3)

        alive = threading.Thread(target=keep_alive, daemon=True)
        alive.start()
        try:
            newcomer = new_session()
            refused = call(app.url, ON_LOAD, [*FLOOD, NO_TOKEN], newcomer, client="10.0.0.9")
            assert "server is full (3 open sessions, all in use). Please try again in" in refused.status
            pressed = call(app.url, ON_SEND, ["Hello?", *FLOOD], newcomer, client="10.0.0.9")
            assert pressed.status.startswith("This page has no chat: The server is full"), pressed.status  # not "restarted"
            time.sleep(6.5)  # the flood's sessions have had no turn for yield_after_idle_s, only cheap events
            admitted = call(app.url, ON_LOAD, [*FLOOD, NO_TOKEN], newcomer, client="10.0.0.9")
            assert "full" not in admitted.status and app.registry.get(newcomer) is not None, admitted.status
        finally:
            stop.set()
            alive.join(timeout=30)
        gone = [s for s in flood.values() if app.registry.get(s) is None]
        assert len(gone) == 1 and len(app.registry) == 3
        told = call(app.url, ON_SEND, ["Still there?", *FLOOD], gone[0], client="10.0.0.1")
        assert "closed to make room for a newcomer" in told.status, told.status


def test_bodies_routes_and_forged_addresses(start_app: Callable[..., Any]) -> None:
    with start_app(limits=LimitSettings(max_sessions_per_client=1), trusted_proxies=()) as app:
        base = app.url.rstrip("/")
        started = time.monotonic()
        answer = raw(base, "/gradio_api/queue/join", f"Content-Length: {50 << 20}", b"{" * 1000)
        assert answer.startswith("HTTP/1.1 413") and time.monotonic() - started < 5
        started = time.monotonic()
        answer = raw(base, "/gradio_api/queue/join", "Content-Length: 500", b'{"data": [')
        assert answer.startswith("HTTP/1.1 408") and 5 < time.monotonic() - started < 30
        for path in ("openapi.json", "gradio_api/openapi.json", "gradio_api/call/nonexistent", "gradio_api/call/false"):
            assert status_of(app.url + path) == 404, path

        # Without a trusted proxy a forged X-Forwarded-For changes nothing: both sessions are 127.0.0.1's.
        first = new_session()
        assert call(app.url, ON_LOAD, [*FLOOD, NO_TOKEN], first, client="198.51.100.1").success
        for wrong in (123, ["a", "list"]):  # not text: the page's hint, not Gradio's bare "Error"
            done = call(app.url, ON_SEND, [wrong, *FLOOD], first)
            assert done.success and done.error is None and "A message must be text, not" in done.status, done
        second = call(app.url, ON_LOAD, [*FLOOD, NO_TOKEN], new_session(), client="198.51.100.2")
        assert "Too many open sessions from your address (1)" in second.status


def serving(url: str) -> bool:
    try:
        return status_of(url + "config") == 200
    except OSError:  # not listening yet
        return False


def test_sigterm_removes_the_scratch_folder_and_gradios_copies(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(REPO)}
    url = f"http://127.0.0.1:{port}/"
    with open(tmp_path / "ui.log", "w", encoding="utf-8") as log:
        server = subprocess.Popen([sys.executable, "-m", "gdp_zero.cli", "ui", "--llm", "fake", "--port", str(port)],
                                  stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    try:
        deadline = time.monotonic() + 120
        while not serving(url):
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "ui.log").read_text()
            time.sleep(0.5)
        assert call(url, ON_LOAD, [*FLOOD, NO_TOKEN], new_session()).success  # the greeting: a transcript to download
        tmp = Path(os.environ.get("TMPDIR", "/tmp"))
        cache = [Path(p) for p in glob.glob(str(tmp / f"gdp-zero-gradio-{server.pid}-*"))]
        scratch = [Path(p) for p in glob.glob(str(tmp / f"gdp-zero-ui-{server.pid}-*"))]
        assert len(cache) == 1 and len(scratch) == 1
        assert stat.S_IMODE(cache[0].stat().st_mode) == 0o700
        assert list(cache[0].rglob("*.json")), "Gradio's copy of the transcript is in the server's own cache folder"
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        assert not cache[0].exists() and not scratch[0].exists(), (tmp_path / "ui.log").read_text()
    finally:
        if server.poll() is None:
            server.kill()


def upload(url: str, client: str, content: bytes) -> int:
    return upload_answer(url, client, content)[0]


def upload_answer(url: str, client: str, content: bytes) -> tuple[int, Any]:
    """POST one file to Gradio's upload route, as the Strategies tab's file box does: the status, and
    the answer (the paths of the files kept, on success)."""
    boundary = "gdpzeroboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"runs.jsonl\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(url + "gradio_api/upload", body, {
        "Content-Type": f"multipart/form-data; boundary={boundary}", "X-Forwarded-For": client})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_uploads_only_from_an_address_whose_page_opened_the_strategies_tab(start_app: Callable[..., Any]) -> None:
    with start_app() as app:
        assert upload(app.url, "203.0.113.50", b'{"a": 1}\n') == 403  # no session: nothing is kept
        session = new_session()
        assert call(app.url, ON_LOAD, [*FLOOD, NO_TOKEN], session, client="203.0.113.51").success
        assert upload(app.url, "203.0.113.51", b'{"a": 1}\n') == 403  # a chat, but no file box on its screen
        assert call(app.url, fn_index_of(app.url, "strategies-tab", "select"), [], session, client="203.0.113.51").success
        assert upload(app.url, "203.0.113.51", b'{"a": 1}\n') == 200


def test_uploaded_files_are_removed_when_the_addresss_last_chat_ends(start_app: Callable[..., Any]) -> None:
    limits = LimitSettings(max_sessions=2, max_sessions_per_client=2, yield_after_idle_s=2)
    with start_app(limits=limits) as app:
        for _ in range(2):  # two tabs of one person, both on the Strategies tab
            session = new_session()
            assert call(app.url, ON_LOAD, [*FLOOD, NO_TOKEN], session, client="203.0.113.60").success
            assert call(app.url, fn_index_of(app.url, "strategies-tab", "select"), [], session, client="203.0.113.60").success
        status, paths = upload_answer(app.url, "203.0.113.60", b'{"uploaded by": "the person"}\n')
        assert status == 200 and len(paths) == 1
        kept = Path(paths[0])
        deadline = time.monotonic() + 10
        while not kept.exists():  # Gradio moves the file into its cache after answering
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(2.5)  # both chats idle past yield_after_idle_s: on a full server a newcomer takes a place
        assert call(app.url, ON_LOAD, [*FLOOD, NO_TOKEN], new_session(), client="203.0.113.61").success
        assert kept.exists()  # one chat of the address is still open: its files stay
        assert call(app.url, ON_LOAD, [*FLOOD, NO_TOKEN], new_session(), client="203.0.113.62").success
        assert not app.registry.limits.holds_session("203.0.113.60") and not kept.exists()
        assert upload(app.url, "203.0.113.60", b'{"a": 1}\n') == 403  # and it may upload no more


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "config", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_half_sent_heads_are_cut_off_and_the_log_stays_short(tmp_path: Path) -> None:
    """The probe's set-up: open files limited to 150, 300 connections each sending half a request
    line. Unguarded, the server stopped answering and logged 165,000 "Too many open files"
    tracebacks (70 MB) in 40 s on this machine; a value near the body cap sent into an event was
    written whole to the log by Gradio's traceback."""
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(REPO)}
    url = f"http://127.0.0.1:{port}/"
    log_path = tmp_path / "ui.log"

    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (150, 150))

    with open(log_path, "w", encoding="utf-8") as log:
        server = subprocess.Popen([sys.executable, "-m", "gdp_zero.cli", "ui", "--llm", "fake", "--port", str(port)],
                                  stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO, preexec_fn=few_files)
    held: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 120
        while not serving(url):
            assert server.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.5)
        session = new_session()
        assert call(url, ON_LOAD, [*FLOOD, NO_TOKEN], session).success
        big = "N" * 900_000  # under the 1 MB body cap: it reaches Gradio, which refuses it with a traceback
        for _ in range(3):
            assert not call(url, fn_index_of(url, "node-select", "select"), [0, big], session).success

        started = time.monotonic()
        for _ in range(300):
            held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            held[-1].sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        while not answers(url):  # the descriptors come back as the heads time out
            assert time.monotonic() - started < HEAD_TIMEOUT_S + 20, "the server never answered again"
            time.sleep(0.5)
        assert call(url, ON_LOAD, [*FLOOD, NO_TOKEN], new_session()).success
        # Every half-sent connection is closed by the server: those that waited in the listen queue
        # while the descriptors were used up are timed from when they were accepted, a wave later.
        for sock in held:
            sock.settimeout(max(0.1, started + 4 * HEAD_TIMEOUT_S - time.monotonic()))
            with contextlib.suppress(ConnectionResetError):
                assert sock.recv(10) == b""
    finally:
        for sock in held:
            sock.close()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    text = log_path.read_text()
    assert len(text) < 30_000, len(text)
    assert 0 < text.count("OSError: [Errno 24] Too many open files") <= REPEATS_SHOWN, text[-3000:]
    assert "more characters not logged]" in text and "N" * (MAX_MESSAGE_CHARS + 1) not in text
