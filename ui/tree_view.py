"""The search tree of one planned turn, drawn and tabulated: pure functions of the tree dict.

The tree dict is `PlannerTurn.tree` (see `gdp_zero.mcts.tree`): nodes keyed by the act sequence
from the root, each with its visits N(s), value V(s), the prior P(a|s), N(s,a) and Q(s,a) of its
acts, its stored realizations and its expanded children. Nothing here talks to Gradio, so the
figure and the tables are unit-tested directly.

Every string that can come from a person or an LLM (utterances, replies) is HTML-escaped before
it reaches a hover label or the node details: the root's realization holds the person's message.
"""

from __future__ import annotations

import html
import itertools
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from gdp_zero.analysis.figures import (  # the tab shows empty_figure too
    VALUE_COLORSCALE,
    empty_figure,
)
from gdp_zero.mcts.explain import why_chosen
from gdp_zero.planners.base import PlannerTurn
from gdp_zero.wording import plural

PATH_SEP = " › "
ROOT_LABEL = "(root)"
HOVER_TEXT_CHARS = 80  # per utterance in a hover label
HOVER_REALIZATIONS = 3
MIN_MARKER = 10.0
MAX_MARKER = 36.0
ROW_PX = 34  # vertical room per leaf
MAX_ROWS = 20  # leaves the node-link figure shows at most: it stays within one screen
LABEL_LINE_CHARS = 14  # a leaf label's line, wrapped at spaces
LABEL_CHAR_PX = 7  # the width of a character of the 11 px label font, for the right margin
VIEWS = ("node-link", "icicle", "sunburst")
CHOSEN_COLOR = "#1d4ed8"
EDGE_COLOR = "#9ca3af"


@dataclass(frozen=True)
class NodeView:
    """One node as the panel shows it; `edge_*` are the parent's statistics for the act leading here."""

    path: tuple[str, ...]
    visits: int  # N(s)
    value: float | None  # V(s), the node's own evaluation
    edge_visits: int | None  # N(parent, a); None at the root
    q: float | None  # Q(parent, a); None at the root
    prior: float | None  # P(a | parent); None at the root
    realizations: tuple[dict[str, Any], ...]
    raw: dict[str, Any] | None  # the tree dict's node, None for an act visited but never expanded

    @property
    def label(self) -> str:
        return path_label(self.path)

    @property
    def act(self) -> str:
        return self.path[-1] if self.path else ROOT_LABEL

    @property
    def size_visits(self) -> int:
        """The visit count the marker size shows: N(s,a) for an act, N(s) at the root."""
        return self.visits if self.edge_visits is None else self.edge_visits


def path_label(path: tuple[str, ...] | list[str]) -> str:
    return PATH_SEP.join(path) if path else ROOT_LABEL


def parse_path_label(label: str | None) -> tuple[str, ...]:
    if not label or label == ROOT_LABEL:
        return ()
    return tuple(label.split(PATH_SEP))


def iter_nodes(tree: dict[str, Any]) -> Iterator[NodeView]:
    """Every node, depth first, children by N(s,a) then name; acts visited but not expanded included."""
    yield from _walk(tree["root"], None)


def _walk(node: dict[str, Any], parent_edge: tuple[int, float | None, float | None] | None) -> Iterator[NodeView]:
    path = tuple(node.get("path") or ())
    edge_visits, q, prior = parent_edge if parent_edge is not None else (None, None, None)
    yield NodeView(
        path=path,
        visits=int(node.get("visits") or 0),
        value=node.get("value"),
        edge_visits=edge_visits,
        q=q,
        prior=prior,
        realizations=tuple(node.get("realizations") or ()),
        raw=node,
    )
    child_visits: dict[str, int] = node.get("child_visits") or {}
    qs: dict[str, float] = node.get("q") or {}
    priors: dict[str, float] = node.get("prior") or {}
    by_act = {tuple(c.get("path") or ())[-1]: c for c in node.get("children") or () if c.get("path")}
    acts = set(by_act) | {a for a, n in child_visits.items() if n > 0}
    for act in sorted(acts, key=lambda a: (-child_visits.get(a, 0), a)):
        edge = (int(child_visits.get(act, 0)), qs.get(act), priors.get(act))
        child = by_act.get(act)
        if child is not None:
            yield from _walk(child, edge)
        else:  # visited (e.g. a path that ended the dialogue) but no node was stored
            yield NodeView(path + (act,), 0, None, edge[0], edge[1], edge[2], (), None)


