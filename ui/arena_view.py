"""The Arena tab: two anonymous persuaders answer the person side by side; the person votes; a leaderboard.

The round is ui/arena_round_layout.py's components with ui/arena_round.py's handlers (a crowd arena's page
has the same); this module puts it in the app's tab under the instructions, and lays out and wires the
leaderboard of the stored votes. The round, the vote and the statistics are gdp_zero.arena's.
"""

from __future__ import annotations

import asyncio
import html
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from gdp_zero.analysis.figures import empty_figure
from gdp_zero.arena.figures import FIGURES
from gdp_zero.arena.leaderboard import Leaderboard, VotesError, leaderboard
from gdp_zero.arena.report import leaderboard_csv, report_html, unbounded_text
from gdp_zero.arena.rounds import ArenaRounds
from gdp_zero.arena.service import ArenaService
from gdp_zero.serving.limits import ClientLimits
from gdp_zero.serving.scratch import scratch_folder
from ui import chat_view
from ui.arena_round import RoundPage
from ui.arena_round_layout import round_layout

APP_ROUNDS = 400  # bootstrap resamples on the page (the offline report takes its own number)
# Left out of the votes a page may download: who voted (pseudonyms link one session's votes) and the round.
PRIVATE_VOTE_COLUMNS = ("voter", "battle")
INSTRUCTIONS = ("Two anonymous persuaders, **A** and **B**, answer each of your messages; you play the persuadee. When "
                "you have read enough, vote for the one that persuaded you better. Who they were is shown after your vote.")
BOARD_HEADERS = ["rank", "contestant", "rating", "lower_95", "upper_95", "battles", "finite"]


def board_figures(board: Leaderboard | None) -> list[Any]:
    if board is None:
        return [empty_figure("No votes yet.") for _ in FIGURES]
    return [figure(board) for _, figure in FIGURES]


def arena_tab(service: ArenaService | None, limits: ClientLimits, event_options: dict[str, Any]) -> Callable[[gr.Blocks], None]:
    """The Arena tab, inside the caller's `gr.Tabs`, when the app serves an arena (else nothing); returns the
    function that wires its events, called after the page's own events with the page's Blocks."""
    if service is None:
        return lambda demo: None
    with gr.Tab("Arena", id="arena-tab"):
        return build_tab(ArenaRounds(service, limits), event_options)


def build_tab(rounds: ArenaRounds, event_options: dict[str, Any]) -> Callable[[gr.Blocks], None]:
    """The tab's components; returns the function that wires its events (with the Blocks for its unload event)."""
    gr.Markdown(f"### {html.escape(rounds.service.arena.title)}\n{INSTRUCTIONS}")
    round_page = RoundPage(rounds, round_layout(), event_options)
    with gr.Accordion("Leaderboard", open=False, elem_id="arena-leaderboard-panel"):
        wire_board = leaderboard_panel(rounds.service, event_options, hidden_columns=PRIVATE_VOTE_COLUMNS)

    def wire_events(demo: gr.Blocks) -> None:
        round_page.wire(demo)
        wire_board(demo)

    return wire_events


def leaderboard_panel(service: ArenaService, event_options: dict[str, Any], *, hidden_columns: tuple[str, ...] = (),
                      on_load: bool = False) -> Callable[[gr.Blocks], None]:
    """The leaderboard (Bradley–Terry ratings with bootstrap intervals, the win-rate and battle figures) of the stored
    votes, with the report and the votes as downloads (without `hidden_columns`); returns the function that wires its
    events (`on_load`: it is computed when the page opens, too)."""
    downloads = scratch_folder("arena")
    with gr.Row():
        refresh = gr.Button("Refresh the leaderboard", elem_id="arena-refresh", size="sm")
        report_dl = gr.DownloadButton("Report (HTML)", elem_id="arena-report", size="sm", interactive=False)
        board_dl = gr.DownloadButton("Leaderboard (CSV)", elem_id="arena-board-csv", size="sm", interactive=False)
        votes_dl = gr.DownloadButton("Votes (CSV)", elem_id="arena-votes-csv", size="sm", interactive=False)
    board_note = gr.HTML("", elem_id="arena-board-note")
    board_table = gr.Dataframe(pd.DataFrame(columns=BOARD_HEADERS), elem_id="arena-leaderboard", interactive=False,
                               label="Bradley–Terry ratings, 95% bootstrap intervals")
    plots = [gr.Plot(elem_id=f"arena-plot-{key}") for key, _ in FIGURES]
    latest_files: list[Path] = []  # the last leaderboard's download folder; older ones are removed

    def computed_board() -> tuple[Leaderboard | None, pd.DataFrame, str]:
        try:
            votes = service.votes()
            board = leaderboard(votes, rounds=APP_ROUNDS, seed=0)
        except VotesError as error:
            return None, pd.DataFrame(), f"No leaderboard: {error}."
        return board, votes, unbounded_text(board)

    async def on_refresh() -> list[Any]:
        board, votes, note = await asyncio.to_thread(computed_board)
        if board is None:
            empty = gr.DownloadButton(value=None, interactive=False)
            return [chat_view.status_html(note, "hint"), pd.DataFrame(columns=BOARD_HEADERS), empty, empty, empty,
                    *board_figures(None)]
        # A new folder per version (Gradio caches downloads by path); Gradio copies a file when the
        # button gets it, so only the latest folder is kept.
        folder = Path(tempfile.mkdtemp(dir=downloads))
        shown_votes = votes[[c for c in votes.columns if c not in hidden_columns]]
        files = {"arena-report.html": report_html(board, service.arena.title),
                 "arena-leaderboard.csv": leaderboard_csv(board), "arena-votes.csv": shown_votes.to_csv(index=False)}
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
        for old in latest_files:
            shutil.rmtree(old, ignore_errors=True)
        latest_files[:] = [folder]
        shown = f"{board.votes} votes. {note}".strip()
        return [chat_view.status_html(shown, "hint" if note else "info"), board.table(),
                *[gr.DownloadButton(value=str(folder / name), interactive=True) for name in files],
                *board_figures(board)]

    def wire_events(demo: gr.Blocks) -> None:
        outputs = [board_note, board_table, report_dl, board_dl, votes_dl, *plots]
        refresh.click(on_refresh, outputs=outputs, **event_options)
        if on_load:
            demo.load(on_refresh, outputs=outputs, **event_options)

    return wire_events
