"""The Arena tab in Debian's chromium: a whole round on a wide and a phone screen, and the vote as stored.

Two contestants greet the person, both answer each message side by side (stacked on a phone), nothing
gives them away before the vote, the vote is stored as clicked, then identities, acts and trees show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from gdp_zero.arena.contestants import load_arena
from gdp_zero.arena.service import ArenaService
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.study.db import open_database
from gdp_zero.study.models import ArenaVote
from gdp_zero.study.spec import STUDIES_DIR

ServedApp = Any  # tests/ui/conftest.py

ARENA_FILE = STUDIES_DIR / "arena_planners.toml"
TIMEOUT_MS = 60_000
SEARCH = GDPZeroConfig(simulations=4, realizations=2, prior_samples=3, value_samples=3, concurrency=4)  # fast searches
SCREENS = {"wide": {"width": 1400, "height": 1000}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def arena_app(start_app: Callable[..., AbstractContextManager[ServedApp]], tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[tuple[ServedApp, ArenaService]]:
    database = open_database(f"sqlite:///{tmp_path_factory.mktemp('arena') / 'votes.db'}")
    made: list[ArenaService] = []

    def service(settings: Any) -> ArenaService:
        made.append(ArenaService(load_arena(ARENA_FILE), settings, database, search=SEARCH, seed=11))
        return made[0]

    with start_app(arena=service) as app:
        yield app, made[0]
    database.dispose()


def bots(page: Page, side: str) -> Any:
    return page.locator(f"#arena-chat-{side} [data-testid=bot]")


def expect_replies(page: Page, app: ServedApp, count: int) -> None:
    """Both sides show `count` persuader messages; if not, the failure says what the page and the LLM server saw."""
    for side in "ab":
        try:
            expect(bots(page, side)).to_have_count(count, timeout=TIMEOUT_MS)
        except AssertionError as error:
            raise AssertionError(f"side {side}: {error}\nstatus line: {page.locator('#arena-status').inner_text()!r}"
                                 f"\nfake LLM server: {app.llm.stats}") from error


def box(page: Page, selector: str) -> dict[str, float]:
    found = page.locator(selector).bounding_box()
    assert found is not None, selector
    return found


@pytest.mark.parametrize("screen", list(SCREENS))
def test_a_whole_arena_round_and_the_vote_as_stored(
    ui_browser: Browser, arena_app: tuple[ServedApp, ArenaService], screen: str, screenshot_dir: Path,
    publish_screenshots: Any,
) -> None:
    app, service = arena_app
    context = ui_browser.new_context(viewport=SCREENS[screen], is_mobile=screen == "phone", has_touch=screen == "phone")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(app.url)
        page.get_by_role("tab", name="Arena").click()
        expect(page.locator("#arena-vote-a")).to_be_disabled()
        page.click("#arena-new-round")
        expect_replies(page, app, 1)  # both greet
        expect(page.locator("#arena-vote-a")).to_be_disabled()  # nothing said yet: nothing to vote on

        for number, text in enumerate(("Hi! What is this charity about?", "I am not sure I can afford it."), start=2):
            page.fill("#arena-message textarea", text)
            page.click("#arena-send")
            expect_replies(page, app, number)
            for side in "ab":
                expect(page.locator(f"#arena-chat-{side} [data-testid=user]").last).to_contain_text(text)
        # Before the vote nothing gives a contestant away: no acts, no planner, no timings.
        for side in "ab":
            expect(page.locator(f"#arena-chat-{side} .act-tag")).to_have_count(0)
            expect(page.locator(f"#arena-chat-{side} .turn-meta")).to_have_count(0)
            expect(page.locator(f"#arena-reveal-{side}")).not_to_contain_text("was")
        a, b = box(page, "#arena-chat-a"), box(page, "#arena-chat-b")
        if screen == "wide":  # side by side
            assert b["x"] >= a["x"] + a["width"] - 1 and abs(a["y"] - b["y"]) < 5
        else:  # stacked, each the screen's width
            assert b["y"] >= a["y"] + a["height"] - 1 and a["width"] <= SCREENS["phone"]["width"]
        assert page.evaluate("() => document.documentElement.scrollWidth") <= SCREENS[screen]["width"]
        replies = {side: bots(page, side).last.inner_text() for side in "ab"}
        page.locator("#arena-vote-a").scroll_into_view_if_needed()
        page.screenshot(path=str(screenshot_dir / f"arena-{screen}-before-vote.png"), full_page=True)

        expect(page.locator("#arena-vote-b")).to_be_enabled()
        page.click("#arena-vote-b")
        expect(page.locator("#arena-status")).to_contain_text("your vote (B is better) is saved")
        rows = service.votes()
        with service.database.transaction() as session:
            stored = session.get(ArenaVote, int(session.query(ArenaVote.id).order_by(ArenaVote.id.desc()).limit(1).scalar()))
            assert stored is not None
            assert stored.winner == "b" and stored.exchanges == 2
            arena = service.arena
            for side, name in (("a", stored.model_a), ("b", stored.model_b)):
                # The identity revealed is the contestant stored for that side; its last reply is the one shown.
                expect(page.locator(f"#arena-identity-{side}")).to_contain_text(
                    f"{side.upper()} was {arena.by_name[name].shown_name}")
                if arena.by_name[name].planner == "gdpzero":  # the search it ran, whatever its label says
                    simulations = arena.by_name[name].search_config(SEARCH).simulations
                    expect(page.locator(f"#arena-identity-{side}")).to_contain_text(f"· {simulations} simulations ·")
                dialogue = stored.dialogue_a if side == "a" else stored.dialogue_b
                assert [t["text"] for t in dialogue["turns"] if t["speaker"] == "user"] == [
                    "Hi! What is this charity about?", "I am not sure I can afford it."]
                assert dialogue["turns"][-1]["text"].split()[0] in replies[side]
        assert len(rows) >= 1
        expect(page.locator("#arena-identity-b")).to_contain_text("your pick")
        for side in "ab":  # acts and planner notes now show
            expect(page.locator(f"#arena-chat-{side} [data-testid=bot] .act-tag")).to_have_count(3)
        # Voting again, or chatting on, is refused: the round is over.
        expect(page.locator("#arena-vote-a")).to_be_disabled()
        expect(page.locator("#arena-send")).to_be_disabled()
        expect(page.locator("#arena-new-round")).to_have_text("New round")

        page.locator("#arena-trees").get_by_text("Search trees").click()
        searched = [side for side in "ab" if arena.by_name[stored.model_a if side == "a" else stored.model_b].planner == "gdpzero"]
        for side in searched:
            page.wait_for_function(f"() => document.querySelector('#arena-tree-{side} .js-plotly-plot')?.data?.length > 0")
        page.locator("#arena-identity-a").scroll_into_view_if_needed()
        name = f"arena-{screen}.png"
        page.screenshot(path=str(screenshot_dir / name), full_page=True)
        publish_screenshots(screenshot_dir, name)

        # The leaderboard: one vote per round so far; the figures and downloads come with it.
        page.locator("#arena-leaderboard-panel").get_by_text("Leaderboard").first.click()
        page.click("#arena-refresh")
        expect(page.locator("#arena-board-note")).to_contain_text(f"{len(service.votes())} votes")
        expect(page.locator("#arena-leaderboard")).to_contain_text(stored.model_b)
        with page.expect_download() as info:
            page.click("#arena-votes-csv")
        votes_csv = Path(info.value.path()).read_text(encoding="utf-8")
        assert votes_csv.splitlines()[0] == "arena,model_a,model_b,winner,exchanges,at"  # no voter pseudonyms
        assert f"{stored.model_a},{stored.model_b},b,2" in votes_csv
    finally:
        context.close()


def test_the_offline_report_draws_its_figures_without_the_network(
    ui_browser: Browser, tmp_path: Path, screenshot_dir: Path, publish_screenshots: Any
) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "arena"))
    from test_leaderboard import (
        simulated_crowd,  # the same simulated crowd as the leaderboard's tests
    )

    from gdp_zero.arena.leaderboard import leaderboard
    from gdp_zero.arena.report import write_report

    board = leaderboard(simulated_crowd(seed=2024), rounds=1000, seed=1)
    path = write_report(tmp_path / "report.html", board, "A simulated crowd: 600 votes, four known strengths")
    context = ui_browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    requested: list[str] = []
    page.route("**/*", lambda route: (requested.append(route.request.url), route.abort())
               if not route.request.url.startswith("file:") else route.continue_())
    try:
        page.goto(path.as_uri())
        for key in ("ratings", "win-rate", "battles"):
            page.wait_for_function(f"() => document.querySelector('#figure-{key}')?.data?.length > 0")
        expect(page.locator("#leaderboard")).to_contain_text("gdpzero_n30")
        assert requested == []  # nothing fetched: Plotly is inline
        name = "arena-report.png"
        page.screenshot(path=str(screenshot_dir / name), full_page=True)
        publish_screenshots(screenshot_dir, name)
    finally:
        context.close()
