"""Which LLM answers: a real endpoint, the embedded local model, or the canned demo server.

`auto` picks a real endpoint when an API key or base URL is configured, else the local model
when the `local` extra is installed, else the fake server with a banner saying so. Whatever is
started here (a fake server thread, a llama.cpp child process) is stopped by `Backend.stop`.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Literal, Mapping

from gdp_zero.llm.client import LLMClient
from gdp_zero.llm.fake_server import FakeLLMServer
from gdp_zero.llm.settings import LLMSettings, apply_llm_table, load_llm_settings
from gdp_zero.planners import GDPZeroConfig

Mode = Literal["auto", "openai", "local", "fake"]
MODES: tuple[Mode, ...] = ("auto", "openai", "local", "fake")

HOW_TO_CONNECT = (
    "For a real model set OPENAI_API_KEY (OpenAI), or pass --base-url for an OpenAI-compatible "
    "server: vLLM http://HOST:8000/v1, Ollama http://localhost:11434/v1, llama.cpp http://localhost:8080/v1; "
    'or pip install "gdp-zero[local]" and use --llm local.'
)
DEMO_BANNER = "Demo mode: replies are canned by a built-in fake LLM server, not written by a model. " + HOW_TO_CONNECT


@dataclass
class Backend:
    mode: Mode
    settings: LLMSettings
    banner: str | None = None
    _stop: Callable[[], None] = field(default=lambda: None, repr=False)

    def stop(self) -> None:
        self._stop()


def _configured(settings: LLMSettings) -> bool:
    return bool(settings.default.api_key or settings.default.base_url)


def open_backend(
    mode: Mode = "auto",
    *,
    config_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    fake_latency_s: float = 0.0,
    embeddings: bool = False,
    **overrides: Any,
) -> Backend:
    """Start (if needed) and describe the LLM backend; `overrides` are model, base_url, api_key, ...

    `embeddings`: the caller will need `/v1/embeddings` (a reflection memory): the local model then
    starts a second, embedding server for the `embedding` role (real endpoints and the fake serve one already).
    """
    env = os.environ if env is None else env
    mode = resolve_mode(mode, config_path=config_path, env=env, **overrides)
    if mode == "openai":
        return Backend("openai", load_llm_settings(config_path, env, **overrides))
    if mode == "local":
        return _local_backend(config_path, overrides, embeddings)
    return _fake_backend(config_path, fake_latency_s, overrides)


def resolve_mode(mode: Mode = "auto", *, config_path: Path | None = None, env: Mapping[str, str] | None = None,
                 **overrides: Any) -> Mode:
    """The backend `open_backend` would start for these settings, without starting anything."""
    if mode not in ("auto", "openai"):
        return mode
    settings = load_llm_settings(config_path, os.environ if env is None else env, **overrides)
    if mode == "openai" or _configured(settings):
        return "openai"
    from gdp_zero.llm.local_model import local_model_installed

    return "local" if local_model_installed() else "fake"


def _fake_backend(config_path: Path | None, latency_s: float, overrides: dict[str, Any]) -> Backend:
    server = FakeLLMServer(latency_s=latency_s).start()
    # The environment is left out on purpose: a real API key must never be sent to the fake.
    overrides = {**overrides, "base_url": server.base_url, "api_key": "fake-key", "model": "fake-model"}
    settings = replace(load_llm_settings(config_path, {}, **overrides), builtin_urls={server.base_url: "built-in fake server"})
    return Backend("fake", settings, DEMO_BANNER, server.stop)


LOCAL_IN_FLIGHT = 2  # requests at once to the local model: one answered, the next one ready


def _local_backend(config_path: Path | None, overrides: dict[str, Any], embeddings: bool) -> Backend:
    from gdp_zero.llm.local_model import start_local_server

    servers = [start_local_server()]
    try:
        if embeddings:
            servers.append(start_local_server(embedding=True))
    except BaseException:
        servers[0].stop()
        raise
    chat = servers[0]
    overrides = {**overrides, "base_url": chat.base_url, "api_key": "local", "model": chat.model, "api": "completions"}
    settings = load_llm_settings(config_path, {}, **overrides)
    builtin = {chat.base_url: "built-in local model"}
    if embeddings:
        embedder = servers[1]
        settings = apply_llm_table(settings, {"roles": {"embedding": {"base_url": embedder.base_url, "model": embedder.model}}})
        builtin[embedder.base_url] = "built-in local embedding model"
    # llama-cpp-python's server answers one request at a time: more in flight only wait in its queue,
    # where each request's timeout runs (a self-play of 5 dialogues at 4 in flight timed out there).
    settings = replace(settings, builtin_urls=builtin, max_concurrency=min(settings.max_concurrency, LOCAL_IN_FLIGHT))
    banner = (
        "Local model: Gemma 3 270M (a tiny base model) runs on this machine through llama.cpp. "
        "Expect weak persuasion; it is here to try the app without a key. " + HOW_TO_CONNECT
    )

    def stop() -> None:
        for server in servers:
            server.stop()

    return Backend("local", settings, banner, stop)


def suggested_search(mode: Mode) -> GDPZeroConfig:
    """Search defaults that answer in seconds on the backend: the tiny local model gets a small search."""
    if mode == "local":
        return GDPZeroConfig(simulations=3, realizations=1, prior_samples=3, value_samples=2, concurrency=2)
    return GDPZeroConfig()


def check_backend(backend: Backend) -> None:
    """Stop at start-up, with one line, on a wrong key, a dead address or a model the endpoint lacks."""
    asyncio.run(_check(backend.settings))


async def _check(settings: LLMSettings) -> None:
    async with LLMClient(settings) as client:
        await client.check()
