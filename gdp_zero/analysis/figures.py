"""Figures of the turn table (gdp_zero.analysis.table), each a function of it; one colour per act.

Every bar and cell says its n, and what it counts (`Counting`: the unit, and whole dialogues or
each up to the first agreement to donate). A round of the dialogue with fewer than
MIN_BAR_COUNT counts is not drawn, nor a transition row with fewer than MIN_TRANSITIONS: a
share of one turn would be drawn as a full bar.

`act_style(domain)` fixes every act's colour and order once: persuader strategies get distinct
colours, the catch-all act a light grey, persuadee acts a red-to-green scale by their value (as
the search tree colours Q), and acts the domain does not know (unmapped corpus labels, another
domain's acts) a dark grey, so they stand out instead of hiding in "other".
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import wraps
from typing import Any, Callable, TypeVar

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from gdp_zero.analysis.table import (
    DEFAULT_COUNTING,
    DONATED,
    NOT_DONATED,
    SPEAKER_NAMES,
    Counting,
)
from gdp_zero.domain import Domain
from gdp_zero.wording import plural

VALUE_COLORSCALE = "RdYlGn"  # red: the persuadee refuses (-1) ... green: donates (+1)
STRATEGY_PALETTE = px.colors.qualitative.Dark24
CATCH_ALL_COLOR = "#d1d5db"
UNKNOWN_COLOR = "#4b5563"
TEMPLATE = "plotly_white"
MIN_BAR_COUNT = 10  # a round's bar with fewer counts is not drawn
MIN_TRANSITIONS = 10  # a transition row (from one act) with fewer is left blank


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


# Columns whose text comes from the files read (act names, source labels): Plotly renders text as
# markup (<b>, <a href>), so a figure is drawn from a copy with these escaped; Plotly shows the
# entities as the characters they stand for.
LABEL_COLUMNS = ("source", "act", "acts", "sentence_acts")


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return html.escape(value, quote=False)
    if isinstance(value, (list, tuple)):
        return [_escaped(v) for v in value]
    return value


def labels_as_text(table: pd.DataFrame) -> pd.DataFrame:
    """The table with its act names and source labels escaped, so a figure shows them as text, not markup."""
    escaped = table.copy()
    for column in LABEL_COLUMNS:
        if column in escaped.columns:
            escaped[column] = escaped[column].map(_escaped)
    return escaped


Draw = TypeVar("Draw", bound=Callable[..., go.Figure])


def _labels_as_text(draw: Draw) -> Draw:
    """A figure function drawing from `labels_as_text(table)`."""
    @wraps(draw)
    def drawn(table: pd.DataFrame, *args: Any, **kwargs: Any) -> go.Figure:
        return draw(labels_as_text(table), *args, **kwargs)
    return drawn  # type: ignore[return-value]


def empty_figure(message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=html.escape(message, quote=False), showarrow=False, x=0.5, y=0.5,
                       xref="paper", yref="paper", font={"size": 14, "color": "#6b7280"})
    fig.update_layout(height=300, xaxis={"visible": False}, yaxis={"visible": False},
                      plot_bgcolor="white", paper_bgcolor="white", margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig


def _shares(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Counts per group and act, each act's share within its group, and the group's n (counts, dialogues)."""
    counts = rows.groupby(by + ["act"], observed=True).size().rename("count").reset_index()
    groups = rows.groupby(by, observed=True).agg(n=("act", "size"), dialogues=("dialogue", "nunique")).reset_index()
    counts = counts.merge(groups, on=by)
    counts["share"] = counts["count"] / counts["n"]
    return counts


def _n_text(n: int, dialogues: int, noun: str) -> str:
    return f"n = {n} {noun} · {plural(dialogues, 'dialogue')}"


def _top_segment_text(data: pd.DataFrame, by: list[str], order: list[str], noun: str) -> pd.Series:
    """The n of each stacked bar, written on its last (outermost) segment only."""
    rank = data["act"].map({act: i for i, act in enumerate(order)})
    last = rank == rank.groupby([data[c] for c in by]).transform("max")
    return data.apply(lambda r: _n_text(r["n"], r["dialogues"], noun), axis=1).where(last, "")


def _share_title(speaker: str, counting: Counting) -> str:
    return f"share of {SPEAKER_NAMES[speaker]} {counting.noun}"


def _sources(rows: pd.DataFrame) -> list[str]:
    return [s for s in rows["source"].cat.categories if s in set(rows["source"])]