def chosen_path(tree: dict[str, Any]) -> list[tuple[str, ...]]:
    """The chosen act, then the most visited continuation below it: the line the search expects.

    Returns node paths from the root: [(), (chosen,), (chosen, next), ...].
    """
    nodes = {n.path: n for n in iter_nodes(tree)}
    chosen = tree.get("chosen_act")
    if not chosen or (chosen,) not in nodes:
        return [()]
    line = [(), (chosen,)]
    while True:
        here = line[-1]
        children = [n for p, n in nodes.items() if len(p) == len(here) + 1 and p[:-1] == here]
        visited = [c for c in children if (c.edge_visits or 0) > 0]
        if not visited:
            return line
        # max keeps the first of equals: children come most visited first, then by name.
        line.append(max(visited, key=lambda c: c.edge_visits or 0).path)


def tree_layout(nodes: list[NodeView]) -> dict[tuple[str, ...], tuple[float, float]]:
    """Root at the left, depth to the right; leaves stacked top to bottom, parents centred on them."""
    children: dict[tuple[str, ...], list[tuple[str, ...]]] = {n.path: [] for n in nodes}
    for n in nodes:
        if n.path:
            children.setdefault(n.path[:-1], []).append(n.path)
    positions: dict[tuple[str, ...], tuple[float, float]] = {}
    next_leaf = [0.0]

    def place(path: tuple[str, ...]) -> float:
        kids = children.get(path, [])
        if kids:
            ys = [place(k) for k in kids]
            y = (ys[0] + ys[-1]) / 2
        else:
            y = next_leaf[0]
            next_leaf[0] += 1.0
        positions[path] = (float(len(path)), -y)
        return y

    place(())
    return positions


def _wrap(label: str, width: int = LABEL_LINE_CHARS) -> str:
    """`label` on lines of at most about `width` characters, broken at spaces (Plotly's <br>)."""
    lines: list[str] = []
    for word in label.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines)


def marker_size(visits: int, max_visits: int) -> float:
    """Area grows with visits: sqrt scaling between MIN_MARKER and MAX_MARKER."""
    if max_visits <= 0:
        return MIN_MARKER
    return MIN_MARKER + (MAX_MARKER - MIN_MARKER) * math.sqrt(max(visits, 0) / max_visits)


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _short(text: Any, limit: int = HOVER_TEXT_CHARS) -> str:
    text = " ".join(str(text or "").split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text, quote=False)


def hover_text(node: NodeView) -> str:
    lines = [f"<b>{html.escape(node.label, quote=False)}</b>"]
    if node.path:
        lines.append(f"N(s,a)={node.edge_visits}  Q={_fmt(node.q)}  P={_fmt(node.prior)}")
    lines.append(f"N(s)={node.visits}  V={_fmt(node.value)}")
    reals = node.realizations
    for i, r in enumerate(reals[:HOVER_REALIZATIONS], 1):
        if not (r.get("utterance") or r.get("reply")):
            lines.append(f"{i}. (the real dialogue so far)")
            continue
        lines.append(
            f"{i}. {_short(r.get('utterance'))}<br>"
            f"   → {_short(r.get('reply'))} [{_short(r.get('reply_act'), 30)}]"
            f"  value={_fmt(r.get('mean_value', r.get('terminal_value')))} visits={r.get('visits', 0)}"
        )
    if len(reals) > HOVER_REALIZATIONS:
        lines.append(f"… {len(reals) - HOVER_REALIZATIONS} more (pick the node below)")
    if node.raw is None:
        lines.append("(visited, not expanded)")
    return "<br>".join(lines)


