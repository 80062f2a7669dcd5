"""The fake OpenAI-compatible server, spoken to with plain HTTP."""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from gdp_zero.llm.fake_server import FakeLLMServer
from gdp_zero.llm.fake_world import NO_MARKER_REPLY, canned_reply

UTTERANCE_PROMPT = "Allowed acts: [greeting] [logical appeal]\nReply format: [act] utterance"


def _call(
    server: FakeLLMServer, path: str, body: dict[str, Any] | None = None, key: str | None = None
) -> tuple[int, dict[str, str], dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server.base_url + path, data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.load(error)


def _chat(server: FakeLLMServer, content: str, **params: Any) -> dict[str, Any]:
    body = {"model": "fake-model", "messages": [{"role": "user", "content": content}], **params}
    status, _, reply = _call(server, "/chat/completions", body)
    assert status == 200, reply
    return reply


def test_models(fake_server: FakeLLMServer) -> None:
    status, _, body = _call(fake_server, "/models")
    assert status == 200 and [m["id"] for m in body["data"]] == ["fake-model"]


def test_chat_reply_follows_the_markers(fake_server: FakeLLMServer) -> None:
    # The last marker line counts: earlier ones belong to few-shot examples.
    reply = _chat(fake_server, "Allowed acts: [x]\n" + UTTERANCE_PROMPT)
    text = reply["choices"][0]["message"]["content"]
    act, sentence = text[1:].split("] ", 1)
    assert act in ("greeting", "logical appeal") and sentence
    assert reply["object"] == "chat.completion"
    assert reply["usage"]["prompt_tokens"] > 0 and reply["usage"]["completion_tokens"] == -(-len(text) // 4)


def test_act_only_and_no_markers() -> None:
    rng = random.Random(0)
    assert canned_reply("Allowed acts: [neutral] [donate]\nReply format: [act]", rng) in ("[neutral]", "[donate]")
    assert canned_reply("Allowed acts: [zany act]\nReply format: one [act] and an utterance", rng).startswith(
        "[zany act] "
    )
    assert canned_reply("Just chat with me.", rng) == NO_MARKER_REPLY


def test_donate_is_rarely_chosen() -> None:
    prompt = "Allowed acts: [neutral] [donate]\nReply format: [act]"
    counts = Counter(canned_reply(prompt, random.Random(i)) for i in range(1000))
    assert 80 < counts["[donate]"] < 200  # weight 0.15 against 1: about 13%


def test_completions_endpoint(fake_server: FakeLLMServer) -> None:
    body = {"model": "fake-model", "prompt": UTTERANCE_PROMPT + "\nPersuader: [", "n": 2}
    status, _, reply = _call(fake_server, "/completions", body)
    assert status == 200 and reply["object"] == "text_completion"
    assert len(reply["choices"]) == 2 and reply["choices"][0]["text"].startswith("[")


def test_seed_determinism_and_n(fake_server: FakeLLMServer) -> None:
    def texts(**params: Any) -> list[str]:
        return [c["message"]["content"] for c in _chat(fake_server, UTTERANCE_PROMPT, **params)["choices"]]

    assert texts(seed=3, n=4) == texts(seed=3, n=4)
    assert len(texts(n=4)) == 4
    assert len({tuple(texts(n=4)) for _ in range(5)}) > 1  # unseeded requests vary


@pytest.mark.parametrize("fake_server", [{"ignore_n": True}], indirect=True)
def test_ignore_n(fake_server: FakeLLMServer) -> None:
    assert len(_chat(fake_server, UTTERANCE_PROMPT, n=4)["choices"]) == 1


def test_stop_and_max_tokens(fake_server: FakeLLMServer) -> None:
    cut = _chat(fake_server, UTTERANCE_PROMPT, stop=["]"])["choices"][0]
    assert "]" not in cut["message"]["content"] and cut["finish_reason"] == "stop"
    short = _chat(fake_server, UTTERANCE_PROMPT, max_tokens=2)["choices"][0]
    assert len(short["message"]["content"]) == 8 and short["finish_reason"] == "length"


@pytest.mark.parametrize("fake_server", [{"api_key": "sk-right"}], indirect=True)
def test_wrong_key_gets_openai_shaped_401(fake_server: FakeLLMServer) -> None:
    status, _, body = _call(fake_server, "/models", key="sk-wrong")
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
    assert _call(fake_server, "/models", key="sk-right")[0] == 200


def test_unknown_model_and_url(fake_server: FakeLLMServer) -> None:
    status, _, body = _call(fake_server, "/chat/completions", {"model": "nope", "messages": []})
    assert status == 404 and body["error"]["code"] == "model_not_found"
    assert _call(fake_server, "/audio/speech", {"model": "fake-model"})[0] == 404
    # /embeddings is served (the reflection memory's); a request without input is refused as OpenAI does.
    assert _call(fake_server, "/embeddings", {"model": "fake-model"})[0] == 400
    assert _call(fake_server, "/embeddings", {"model": "nope", "input": "hi"})[0] == 404


@pytest.mark.parametrize(
    ("fake_server", "status"),
    [({"fault_rate": 1.0, "faults": ("429",)}, 429), ({"fault_rate": 1.0, "faults": ("500",)}, 500)],
    indirect=["fake_server"],
)
def test_status_faults(fake_server: FakeLLMServer, status: int) -> None:
    got, headers, body = _call(fake_server, "/chat/completions", {"model": "fake-model", "messages": []})
    assert got == status and "message" in body["error"]
    assert headers.get("Retry-After") == ("0" if status == 429 else None)
    assert fake_server.stats.faults == {str(status): 1}
    assert _call(fake_server, "/models")[0] == 200  # faults only hit generation requests


@pytest.mark.parametrize("fake_server", [{"latency_s": 0.2}], indirect=True)
def test_latency_is_concurrent_and_peak_is_counted(fake_server: FakeLLMServer) -> None:
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: _chat(fake_server, "hi"), range(4)))
    assert fake_server.stats.max_in_flight == 4
    assert fake_server.stats.requests == {"/v1/chat/completions": 4}


def test_unknown_fault_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown fault kinds"):
        FakeLLMServer(faults=("429", "flood"))