@_labels_as_text
def share_figure(table: pd.DataFrame, style: ActStyle, speaker: str = "system", counting: Counting = DEFAULT_COUNTING) -> go.Figure:
    """Each source's acts as one 100% bar: the strategy distribution, sources one above the other, n beside each."""
    rows = counting.rows(table, speaker)
    if rows.empty:
        return empty_figure(f"No labelled {SPEAKER_NAMES[speaker]} turns.")
    data = _shares(rows, ["source"])
    sources = _sources(rows)
    fig = px.bar(
        data, y="source", x="share", color="act", orientation="h", template=TEMPLATE,
        category_orders={"act": style.ordered(data["act"]), "source": sources},
        color_discrete_map=style.color_map(data["act"]), hover_data={"count": True, "n": True, "share": ":.1%"},
    )
    totals = data.drop_duplicates("source").set_index("source")
    fig.update_yaxes(tickvals=sources, ticktext=[
        f"{html.escape(source, quote=False)}<br><sub>{_n_text(totals.at[source, 'n'], totals.at[source, 'dialogues'], counting.noun)}</sub>"
        for source in sources])
    # The legend goes under the bars: beside them it would leave a narrow screen no room for the bars.
    legend_rows = 1 + data["act"].nunique() // 3
    fig.update_layout(barmode="stack", xaxis_tickformat=".0%", height=200 + 70 * len(sources) + 22 * legend_rows,
                      legend={"title_text": f"{SPEAKER_NAMES[speaker]} act", "orientation": "h", "yanchor": "top",
                              "y": -0.12 - 0.3 / len(sources), "x": 0},
                      yaxis={"title": None, "automargin": True}, xaxis_title=_share_title(speaker, counting))
    return fig


@_labels_as_text
def side_by_side_figure(table: pd.DataFrame, style: ActStyle, speaker: str = "system", counting: Counting = DEFAULT_COUNTING) -> go.Figure:
    """One panel per source, one bar per act: the same acts at the same height in every panel; n in each title."""
    rows = counting.rows(table, speaker)
    if rows.empty:
        return empty_figure(f"No labelled {SPEAKER_NAMES[speaker]} turns.")
    data = _shares(rows, ["source"])
    order = style.ordered(data["act"])
    fig = px.bar(
        data, y="act", x="share", color="act", facet_col="source", orientation="h", template=TEMPLATE,
        category_orders={"act": order, "source": _sources(rows)}, color_discrete_map=style.color_map(data["act"]),
        hover_data={"count": True, "n": True, "share": ":.1%"}, text="count",
    )
    totals = data.drop_duplicates("source").set_index("source")
    titles = {source: f"{source}<br><sub>{_n_text(row['n'], row['dialogues'], counting.noun)}</sub>" for source, row in totals.iterrows()}
    fig.for_each_annotation(lambda a: a.update(text=titles.get(a.text.split("=", 1)[-1], a.text)))
    fig.update_traces(textposition="outside", cliponaxis=False)
    fig.update_xaxes(tickformat=".0%", title_text=_share_title(speaker, counting))
    fig.update_layout(showlegend=False, height=180 + 28 * len(order), yaxis_title=None)
    return fig