def visible_nodes(tree: dict[str, Any], max_depth: int | None = None, min_visits: int = 1) -> tuple[list[NodeView], int]:
    """The nodes the node-link figure draws, and the visit floor it used.

    Acts deeper than `max_depth` or visited fewer than `min_visits` times are hidden with their
    subtrees; the floor is raised further until at most MAX_ROWS leaves remain, so the figure fits
    one screen. The root and the chosen line (to `max_depth`) are always drawn.
    """
    nodes = list(iter_nodes(tree))
    line = set(chosen_path(tree))
    floor = max(min_visits, 0)
    while True:
        kept = _kept(nodes, line, max_depth, floor)
        parents = {n.path[:-1] for n in kept if n.path}
        leaves = sum(1 for n in kept if n.path not in parents)
        if leaves <= MAX_ROWS or floor >= max((n.size_visits for n in nodes), default=0):
            return kept, floor
        floor += 1


def _kept(nodes: list[NodeView], line: set[tuple[str, ...]], max_depth: int | None, floor: int) -> list[NodeView]:
    kept: list[NodeView] = []
    shown: set[tuple[str, ...]] = set()
    for n in nodes:  # depth first: a parent comes before its children
        on_line = n.path in line
        deep = max_depth is not None and len(n.path) > max_depth
        if not n.path or (not deep and (on_line or (n.path[:-1] in shown and n.size_visits >= floor))):
            kept.append(n)
            shown.add(n.path)
    return kept


def tree_figure(tree: dict[str, Any], *, max_depth: int | None = None, min_visits: int = 1) -> go.Figure:
    """The search tree as a node-link Plotly figure, filtered to fit one screen (see `visible_nodes`).

    Traces, by name: "edges" (all parent-child links), "chosen path" (the chosen act and its most
    visited continuation, drawn thick), "nodes" (one marker per node: size by visits, colour by Q,
    a thick outline on the chosen path; `customdata` holds the node's path label).
    """
    every = sum(1 for _ in iter_nodes(tree))
    nodes, floor = visible_nodes(tree, max_depth, min_visits)
    pos = tree_layout(nodes)
    line = [path for path in chosen_path(tree) if path in pos]
    on_line = set(line)
    max_visits = max((n.size_visits for n in nodes), default=0)
    parents = {n.path[:-1] for n in nodes if n.path}

    edge_x: list[float | None] = []
    edge_y: list[float | None] = []
    for n in nodes:
        if n.path:
            (x0, y0), (x1, y1) = pos[n.path[:-1]], pos[n.path]
            edge_x += [x0, x1, None]
            edge_y += [y0, y1, None]
    chosen_x: list[float | None] = []
    chosen_y: list[float | None] = []
    for parent, child in itertools.pairwise(line):
        (x0, y0), (x1, y1) = pos[parent], pos[child]
        chosen_x += [x0, x1, None]
        chosen_y += [y0, y1, None]

    colours = [_colour(n) for n in nodes]
    # Leaf labels stand right of their markers, wrapped, in a right margin as wide as the longest line
    # (pixels, so they fit a phone as well as a wide screen); inner labels sit above their markers.
    labels = [f"{n.act} ({n.size_visits})" if n.path in parents else _wrap(f"{n.act} ({n.size_visits})") for n in nodes]
    leaf_chars = max((len(line) for n, t in zip(nodes, labels) if n.path not in parents for line in t.split("<br>")),
                     default=0)
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=edge_x, y=edge_y, mode="lines", name="edges", hoverinfo="skip", showlegend=False,
        line={"color": EDGE_COLOR, "width": 1.5},
    ))
    fig.add_trace(go.Scatter(
        x=chosen_x, y=chosen_y, mode="lines", name="chosen path", hoverinfo="skip", showlegend=True,
        line={"color": CHOSEN_COLOR, "width": 5},
    ))
    fig.add_trace(go.Scatter(
        x=[pos[n.path][0] for n in nodes],
        y=[pos[n.path][1] for n in nodes],
        mode="markers+text",
        name="nodes",
        showlegend=False,
        text=labels,
        # Leaves are labelled to their right; inner nodes above, clear of their outgoing edges.
        textposition=["middle right" if n.path not in parents else "top center" for n in nodes],
        textfont={"size": 11},
        cliponaxis=False,  # labels may run into the right margin
        customdata=[n.label for n in nodes],
        hovertext=[hover_text(n) for n in nodes],
        hoverinfo="text",
        hoverlabel={"align": "left"},
        marker={
            "size": [marker_size(n.size_visits, max_visits) for n in nodes],
            "color": colours,
            "colorscale": VALUE_COLORSCALE,
            "cmin": -1.0,
            "cmax": 1.0,
            "showscale": True,
            "colorbar": {"title": {"text": "Q"}, "thickness": 12, "len": 0.8},
            "line": {
                "color": [CHOSEN_COLOR if n.path in on_line else "#374151" for n in nodes],
                "width": [4 if n.path in on_line else 1 for n in nodes],
            },
            "opacity": 0.95,
        },
    ))
    depth = max((len(n.path) for n in nodes), default=0)
    leaves = max((-y for _, y in pos.values()), default=0.0)
    fig.update_layout(
        title={"text": _title(tree) + _filter_note(len(nodes), every, max_depth, floor), "font": {"size": 14}},
        margin={"l": 10, "r": 10 + LABEL_CHAR_PX * leaf_chars, "t": 40, "b": 10},
        height=max(420, int(ROW_PX * (leaves + 1)) + 90),
        plot_bgcolor="white",
        paper_bgcolor="white",
        hovermode="closest",
        legend={"orientation": "h", "x": 0, "y": -0.02, "yanchor": "top"},
        xaxis={"visible": False, "range": [-0.3, depth + 0.3]},
        yaxis={"visible": False, "range": [-leaves - 0.7, 1.1]},
    )
    return fig




