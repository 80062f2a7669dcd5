"""Figures of the turn table (gdp_zero.analysis.table), each a function of it; one colour per act.

Every bar and cell says its n, and what it counts (`Counting`: the unit, and whole dialogues or
each up to the first agreement to donate). A round of the dialogue with fewer than
MIN_BAR_COUNT counts is not drawn, nor a transition row with fewer than MIN_TRANSITIONS: a
share of one turn would be drawn as a full bar.

`act_style(domain)` fixes every act's colour and order once: persuader strategies get distinct
colours, the catch-all act a light grey, persuadee acts a red-to-green scale by their value (as
the search tree colours Q), and acts the domain does not know (unmapped corpus labels, another
domain's acts) a dark grey, so they stand out instead of hiding in "other".

Every figure reads on a 420 px phone as on a wide screen, without knowing which: the key of act
colours sits under the plot in two columns, in a bottom margin sized for its rows (`_act_key`),
so it can never run into the bars; long names are wrapped, in the key and on axes; no text is
smaller than 10 px; source names and their n sit above their bars, not in a left margin that
would leave a phone no room for the bars.
"""

from __future__ import annotations

import html
import textwrap
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
# Twelve colours at least 23 apart (CIEDE2000) from each other and from the two greys below: picked by
# a max-min search over a CIE LCh grid, readable on white. Plotly's Dark24 gave foot in the door and
# proposition of donation two magentas 9 apart. A domain with more strategies gets Dark24's after these.
STRATEGY_PALETTE = ("#47A2F7", "#F47D11", "#9F2110", "#66900B", "#AF92CE", "#625117",
                    "#D9B637", "#7B3D66", "#43AE9D", "#F9A1A4", "#025F3E", "#F12B9E",
                    *px.colors.qualitative.Dark24)
CATCH_ALL_COLOR = "#d1d5db"
UNKNOWN_COLOR = "#4b5563"
TEMPLATE = "plotly_white"
MIN_BAR_COUNT = 10  # a round's bar with fewer counts is not drawn
MIN_TRANSITIONS = 10  # a transition row (from one act) with fewer is left blank
TRANSITIONS_MIN_WIDTH_PX = 900  # a 13 x 13 grid per source: a narrower screen scrolls the heatmaps sideways
TOP_SPACE = 70  # px over the plot: the web tab draws each figure's name over its top edge
SMALL_FONT = 11  # px: n lines, captions and the key; nothing is drawn smaller than 10
KEY_WRAP = 18  # characters per line of a key entry: two columns of them fit a plot area 300 px wide (a 420 px screen)
KEY_LINE = 15  # px per line of a key entry, and KEY_GAP between rows
KEY_GAP = 6
AXIS_SPACE = 64  # px under the plot for the x tick labels and a one-line axis title


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


def _small(text: str) -> str:
    """Secondary text (an n, a note) at SMALL_FONT: Plotly draws <sub> at 70% of 12 px, too small to read."""
    return f"<span style='font-size:{SMALL_FONT}px'>{text}</span>"


def _wrap(text: str, width: int) -> str:
    """Text already escaped for Plotly, broken into lines of about `width` characters as shown (entities count
    as the one character they stand for) at spaces and hyphens."""
    lines = textwrap.wrap(html.unescape(text), width, break_long_words=False)
    return "<br>".join(html.escape(line, quote=False) for line in lines) or text


def _caption(fig: go.Figure, text: str, below: int = 28) -> int:
    """A line or two under the plot area, `below` px down (under the tick labels), wrapped for a phone;
    returns the px it takes, for the key under it."""
    wrapped = _wrap(text, 56)
    # Ending at the plot area's right edge, spreading left into the labels' margin: centred on the plot area,
    # a line ran past the figure's right edge where labels push the plot area right (side-by-side bars, 420 px).
    fig.add_annotation(text=wrapped, x=1, xref="paper", xanchor="right", align="left", y=0, yref="paper", yanchor="top",
                       yshift=-below, showarrow=False, font={"size": SMALL_FONT})
    return below + 16 * (wrapped.count("<br>") + 1)