@_labels_as_text
def per_exchange_figure(table: pd.DataFrame, style: ActStyle, speaker: str = "system", counting: Counting = DEFAULT_COUNTING) -> go.Figure:
    """Stacked shares of each act at each round of the dialogue, one row of bars per source, n above each bar.
    Rounds with fewer than MIN_BAR_COUNT counts are left out (a share of one turn would be a full bar)."""
    rows = counting.rows(table, speaker)
    if rows.empty:
        return empty_figure(f"No labelled {SPEAKER_NAMES[speaker]} turns.")
    data = _shares(rows, ["source", "exchange"])
    hidden = data[data["n"] < MIN_BAR_COUNT].drop_duplicates(["source", "exchange"])
    data = data[data["n"] >= MIN_BAR_COUNT]
    if data.empty:
        return empty_figure(f"No round of any source has {MIN_BAR_COUNT} or more {SPEAKER_NAMES[speaker]} {counting.noun}.")
    sources = [s for s in _sources(rows) if s in set(data["source"])]
    order = style.ordered(data["act"])
    fig = make_subplots(rows=len(sources), cols=1, shared_xaxes=True, vertical_spacing=0.35 / len(sources),
                        subplot_titles=sources)
    for row, source in enumerate(sources, start=1):
        of_source = data[data["source"] == source]
        for act in order:
            bars = of_source[of_source["act"] == act]
            if bars.empty:
                continue
            fig.add_trace(go.Bar(
                x=bars["exchange"], y=bars["share"], name=act, legendgroup=act, showlegend=row == 1 or act not in
                set(data.loc[data["source"].isin(sources[:row - 1]), "act"]), marker_color=style.color(act),
                customdata=bars[["count", "n"]].to_numpy(),
                hovertemplate=f"round %{{x}}<br>{html.escape(act)}: %{{y:.1%}} (%{{customdata[0]}} of %{{customdata[1]}})<extra></extra>",
            ), row=row, col=1)
        totals = of_source.drop_duplicates("exchange")
        fig.add_trace(go.Scatter(
            x=totals["exchange"], y=[1.0] * len(totals), mode="text", text=[f"{n}" for n in totals["n"]],
            textposition="top center", textfont={"size": 10, "color": "#6b7280"}, showlegend=False, hoverinfo="skip",
        ), row=row, col=1)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.15], title_text=None)
    fig.update_xaxes(dtick=1)
    fig.update_xaxes(title_text=f"round (n above each bar: {SPEAKER_NAMES[speaker]} {counting.noun})", row=len(sources), col=1)
    caption = [f"Rounds with fewer than {MIN_BAR_COUNT} {counting.noun} are not drawn" + (":" if len(hidden) else ".")]
    for source, rounds in hidden.groupby("source", observed=True):
        caption.append(html.escape(f"{source}: " + ", ".join(f"round {r.exchange} (n = {r.n})" for r in rounds.itertuples()),
                                   quote=False))
    fig.add_annotation(text="<br>".join(caption), showarrow=False, xref="paper", yref="paper", align="left",
                       x=0, y=-0.35 / len(sources), xanchor="left", yanchor="top", font={"size": 11, "color": "#6b7280"})
    fig.update_layout(barmode="stack", template=TEMPLATE, height=180 + 220 * len(sources) + 16 * len(caption),
                      legend_title_text=f"{SPEAKER_NAMES[speaker]} act", margin={"b": 90 + 16 * len(caption)})
    return fig


@_labels_as_text
def transition_figure(table: pd.DataFrame, style: ActStyle, speaker: str = "system", counting: Counting = DEFAULT_COUNTING) -> go.Figure:
    """P(next act | this act) between a speaker's consecutive turns in a dialogue, one heatmap per source.
    Each cell shows its number of transitions; rows with fewer than MIN_TRANSITIONS are left blank.
    Transitions are between turns' acts whatever the counting unit (only its scope applies)."""
    rows = Counting("turn", counting.scope).rows(table, speaker).sort_values(["source", "dialogue", "turn"])
    following = rows.groupby(["source", "dialogue"], observed=True)["act"].shift(-1)
    pairs = rows.assign(next=following).dropna(subset=["next"])
    if pairs.empty:
        return empty_figure(f"No dialogue has two labelled {SPEAKER_NAMES[speaker]} turns.")
    sources = _sources(pairs)
    order = style.ordered(pd.concat([pairs["act"], pairs["next"]]))
    titles = [f"{source}<br><sub>n = {int((pairs['source'] == source).sum())} transitions</sub>" for source in sources]
    fig = make_subplots(rows=1, cols=len(sources), subplot_titles=titles, shared_yaxes=True, horizontal_spacing=0.04)
    for column, source in enumerate(sources, start=1):
        counts = pd.crosstab(pairs.loc[pairs["source"] == source, "act"], pairs.loc[pairs["source"] == source, "next"])
        counts = counts.reindex(index=order, columns=order, fill_value=0)
        totals = counts.sum(axis=1)
        probabilities = counts.div(totals.where(totals >= MIN_TRANSITIONS), axis=0)
        fig.add_trace(go.Heatmap(
            z=probabilities.to_numpy(), x=order, y=order, zmin=0, zmax=1, colorscale="Blues", name=source,
            customdata=counts.to_numpy(), showscale=column == len(sources), colorbar={"title": {"text": "P(next)"}},
            text=counts.where(probabilities.notna()).to_numpy(), texttemplate="%{text}", textfont={"size": 9},
            hovertemplate="%{y} → %{x}<br>P = %{z:.2f} (%{customdata} transitions)<extra>" + html.escape(source) + "</extra>",
        ), row=1, col=column)
        fig.update_xaxes(title_text="next act", tickangle=45, row=1, col=column)
    fig.update_yaxes(title_text=f"act (rows with fewer than {MIN_TRANSITIONS} transitions blank)", autorange="reversed", row=1, col=1)
    fig.update_layout(template=TEMPLATE, height=280 + 26 * len(order))
    return fig


