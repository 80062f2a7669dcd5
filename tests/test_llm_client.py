"""LLMClient against the fake server over real HTTP, through the real `openai` SDK."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from types import SimpleNamespace
from typing import Any

import pytest

from gdp_zero.llm import (
    AuthenticationError,
    EndpointSettings,
    EndpointUnreachableError,
    LLMClient,
    LLMSettings,
    LLMUnavailableError,
    ModelNotFoundError,
    Prompt,
    RequestRejectedError,
    UsageLedger,
    load_llm_settings,
)
from gdp_zero.llm.client import _redact
from gdp_zero.llm.fake_server import FakeLLMServer
from gdp_zero.text import MAX_LLM_TEXT_CHARS

ACTS = ["greeting", "logical appeal", "emotion appeal", "donate"]
PROMPT = Prompt(
    system="You are a persuader.\nAllowed acts: " + " ".join(f"[{a}]" for a in ACTS),
    user="Reply format: [act] utterance\nPersuader:",
    completion="Allowed acts: [greeting] [donate]\nReply format: [act] utterance\nPersuader:",
)


def _act(text: str) -> str:
    return text[1 : text.index("]")]


async def test_n_samples_in_one_request(fake_server: FakeLLMServer, make_settings: Any) -> None:
    async with LLMClient(make_settings(fake_server.base_url)) as client:
        texts = await client.generate("policy", PROMPT, n=5, temperature=1.0)
    assert len(texts) == 5
    assert all(_act(t) in ACTS for t in texts)
    assert fake_server.stats.requests == {"/v1/chat/completions": 1}
    usage = client.ledger.by_role()["policy"]
    assert (usage.calls, usage.topped_up) == (1, 0)
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0


@pytest.mark.parametrize("fake_server", [{"ignore_n": True}], indirect=True)
async def test_server_ignoring_n_is_topped_up(fake_server: FakeLLMServer, make_settings: Any) -> None:
    async with LLMClient(make_settings(fake_server.base_url, seed=1)) as client:
        texts = await client.generate("policy", PROMPT, n=5, temperature=1.0)
    assert len(texts) == 5 and all(_act(t) in ACTS for t in texts)
    assert fake_server.stats.requests["/v1/chat/completions"] == 5
    usage = client.ledger.by_role()["policy"]
    assert (usage.calls, usage.topped_up) == (5, 4)


@pytest.mark.parametrize("fake_server", [{"fault_rate": 0.3, "faults": ("429", "500"), "seed": 5}], indirect=True)
async def test_transient_errors_are_retried(fake_server: FakeLLMServer, make_settings: Any) -> None:
    settings = make_settings(fake_server.base_url, max_retries=8, max_concurrency=8)
    async with LLMClient(settings) as client:
        results = await asyncio.gather(*(client.generate("judge", PROMPT, temperature=0.0) for _ in range(40)))
    assert len(results) == 40 and all(len(r) == 1 for r in results)
    injected = sum(fake_server.stats.faults.values())
    assert injected > 0
    assert client.ledger.total().retries == injected
    assert client.ledger.total().calls == 40


@pytest.mark.parametrize(
    # With seed 4 the fault draws are 0.24 then 0.72: the first request hangs, the second is answered.
    "fake_server", [{"fault_rate": 0.5, "faults": ("timeout",), "seed": 4, "hang_s": 2.0}], indirect=True
)
async def test_timeouts_are_retried(fake_server: FakeLLMServer, make_settings: Any) -> None:
    async with LLMClient(make_settings(fake_server.base_url, timeout_s=0.5)) as client:
        texts = await client.generate("policy", PROMPT, temperature=1.0)
    assert _act(texts[0]) in ACTS
    assert fake_server.stats.faults == {"timeout": 1}
    assert client.ledger.total().retries == 1


@pytest.mark.parametrize("fake_server", [{"fault_rate": 1.0, "faults": ("timeout",), "hang_s": 2.0}], indirect=True)
async def test_endless_timeouts_give_unavailable(fake_server: FakeLLMServer, make_settings: Any) -> None:
    async with LLMClient(make_settings(fake_server.base_url, timeout_s=0.3, max_retries=1)) as client:
        with pytest.raises(LLMUnavailableError) as caught:
            await client.generate("judge", PROMPT, temperature=0.0)
    message = str(caught.value)
    assert "2 tries" in message and "0.3 s" in message and fake_server.base_url in message
    record = client.ledger.by_role()["judge"]
    assert (record.calls, record.retries) == (1, 1)


@pytest.mark.parametrize("fake_server", [{"api_key": "sk-the-right-key"}], indirect=True)
async def test_wrong_key_is_one_clear_line_without_the_key(fake_server: FakeLLMServer, make_settings: Any) -> None:
    secret = "sk-wrong-secret-4242"
    async with LLMClient(make_settings(fake_server.base_url, api_key=secret)) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.generate("policy", PROMPT, temperature=1.0)
        with pytest.raises(AuthenticationError):
            await client.check()
    message = str(caught.value)
    assert "\n" not in message
    assert fake_server.base_url in message and "OPENAI_API_KEY" in message
    assert secret not in message and secret not in repr(caught.value)
    assert caught.value.__cause__ is None  # the SDK error (which may echo the key) is not chained
    assert fake_server.stats.requests["/v1/chat/completions"] == 1  # not retried


@pytest.mark.parametrize("fake_server", [{"api_key": "sk-the-right-key"}], indirect=True)
async def test_check_passes_with_the_right_key(fake_server: FakeLLMServer, make_settings: Any) -> None:
    async with LLMClient(make_settings(fake_server.base_url, api_key="sk-the-right-key")) as client:
        await client.check()
        assert await client.list_models() == ["fake-model"]


async def test_missing_key_for_openai_fails_before_any_request() -> None:
    settings = LLMSettings(default=EndpointSettings(api_key=None))
    async with LLMClient(settings) as client:
        with pytest.raises(AuthenticationError, match="No API key .*api.openai.com.*OPENAI_API_KEY"):
            await client.generate("policy", PROMPT, temperature=1.0)


async def test_unreachable_endpoint_fails_fast(make_settings: Any) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    started = time.perf_counter()
    async with LLMClient(make_settings(url, max_retries=2, backoff_base_s=0.05)) as client:
        with pytest.raises(EndpointUnreachableError) as caught:
            await client.generate("policy", PROMPT, temperature=1.0)
    assert time.perf_counter() - started < 2.0
    assert url in str(caught.value) and "--base-url" in str(caught.value)


async def test_stopped_server_is_unreachable(make_settings: Any) -> None:
    server = FakeLLMServer().start()
    async with LLMClient(make_settings(server.base_url, max_retries=2)) as client:
        await client.generate("policy", PROMPT, temperature=1.0)
        server.stop()  # also closes the client's keep-alive connection
        with pytest.raises(EndpointUnreachableError):
            await client.generate("policy", PROMPT, temperature=1.0)


async def test_unknown_model(fake_server: FakeLLMServer, make_settings: Any) -> None:
    async with LLMClient(make_settings(fake_server.base_url, model="no-such-model")) as client:
        with pytest.raises(ModelNotFoundError) as caught:
            await client.generate("policy", PROMPT, temperature=1.0)
    assert "'no-such-model'" in str(caught.value) and "--model" in str(caught.value)


async def test_invalid_request_is_rejected_without_retry(fake_server: FakeLLMServer, make_settings: Any) -> None:
    async with LLMClient(make_settings(fake_server.base_url)) as client:
        with pytest.raises(RequestRejectedError, match=r"\(400\): n must be an integer between 1 and 128"):
            await client.generate("policy", PROMPT, n=500, temperature=1.0)
    assert fake_server.stats.requests["/v1/chat/completions"] == 1


@pytest.mark.parametrize("fake_server", [{"api_key": "azure-secret"}], indirect=True)
async def test_azure_provider(fake_server: FakeLLMServer) -> None:
    env = {
        "AZURE_OPENAI_API_KEY": "azure-secret",
        "AZURE_OPENAI_ENDPOINT": fake_server.base_url.removesuffix("/v1"),
        "OPENAI_API_VERSION": "2024-06-01",
    }
    async with LLMClient(load_llm_settings(env=env, model="fake-model")) as client:
        assert len(await client.generate("policy", PROMPT, n=2, temperature=1.0)) == 2
    assert fake_server.stats.requests == {"/openai/deployments/fake-model/chat/completions": 1}


@pytest.mark.parametrize("fake_server", [{"latency_s": 0.1}], indirect=True)
async def test_concurrency_limit(fake_server: FakeLLMServer, make_settings: Any) -> None:
    async with LLMClient(make_settings(fake_server.base_url, max_concurrency=3)) as client:
        await asyncio.gather(*(client.generate("policy", PROMPT, temperature=1.0) for _ in range(12)))
    assert 2 <= fake_server.stats.max_in_flight <= 3


async def test_ledger_by_role_and_turn(fake_server: FakeLLMServer, make_settings: Any) -> None:
    ledger = UsageLedger()
    async with LLMClient(make_settings(fake_server.base_url), ledger) as client:
        await client.generate("policy", PROMPT, n=2, temperature=1.0)
        await client.generate("judge", PROMPT, temperature=0.0)
        ledger.turn = 1
        mark = ledger.mark()
        await client.generate("judge", PROMPT, n=3, temperature=1.1)
        ledger.record_fallback("judge", "unknown_act")
    assert set(ledger.by_role(turn=0)) == {"policy", "judge"}
    assert ledger.by_role(turn=1)["judge"].calls == 1
    assert ledger.by_role()["judge"].calls == 2
    assert ledger.total().calls == 3
    assert ledger.total(turn=1).fallbacks == 1
    assert ledger.fallback_kinds() == {"unknown_act": 1} and ledger.fallback_kinds(turn=0) == {}
    since = ledger.since(mark)
    assert set(since) == {"judge"} and (since["judge"].calls, since["judge"].fallbacks) == (1, 1)
    dumped = json.loads(json.dumps(ledger.to_dict()))
    assert dumped["session"]["total"]["calls"] == 3
    assert [t["turn"] for t in dumped["turns"]] == [0, 1]
    assert dumped["turns"][1]["fallback_kinds"] == {"unknown_act": 1}


@pytest.mark.parametrize(
    ("fake_server", "expected"),
    [({"fault_rate": 1.0, "faults": ("malformed",)}, "prose"), ({"fault_rate": 1.0, "faults": ("empty",)}, "")],
    indirect=["fake_server"],
)
async def test_malformed_and_empty_replies_are_returned_as_text(
    fake_server: FakeLLMServer, make_settings: Any, expected: str
) -> None:
    async with LLMClient(make_settings(fake_server.base_url)) as client:
        texts = await client.generate("policy", PROMPT, n=2, temperature=1.0)
    assert len(texts) == 2
    if expected == "prose":
        assert all(t and "[" not in t for t in texts)
    else:
        assert texts == ["", ""]


async def test_completions_mode(fake_server: FakeLLMServer, make_settings: Any) -> None:
    async with LLMClient(make_settings(fake_server.base_url, api="completions")) as client:
        texts = await client.generate("policy", PROMPT, n=3, temperature=1.0)
    assert all(_act(t) in ("greeting", "donate") for t in texts)
    assert fake_server.stats.requests == {"/v1/completions": 1}


async def test_seed_makes_runs_reproducible(fake_server: FakeLLMServer, make_settings: Any) -> None:
    async def run(seed: int | None) -> list[list[str]]:
        async with LLMClient(make_settings(fake_server.base_url, seed=seed)) as client:
            return [await client.generate("policy", PROMPT, n=3, temperature=1.0) for _ in range(4)]

    first = await run(7)
    assert await run(7) == first
    assert len({tuple(texts) for texts in first}) > 1  # the counter makes successive calls differ


async def test_request_shape_and_role_temperature() -> None:
    sent: dict[str, Any] = {}

    async def create(**kwargs: Any) -> Any:
        sent.update(kwargs)

    sdk = SimpleNamespace(chat=SimpleNamespace(completions=SimpleNamespace(create=create)))
    judge = EndpointSettings(model="m", temperature=0.3, max_tokens=7)
    client = LLMClient(LLMSettings(default=EndpointSettings(), roles={"judge": judge}, seed=10))
    prompt = Prompt(system="static", user="dynamic", completion="plain", stop=("\n",))
    await client._sender(judge, prompt, n=2, temperature=1.1, seed=client._take_seeds(2))(sdk)
    assert sent["messages"] == [{"role": "system", "content": "static"}, {"role": "user", "content": "dynamic"}]
    assert (sent["temperature"], sent["max_tokens"], sent["n"], sent["stop"], sent["seed"]) == (0.3, 7, 2, ["\n"], 10)
    assert client._take_seeds(1) == 12  # two seeds were reserved for the two samples


@pytest.mark.parametrize("fault", ["lone_surrogate", "escape", "bidi", "long"])
async def test_hostile_text_in_a_reply_arrives_clean_and_bounded(fault: str, make_settings: Any) -> None:
    with FakeLLMServer(fault_rate=1.0, faults=(fault,)) as server:
        async with LLMClient(make_settings(server.base_url)) as client:
            texts = await client.generate("policy", PROMPT, n=2, temperature=1.0)
            # The cleaned reply goes into the next prompt: it must encode and be sent.
            follow_up = Prompt(system=PROMPT.system, user=f"{texts[0]}\n{PROMPT.user}", completion="")
            await client.generate("policy", follow_up, temperature=1.0)
        assert server.stats.faults[fault] == 2
    for text in texts:
        text.encode("utf-8")
        assert _act(text) in ACTS  # the act label is still first
        assert not any(ch in text for ch in "\ud83d\x1b\x07\x00\x08\u202e")
        assert len(text) <= MAX_LLM_TEXT_CHARS
    if fault == "long":
        assert texts[0].endswith("…")


async def test_error_text_never_shows_the_key_in_any_case_or_url_credentials(make_settings: Any) -> None:
    key, password = "sk-Mixed-Case-Key-123", "url-PASSWORD-9"
    with FakeLLMServer() as server:
        url = server.base_url.replace("http://", f"http://bob:{password}@")
        settings = make_settings(url, api_key=key, model="no-such-model")
        async with LLMClient(settings) as client:
            with pytest.raises(ModelNotFoundError) as error:
                await client.generate("policy", PROMPT, temperature=1.0)
    message = str(error.value)
    assert "http://***@127.0.0.1" in message and password not in message and "bob" not in message
    # A server's own explanation is shown redacted: the key echoed in another letter case, the
    # URL's password, any URL's userinfo, and no escape sequences.
    echoed = f"bad key {key.upper()} for {url}, password {password.lower()}\x1b[2J"
    detail = _redact(echoed, settings.for_role("policy"))
    assert detail == "bad key *** for http://***@127.0.0.1:" + url.rsplit(":", 1)[1] + ", password ***"


async def test_no_log_record_shows_url_credentials(make_settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    """The SDK's HTTP client logs each request URL at INFO: with the userinfo hidden."""
    caplog.set_level(logging.DEBUG)
    with FakeLLMServer(fault_rate=0.5, faults=("500",), seed=1) as server:
        url = server.base_url.replace("http://", "http://bob:url-SECRET-7@")
        async with LLMClient(make_settings(url, max_retries=6)) as client:
            await asyncio.gather(*(client.generate("judge", PROMPT, temperature=0.0) for _ in range(6)))
            await client.check()
        assert server.stats.faults["500"] > 0  # the retry path was logged too
    # The records are there (with a key, the URL's credentials are not even sent) ...
    assert "HTTP Request: POST http://127.0.0.1" in caplog.text
    assert "url-SECRET-7" not in caplog.text and "bob" not in caplog.text  # ... without the credentials
