"""Figures of the turn table (gdp_zero.analysis.table), each a function of it; one colour per act.

`act_style(domain)` fixes every act's colour and order once: persuader strategies get distinct
colours, the catch-all act a light grey, persuadee acts a red-to-green scale by their value (as
the search tree colours Q), and acts the domain does not know (unmapped corpus labels, another
domain's acts) a dark grey, so they stand out instead of hiding in "other".
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Callable

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from gdp_zero.analysis.table import DONATED, NOT_DONATED, SPEAKER_NAMES
from gdp_zero.domain import Domain
from gdp_zero.p4g import UNLABELLED

VALUE_COLORSCALE = "RdYlGn"  # red: the persuadee refuses (-1) ... green: donates (+1)
STRATEGY_PALETTE = px.colors.qualitative.Dark24
CATCH_ALL_COLOR = "#d1d5db"
UNKNOWN_COLOR = "#4b5563"
TEMPLATE = "plotly_white"


@dataclass(frozen=True)
class ActStyle:
    colors: dict[str, str]
    order: tuple[str, ...]  # the domain's acts, persuader first

    def color(self, act: str) -> str:
        return self.colors.get(act, UNKNOWN_COLOR)

    def ordered(self, acts: pd.Series | list[str]) -> list[str]:
        """The acts present, in the domain's order, then unknown ones alphabetically."""
        present = set(acts)
        return [a for a in self.order if a in present] + sorted(present - set(self.order))

    def color_map(self, acts: pd.Series | list[str]) -> dict[str, str]:
        return {act: self.color(act) for act in self.ordered(acts)}


def act_style(domain: Domain) -> ActStyle:
    strategies = [a for a in domain.system_act_names if a != domain.fallback_system_act]
    colors = dict(zip(strategies, STRATEGY_PALETTE))
    colors[domain.fallback_system_act] = CATCH_ALL_COLOR
    for act in domain.user_acts:
        colors[act.name] = sample_colorscale(VALUE_COLORSCALE, [(act.value + 1) / 2])[0]
    return ActStyle(colors, domain.system_act_names + domain.user_act_names)


