"""gdp_zero/serving's middleware over real HTTP (uvicorn, raw sockets), around a small Starlette app:
body caps and half-sent bodies, routes no page uses, password guesses, whose X-Forwarded-For is believed.
The web apps' own tests check that the servers use them (tests/ui, tests/study/web)."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from gdp_zero.serving.bodies import BodyLimit, BodySettings
from gdp_zero.serving.forwarding import checked_proxies, trust_forwarded_from
from gdp_zero.serving.heads import BoundedHeadProtocol
from gdp_zero.serving.login import (
    LoginGuard,
    LoginLimits,
    LoginThrottle,
    password_problem,
)
from gdp_zero.serving.routes import RouteGuard
from gdp_zero.serving.uploads import UploadBudget, UploadedFiles, UploadSettings
from tests.ui.conftest import free_port

PASSWORD = "a long enough password"


async def echo(request: Request) -> PlainTextResponse:
    body = await request.body()
    return PlainTextResponse(f"{len(body)} bytes from {request.client.host if request.client else '?'}")


async def login(request: Request) -> PlainTextResponse:
    form = urllib.parse.parse_qs((await request.body()).decode())
    ok = form.get("password") == [PASSWORD]
    return PlainTextResponse("ok" if ok else "Incorrect credentials.", status_code=200 if ok else 400)


def inner_app() -> Starlette:
    return Starlette(routes=[Route("/admin/login", login, methods=["POST"]),
                             Route("/{path:path}", echo, methods=["GET", "POST"])])


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "")  # trust_forwarded_from sets it: put back what it was
    started: list[uvicorn.Server] = []

    def start(app: Any, trusted: tuple[str, ...] = (), http: Any = "auto") -> str:
        port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", http=http,
                                forwarded_allow_ips=trust_forwarded_from(trusted))
        server = uvicorn.Server(config)
        threading.Thread(target=server.run, daemon=True).start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        started.append(server)
        return f"http://127.0.0.1:{port}"

    yield start
    for server in started:
        server.should_exit = True


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, body, headers or {})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_a_large_body_is_refused_at_once_and_a_half_sent_one_times_out(server: Any) -> None:
    settings = BodySettings(max_bytes=64 * 1024, upload_paths=("/gradio_api/upload",), upload_bytes=2 << 20,
                            idle_timeout_s=1.0)
    base = server(BodyLimit(inner_app(), settings))
    assert post(base + "/queue/join", b"x" * 1000) == (200, "1000 bytes from 127.0.0.1")
    started = time.monotonic()
    answer = raw(base, "/queue/join", f"Content-Length: {50 << 20}", b"x" * 1000)  # a 50 MB body announced
    assert answer.startswith("HTTP/1.1 413") and "at most 0.1 MB" in answer and time.monotonic() - started < 5
    assert post(base + "/gradio_api/upload", b"x" * (1 << 20))[0] == 200  # the upload path has its own cap
    assert raw(base, "/gradio_api/upload", f"Content-Length: {3 << 20}", b"x").startswith("HTTP/1.1 413")
    # A body sent without a length (chunked) counts as it comes: over the cap it is refused too.
    chunk = b"%x\r\n%s\r\n" % (32768, b"y" * 32768)
    assert raw(base, "/queue/join", "Transfer-Encoding: chunked", chunk * 3).startswith("HTTP/1.1 413")

    # Half a body, then silence: answered 408 after the idle timeout, and the connection is closed.
    started = time.monotonic()
    answer = raw(base, "/queue/join", "Content-Length: 1000", b"z" * 10)
    assert answer.startswith("HTTP/1.1 408") and "did not arrive in time" in answer
    assert 0.5 < time.monotonic() - started < 5


def raw(base: str, path: str, header: str, body: bytes) -> str:
    """Send a request's head and `body` (perhaps less than it announced), then read the whole answer
    until the server closes the connection."""
    host, port = base[len("http://"):].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\n{header}\r\n\r\n".encode() + body)
        answer = b""
        while piece := sock.recv(4096):
            answer += piece
    return answer.decode()


def head_cut_off(base: str, head: bytes, *, dribble: bool = False, wait_s: float = 30) -> float:
    """Send `head` (all at once, or a byte every 0.2 s), then wait for the server to close the
    connection; the seconds it took (`wait_s` if it never did)."""
    host, port = base[len("http://"):].rstrip("/").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=0.2) as sock:
        sent = 0 if dribble else len(head)
        sock.sendall(head[:sent])
        while time.monotonic() - started < wait_s:
            try:
                if dribble and sent < len(head):
                    sock.sendall(head[sent:sent + 1])
                    sent += 1
                if sock.recv(4096) == b"":
                    break
            except TimeoutError:
                continue
            except OSError:  # reset: closed too
                break
    return time.monotonic() - started


def test_a_request_head_that_does_not_arrive_in_time_is_cut_off(server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(BoundedHeadProtocol, "head_timeout_s", 1.0)
    plain = server(inner_app())  # uvicorn as it comes: a half-sent head holds its connection
    assert head_cut_off(plain, b"GET / HTTP/1.1\r\nHost: x\r\n", wait_s=3) >= 3
    base = server(inner_app(), http=BoundedHeadProtocol)
    assert 0.8 < head_cut_off(base, b"") < 3  # connected, never wrote
    assert 0.8 < head_cut_off(base, b"GET / HTTP/1.1\r\nHost: x\r\n") < 3
    slowloris = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    assert 0.8 < head_cut_off(base, slowloris, dribble=True) < 3  # busy all the while, but never done

    # A whole request is answered, and its kept-alive connection then waits for uvicorn's keep-alive (5 s), not 1 s.
    host, port = base[len("http://"):].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        for _ in range(2):
            sock.sendall(b"GET /twice HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while not answer.endswith(b"127.0.0.1") and (piece := sock.recv(4096)):
                answer += piece
            assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"0 bytes from 127.0.0.1"), answer
            time.sleep(2)
    assert post(base + "/queue/join", b"x" * 1000) == (200, "1000 bytes from 127.0.0.1")


def test_routes_no_page_uses_answer_404(server: Any) -> None:
    base = server(RouteGuard(inner_app(), call_names={"enter", "send"}, file_prefixes=("/admin/",), uploads=False))
    for path in ("/openapi.json", "/gradio_api/openapi.json", "/docs", "/gradio_api/call/false",
                 "/gradio_api/call/nonexistent", "/admin/gradio_api/call/v2/x", "/gradio_api/vibe-code",
                 "/gradio_api/profiling/summary", "/gradio_api/run-history/records", "/gradio_api/file=/tmp/x.csv",
                 "/preview/gradio_api/file=/tmp/x.csv", "/gradio_api/file/tmp/x.csv", "/gradio_api/upload"):
        assert post(base + path, b"{}")[0] == 404, path
    for path in ("/gradio_api/call/enter", "/gradio_api/call/send/abc123", "/gradio_api/queue/join", "/config",
                 "/admin/gradio_api/file=/tmp/x.csv"):
        assert post(base + path, b"{}")[0] == 200, path


def test_password_guesses_are_limited_per_address_and_overall(server: Any) -> None:
    guard = LoginGuard(LoginLimits(per_client=3, overall=5, window_s=600))
    base = server(LoginThrottle(inner_app(), guard, login_paths={"/admin/login"}), trusted=("127.0.0.1",))

    def attempt(password: str, client: str) -> int:
        body = urllib.parse.urlencode({"username": "r", "password": password}).encode()
        return post(base + "/admin/login", body, {"X-Forwarded-For": client})[0]

    assert [attempt("wrong", "203.0.113.1") for _ in range(3)] == [400, 400, 400]
    status, text = post(base + "/admin/login", b"password=" + PASSWORD.encode(), {"X-Forwarded-For": "203.0.113.1"})
    assert status == 429 and "Too many wrong passwords from your address (3): try again in 10 minutes" in text
    assert attempt(PASSWORD, "203.0.113.2") == 200  # another address is not held up, and a success clears its count
    assert [attempt("wrong", "203.0.113.2") for _ in range(2)] == [400, 400]  # 5 wrong on the server now
    status, text = post(base + "/admin/login", b"password=x", {"X-Forwarded-For": "203.0.113.3"})
    assert status == 429 and "logins are paused" in text
    assert post(base + "/elsewhere", b"", {"X-Forwarded-For": "203.0.113.1"})[0] == 200  # only the login is held


def test_x_forwarded_for_is_believed_only_from_the_proxies_named(server: Any) -> None:
    untrusted = server(inner_app())
    assert post(untrusted + "/", b"", {"X-Forwarded-For": "198.51.100.9"})[1] == "0 bytes from 127.0.0.1"
    trusted = server(inner_app(), trusted=("127.0.0.1",))
    assert post(trusted + "/", b"", {"X-Forwarded-For": "198.51.100.9"})[1] == "0 bytes from 198.51.100.9"
    # A client's own header goes on before the proxy's entry: the right end is what the proxy saw.
    assert post(trusted + "/", b"", {"X-Forwarded-For": "10.9.9.9, 198.51.100.9"})[1] == "0 bytes from 198.51.100.9"
    with pytest.raises(ValueError, match="trusted proxy 'nginx' is not an IP address or network"):
        checked_proxies(["127.0.0.1", "nginx"])
    assert checked_proxies(["10.0.0.0/8", "::1"]) == ("10.0.0.0/8", "::1")


def test_a_server_started_without_proxies_believes_no_forwarded_header(monkeypatch: pytest.MonkeyPatch) -> None:
    """`gdp-zero pairwise serve` names no proxies: uvicorn's default would believe 127.0.0.1's X-Forwarded-For."""
    from gdp_zero.serving import server as serving_server

    believed: list[Any] = []

    class Started:  # uvicorn.Server as far as run() uses it, recording what its config believes
        started = True

        def __init__(self, config: uvicorn.Config) -> None:
            believed.append(config.forwarded_allow_ips)

        def run(self) -> None:
            pass

    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    monkeypatch.setattr(serving_server.uvicorn, "Server", Started)
    monkeypatch.setattr(serving_server, "guard_logs", lambda: 0)  # both change the whole test process
    monkeypatch.setattr(serving_server, "guard_stderr", lambda: None)
    serving_server.run(inner_app(), host="127.0.0.1", port=free_port())
    serving_server.run(inner_app(), host="127.0.0.1", port=free_port(), forwarded_allow_ips="10.0.0.1")
    assert believed == ["", "10.0.0.1"]  # "": no peer is believed (the untrusted server above)


def test_a_short_admin_password_is_named() -> None:
    assert password_problem("hunter2") == "the admin password has 7 characters; use at least 12"
    assert password_problem(PASSWORD) is None


def test_uploads_need_a_session_and_stay_within_their_budget(server: Any) -> None:
    sessions = {"203.0.113.1", "203.0.113.2"}
    budget = UploadBudget(inner_app(), sessions.__contains__, UploadSettings(per_client_bytes=3000, total_bytes=5000))
    base = server(budget, trusted=("127.0.0.1",))

    def send(client: str, size: int) -> int:
        return post(base + "/gradio_api/upload", b"x" * size, {"X-Forwarded-For": client})[0]

    assert send("198.51.100.1", 10) == 403  # no session at this address
    assert [send("203.0.113.1", 1000) for _ in range(4)] == [200, 200, 200, 429]  # 3000 bytes an hour
    assert send("203.0.113.2", 2000) == 200
    assert send("203.0.113.2", 1000) == 429  # 5000 on the server
    assert raw(base, "/gradio_api/upload", "Transfer-Encoding: chunked\r\nX-Forwarded-For: 203.0.113.2",
               b"1\r\nx\r\n0\r\n\r\n").startswith("HTTP/1.1 411")


def test_an_addresss_uploads_are_removed_but_not_a_copy_another_address_holds(tmp_path: Any) -> None:
    files = UploadedFiles(tmp_path)
    mine, shared = tmp_path / "h1" / "runs.jsonl", tmp_path / "h2" / "same.jsonl"
    outside = tmp_path.parent / "not-the-apps.txt"
    for path in (mine, shared, outside):
        path.parent.mkdir(exist_ok=True)
        path.write_text("{}\n")
    # The app keeps one copy of identical files; a path outside its folder is never the app's to remove.
    files.add("203.0.113.1", [str(mine), str(shared), str(tmp_path / "h1" / ".." / ".." / outside.name)])
    files.add("203.0.113.2", [str(shared)])
    assert files.remove("203.0.113.1") == [mine.resolve()]
    assert not mine.parent.exists() and shared.exists() and outside.exists()
    assert files.remove("203.0.113.2") == [shared.resolve()] and not shared.exists()
    outside.unlink()
