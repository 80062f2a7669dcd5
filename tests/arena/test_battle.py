"""An arena round over the real fake OpenAI server: one side's endpoint failing loses nothing, and retry
completes only the side that has no reply; a model that is not served names itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from gdp_zero.arena.battle import Battle
from gdp_zero.arena.contestants import load_arena
from gdp_zero.arena.pairing import draw_pair
from gdp_zero.llm.errors import LLMError
from gdp_zero.llm.fake_server import FakeLLMServer
from gdp_zero.session import MessageRejected

TWO_MODELS = Path(__file__).parent / "two_models.toml"


def battle_on(base_url: str, make_settings, *, max_retries: int = 0) -> Battle:
    import random

    arena = load_arena(TWO_MODELS)
    draw = draw_pair(arena.names, {}, random.Random(0))
    settings = make_settings(base_url, max_retries=max_retries)
    return Battle(arena, draw, *(arena.by_name[n].session(settings, arena.domain) for n in (draw.a, draw.b)))


async def test_a_failing_endpoint_keeps_the_message_and_retry_completes_the_missing_side(make_settings):
    with FakeLLMServer(models=("fake-model", "fake-large")) as server:
        battle = battle_on(server.base_url, make_settings)
        await battle.open()
        server.fault_rate, server.faults = 1.0, ("500",)
        with pytest.raises(LLMError):
            await battle.send("Why should I give?")
        assert battle.exchanges == 0 and battle.can_retry and battle.sent == 1
        with pytest.raises(MessageRejected, match="retry first"):
            battle.check_send("another message")
        server.fault_rate = 0.0
        await battle.a.retry()  # one side recovered on its own: the round's retry must not plan it again
        await battle.retry()
        assert battle.exchanges == 1 and not battle.can_retry
        for chat in battle.sides.values():
            assert [t.speaker for t in chat.log] == ["system", "user", "system"]
            assert chat.log[1].text == "Why should I give?"
        with pytest.raises(MessageRejected, match="nothing to retry"):
            await battle.retry()
        for chat in battle.sides.values():
            await chat.aclose()


async def test_a_contestant_on_a_model_the_endpoint_does_not_serve_fails_with_its_name(make_settings):
    with FakeLLMServer(models=("fake-model",)) as server:
        battle = battle_on(server.base_url, make_settings)
        with pytest.raises(LLMError, match="fake-large"):
            await battle.open()
        for chat in battle.sides.values():
            await chat.aclose()
