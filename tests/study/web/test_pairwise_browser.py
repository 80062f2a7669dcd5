"""A pairwise study in chromium through the real `gdp-zero pairwise serve`: a participant judges every pair
(wide and phone screens), the stored rows equal the clicks, a failed attention check leaves the
participant's judgments out of the leaderboard on the researcher's page, and the completion code shows."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, text

from gdp_zero.records import append_record
from gdp_zero.study.db import database_url, open_database
from gdp_zero.study.pairwise import load_pairwise_study, participant_pairs, voter_of
from tests.study.test_pairwise import PLANNERS, dialogue
from tests.ui.conftest import free_port

REPO = Path(__file__).resolve().parents[3]
START_TIMEOUT_S = 180
SCREENS = {"wide": (1400, 1000), "phone": (390, 844)}


@pytest.fixture(scope="module")
def pairwise_server(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("pairwise")
    for planner in PLANNERS:
        for number in range(3):
            append_record(folder / "runs.jsonl", dialogue(planner, number))
    study_file = folder / "acute.toml"
    study_file.write_text('id = "acute"\ntitle = "Which persuader did better?"\ndialogues = ["runs.jsonl"]\n'
                          'pairs = 2\ncompletion_code = "C0DE-7"\n', encoding="utf-8")
    db_url = f"sqlite:///{folder / 'pairwise.db'}"
    port = free_port()
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gdp_zero.cli", "pairwise", "serve", str(study_file), "--db", db_url, "--local-only",
         "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    base = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            urllib.request.urlopen(base, timeout=5)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"pairwise serve did not come up:\n{(folder / 'server.log').read_text()}") from None
            time.sleep(1)
    try:
        yield base, study_file, db_url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def pick(position: int, question: str) -> str:
    """The test participant's answer to a non-check pair: varied by pair and question."""
    return "a" if (position + len(question)) % 2 == 0 else "b"


@pytest.mark.parametrize("screen", list(SCREENS))
def test_a_participant_judges_every_pair_and_the_rows_equal_the_clicks(pairwise_server, ui_browser, screenshot_dir, screen):
    base, study_file, db_url = pairwise_server
    loaded = load_pairwise_study(study_file)
    recruitment_id = f"PID-{screen}"
    fail_check = screen == "phone"  # the phone participant picks the broken dialogue
    database = open_database(db_url)
    try:
        voter = voter_of(database, recruitment_id)
    finally:
        database.dispose()
    pairs = participant_pairs(loaded, voter)
    width, height = SCREENS[screen]
    context = ui_browser.new_context(viewport={"width": width, "height": height})
    page: Page = context.new_page()
    page.goto(f"{base}?PROLIFIC_PID={recruitment_id}")

    clicked = []
    for position, pair in enumerate(pairs):
        expect(page.locator("#pairwise-progress")).to_contain_text(f"Pair {position + 1} of {len(pairs)}")
        chat_a, chat_b = page.locator("#pairwise-chat-a"), page.locator("#pairwise-chat-b")
        expect(chat_a).to_contain_text(pair.a.record.turns[0].text)
        expect(chat_b).to_contain_text(pair.b.record.turns[0].text)
        expect(chat_a.get_by_role("button", name="Clear")).to_be_hidden()  # a participant cannot empty a dialogue
        box_a, box_b = chat_a.bounding_box(), chat_b.bounding_box()
        if screen == "wide":
            assert box_b["x"] > box_a["x"] + box_a["width"] - 1 and abs(box_b["y"] - box_a["y"]) < 5  # side by side
        else:
            assert box_b["y"] >= box_a["y"] + box_a["height"] - 1 and box_a["width"] <= width  # stacked, within the screen
        if position == 0:  # nothing picked: refused, nothing stored, the same pair stays
            page.locator("#pairwise-submit").click()
            expect(page.locator("#pairwise-notice")).to_contain_text("Please answer every question")
            expect(page.locator("#pairwise-progress")).to_contain_text("Pair 1 of")
        for question in loaded.study.questions:
            if pair.attention_check:
                winner = ("b" if pair.known == "a" else "a") if fail_check else pair.known
            else:
                winner = pick(position, question)
            page.locator(f"#pairwise-{question}").get_by_text(f"Persuader {winner.upper()}", exact=True).click()
            clicked.append((position, question, pair.a.persuader, pair.b.persuader, winner, pair.known))
        expect(page.locator("#pairwise-notice")).to_be_empty()  # answering clears "Please answer every question"
        page.screenshot(path=str(screenshot_dir / f"pairwise-{screen}-pair{position}.png"), full_page=True)
        page.locator("#pairwise-submit").click()

    expect(page.locator("#pairwise-done")).to_contain_text("all your answers are saved")
    expect(page.locator("#completion-code")).to_have_text("C0DE-7")
    page.screenshot(path=str(screenshot_dir / f"pairwise-{screen}-done.png"), full_page=True)

    engine = create_engine(database_url(db_url))
    with engine.connect() as connection:
        stored = connection.execute(text(
            "SELECT position, question, model_a, model_b, winner, known FROM pairwise_judgments WHERE voter = :v ORDER BY id"),
            {"v": voter}).all()
        ids = connection.execute(text("SELECT DISTINCT voter FROM pairwise_judgments")).scalars().all()
    engine.dispose()
    assert [tuple(row) for row in stored] == clicked
    assert recruitment_id not in ids  # only the pseudonym

    page.goto(f"{base}?PROLIFIC_PID={recruitment_id}")  # a reload after the end: the code again, nothing to answer
    expect(page.locator("#completion-code")).to_have_text("C0DE-7")
    context.close()


def test_the_leaderboard_counts_only_participants_who_passed_the_check(pairwise_server, ui_browser):
    """After both screens' participants: the wide one passed (2 pairs count), the phone one failed (left out)."""
    base, _, _ = pairwise_server
    page = ui_browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(f"{base}admin/")
    for question in ("persuasive", "natural", "coherent"):
        expect(page.locator(f"#pairwise-board-note-{question}")).to_contain_text("2 judgments")
    expect(page.locator("#pairwise-board-persuasive")).to_contain_text("rating")
