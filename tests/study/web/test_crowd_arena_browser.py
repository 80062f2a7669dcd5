"""A crowd arena in chromium through the real `gdp-zero study serve` on a study file with an [arena], on the fake
OpenAI-protocol server: a crowd worker enters with a Prolific id, agrees, plays rounds (two replies side by side,
stacked on a phone), votes, sees who was who, and after the votes required gets the completion code (again on a
reload); the stored rows equal the clicks and hold the pseudonym, never the id; the researcher's page shows the
leaderboard of the votes and hands out the votes as CSV."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from gdp_zero.llm.fake_server import FakeLLMServer
from gdp_zero.study.db import open_database
from gdp_zero.study.export import pseudonym
from gdp_zero.study.models import ArenaVote
from gdp_zero.study.spec import STUDIES_DIR
from tests.study.conftest import BACKENDS, fresh_database
from tests.study.web.study_web import StudyServer, publish_screenshot
from tests.study.web.test_admin_browser import log_in
from tests.ui.test_arena_browser import bots, box

TIMEOUT_MS = 60_000
SCREENS = {"wide": {"width": 1400, "height": 1000}, "phone": {"width": 390, "height": 844}}
WORKERS = {"wide": "5f1a2b3c4d5e6f7a8b9c0d1e", "phone": "60aa0bb1cc2dd3ee4ff50617"}  # Prolific's form: 24 hex digits
VOTES_REQUIRED = 2
CLICKS = [("a", "A is better"), ("tie", "a tie")]  # the worker's votes, in order
LABELS = {"searcher": "GDP-Zero, a small search", "prompter": "Prompting baseline"}
# The shipped crowd arena with two votes for the code and a small search (the fake server answers every call).
STUDY = (STUDIES_DIR / "crowd_arena.toml").read_text() \
    .replace("votes_required = 5 ", f"votes_required = {VOTES_REQUIRED} ").replace("max_votes = 8 ", "max_votes = 2 ") \
    .replace('name = "gdpzero_n10"', 'name = "searcher"').replace('label = "GDP-Zero, 10 simulations"', f'label = "{LABELS["searcher"]}"') \
    .replace("search = { simulations = 10, realizations = 3 }",
             "search = { simulations = 3, realizations = 1, prior_samples = 2, value_samples = 2 }") \
    .replace('name = "prompting"', 'name = "prompter"').replace('label = "Prompting baseline (no search)"', f'label = "{LABELS["prompter"]}"')


@pytest.fixture(scope="module", params=BACKENDS)
def arena_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudyServer]:
    folder = tmp_path_factory.mktemp("crowd-arena")
    study_file = folder / "crowd_arena.toml"
    study_file.write_text(STUDY, encoding="utf-8")
    with FakeLLMServer() as llm, fresh_database(request.param, folder) as db_url:
        server = StudyServer(db_url=db_url, log=folder / "server.log", llm_url=llm.base_url, study_file=study_file).start()
        yield server
        server.stop()



def stored_votes(server: StudyServer) -> list[ArenaVote]:
    database = open_database(server.db_url)
    try:
        with database.transaction() as session:
            rows = list(session.query(ArenaVote).filter(ArenaVote.arena == "crowd_arena").order_by(ArenaVote.id))
            session.expunge_all()
        salt = database.meta("export_salt") or ""
    finally:
        database.dispose()
    for row in rows:
        row.salt = salt  # type: ignore[attr-defined]
    return rows


@pytest.mark.parametrize("screen", list(SCREENS))
def test_a_crowd_worker_votes_sees_who_was_who_and_gets_the_code(
    arena_server: StudyServer, ui_browser: Browser, screenshot_dir: Path, screen: str
) -> None:
    worker = WORKERS[screen]
    context = ui_browser.new_context(viewport=SCREENS[screen], is_mobile=screen == "phone", has_touch=screen == "phone")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(arena_server.participant_url(PROLIFIC_PID=worker))
        expect(page.locator("#consent-text")).to_contain_text("comparing automated conversational agents")
        expect(page.locator("#arena-page")).to_be_hidden()  # nothing to vote on before consent
        page.click("#consent-agree")
        expect(page.locator("#arena-progress")).to_contain_text(f"Your votes: 0 of {VOTES_REQUIRED}")
        expect(page.locator("#completion-code")).to_have_count(0)

        revealed = []
        for number, (winner, words) in enumerate(CLICKS, start=1):
            page.click("#arena-new-round")
            for side in "ab":
                expect(bots(page, side)).to_have_count(1)  # both greet
            expect(page.locator("#arena-vote-a")).to_be_disabled()  # nothing sent yet: nothing to vote on
            text = f"Round {number}: why should I give to this charity?"
            page.fill("#arena-message textarea", text)
            page.click("#arena-send")
            for side in "ab":
                expect(bots(page, side)).to_have_count(2)
                expect(page.locator(f"#arena-chat-{side} [data-testid=user]").last).to_contain_text(text)
                expect(page.locator(f"#arena-chat-{side}").get_by_role("button", name="Clear")).to_be_hidden()
                # Before the vote nothing gives a contestant away: no acts, no planner, no names.
                expect(page.locator(f"#arena-chat-{side} .act-tag")).to_have_count(0)
                expect(page.locator(f"#arena-reveal-{side}")).not_to_contain_text("was")
            a, b = box(page, "#arena-chat-a"), box(page, "#arena-chat-b")
            if screen == "wide":  # side by side
                assert b["x"] >= a["x"] + a["width"] - 1 and abs(a["y"] - b["y"]) < 5
            else:  # stacked, within the screen
                assert b["y"] >= a["y"] + a["height"] - 1 and a["width"] <= SCREENS["phone"]["width"]
            assert page.evaluate("() => document.documentElement.scrollWidth") <= SCREENS[screen]["width"]
            if number == 1:
                page.locator("#arena-vote-a").scroll_into_view_if_needed()
                page.screenshot(path=str(screenshot_dir / f"crowd-arena-{screen}-before-vote.png"), full_page=True)

            page.click(f"#arena-vote-{winner.replace('_', '-')}")
            expect(page.locator("#arena-status")).to_contain_text(f"your vote ({words}) is saved")
            # The next step: another round, or (every vote cast) none.
            expect(page.locator("#arena-status")).to_contain_text(
                "Press New round" if number < VOTES_REQUIRED else f"You have cast all {VOTES_REQUIRED} votes")
            shown = {}
            for side in "ab":
                identity = page.locator(f"#arena-identity-{side}")
                expect(identity).to_contain_text(f"{side.upper()} was ")
                shown[side] = next(name for name, label in LABELS.items() if label in identity.inner_text())
                expect(page.locator(f"#arena-chat-{side} [data-testid=bot] .act-tag")).to_have_count(2)  # acts now show
                expect(page.locator(f"#arena-chat-{side} .act-tag").first).to_have_css("border-radius", re.compile(r"[1-9]"))
            revealed.append((shown["a"], shown["b"], winner))
            expect(page.locator("#arena-progress")).to_contain_text(f"Your votes: {number} of {VOTES_REQUIRED}")
            if number < VOTES_REQUIRED:
                expect(page.locator("#completion-code")).to_have_count(0)

        expect(page.locator("#completion-code")).to_have_text("CARENA01")
        expect(page.locator("#completion-link")).to_have_attribute("href", "https://app.prolific.com/submissions/complete?cc=CARENA01")
        page.locator("#completion").scroll_into_view_if_needed()
        name = f"crowd-arena-{screen}.png"
        page.screenshot(path=str(screenshot_dir / name), full_page=True)
        if screen == "wide":
            publish_screenshot(screenshot_dir / name, name)
        page.click("#arena-new-round")  # max_votes cast: no further round (it would cost LLM calls and not count)
        expect(page.locator("#arena-status")).to_contain_text(f"You have cast all {VOTES_REQUIRED} votes")

        rows = [row for row in stored_votes(arena_server) if row.voter == pseudonym(worker, row.salt)]  # type: ignore[attr-defined]
        assert [(row.model_a, row.model_b, row.winner) for row in rows] == revealed  # the rows equal the clicks
        assert all(row.exchanges == 1 for row in rows)
        assert all(worker not in (row.voter, str(row.dialogue_a), str(row.dialogue_b), str(row.contestants)) for row in rows)

        page.reload()  # a reload: no consent again, the code again
        expect(page.locator("#completion-code")).to_have_text("CARENA01")
        expect(page.locator("#consent-page")).to_be_hidden()
        expect(page.locator("#arena-progress")).to_contain_text(f"Your votes: {VOTES_REQUIRED} of {VOTES_REQUIRED}")
    finally:
        context.close()


@pytest.mark.parametrize("link", ["?PROLIFIC_PID=not-a-prolific-id", ""])
def test_a_link_without_a_valid_id_opens_nothing(arena_server: StudyServer, ui_browser: Browser, link: str) -> None:
    page = ui_browser.new_context(viewport=SCREENS["phone"]).new_page()
    page.goto(arena_server.url + link)
    expect(page.locator("#study-notice")).to_contain_text("not valid" if link else "no participant id")
    expect(page.locator("#consent-page")).to_be_hidden()
    expect(page.locator("#arena-page")).to_be_hidden()
    page.context.close()


def test_the_researchers_page_shows_the_leaderboard_and_the_votes_with_pseudonyms(
    arena_server: StudyServer, ui_browser: Browser, screenshot_dir: Path
) -> None:
    rows = stored_votes(arena_server)
    assert len(rows) == VOTES_REQUIRED * len(WORKERS)  # after both screens' workers
    page = ui_browser.new_context(viewport=SCREENS["wide"]).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        log_in(page, arena_server.url + "admin/")
        expect(page.locator("#arena-board-note")).to_contain_text(f"{len(rows)} votes")
        for name in LABELS:
            expect(page.locator("#arena-leaderboard")).to_contain_text(name)
        for key in ("ratings", "win-rate", "battles"):
            page.wait_for_function(f"() => document.querySelector('#arena-plot-{key} .js-plotly-plot')?.data?.length > 0")
        page.screenshot(path=str(screenshot_dir / "crowd-arena-admin.png"), full_page=True)
        with page.expect_download() as info:
            page.click("#arena-votes-csv")
        lines = Path(info.value.path()).read_text(encoding="utf-8").splitlines()
        assert lines[0] == "arena,battle,voter,model_a,model_b,winner,exchanges,at"
        assert len(lines) == len(rows) + 1
        assert {line.split(",")[2] for line in lines[1:]} == {row.voter for row in rows}  # pseudonyms, never the ids
        assert not any(worker in "\n".join(lines) for worker in WORKERS.values())
    finally:
        page.context.close()