def _act_key(fig: go.Figure, acts: list[str], style: ActStyle, title: str, space_above: int = AXIS_SPACE) -> None:
    """The colour of each act, as a key of two columns under the plot, in a bottom margin made for it.

    The bars' own traces leave the legend; one legend-only entry per act stands for them (same
    legendgroup, so a click still hides or shows that act everywhere), its name wrapped at
    KEY_WRAP characters. Columns are half the plot area's width (Plotly's measure for a key under
    it: a figure keeps its left and right margins small so they fit) and the key is anchored to the
    figure's bottom edge, so its height is the same on every screen and the figure grows by it."""
    for trace in fig.data:
        trace.showlegend = False
    names = [_wrap(act, KEY_WRAP) for act in acts]
    for act, name in zip(acts, names):
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name, legendgroup=act, hoverinfo="skip",
                                 marker={"symbol": "square", "size": 11, "color": style.color(act)}))
    rows = [max(name.count("<br>") + 1 for name in names[i:i + 2]) for i in range(0, len(names), 2)]
    height = KEY_LINE * (sum(rows) + 1) + KEY_GAP * len(rows) + 12  # the rows, the title line, padding
    fig.update_layout(
        height=(fig.layout.height or 450) + height, margin={"b": space_above + height},
        legend={"title": {"text": title, "side": "top"}, "orientation": "h", "traceorder": "normal",
                "entrywidthmode": "fraction", "entrywidth": 0.5, "font": {"size": SMALL_FONT}, "indentation": -10,
                "x": 0, "xanchor": "left", "yref": "container", "y": 0, "yanchor": "bottom", "tracegroupgap": 0},
    )


def _top_segment_text(data: pd.DataFrame, by: list[str], order: list[str]) -> pd.Series:
    """The n of each stacked bar and its dialogues, in two short lines on its last (outermost) segment only;
    the axis title says what n counts."""
    rank = data["act"].map({act: i for i, act in enumerate(order)})
    last = rank == rank.groupby([data[c] for c in by]).transform("max")
    return data.apply(lambda r: f"n = {r['n']}<br>{plural(r['dialogues'], 'dialogue')}", axis=1).where(last, "")


def _share_title(speaker: str, counting: Counting) -> str:
    return f"share of {SPEAKER_NAMES[speaker]} {counting.noun}"


def _sources(rows: pd.DataFrame) -> list[str]:
    return [s for s in rows["source"].cat.categories if s in set(rows["source"])]