@dataclass(frozen=True)
class ViewChoice:
    """How a person chose to see trees: which figure, and the node-link figure's filter."""

    kind: str = VIEWS[0]
    max_depth: int | None = None
    min_visits: int = 1


def draw(tree: dict[str, Any], choice: ViewChoice) -> go.Figure:
    if choice.kind == "node-link":
        return tree_figure(tree, max_depth=choice.max_depth, min_visits=choice.min_visits)
    return hierarchy_figure(tree, choice.kind)


def applied_floor(tree: dict[str, Any], choice: ViewChoice) -> int | None:
    """The visit floor the node-link figure applies (raised above the chosen one to fit a screen);
    None for the icicle and sunburst, which show every node."""
    if choice.kind != "node-link":
        return None
    return visible_nodes(tree, choice.max_depth, choice.min_visits)[1]


def _filter_note(shown: int, every: int, max_depth: int | None, floor: int) -> str:
    if shown == every:
        return ""
    limits = ([f"depth ≤ {max_depth}"] if max_depth is not None else []) + [f"N ≥ {floor}"]
    return f"<br>showing {shown} of {every} nodes ({', '.join(limits)}; the icicle view shows all)"


def hierarchy_figure(tree: dict[str, Any], kind: str = "icicle") -> go.Figure:
    """Every node as a nested rectangle (icicle) or ring segment (sunburst): area = visits, colour = Q.

    A segment's size is N(s,a) (the root's N(s)); clicking one zooms into its subtree. `ids` and
    `customdata` hold the node's path label, as in the node-link figure.
    """
    nodes = list(iter_nodes(tree))
    sizes = _nested_sizes(nodes)
    common = {
        "ids": [n.label for n in nodes],
        "labels": [n.act for n in nodes],
        "parents": ["" if not n.path else path_label(n.path[:-1]) for n in nodes],
        "values": [sizes[n.path] for n in nodes],
        "branchvalues": "total",
        "customdata": [n.label for n in nodes],
        "hovertext": [hover_text(n) for n in nodes],
        "hoverinfo": "text",
        "hoverlabel": {"align": "left"},
        "marker": {"colors": [_colour(n) for n in nodes], "colorscale": VALUE_COLORSCALE, "cmin": -1.0, "cmax": 1.0,
                "showscale": True, "colorbar": {"title": {"text": "Q"}, "thickness": 12, "len": 0.8}},
        "name": "nodes",
    }
    trace = go.Sunburst(**common) if kind == "sunburst" else go.Icicle(**common, tiling={"orientation": "h"})
    fig = go.Figure(trace)
    fig.update_layout(title={"text": _title(tree), "font": {"size": 14}}, height=620,
                      margin={"l": 10, "r": 10, "t": 40, "b": 10}, paper_bgcolor="white")
    return fig


