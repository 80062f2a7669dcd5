"""A crowd arena's worker page without a browser: CrowdArenaPage's gate and count, and the Arena's RoundPage
handlers it wires, called directly on a study database with the fake LLM server playing both persuaders."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import pytest

from gdp_zero.arena.contestants import study_arena
from gdp_zero.arena.service import ArenaService, VoteLimits
from gdp_zero.serving.limits import ClientLimits
from gdp_zero.study.db import open_database
from gdp_zero.study.service import NOTICES
from gdp_zero.study.spec import load_study
from tests.study.web.test_crowd_arena_browser import STUDY, VOTES_REQUIRED
from ui.study import arena_page
from ui.study.arena_layout import crowd_arena_layout
from ui.study.arena_page import CrowdArenaPage, arena_rules

WORKER = "5f1a2b3c4d5e6f7a8b9c0d1e"  # Prolific's form: 24 hex digits


def request(session: str, **query: str) -> gr.Request:
    return gr.Request(session_hash=session, query_params=query, client={"host": "127.0.0.1"}, headers={})


@pytest.fixture
def arena(db_url: str, fake_server: Any, make_settings: Any, tmp_path: Path) -> Iterator[CrowdArenaPage]:
    (tmp_path / "crowd_arena.toml").write_text(STUDY, encoding="utf-8")
    study = load_study(tmp_path / "crowd_arena.toml")
    rules = arena_rules(study)
    database = open_database(db_url)
    service = ArenaService(study_arena(study), make_settings(fake_server.base_url), database,
                           limits=VoteLimits(per_session=rules.most_votes, per_address_per_hour=100))
    with gr.Blocks():
        layout = crowd_arena_layout(study, rules, banner=None)
    yield CrowdArenaPage(study, rules, service, ClientLimits(), layout)
    database.dispose()


async def last(updates: AsyncIterator[list[Any]]) -> list[Any]:
    shown = [update async for update in updates]
    return shown[-1]


def status(arena: CrowdArenaPage, update: list[Any]) -> str:
    """The round's status line as the person reads it."""
    return html.unescape(update[arena.layout.round.outputs.index(arena.layout.round.status)])


async def test_the_gate_asks_for_the_studys_link_and_consent_before_a_round(arena: CrowdArenaPage) -> None:
    # No id, or one not of the study's form: the page says which, shows neither page, and starts no round.
    for query, notice in (({}, "missing_id"), ({"PROLIFIC_PID": "not-an-id"}, "invalid_id")):
        shown = arena.on_load(request("s0", **query))
        assert shown[0] == arena_page.notice_html(NOTICES[notice], "closed")
        assert [c.visible for c in shown[1:3]] == [False, False]
    assert arena.gate(request("s0")) == NOTICES["missing_id"]
    assert arena.worker_id(request("s0", PROLIFIC_PID=f" {WORKER} ")) == WORKER

    worker = request("s1", PROLIFIC_PID=WORKER)
    opened = arena.on_load(worker)
    assert [opened[0], opened[1].visible, opened[2].visible] == ["", True, False]  # the consent form first
    assert f"Your votes: 0 of {VOTES_REQUIRED}" in opened[3] and opened[4] == ""
    refused = await last(arena.round.on_new_round(worker))
    assert "Please agree to take part first" in status(arena, refused)
    assert arena.round.rounds.get("s1") is None

    agreed = arena.on_agree(worker)
    assert [agreed[0], agreed[1].visible, agreed[2].visible] == ["", False, True]
    assert arena.gate(worker) is None
    assert arena.gate(request("s2", PROLIFIC_PID=WORKER)) is not None  # consent is the page session's, not the id's
    declined = arena.on_decline()
    assert declined[0] == arena_page.notice_html(NOTICES["declined"], "closed") and not declined[2].visible


def test_the_consents_remembered_are_bounded_oldest_forgotten_first(arena: CrowdArenaPage,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(arena_page, "CONSENTED_LIMIT", 2)
    for session in ("s1", "s2", "s3"):
        arena.on_agree(request(session, PROLIFIC_PID=WORKER))
    assert list(arena.consented) == ["s2", "s3"]
    assert arena.gate(request("s1", PROLIFIC_PID=WORKER)) is not None and arena.gate(request("s3", PROLIFIC_PID=WORKER)) is None


async def test_votes_count_to_the_code_then_no_round_starts(arena: CrowdArenaPage) -> None:
    worker = request("s1", PROLIFIC_PID=WORKER)
    arena.on_agree(worker)
    for number in range(1, VOTES_REQUIRED + 1):
        greeted = await last(arena.round.on_new_round(worker))
        assert "Both persuaders have greeted you" in status(arena, greeted)
        sending = [update async for update in arena.round.on_send(f"Round {number}: what is this charity?", worker)]
        box = sending[0][arena.layout.round.outputs.index(arena.layout.round.message)]
        assert box.value == "" and not box.interactive  # the box empties as the message goes out
        assert "Both have replied" in status(arena, sending[-1])
        voted = await arena.round.vote("a", worker)
        words = status(arena, voted)
        assert "your vote (A is better) is saved" in words
        progress, completion = arena.on_voted(worker)
        assert f"Your votes: {number} of {VOTES_REQUIRED}" in progress
        if number < VOTES_REQUIRED:
            assert "Press New round" in words and completion == ""
    # Every vote cast: the code shows, the gate's word replaces "New round", and no round starts again.
    assert f"You have cast all {VOTES_REQUIRED} votes" in words
    code = html.escape(arena.study.completion.redirect()[0])
    assert f'<code id="completion-code">{code}</code>' in completion
    refused = await last(arena.round.on_new_round(worker))
    assert f"You have cast all {VOTES_REQUIRED} votes" in status(arena, refused)
    # A reload (a new page session, the same link) goes straight to the count and the code, past the consent form.
    reloaded = arena.on_load(request("s9", PROLIFIC_PID=WORKER))
    assert [reloaded[1].visible, reloaded[2].visible] == [False, True] and code in reloaded[4]
    await arena.round.rounds.close_all()


async def test_a_vote_without_the_studys_link_or_a_round_is_refused_saying_why(arena: CrowdArenaPage) -> None:
    shown = await arena.round.vote("a", request("s0"))
    assert "This page cannot vote: open it from the study's link." in status(arena, shown)
    shown = await arena.round.vote("a", request("s1", PROLIFIC_PID=WORKER))
    assert "This round has ended: start a new round." in status(arena, shown)
    assert arena.service.votes_of(WORKER) == 0
