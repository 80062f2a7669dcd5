"""A real OpenAI-compatible HTTP server on 127.0.0.1 with canned replies, latency and injected faults.

Tests, the demo mode and the benchmarks all use it, so the real `openai` client runs over real
sockets without a model. Replies follow the marker lines our prompts contain (`Allowed acts: [a] [b]`
and `Reply format: ...`), so the whole pipeline runs end to end on canned text; what the canned
world says and how its persuadee reacts lives in `gdp_zero.llm.fake_world`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

from gdp_zero.llm.fake_world import canned_reply

logger = logging.getLogger(__name__)

FAULT_KINDS = ("429", "500", "timeout", "malformed", "empty")
# Hostile or broken text in an otherwise well-formed reply: not among the default `faults`.
TEXT_FAULTS = ("lone_surrogate", "escape", "bidi", "long")
TEXT_FAULT_PAYLOADS = {
    "lone_surrogate": "Half an emoji \ud83d here.",  # JSON allows it; UTF-8 cannot encode it
    # Set the terminal title, write the clipboard (OSC 52), clear the screen, colour, NUL, backspace.
    "escape": "\x1b]0;pwned\x07\x1b]52;c;cHduZWQ=\x07\x1b[2J\x1b[31mRed\x1b[0m\x00\x08 text.",
    "bidi": "\u202eReversed from here on.",
    "long": "This sentence goes on and on. " * 667,  # 20,010 characters, whatever max_tokens says
}
_MALFORMED = (
    "(canned reply) Honestly I am not sure what you are asking me to do here.",
    "(canned reply) Let me think about that for a while before answering.",
)
LOGIN_PAGE = "<!doctype html><html><head><title>Sign in</title></head><body><form>Sign in</form></body></html>"
EMBEDDING_DIMS = 256


@dataclass
class FakeServerStats:
    requests: dict[str, int] = field(default_factory=dict)  # by URL path
    faults: dict[str, int] = field(default_factory=dict)  # injected, by kind
    max_in_flight: int = 0  # peak concurrent requests, to check client concurrency limits
    max_prompt_chars: int = 0  # the longest prompt received, to check that prompts stay bounded


@dataclass(frozen=True)
class _Reply:
    status: int
    body: dict[str, Any] | str  # a str is sent as an HTML page
    headers: Mapping[str, str] = field(default_factory=dict)


class FakeLLMServer:
    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        fault_rate: float = 0.0,
        faults: Sequence[str] = FAULT_KINDS,
        seed: int = 0,
        ignore_n: bool = False,
        api_key: str | None = None,
        models: Sequence[str] = ("fake-model",),
        hang_s: float = 30.0,
        port: int = 0,
        login_page: bool = False,
        check_key_on_models: bool = True,
        any_model: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        # Each refusal starts with the parameter's name (the CLI turns it into its flag's).
        unknown = sorted(set(faults) - set(FAULT_KINDS + TEXT_FAULTS))
        if unknown:
            raise ValueError(f"faults: unknown fault kinds {unknown}; expected some of {list(FAULT_KINDS + TEXT_FAULTS)}")
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault_rate: a share of requests, from 0 to 1, got {fault_rate}")
        self.latency_s = latency_s
        self.fault_rate = fault_rate
        self.faults = tuple(faults)
        self.seed = seed
        self.ignore_n = ignore_n
        self.api_key = api_key
        self.models = tuple(models)
        self.hang_s = hang_s
        self.port = port
        # Every request answered 200 with an HTML page, as a proxy's or a portal's login does.
        self.login_page = login_page
        self.check_key_on_models = check_key_on_models  # False: as servers that list models to anyone
        self.any_model = any_model  # True: answer under any model name, as llama.cpp does
        self.tls = tls  # a server-side context: serve HTTPS, as a hosted endpoint does
        self.stats = FakeServerStats()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._in_flight = 0
        self._counter = 0
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: ThreadingHTTPServer | None = None
        self._base_url: str | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """Kept after stop(), so a test can check that the same URL is now unreachable."""
        if self._base_url is None:
            raise RuntimeError("FakeLLMServer is not started")
        return self._base_url

    def start(self) -> FakeLLMServer:
        self._stopping.clear()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.fake = self  # type: ignore[attr-defined]
        scheme = "http"
        if self.tls is not None:
            # The handshake happens in the handler's thread, so a client that rejects it stalls no one.
            self._httpd.socket = self.tls.wrap_socket(self._httpd.socket, server_side=True,
                                                      do_handshake_on_connect=False)
            scheme = "https"
        self._base_url = f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}/v1"
        # A short poll interval keeps stop() quick, which matters across hundreds of test fixtures.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="fake-llm-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()  # wakes requests sleeping through latency or a "timeout" fault
        self._httpd.shutdown()
        self._httpd.server_close()
        # Keep-alive connections outlive the listening socket; close them so a stopped server is gone.
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join()
        self._httpd = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request handling (runs in handler threads) --

    @property
    def open_connections(self) -> int:
        """Client connections open now (a client that keeps its pool between requests holds some)."""
        with self._lock:
            return len(self._connections)

    def _track(self, conn: socket.socket, open_: bool) -> None:
        with self._lock:
            (self._connections.add if open_ else self._connections.discard)(conn)

    def _handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> _Reply:
        route = urlsplit(path).path
        with self._lock:
            self.stats.requests[route] = self.stats.requests.get(route, 0) + 1
            self._in_flight += 1
            self.stats.max_in_flight = max(self.stats.max_in_flight, self._in_flight)
        try:
            return self._route(method, route, headers, body)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _route(self, method: str, route: str, headers: Mapping[str, str], body: bytes) -> _Reply:
        self._stopping.wait(self.latency_s)
        if self.login_page:
            return _Reply(200, LOGIN_PAGE)
        listing = method == "GET" and route.endswith("/models")
        if self.api_key is not None and not self._authorised(headers) and (self.check_key_on_models or not listing):
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        if listing:
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]
            return _Reply(200, {"object": "list", "data": data})
        if method != "POST" or not route.endswith(("/completions", "/embeddings")):
            return _error(404, f"Unknown request URL: {method} {route}.", "invalid_request_error", "unknown_url")
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return _error(400, "We could not parse the JSON body of your request.", "invalid_request_error", None)
        if not isinstance(request, dict):
            return _error(400, "The request body must be a JSON object.", "invalid_request_error", None)
        if request.get("model") not in self.models and not self.any_model:
            message = f"The model `{request.get('model')}` does not exist or you do not have access to it."
            return _error(404, message, "invalid_request_error", "model_not_found")
        if route.endswith("/embeddings"):
            return _embeddings(request)
        if request.get("stream"):
            return _error(400, "The fake server does not support streaming.", "invalid_request_error", None)
        n = request.get("n") or 1
        if not isinstance(n, int) or not 1 <= n <= 128:
            return _error(400, "n must be an integer between 1 and 128.", "invalid_request_error", None)
        return self._generate(request, chat=route.endswith("/chat/completions"), n=1 if self.ignore_n else n)

    def _authorised(self, headers: Mapping[str, str]) -> bool:
        bearer = headers.get("Authorization", "").removeprefix("Bearer ")
        return self.api_key in (bearer, headers.get("api-key"))  # Azure sends `api-key`

    def _generate(self, request: dict[str, Any], *, chat: bool, n: int) -> _Reply:
        prompt_chars = len(_prompt_text(request, chat=chat))
        with self._lock:
            self.stats.max_prompt_chars = max(self.stats.max_prompt_chars, prompt_chars)
            fault = self._rng.choice(self.faults) if self.faults and self._rng.random() < self.fault_rate else None
            if fault:
                self.stats.faults[fault] = self.stats.faults.get(fault, 0) + 1
            self._counter += 1
            counter = self._counter
        if fault == "429":
            return _error(429, "Rate limit reached (fake).", "requests", "rate_limit_exceeded", {"Retry-After": "0"})
        if fault == "500":
            return _error(500, "The server had an error processing your request (fake).", "server_error", None)
        if fault == "timeout":
            self._stopping.wait(self.hang_s)

        seed = request.get("seed")
        # Same request, same seed, same reply; unseeded requests vary with the server's counter.
        base = f"{seed}" if seed is not None else f"server{self.seed}:{counter}"
        return _Reply(200, _completion(request, chat=chat, n=n, fault=fault, base=base, counter=counter))


def _completion(
    request: Mapping[str, Any], *, chat: bool, n: int, fault: str | None, base: str, counter: int
) -> dict[str, Any]:
    prompt = _prompt_text(request, chat=chat)
    digest = hashlib.sha256(prompt.encode()).hexdigest()[:16]
    stop = request.get("stop") or ()
    stop = (stop,) if isinstance(stop, str) else tuple(stop)
    max_tokens = request.get("max_tokens") or request.get("max_completion_tokens")

    choices = []
    for index in range(n):
        rng = random.Random(f"{base}|{digest}|{index}")
        if fault == "malformed":
            text = rng.choice(_MALFORMED)
        elif fault == "empty":
            text = ""
        else:
            text = canned_reply(prompt, rng)
        if fault in TEXT_FAULTS:
            text = _with_payload(text, TEXT_FAULT_PAYLOADS[fault])
        # A server that sends 20,000 characters ignores max_tokens (and stop sequences) too.
        text, finish = (text, "stop") if fault == "long" else _apply_limits(text, stop, max_tokens)
        choice: dict[str, Any] = {"index": index, "finish_reason": finish, "logprobs": None}
        if chat:
            choice["message"] = {"role": "assistant", "content": text}
        else:
            choice["text"] = text
        choices.append(choice)

    prompt_tokens = _token_count(prompt)
    completion_tokens = sum(_token_count(_choice_text(c)) for c in choices)
    return {
        "id": f"{'chatcmpl' if chat else 'cmpl'}-fake-{counter}",
        "object": "chat.completion" if chat else "text_completion",
        "created": int(time.time()),
        "model": request["model"],
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "system_fingerprint": "fake",
    }


def _embeddings(request: Mapping[str, Any]) -> _Reply:
    inputs = request.get("input")
    inputs = [inputs] if isinstance(inputs, str) else inputs
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) and i for i in inputs):
        return _error(400, "input must be a non-empty string or list of non-empty strings.", "invalid_request_error", None)
    data = [{"object": "embedding", "index": i, "embedding": hashed_embedding(text)} for i, text in enumerate(inputs)]
    tokens = sum(_token_count(text) for text in inputs)
    return _Reply(200, {
        "object": "list", "data": data, "model": request["model"],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })


def hashed_embedding(text: str, dims: int = EMBEDDING_DIMS) -> list[float]:
    """A bag of words and word pairs hashed into `dims` buckets, unit length: texts sharing words are close.

    Not a semantic model, but similarity is real (a test's right lesson shares the situation's words),
    deterministic across processes (sha256, not Python's salted hash) and cheap.
    """
    words = re.findall(r"[a-z0-9']+", text.lower())
    vector = [0.0] * dims
    for feature in words + [f"{a} {b}" for a, b in zip(words, words[1:])]:
        digest = hashlib.sha256(feature.encode()).digest()
        vector[int.from_bytes(digest[:4], "little") % dims] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do, so benchmarks don't measure connects
    # Headers and body leave in one segment: written apart, Nagle's algorithm and the client's
    # delayed ACK add about 40 ms to every reply, which would swamp the latency being simulated.
    disable_nagle_algorithm = True
    timeout = 60  # drop idle keep-alive connections eventually

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, True)  # type: ignore[attr-defined]

    def finish(self) -> None:
        self.server.fake._track(self.connection, False)  # type: ignore[attr-defined]
        try:
            super().finish()
        except OSError:
            pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = self.server.fake._handle(method, self.path, self.headers, body)  # type: ignore[attr-defined]
        html_page = isinstance(reply.body, str)
        payload = reply.body.encode() if html_page else json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "text/html; charset=utf-8" if html_page else "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True  # the client gave up (e.g. its timeout fired)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake server: " + format, *args)


def _with_payload(text: str, payload: str) -> str:
    """The payload right after the reply's act label, so the act still parses."""
    label = re.match(r"\[[^\]]*\]", text)
    cut = label.end() if label else 0
    return f"{text[:cut]} {payload} {text[cut:].lstrip()}".strip()


def _prompt_text(request: Mapping[str, Any], *, chat: bool) -> str:
    if not chat:
        prompt = request.get("prompt") or ""
        return prompt if isinstance(prompt, str) else str(prompt[0] if prompt else "")
    parts = []
    for message in request.get("messages") or ():
        content = message.get("content") or ""
        if isinstance(content, list):  # content parts: keep the text ones
            content = "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
        parts.append(content)
    return "\n".join(parts)


def _apply_limits(text: str, stop: tuple[str, ...], max_tokens: int | None) -> tuple[str, str]:
    cuts = [text.find(s) for s in stop if s and s in text]
    if cuts:
        return text[: min(cuts)], "stop"
    if max_tokens and len(text) > max_tokens * 4:
        return text[: max_tokens * 4], "length"
    return text, "stop"


def _token_count(text: str) -> int:
    return math.ceil(len(text) / 4)


def _choice_text(choice: Mapping[str, Any]) -> str:
    return choice["message"]["content"] if "message" in choice else choice["text"]


def _error(
    status: int, message: str, kind: str, code: str | None, headers: Mapping[str, str] | None = None
) -> _Reply:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return _Reply(status, body, headers or {})


def serve(server: FakeLLMServer) -> None:
    """Run `server` in the foreground, saying where it listens, until Ctrl-C."""
    try:
        with server:
            print(f"Fake OpenAI-compatible server (canned replies) at {server.base_url}; Ctrl-C stops it.", flush=True)
            threading.Event().wait()
    except KeyboardInterrupt:
        pass
