"""The arena's leaderboard as one self-contained HTML file (Plotly inline: it opens offline) and as CSV."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from gdp_zero.analysis.report import STYLE
from gdp_zero.arena.figures import FIGURES
from gdp_zero.arena.leaderboard import CONFIDENCE, RATING_BOUND, Leaderboard
from gdp_zero.records import app_version, now_iso


def method_text(board: Leaderboard) -> str:
    return (
        f"Each vote compares two contestants shown as A and B. Ratings are Bradley–Terry strengths fitted by maximum "
        f"likelihood on all {board.votes} votes, on the Elo scale (a 400-point lead means 10 to 1 odds of winning) and "
        "centred on 1000. Ties and \"both bad\" count as half a win for each side, as in Chatbot Arena's elo_analysis "
        f"(a win is weighted 2, a tie 1 for each side). The {CONFIDENCE:.0%} intervals are the 2.5th and 97.5th "
        f"percentiles of the ratings refitted on {board.rounds} resamples of the votes drawn with replacement "
        f"(seed {board.seed}: the same seed gives the same intervals). The unit resampled is the vote."
    )


def unbounded_text(board: Leaderboard) -> str:
    if not board.separated:
        return ""
    groups = " | ".join(", ".join(group) for group in board.separated)
    return (f"No finite ratings yet: the votes split the contestants into groups ({groups}) and one group has never "
            f"lost (or never won) against another. Ratings are shown at most {RATING_BOUND:g} points from the mean; "
            "more votes are needed.")


def leaderboard_csv(board: Leaderboard) -> str:
    return board.table().to_csv(index=False)


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, escape=True, classes="data", border=0)


def report_html(board: Leaderboard, title: str) -> str:
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)} · arena leaderboard</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}: leaderboard</h1>",
        f"<p class='meta'>{board.votes} votes · written {html.escape(now_iso())} by gdp-zero {html.escape(app_version())}</p>",
        "<h2>Ratings</h2>", f"<div id='leaderboard'>{_table(board.table())}</div>",
    ]
    note = unbounded_text(board)
    if note:
        parts.append(f"<p class='note' id='unbounded'>{html.escape(note)}</p>")
    for number, (key, figure) in enumerate(FIGURES):
        div = figure(board).to_html(full_html=False, include_plotlyjs=number == 0, div_id=f"figure-{key}",
                                    config={"displaylogo": False, "responsive": True})
        parts.append(f"<section class='figure'>{div}</section>")
    parts += ["<h2>Method</h2>", f"<p>{html.escape(method_text(board))}</p>", "</body></html>"]
    return "\n".join(parts)


def write_report(path: str | Path, board: Leaderboard, title: str) -> Path:
    """The HTML report at `path`, and the leaderboard as CSV beside it (same name, .csv)."""
    path = Path(path)
    path.write_text(report_html(board, title), encoding="utf-8")
    path.with_suffix(".csv").write_text(leaderboard_csv(board), encoding="utf-8")
    return path