@_labels_as_text
def outcome_figure(table: pd.DataFrame, style: ActStyle, speaker: str = "system", counting: Counting = DEFAULT_COUNTING) -> go.Figure:
    """Act shares in dialogues that ended in a donation and in those that did not, per source, n on each bar."""
    rows = counting.rows(table, speaker)
    rows = rows[rows["result"].isin([DONATED, NOT_DONATED])]
    if rows.empty:
        return empty_figure("No finished dialogue with a known outcome among the sources.")
    data = _shares(rows, ["source", "result"])
    order = style.ordered(data["act"])
    data["total"] = _top_segment_text(data, ["source", "result"], order, counting.noun).str.replace(" · ", "<br>")
    fig = px.bar(
        data, x="result", y="share", color="act", facet_col="source", template=TEMPLATE, text="total",
        category_orders={"act": order, "source": _sources(rows), "result": [DONATED, NOT_DONATED]},
        color_discrete_map=style.color_map(data["act"]),
        hover_data={"count": True, "n": True, "dialogues": True, "share": ":.1%", "total": False},
    )
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
    fig.update_traces(textposition="outside", cliponaxis=False, textfont={"size": 10})
    fig.update_yaxes(tickformat=".0%", title_text=None, range=[0, 1.2], tickvals=[0, 0.2, 0.4, 0.6, 0.8, 1])
    fig.update_yaxes(title_text=_share_title(speaker, counting), col=1)
    fig.update_xaxes(title_text=None)
    fig.update_layout(barmode="stack", height=500, legend_title_text=f"{SPEAKER_NAMES[speaker]} act")
    return fig


@_labels_as_text
def success_by_round_figure(table: pd.DataFrame, style: ActStyle, speaker: str = "system",
                            counting: Counting = DEFAULT_COUNTING) -> go.Figure:
    """Share of each source's dialogues whose persuadee had agreed to donate (its first donation act) by round k.

    One definition for every source: in self-play the first agreement ends the dialogue (its
    success); in P4G it need not (people talk on, and the real donation is asked after the chat)."""
    dialogues = table.drop_duplicates(["source", "dialogue"])
    if dialogues.empty:
        return empty_figure("No dialogues.")
    last = int(table["exchange"].max())
    steps = list(range(1, last + 1))
    fig = go.Figure()
    for source in _sources(dialogues):
        agreed_at = dialogues.loc[dialogues["source"] == source, "agreed_at"]
        n = len(agreed_at)
        reached = [int((agreed_at <= k).sum()) for k in steps]  # a missing round (never agreed) is never <= k
        fig.add_trace(go.Scatter(
            x=steps, y=[r / n for r in reached], mode="lines+markers", name=f"{source} (n = {plural(n, 'dialogue')})",
            line_shape="hv", customdata=reached,
            hovertemplate="by round %{x}: %{y:.1%} (%{customdata} of " + str(n) + ")<extra></extra>",
        ))
    fig.update_layout(template=TEMPLATE, height=380, yaxis_tickformat=".0%", yaxis_range=[0, 1.02],
                      xaxis_title="round (persuader turns)", yaxis_title="share of dialogues agreed to donate by then",
                      legend={"orientation": "h", "y": -0.25})
    fig.update_xaxes(dtick=1)
    return fig


DrawFigure = Callable[[pd.DataFrame, ActStyle, str, Counting], go.Figure]

# (key, title, function, speaker): what the Strategies tab and the report draw, in this order.
FIGURES: tuple[tuple[str, str, DrawFigure, str], ...] = (
    ("share", "Share of each persuader act", share_figure, "system"),
    ("side-by-side", "Persuader acts, sources side by side", side_by_side_figure, "system"),
    ("per-exchange", "Persuader acts by round of the dialogue", per_exchange_figure, "system"),
    ("transitions", "Persuader act → next persuader act", transition_figure, "system"),
    ("outcome", "Persuader acts in dialogues that ended in a donation, and in those that did not", outcome_figure, "system"),
    ("success-by-round", "Dialogues whose persuadee had agreed to donate, by round", success_by_round_figure, "system"),
    ("user-share", "Share of each persuadee act", share_figure, "user"),
)