def _nested_sizes(nodes: list[NodeView]) -> dict[tuple[str, ...], int]:
    """Each node's N, raised where needed so that a parent is never smaller than its children together.

    N(s,a) >= N(s') always holds once simulations finish; a search still running has visits in
    flight, and Plotly draws nothing at all for a "total" hierarchy that breaks the rule.
    """
    sizes = {n.path: max(n.size_visits, 0) for n in nodes}
    for n in sorted(nodes, key=lambda n: -len(n.path)):
        if n.path:
            children = sum(sizes[c.path] for c in nodes if len(c.path) == len(n.path) + 1 and c.path[:-1] == n.path)
            sizes[n.path] = max(sizes[n.path], children)
    root_children = sum(sizes[n.path] for n in nodes if len(n.path) == 1)
    sizes[()] = max(sizes[()], root_children)
    return sizes


def _colour(node: NodeView) -> float:
    """Q(s,a) for an act; the root has no Q, so it shows its value V(s)."""
    value = node.q if node.path else node.value
    return 0.0 if value is None else float(value)


def _title(tree: dict[str, Any]) -> str:
    root = tree.get("root") or {}
    parts = [f"chosen: <b>{html.escape(str(tree.get('chosen_act')), quote=False)}</b>",
             f"N(root)={root.get('visits', 0)}",
             f"simulations this turn={len(tree.get('simulations') or ())}"]
    if tree.get("reused_simulations"):
        parts.append(f"reused={tree['reused_simulations']}")
    if tree.get("stopped_by") == "time_budget":
        parts.append("cut by the time budget")
    return " · ".join(parts)


ROOT_TABLE_HEADERS = ["act", "P", "N", "Q", "chosen"]


def root_table(tree: dict[str, Any]) -> list[list[Any]]:
    """The root's acts: prior P, visits N, Q (blank while unvisited: it is still Q0), ✓ for the chosen one.

    The chosen act comes first, so it is never lost in the table's scroll; then by N and P. A search
    still running has no choice before its first simulation ends: nothing is ticked at N = 0.
    """
    root = tree["root"]
    priors: dict[str, float] = root.get("prior") or {}
    visits: dict[str, int] = root.get("child_visits") or {}
    qs: dict[str, float] = root.get("q") or {}
    chosen = tree.get("chosen_act") if (root.get("visits") or "chosen_reply" in tree) else None
    acts = list(dict.fromkeys([*priors, *visits, *qs]))
    acts.sort(key=lambda a: (a != chosen, -visits.get(a, 0), -priors.get(a, 0.0), a))
    rows = []
    for act in acts:
        n = int(visits.get(act, 0))
        q = qs.get(act)
        rows.append([
            act,
            round(priors.get(act, 0.0), 3),
            n,
            round(q, 3) if (q is not None and n > 0) else None,
            "✓" if act == chosen else "",
        ])
    return rows


def node_choices(tree: dict[str, Any]) -> list[str]:
    return [n.label for n in iter_nodes(tree)]


def find_node(tree: dict[str, Any], label: str | None) -> NodeView | None:
    wanted = parse_path_label(label)
    return next((n for n in iter_nodes(tree) if n.path == wanted), None)


