"""What the chat page shows, decided without Gradio: a real chat on the fake server over HTTP."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gdp_zero.factory import ChatOptions
from gdp_zero.planners import GDPZeroConfig
from ui import tree_view
from ui.chat_screen import busy_screen, chat_screen, turn_panel
from ui.polling import while_running
from ui.sessions import UserChat

SMALL = ChatOptions(search=GDPZeroConfig(simulations=3, realizations=1, prior_samples=2, value_samples=2))


@pytest.fixture
def settings(fake_server: Any, make_settings: Any) -> Any:
    return replace(make_settings(fake_server.base_url), max_retries=0)


async def test_a_turn_is_polled_while_it_runs_and_the_screen_shows_it(settings: Any, tmp_path: Path) -> None:
    chat = UserChat(settings, SMALL, tmp_path)
    try:
        task = chat.open()
        await asyncio.sleep(0)
        busy = busy_screen(chat)
        assert busy.messages == [] and "status-busy" in busy.status
        ticks = [tick async for tick in while_running(task, 0.001)]
        assert task.done() and len(ticks) >= 1  # the fake server answers over HTTP: at least one poll
        chat.finish()

        screen = chat_screen(chat, "Your turn.")
        assert [m["role"] for m in screen.messages] == ["assistant"]
        assert not screen.ended and screen.error == "" and not screen.can_retry
        assert screen.latest == 0 and screen.turns == [("turn 1 · greeting (GDP-Zero)", 0)]
        saved = json.loads(Path(screen.transcript or "").read_text(encoding="utf-8"))
        assert [t["act"] for t in saved["turns"]] == ["greeting"]
        assert screen.usage[0][0] == "session"

        panel, download = turn_panel(chat, screen.latest)
        assert panel.selected == "greeting" and "greeting" in panel.summary
        assert download is not None and json.loads(Path(download).read_text())["chosen_act"] == "greeting"
        empty, none = turn_panel(chat, None)
        assert empty.nodes == [] and none is None
    finally:
        await chat.aclose()


async def test_the_tree_panel_is_drawn_as_the_page_chose(settings: Any, tmp_path: Path) -> None:
    chat = UserChat(settings, SMALL, tmp_path)
    try:
        await chat.open()
        chat.finish()
        chat.view = tree_view.ViewChoice("sunburst")
        panel, _ = turn_panel(chat, 0)
        assert panel.figure.data[0].type == "sunburst"
    finally:
        await chat.aclose()


def test_the_local_model_says_how_long_a_turn_takes_and_how_to_shorten_it(settings: Any) -> None:
    from gdp_zero.backends import Backend
    from ui.app import LOCAL_TURN_NOTE, build_app

    banner = "Local model: Gemma 3 270M (a tiny base model) runs on this machine through llama.cpp. Set-up advice."
    page = json.dumps(build_app(Backend("local", settings, banner)).config)
    assert LOCAL_TURN_NOTE.split(";")[0] in page and "Prompting (no search)" in page
    assert "Set-up advice" not in page  # the operator's advice stays in the server log
    assert LOCAL_TURN_NOTE.split(";")[0] not in json.dumps(build_app(Backend("fake", settings, banner)).config)
