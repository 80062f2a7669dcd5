"""The leaderboard's figures, each a function of a `Leaderboard`: ratings with intervals, win rates, battles."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from gdp_zero.arena.leaderboard import CONFIDENCE, Leaderboard

TEMPLATE = "plotly_white"


def _order(board: Leaderboard) -> list[str]:
    """Contestants best first."""
    return [board.names[i] for i in np.argsort(-board.ratings, kind="stable")]


def ratings_figure(board: Leaderboard) -> go.Figure:
    table = board.table()
    figure = go.Figure(go.Scatter(
        x=table["contestant"], y=table["rating"], mode="markers",
        error_y={"type": "data", "symmetric": False, "array": table["upper_95"] - table["rating"],
                 "arrayminus": table["rating"] - table["lower_95"]},
        customdata=table[["lower_95", "upper_95", "battles"]],
        hovertemplate="%{x}: %{y:.0f} (95%% interval %{customdata[0]:.0f} to %{customdata[1]:.0f}), "
                      "%{customdata[2]} battles<extra></extra>",
        marker={"size": 10},
    ))
    figure.update_layout(
        template=TEMPLATE, height=380, margin={"l": 60, "r": 20, "t": 60, "b": 80},
        title=f"Bradley–Terry ratings with {CONFIDENCE:.0%} bootstrap intervals ({board.votes} votes, "
              f"{board.rounds} resamples, seed {board.seed})",
        yaxis_title="rating (Elo scale, mean 1000)",
    )
    return figure


def _matrix_figure(values: np.ndarray, order: list[str], title: str, text: list[list[str]], colorscale: str,
                   zrange: tuple[float, float] | None) -> go.Figure:
    figure = go.Figure(go.Heatmap(
        z=values, x=order, y=order, text=text, texttemplate="%{text}", colorscale=colorscale,
        zmin=zrange[0] if zrange else None, zmax=zrange[1] if zrange else None,
        hovertemplate="%{y} against %{x}: %{text}<extra></extra>",
    ))
    figure.update_layout(template=TEMPLATE, height=120 + 60 * len(order), title=title,
                         xaxis={"title": "column contestant", "side": "bottom"},
                         yaxis={"title": "row contestant", "autorange": "reversed"},
                         margin={"l": 120, "r": 20, "t": 60, "b": 80})
    return figure


def win_rate_figure(board: Leaderboard) -> go.Figure:
    order = _order(board)
    rates = board.win_rate.loc[order, order].to_numpy()
    battles = board.battles.loc[order, order].to_numpy()
    text = [[f"{r:.0%} of {n}" if n else "" for r, n in zip(row, counts)] for row, counts in zip(rates, battles)]
    return _matrix_figure(rates, order, "How often the row contestant beat the column one (a tie counts half)",
                          text, "RdBu", (0.0, 1.0))


def battles_figure(board: Leaderboard) -> go.Figure:
    order = _order(board)
    counts = board.battles.loc[order, order].to_numpy()
    text = [[str(int(n)) if n else "" for n in row] for row in counts]
    return _matrix_figure(counts.astype(float), order, "Battles (votes) per pair", text, "Blues", None)


FIGURES = (
    ("ratings", ratings_figure),
    ("win-rate", win_rate_figure),
    ("battles", battles_figure),
)