def node_details_html(node: NodeView | None, tree: dict[str, Any] | None = None) -> str:
    """N, Q, P, V and every realization of one node, in full (escaped), each statistic said in words.

    `tree` (the node's tree) lets the chosen act say where the reply came from.
    """
    if node is None:
        return '<div class="node-details empty">Pick a node (or click one in the figure) to see its statistics and realizations.</div>'
    e = html.escape
    terminal = _terminal_value(node)
    if node.value is not None:
        value = (_fmt(node.value, 3), "V(s), this node's value when it was evaluated")
    elif terminal is not None:
        value = (_fmt(terminal, 3), "V(s), the dialogue ended here: the value of how it ended")
    else:
        value = ("—", "V(s): not evaluated yet")
    stats = [(str(node.visits), "N(s), simulations that went on below this node"
              + (" (none yet: each visit so far stopped here)" if node.visits == 0 and node.path else "")),
             (value[0], value[1])]
    if node.path:
        stats = [(str(node.edge_visits), "N(s,a), times the search took this act from the node before"),
                 (_fmt(node.q, 3), "Q(s,a), the mean value backed up through this act"),
                 (_fmt(node.prior, 3), "P(a|s), the policy prior of this act")] + stats
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for v, k in stats)
    parts = [f'<div class="node-details"><div class="node-path">{e(node.label)}</div>',
             f'<table class="node-stats">{rows}</table>']
    if node.raw is None:
        parts.append("<p>This act was visited but no node was stored for it (the dialogue ended there).</p>")
    explanation = (node.raw or {}).get("explanation") or {}
    if explanation.get("debate"):
        parts.append(_debate_html(explanation["debate"]))
    if explanation.get("value_answers"):
        parts.append(_answers_html(
            "V(s) from the simulated persuadee's answers to the value question", explanation["value_answers"]))
    if explanation.get("prior_answers"):
        parts.append(_answers_html("P(·|s), the prior over the next acts, from the policy's sampled answers",
                                   explanation["prior_answers"], closed=True))
    parts.append(_reply_source(node, tree))
    reals = node.realizations
    shown = _distinct_realizations(reals)
    repeats = f" ({len(reals) - len(shown)} repeated word for word, shown once)" if len(shown) < len(reals) else ""
    parts.append(f"<p><b>{len(reals)} realization{'s' if len(reals) != 1 else ''}</b>{e(repeats)}</p>")
    if reals:
        parts.append("<ol class=\"realizations\">")
        for r, times in shown:
            mean_value = r.get("mean_value")
            terminal = r.get("terminal_value")
            if not (r.get("utterance") or r.get("reply")):  # a fresh root: the real dialogue, no exchange of its own
                parts.append("<li><div><i>The real dialogue so far (no simulated exchange).</i></div>")
            else:
                parts.append(
                    "<li>"
                    f'<div><span class="who">persuader:</span> <span class="utterance">{e(str(r.get("utterance") or ""))}</span></div>'
                    f'<div><span class="who">persuadee:</span> <span class="reply">{e(str(r.get("reply") or ""))}</span> '
                    f'<span class="act-tag user-act">{e(str(r.get("reply_act") or "?"))}</span></div>'
                )
            parts.append(
                f'<div class="real-stats">mean value {e(_fmt(mean_value, 3))} · visits {e(str(r.get("visits", 0)))}'
                + (f" · V = {e(_fmt(terminal, 3))}: the dialogue ended here" if terminal is not None else "")
                + (f" · sampled {times} times with this same text" if times > 1 else "")
                + "</div></li>"
            )
        parts.append("</ol>")
    parts.append("</div>")
    return "".join(parts)


def _debate_html(debate: dict[str, Any]) -> str:
    """The debate that gave a node its value: each advocate's argument by round, then the judge's answers."""
    e = html.escape
    sides = {"for": "will donate", "against": "will not donate"}
    arguments = "".join(
        f'<li><span class="who">round {e(str(a.get("round")))}, {e(sides.get(str(a.get("side")), str(a.get("side"))))}:</span> '
        f"{e(str(a.get('text') or ''))}</li>"
        for a in debate.get("arguments") or ()
    )
    answers = debate.get("answers") or []
    judged = (", ".join(f"{e(act)} ×{n}" for act, n in Counter(answers).most_common())
              if answers else "none readable (the value defaults to 0)")
    raw = _answers_html("The judge's answers as written", debate["readings"], closed=True) if debate.get("readings") else ""
    return (f'<details class="debate" open><summary>V(s) from a debate: {e(_fmt(debate.get("value"), 3))}</summary>'
            f'<ol class="debate-arguments">{arguments}</ol><p>The judge answered the value question: {judged}.</p>{raw}</details>')


