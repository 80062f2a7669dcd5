"""The researcher's dashboard without a browser: AdminPage's handlers over a study database with one completer
and one participant still chatting (the fake LLM server plays the bot)."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from gdp_zero.llm.settings import LLMSettings
from gdp_zero.study.db import open_database
from gdp_zero.study.service import StudyService
from gdp_zero.study.spec import load_study
from tests.study.test_population import into_chat, through
from ui.study.admin import AdminPage
from ui.study.admin_layout import MEANS_LABEL, PREPOST_LABEL, TESTS_LABEL, admin_layout
from ui.study.admin_views import StudyReader


async def dashboard(db_url: str, settings: LLMSettings, study_file: Path, export_root: Path) -> AdminPage:
    service = StudyService(load_study(study_file), open_database(db_url), settings)
    await through(service, "DONE", attention=1)
    await into_chat(service, "ACTIVE")
    await service.aclose()
    with gr.Blocks():
        layout = admin_layout(service.study, {})
    return AdminPage(StudyReader(service), service.study, {}, layout, export_root)


async def test_the_population_switch_recounts_every_table_and_says_whom(db_url, fake_server, make_settings,
                                                                        small_study_file, tmp_path):
    page = await dashboard(db_url, make_settings(fake_server.base_url, seed=3), small_study_file, tmp_path)
    results = page.layout.results
    try:
        completers, everyone = page.on_results(False), page.on_results(True)
        assert "Population: completers" in completers[results.note] and "1 participants" in completers[results.note]
        assert "Population: everyone" in everyone[results.note] and "2 participants" in everyone[results.note]
        for table, label in ((results.means, MEANS_LABEL), (results.tests, TESTS_LABEL), (results.prepost, PREPOST_LABEL)):
            assert completers[table].label == f"{label} · completers, 1 participants"
            assert everyone[table].label == f"{label} · everyone, 2 participants"
        # The pre-survey item: one answer among the completers, both participants' among everyone.
        pre = {name: shown[results.means].value for name, shown in (("completers", completers), ("everyone", everyone))}
        n_of = {name: sum(row[pre[name]["headers"].index("n")] for row in pre[name]["data"]
                          if row[pre[name]["headers"].index("source")] == "pre") for name in pre}
        assert n_of == {"completers": 1, "everyone": 2}
    finally:
        page.reader.service.database.dispose()


async def test_the_transcript_list_starts_at_the_newest_and_shows_its_latest_bot_turn(db_url, fake_server, make_settings,
                                                                                       small_study_file, tmp_path):
    page = await dashboard(db_url, make_settings(fake_server.base_url, seed=3), small_study_file, tmp_path)
    shown = page.layout.transcripts
    try:
        listed = page.on_list()[shown.participation_select]
        newest = listed.value
        assert [label.split(" · ")[1] for label, _ in listed.choices] == ["ACTIVE", "DONE"] and newest == listed.choices[0][1]
        update = page.on_participation(newest)
        turns = update[shown.turn_select]
        assert turns.value == turns.choices[-1][1]  # the bot's latest message, its tree beside it
        messages = update[shown.transcript]
        assert [m["role"] for m in messages] == ["assistant", "user", "assistant"]  # greeting, question, reply
        assert "What does the charity do?" in messages[1]["content"]
        assert page.on_turn(newest, turns.value)[shown.tree_summary] == update[shown.tree_summary]
        # An id that is not this study's clears the browser rather than showing a stale transcript.
        unknown = page.on_participation(10_000)
        assert unknown[shown.transcript] == [] and unknown[shown.turn_select].choices == []
    finally:
        page.reader.service.database.dispose()