@_labels_as_text
def share_figure(table: pd.DataFrame, style: ActStyle, speaker: str = "system", counting: Counting = DEFAULT_COUNTING) -> go.Figure:
    """Each source's acts as one 100% bar: the strategy distribution, sources one above the other, each
    bar's source and n written above it."""
    rows = counting.rows(table, speaker)
    if rows.empty:
        return empty_figure(f"No labelled {SPEAKER_NAMES[speaker]} turns.")
    data = _shares(rows, ["source"])
    sources = _sources(rows)
    order = style.ordered(data["act"])
    fig = px.bar(
        data, y="source", x="share", color="act", orientation="h", template=TEMPLATE,
        category_orders={"act": order, "source": sources},
        color_discrete_map=style.color_map(data["act"]), hover_data={"count": True, "n": True, "share": ":.1%"},
    )
    totals = data.drop_duplicates("source").set_index("source")
    # Above each bar (the axis runs top-down, a bar spans its index ± 0.25): on a phone a left margin
    # holding these would squeeze the bars to a sliver.
    for index, source in enumerate(sources):
        fig.add_annotation(
            text=f"{source}<br>{_small(_n_text(totals.at[source, 'n'], totals.at[source, 'dialogues'], counting.noun))}",
            x=0, xref="paper", xanchor="left", y=index - 0.27, yref="y", yanchor="bottom", align="left",
            showarrow=False, font={"size": 12})
    fig.update_layout(barmode="stack", bargap=0.5, xaxis_tickformat=".0%", height=TOP_SPACE + 50 + 110 * len(sources),
                      margin={"l": 10, "r": 20, "t": TOP_SPACE}, xaxis_title=_share_title(speaker, counting),
                      yaxis={"title": None, "showticklabels": False, "autorange": "reversed"})
    _act_key(fig, order, style, f"{SPEAKER_NAMES[speaker]} act")
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
    # Each title in short lines: panels are narrow on a phone.
    titles = {source: _wrap(source, 18) + "<br>" + _small(f"n = {row.n}<br>" + plural(row.dialogues, "dialogue"))
              for source, row in totals.iterrows()}
    fig.for_each_annotation(lambda a: a.update(text=titles.get(a.text.split("=", 1)[-1], a.text), font={"size": 12}))
    # Not shrunk to the bar's size: Plotly would draw a thin bar's count at a few px.
    fig.update_traces(textposition="outside", cliponaxis=False, textfont={"size": SMALL_FONT}, constraintext="none")
    # Room right of the longest bar for its count, so it stays inside its panel; three ticks fit a narrow one.
    fig.update_xaxes(tickformat=".0%", title_text=None, autorangeoptions={"include": [0, float(data["share"].max()) * 1.3]},
                     nticks=4)
    fig.update_yaxes(labelalias={act: _wrap(act, 16) for act in order}, title_text=None)
    below = _caption(fig, f"{_share_title(speaker, counting)} (the count beside each bar; n above each panel)")
    fig.update_layout(showlegend=False, height=TOP_SPACE + 160 + 30 * len(order), margin={"t": TOP_SPACE + 50, "b": below + 8, "r": 10})
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
                x=bars["exchange"], y=bars["share"], name=act, legendgroup=act, marker_color=style.color(act),
                customdata=bars[["count", "n"]].to_numpy(),
                hovertemplate=f"round %{{x}}<br>{html.escape(act)}: %{{y:.1%}} (%{{customdata[0]}} of %{{customdata[1]}})<extra></extra>",
            ), row=row, col=1)
        totals = of_source.drop_duplicates("exchange")
        fig.add_trace(go.Scatter(
            x=totals["exchange"], y=[1.0] * len(totals), mode="text", text=[f"{n}" for n in totals["n"]],
            textposition="top center", textfont={"size": 10, "color": "#4b5563"}, showlegend=False, hoverinfo="skip",
        ), row=row, col=1)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.15], title_text=None)
    fig.update_xaxes(dtick=1)
    fig.update_xaxes(title_text=_wrap(f"round (n above each bar: {SPEAKER_NAMES[speaker]} {counting.noun})", 40),
                     row=len(sources), col=1)
    caption = [f"Rounds with fewer than {MIN_BAR_COUNT} {counting.noun} are not drawn" + (":" if len(hidden) else ".")]
    for source, rounds in hidden.groupby("source", observed=True):  # `source` is escaped already, as the table is
        caption.append(f"{source}: " + ", ".join(f"round {r.exchange} (n = {r.n})" for r in rounds.itertuples()))
    lines = "<br>".join(_wrap(line, 55) for line in caption)
    # Under the axis title (two lines), above the key: in the bottom margin, whatever the plot's height.
    below_axis = AXIS_SPACE + 20
    fig.add_annotation(text=lines, showarrow=False, xref="paper", yref="paper", align="left", x=0, y=0, xanchor="left",
                       yanchor="top", yshift=-below_axis, font={"size": SMALL_FONT, "color": "#6b7280"})
    fig.update_layout(barmode="stack", template=TEMPLATE, height=TOP_SPACE + 150 + 220 * len(sources), margin={"l": 50, "r": 10, "t": TOP_SPACE + 20})
    _act_key(fig, order, style, f"{SPEAKER_NAMES[speaker]} act", space_above=below_axis + 16 * (lines.count("<br>") + 1) + 8)
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
    titles = [f"{source}<br>{_small(f'n = {int((pairs.source == source).sum())} transitions')}" for source in sources]
    fig = make_subplots(rows=1, cols=len(sources), subplot_titles=titles, shared_yaxes=True, horizontal_spacing=0.04)
    for column, source in enumerate(sources, start=1):
        counts = pd.crosstab(pairs.loc[pairs["source"] == source, "act"], pairs.loc[pairs["source"] == source, "next"])
        counts = counts.reindex(index=order, columns=order, fill_value=0)
        totals = counts.sum(axis=1)
        probabilities = counts.div(totals.where(totals >= MIN_TRANSITIONS), axis=0)
        fig.add_trace(go.Heatmap(
            z=probabilities.to_numpy(), x=order, y=order, zmin=0, zmax=1, colorscale="Blues", name=source,
            customdata=counts.to_numpy(), showscale=column == len(sources), colorbar={"title": {"text": "P(next)"}},
            text=counts.where(probabilities.notna()).to_numpy(), texttemplate="%{text}", textfont={"size": 10},
            hovertemplate="%{y} → %{x}<br>P = %{z:.2f} (%{customdata} transitions)<extra>" + html.escape(source) + "</extra>",
        ), row=1, col=column)
        fig.update_xaxes(title_text="next act", tickangle=45, row=1, col=column)
    fig.update_yaxes(title_text=_wrap(f"act (rows with fewer than {MIN_TRANSITIONS} transitions blank)", 30), autorange="reversed",
                     row=1, col=1)
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
    data["total"] = _top_segment_text(data, ["source", "result"], order)
    fig = px.bar(
        data, x="result", y="share", color="act", facet_col="source", template=TEMPLATE, text="total",
        category_orders={"act": order, "source": _sources(rows), "result": [DONATED, NOT_DONATED]},
        color_discrete_map=style.color_map(data["act"]),
        hover_data={"count": True, "n": True, "dialogues": True, "share": ":.1%", "total": False},
    )
    fig.for_each_annotation(lambda a: a.update(text=_wrap(a.text.split("=", 1)[-1], 18)))
    fig.update_traces(textposition="outside", cliponaxis=False, textfont={"size": SMALL_FONT}, constraintext="none")
    fig.update_yaxes(tickformat=".0%", title_text=None, range=[0, 1.2], tickvals=[0, 0.2, 0.4, 0.6, 0.8, 1])
    fig.update_xaxes(title_text=None)
    fig.update_layout(barmode="stack", height=TOP_SPACE + 420, margin={"l": 45, "r": 10, "t": TOP_SPACE + 40})
    # The axis title goes under the plot: beside it, it would narrow the plot area the key's columns are cut from.
    below = _caption(fig, f"{_share_title(speaker, counting)} (n above each bar)")
    _act_key(fig, order, style, f"{SPEAKER_NAMES[speaker]} act", space_above=below + 10)
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
            x=steps, y=[r / n for r in reached], mode="lines+markers", name=_wrap(f"{source} (n = {plural(n, 'dialogue')})", 44),
            line_shape="hv", customdata=reached,
            hovertemplate="by round %{x}: %{y:.1%} (%{customdata} of " + str(n) + ")<extra></extra>",
        ))
    lines = sum(trace.name.count("<br>") + 1 for trace in fig.data)
    key = KEY_LINE * lines + KEY_GAP * len(fig.data) + 12
    # One source a line under the plot, in a bottom margin made for them: no overlap at any width.
    fig.update_layout(template=TEMPLATE, height=TOP_SPACE + 350 + key, yaxis_tickformat=".0%", yaxis_range=[0, 1.02],
                      xaxis_title="round (persuader turns)", yaxis_title=_wrap("share of dialogues agreed to donate by then", 30),
                      margin={"l": 70, "r": 10, "t": TOP_SPACE, "b": AXIS_SPACE + key},
                      legend={"orientation": "v", "x": 0, "xanchor": "left", "yref": "container", "y": 0, "yanchor": "bottom",
                              "font": {"size": SMALL_FONT}},
                      showlegend=True)  # the key holds each source's n: shown for one source too (Plotly hides a lone entry)
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