def _answers_html(title: str, answers: list[dict[str, Any]], closed: bool = False) -> str:
    """The sampled LLM answers behind a node's P or V: each distinct text once, with the act the parser
    read in it (or why none: an unreadable answer is dropped from the average) and how often it came."""
    e = html.escape
    total = sum(int(a.get("times") or 1) for a in answers)
    dropped = sum(int(a.get("times") or 1) for a in answers if not a.get("act"))
    items = "".join(
        f'<li><code class="raw-answer">{e(str(a.get("raw") or ""))}</code> → '
        + (f'<span class="act-tag">{e(str(a["act"]))}</span>' if a.get("act")
           else f'<i>no act read ({e(str(a.get("fallback") or "unreadable"))}), dropped</i>')
        + (f" <b>×{int(a['times'])}</b>" if int(a.get("times") or 1) > 1 else "") + "</li>"
        for a in answers
    )
    note = f", {dropped} unreadable" if dropped else ""
    return (f'<details class="model-answers"{"" if closed else " open"}><summary>{e(title)} '
            f"({total} answer{'s' if total != 1 else ''}{note})</summary><ul>{items}</ul></details>")


def _lessons_html(lessons: list[dict[str, Any]]) -> str:
    """What the reflection memory gave this turn's search (the tree's "lessons", set only when memory is on)."""
    e = html.escape
    if not lessons:
        return ('<div class="lessons">Memory on: no lesson recalled for this turn (the memory is empty, or the '
                "persuadee has not said anything yet).</div>")
    items = "".join(
        f"<li>{e(str(item.get('text') or ''))} <span class=\"real-stats\">similarity {e(_fmt(item.get('similarity'), 2))}"
        f" · learned in {e(str(item.get('from') or '?'))}</span></li>"
        for item in lessons
    )
    return f'<div class="lessons">Lessons recalled into this turn\'s prompts:<ol>{items}</ol></div>'


def _distinct_realizations(reals: tuple[dict[str, Any], ...]) -> list[tuple[dict[str, Any], int]]:
    """Each realization once with how often its exact exchange was sampled (the first one's statistics shown)."""
    seen: dict[tuple[str, str, str], list[Any]] = {}
    for r in reals:
        key = (str(r.get("utterance") or ""), str(r.get("reply") or ""), str(r.get("reply_act") or ""))
        if key in seen:
            seen[key][1] += 1
        else:
            seen[key] = [r, 1]
    return [(r, times) for r, times in seen.values()]


def _terminal_value(node: NodeView) -> float | None:
    """The value of how the dialogue ended at this node, if every stored realization ended it."""
    ends = [r.get("terminal_value") for r in node.realizations]
    known = [v for v in ends if v is not None]
    if not ends or len(known) < len(ends):
        return None
    return sum(known) / len(known)


def _reply_source(node: NodeView, tree: dict[str, Any] | None) -> str:
    """For the chosen act: which text was sent, and why it may not be among the realizations."""
    if tree is None or len(node.path) != 1 or node.act != tree.get("chosen_act"):
        return ""
    reply = tree.get("chosen_reply")
    if reply is not None and any(r.get("utterance") == reply for r in node.realizations):
        return "<p>The reply sent is the realization with the highest mean value (response selection).</p>"
    if tree.get("reused_simulations") and not node.realizations:
        return ("<p>This turn reused the last turn's tree: the texts stored below the act taken were dropped "
                "(they answered simulated replies the person never gave), and no simulation this turn wrote a new "
                "one for this act, so the reply was written fresh for it.</p>")
    return "<p>The reply was written fresh for this act (not one of its realizations).</p>"


def tree_summary_html(tree: dict[str, Any] | None, planner: str, simulations: int = 0,
                      reused: int = 0, seconds: float = 0.0) -> str:
    if tree is None:
        return f'<div class="tree-summary">The {html.escape(planner)} planner does not search: no tree for this turn.</div>'
    note = ""
    if tree.get("stopped_by") == "time_budget":
        note = ' <span class="budget-note">⏱ search cut by the time budget</span>'
    return (
        f'<div class="tree-summary">Chosen act <span class="act-tag">{html.escape(str(tree.get("chosen_act")))}</span>'
        f"{_how_chosen(tree)} · {plural(simulations, 'simulation')} this turn, {reused} reused"
        f" · {seconds:.1f} s · Q0 = {tree.get('q0')}{note}"
        f'<div class="why-chosen">{html.escape(why_chosen(tree))}</div>'
        f"{_lessons_html(tree['lessons']) if 'lessons' in tree else ''}</div>"
    )