def empty_figure(message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=html.escape(message, quote=False), showarrow=False, x=0.5, y=0.5,
                       xref="paper", yref="paper", font={"size": 14, "color": "#6b7280"})
    fig.update_layout(height=300, xaxis={"visible": False}, yaxis={"visible": False},
                      plot_bgcolor="white", paper_bgcolor="white", margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig


def labelled_turns(table: pd.DataFrame, speaker: str) -> pd.DataFrame:
    return table[(table["speaker"] == speaker) & (table["act"] != UNLABELLED)]


def _shares(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Turns per group and act, and each act's share within its group."""
    counts = rows.groupby(by + ["act"], observed=True).size().rename("turns").reset_index()
    counts["share"] = counts["turns"] / counts.groupby(by, observed=True)["turns"].transform("sum")
    return counts


def _sources(rows: pd.DataFrame) -> list[str]:
    return [s for s in rows["source"].cat.categories if s in set(rows["source"])]


def share_figure(table: pd.DataFrame, style: ActStyle, speaker: str = "system") -> go.Figure:
    """Each source's acts as one 100% bar: the strategy distribution, sources one above the other."""
    rows = labelled_turns(table, speaker)
    if rows.empty:
        return empty_figure(f"No labelled {SPEAKER_NAMES[speaker]} turns.")
    data = _shares(rows, ["source"])
    fig = px.bar(
        data, y="source", x="share", color="act", orientation="h", template=TEMPLATE,
        category_orders={"act": style.ordered(data["act"]), "source": _sources(rows)},
        color_discrete_map=style.color_map(data["act"]), hover_data={"turns": True, "share": ":.1%"},
    )
    legend_height = 120 + 24 * data["act"].nunique()  # a legend taller than the plot would scroll
    fig.update_layout(barmode="stack", xaxis_tickformat=".0%", height=max(180 + 60 * data["source"].nunique(), legend_height),
                      legend_title_text=f"{SPEAKER_NAMES[speaker]} act", yaxis_title=None, xaxis_title="share of turns")
    return fig


def side_by_side_figure(table: pd.DataFrame, style: ActStyle, speaker: str = "system") -> go.Figure:
    """One panel per source, one bar per act: the same acts at the same height in every panel."""
    rows = labelled_turns(table, speaker)
    if rows.empty:
        return empty_figure(f"No labelled {SPEAKER_NAMES[speaker]} turns.")
    data = _shares(rows, ["source"])
    order = style.ordered(data["act"])
    fig = px.bar(
        data, y="act", x="share", color="act", facet_col="source", orientation="h", template=TEMPLATE,
        category_orders={"act": order, "source": _sources(rows)}, color_discrete_map=style.color_map(data["act"]),
        hover_data={"turns": True, "share": ":.1%"},
    )
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
    fig.update_xaxes(tickformat=".0%", title_text="share of turns")
    fig.update_layout(showlegend=False, height=160 + 28 * len(order), yaxis_title=None)
    return fig


def per_exchange_figure(table: pd.DataFrame, style: ActStyle, speaker: str = "system") -> go.Figure:
    """Stacked shares of each act at each round of the dialogue, one row of bars per source."""
    rows = labelled_turns(table, speaker)
    if rows.empty:
        return empty_figure(f"No labelled {SPEAKER_NAMES[speaker]} turns.")
    data = _shares(rows, ["source", "exchange"])
    sources = _sources(rows)
    fig = px.bar(
        data, x="exchange", y="share", color="act", facet_row="source", template=TEMPLATE,
        category_orders={"act": style.ordered(data["act"]), "source": sources},
        color_discrete_map=style.color_map(data["act"]), hover_data={"turns": True, "share": ":.1%"},
    )
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
    fig.update_yaxes(tickformat=".0%", title_text=None)
    fig.update_xaxes(dtick=1)
    fig.update_layout(barmode="stack", height=140 + 220 * len(sources), legend_title_text=f"{SPEAKER_NAMES[speaker]} act")
    return fig


def transition_figure(table: pd.DataFrame, style: ActStyle, speaker: str = "system") -> go.Figure:
    """P(next act | this act) between a speaker's consecutive turns in a dialogue, one heatmap per source."""
    rows = labelled_turns(table, speaker).sort_values(["source", "dialogue", "turn"])
    following = rows.groupby(["source", "dialogue"], observed=True)["act"].shift(-1)
    pairs = rows.assign(next=following).dropna(subset=["next"])
    if pairs.empty:
        return empty_figure(f"No dialogue has two labelled {SPEAKER_NAMES[speaker]} turns.")
    sources = _sources(pairs)
    order = style.ordered(pd.concat([pairs["act"], pairs["next"]]))
    fig = make_subplots(rows=1, cols=len(sources), subplot_titles=sources, shared_yaxes=True, horizontal_spacing=0.04)
    for column, source in enumerate(sources, start=1):
        counts = pd.crosstab(pairs.loc[pairs["source"] == source, "act"], pairs.loc[pairs["source"] == source, "next"])
        counts = counts.reindex(index=order, columns=order, fill_value=0)
        totals = counts.sum(axis=1)
        probabilities = counts.div(totals.where(totals > 0), axis=0)
        fig.add_trace(go.Heatmap(
            z=probabilities.to_numpy(), x=order, y=order, zmin=0, zmax=1, colorscale="Blues", name=source,
            customdata=counts.to_numpy(), showscale=column == len(sources), colorbar={"title": {"text": "P(next)"}},
            hovertemplate="%{y} → %{x}<br>P = %{z:.2f} (%{customdata} transitions)<extra>" + html.escape(source) + "</extra>",
        ), row=1, col=column)
        fig.update_xaxes(title_text="next act", tickangle=45, row=1, col=column)
    fig.update_yaxes(title_text="act", autorange="reversed", row=1, col=1)
    fig.update_layout(template=TEMPLATE, height=260 + 26 * len(order))
    return fig


def outcome_figure(table: pd.DataFrame, style: ActStyle, speaker: str = "system") -> go.Figure:
    """Act shares in dialogues that ended in a donation and in those that did not, per source."""
    rows = labelled_turns(table, speaker)
    rows = rows[rows["result"].isin([DONATED, NOT_DONATED])]
    if rows.empty:
        return empty_figure("No finished dialogue with a known outcome among the sources.")
    data = _shares(rows, ["source", "result"])
    dialogues = rows.groupby(["source", "result"], observed=True)["dialogue"].nunique().rename("dialogues").reset_index()
    data = data.merge(dialogues, on=["source", "result"])
    fig = px.bar(
        data, x="result", y="share", color="act", facet_col="source", template=TEMPLATE,
        category_orders={"act": style.ordered(data["act"]), "source": _sources(rows), "result": [DONATED, NOT_DONATED]},
        color_discrete_map=style.color_map(data["act"]), hover_data={"turns": True, "dialogues": True, "share": ":.1%"},
    )
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
    fig.update_yaxes(tickformat=".0%", title_text=None)
    fig.update_xaxes(title_text=None)
    fig.update_layout(barmode="stack", height=480, legend_title_text=f"{SPEAKER_NAMES[speaker]} act")
    return fig


DrawFigure = Callable[[pd.DataFrame, ActStyle, str], go.Figure]

# (key, title, function, speaker): what the Strategies tab and the report draw, in this order.
FIGURES: tuple[tuple[str, str, DrawFigure, str], ...] = (
    ("share", "Share of each persuader act", share_figure, "system"),
    ("side-by-side", "Persuader acts, sources side by side", side_by_side_figure, "system"),
    ("per-exchange", "Persuader acts by round of the dialogue", per_exchange_figure, "system"),
    ("transitions", "Persuader act → next persuader act", transition_figure, "system"),
    ("outcome", "Persuader acts in dialogues that ended in a donation, and in those that did not", outcome_figure, "system"),
    ("user-share", "Share of each persuadee act", share_figure, "user"),
)