def _how_chosen(tree: dict[str, Any]) -> str:
    """How the root act was chosen: a Gumbel root's rounds, else the PUCT root's final rule."""
    rounds = tree.get("rounds") or []
    if rounds:
        widths = " → ".join(str(len(r["acts"])) for r in rounds)
        return f" (Gumbel root: survived {plural(len(rounds), 'round')} of Sequential Halving, {widths} acts)"
    return {"value": " (highest Q)", "shrunk": " (highest shrunk Q)"}.get(str(tree.get("choose_by")), " (most visits)")


def live_summary_html(tree: dict[str, Any], done: int, total: int) -> str:
    """The summary line of a tree still being searched: its best act so far."""
    best = tree.get("chosen_act")
    lead = f' · best so far <span class="act-tag">{html.escape(str(best))}</span>' if best else ""
    return (f'<div class="tree-summary live">Searching now: {done} of {plural(total, "simulation")} '
            f"done{lead} · the tree grows as simulations end</div>")


@dataclass(frozen=True)
class TreePanel:
    """Everything the tree panel shows for one planned turn (the chat app's and the study dashboard's)."""

    figure: go.Figure
    summary: str
    root_rows: list[list[Any]]
    nodes: list[str]  # node choices, as path labels
    selected: str | None  # the node shown first: the chosen act, else the root
    details: str
    floor: int | None = None  # the visit floor the node-link figure applied (None: another view, or no tree)


def tree_panel(planned: PlannerTurn | None, planner_label: str, view: ViewChoice = ViewChoice()) -> TreePanel:
    """The panel for `planned` (None: no turn yet), its figure drawn as `view` says; `planner_label` names a
    planner that does not search."""
    tree = planned.tree if planned is not None else None
    if planned is None or tree is None:
        message = "No turn yet." if planned is None else "This turn's planner does not search: no tree."
        summary = tree_summary_html(None, planner_label) if planned is not None else ""
        return TreePanel(empty_figure(message), summary, [], [], None, node_details_html(None))
    nodes = node_choices(tree)
    chosen = tree.get("chosen_act")
    selected = chosen if chosen in nodes else ROOT_LABEL
    summary = tree_summary_html(tree, planned.planner, planned.simulations, planned.reused_simulations, planned.seconds)
    return TreePanel(draw(tree, view), summary, root_table(tree), nodes, selected,
                     node_details_html(find_node(tree, selected), tree), applied_floor(tree, view))


def simulation_html(tree: dict[str, Any] | None, step: int) -> str:
    """Simulation `step` (1 = the first) of the turn's search, in order: the act path it took, how its leaf
    ended, the value it backed up, and how the root's visits stood after it (where the search's attention went)."""
    simulations = (tree or {}).get("simulations") or []
    if not simulations:
        return '<div class="simulation-step">No simulation ran this turn (no search, or all reused).</div>'
    step = min(max(int(step), 1), len(simulations))
    sim = simulations[step - 1]
    counts: dict[str, int] = {}
    for earlier in simulations[:step]:
        if earlier.get("path"):
            counts[earlier["path"][0]] = counts.get(earlier["path"][0], 0) + 1
    ended = "the dialogue ended there" if sim.get("leaf") == "terminal" else "a new node was expanded and evaluated"
    visits = ", ".join(f"{html.escape(act)} {n}" for act, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    return (f'<div class="simulation-step"><b>Simulation {step} of {len(simulations)}</b>: '
            f"{html.escape(path_label(tuple(sim.get('path') or ())))} · {ended} · value backed up "
            f"{_fmt(sim.get('value'), 3)} · {float(sim.get('seconds') or 0):.1f} s<br>"
            f"Root acts tried so far (this turn's simulations 1–{step}): {visits}</div>")
