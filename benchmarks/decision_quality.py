"""Decision quality against wall time, on generated worlds nobody tuned for.

Every setting plays whole dialogues on a family of random persuasion worlds with known answers
(gdp_zero.mcts.worlds: 50 worlds from a seeded generator, each solved exactly, split into a
tuning half and a held-out half). `--half tuning` runs the candidate rules and schedules the
default was chosen from; `--half held-out` (the default) reports the published search, the old
default and the new default on worlds that played no part in choosing it. Calls wait L like LLM
calls (an evaluation 1 L, a transition 2 L) on a virtual clock (gdp_zero.mcts.virtual_clock), so
wall time is in units of L, reproducible on a busy machine.

Prints one markdown table (success and regret per turn, each the mean over worlds of the world's
mean over its dialogues, with a two-stage bootstrap 95% interval over worlds and dialogues; wall
time per decision; the share of decisions whose act had N < 2), then paired differences (same
worlds, same seeds) for the claims the README makes, and writes a plot of success against wall
time with its frontier.

    python benchmarks/decision_quality.py --dialogues 20 --plot docs/decision_quality.png  # about 20 minutes on a busy 2-core machine
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import dataclass, replace
from functools import partial
from itertools import pairwise
from pathlib import Path

from gdp_zero.mcts.scoring import Estimate, FamilyScore, paired_difference, score_family
from gdp_zero.mcts.virtual_clock import run_with_virtual_clock
from gdp_zero.mcts.worlds import RandomWorld, WorldSpec, draw_worlds, split
from gdp_zero.planners import GDPZeroConfig

L = 1.0  # one call's latency, in virtual seconds: times below are in units of L
WORLDS = 50
SIMULATIONS = (10, 30, 50, 100)  # the monotonicity check: more search must not lower success beyond noise


@dataclass(frozen=True)
class Setting:
    family: str
    label: str
    config: GDPZeroConfig


def old_default() -> GDPZeroConfig:
    """The default before the shrunk rule and the in-flight cap: n = 30, all in flight, highest Q."""
    return replace(GDPZeroConfig(), simulations=30, concurrency=32, waves=1, choose_by="value", q0=0.25)


def report_settings() -> list[Setting]:
    new, old = GDPZeroConfig(), old_default()
    rows = [Setting("published", f"n = {n}", GDPZeroConfig.sequential(simulations=n)) for n in (10, 50)]
    rows += [Setting("old default", f"n = {n}", replace(old, simulations=n)) for n in SIMULATIONS]
    rows += [Setting("new default", f"n = {n}", replace(new, simulations=n)) for n in SIMULATIONS]
    rows += [
        Setting("old default + shrunk rule", "n = 30", replace(old, choose_by=new.choose_by, shrinkage=new.shrinkage,
                                                                min_visits=new.min_visits)),
        Setting("old default + in-flight cap", "n = 30", replace(old, waves=new.waves)),
        Setting("Gumbel root", "n = 30", replace(new, root="gumbel")),
    ]
    return rows


def tuning_settings() -> list[Setting]:
    """The candidates, at n = 30: final rules with everything in flight, then in-flight caps."""
    old = old_default()
    rows = [Setting("old default", "highest Q", old), Setting("rule", "most visits", replace(old, choose_by="visits"))]
    for strength in (1.0, 2.0, 4.0):
        for least in (1, 2):
            rows.append(Setting("rule", f"shrunk, kappa {strength:g}, N >= {least}",
                                replace(old, choose_by="shrunk", shrinkage=strength, min_visits=least)))
    shrunk = replace(old, choose_by="shrunk", shrinkage=2.0, min_visits=2)
    for waves in (2, 3, 4):
        rows.append(Setting("cap", f"highest Q, n / {waves} in flight", replace(old, waves=waves)))
        rows.append(Setting("cap", f"shrunk kappa 2, N >= 2, n / {waves} in flight", replace(shrunk, waves=waves)))
    for strength in (1.0, 4.0, 8.0):
        rows.append(Setting("cap", f"shrunk kappa {strength:g}, N >= 2, n / 2 in flight",
                            replace(shrunk, waves=2, shrinkage=strength)))
    rows.append(Setting("published", "n = 50", GDPZeroConfig.sequential(simulations=50)))
    return rows


def score(setting: Setting, worlds: list[WorldSpec], dialogues: int) -> FamilyScore:
    total = len(worlds) * dialogues

    def progress(done: int) -> None:
        if done % 50 == 0 or done == total:
            print(f"\r  {setting.family}, {setting.label}: {done}/{total} dialogues", end="", file=sys.stderr, flush=True)

    config = setting.config
    makers = [partial(RandomWorld, spec, latency_s=L) for spec in worlds]
    result = run_with_virtual_clock(score_family(makers, config.search_config(), reuse_tree=config.reuse_tree,
                                                 dialogues=dialogues, on_dialogue=progress))
    print(file=sys.stderr)
    return result


def interval(e: Estimate, digits: int = 3) -> str:
    return f"{e.mean:.{digits}f} [{e.low:.{digits}f}, {e.high:.{digits}f}]"


def row(*values: object) -> str:
    return "| " + " | ".join(str(v) for v in values) + " |"


def frontier(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other point beats on both wall time (lower) and success (higher), by wall time."""
    best, front = -1.0, []
    for wall, success in sorted(points):
        if success > best:
            front.append((wall, success))
            best = success
    return front


# Which families' points are labelled with their n, and on which side: the defaults' curves cross near
# 9 L, where every label on top wrote over the others (the one-point families' names are in the legend).
LABEL_SIDE = {"published": "top center", "old default": "top left", "new default": "bottom right",
              "rule": "top center", "cap": "top center"}  # the tuning half's families
# Points of the held-out plot that sit on another's label: the new default's n = 30 and n = 50 (8.8 and
# 8.9 L, both 0.504), and the old default's n = 100 beside them.
POINT_SIDE = {("new default", "n = 30"): "bottom left", ("old default", "n = 100"): "bottom right"}


def plot(results: dict[Setting, FamilyScore], path: Path, title: str) -> Path:
    """Success against wall time per decision, the frontier and the defaults; PNG if kaleido can render, else HTML."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    figure = go.Figure()
    families = list(dict.fromkeys(s.family for s in results))
    for index, family in enumerate(families):
        points = [(s, r) for s, r in results.items() if s.family == family]
        figure.add_trace(go.Scatter(
            x=[r.seconds_per_decision / L for _, r in points], y=[r.success.mean for _, r in points],
            error_y={"type": "data", "symmetric": False,
                     "array": [r.success.high - r.success.mean for _, r in points],
                     "arrayminus": [r.success.mean - r.success.low for _, r in points]},
            text=[s.label for s, _ in points], name=family,
            mode="lines+markers+text" if family in LABEL_SIDE else "lines+markers",
            textposition=[POINT_SIDE.get((family, s.label), LABEL_SIDE.get(family, "top center")) for s, _ in points],
            marker={"color": qualitative.Plotly[index % len(qualitative.Plotly)]},
            hovertemplate="%{text}: %{y:.3f} at %{x:.1f} L",
        ))
    front = frontier([(r.seconds_per_decision / L, r.success.mean) for r in results.values()])
    figure.add_trace(go.Scatter(x=[w for w, _ in front], y=[s for _, s in front], mode="lines", name="frontier",
                                line={"dash": "dot", "color": "grey"}, line_shape="hv"))
    for name, config, symbol in (("new default", GDPZeroConfig(), "star"), ("old default", old_default(), "x")):
        marked = [r for s, r in results.items() if s.config == config]
        figure.add_trace(go.Scatter(x=[r.seconds_per_decision / L for r in marked], y=[r.success.mean for r in marked],
                                    mode="markers", name=name, marker={"symbol": symbol, "size": 16, "color": "black"}))
    figure.update_xaxes(type="log", title_text="wall time per decision (L)")
    figure.update_yaxes(title_text="success, mean over worlds (95% CI over worlds and dialogues)")
    figure.update_layout(width=1000, height=600, title=title)
    try:
        figure.write_image(path)
        return path
    except (ImportError, ValueError, RuntimeError):  # no kaleido or no browser for it: keep an interactive plot
        html = path.with_suffix(".html")
        figure.write_html(html, include_plotlyjs="cdn")
        return html


def claims(results: dict[Setting, FamilyScore]) -> list[str]:
    """The README's claims, as paired differences on the same worlds and seeds."""
    by_name = {(s.family, s.label): r for s, r in results.items()}
    new, old = by_name["new default", "n = 30"], by_name["old default", "n = 30"]
    published = by_name["published", "n = 50"]
    lines = [
        (f"new − old default: {interval(paired_difference(new, old))} at "
         f"{new.seconds_per_decision / old.seconds_per_decision:.2f}× its wall time"),
        (f"new default − published n = 50: {interval(paired_difference(new, published))} at "
         f"{new.seconds_per_decision:.1f} L against {published.seconds_per_decision:.1f} L"),
    ]
    for family in ("new default", "old default"):
        steps = []
        for fewer, more in pairwise(SIMULATIONS):
            change = paired_difference(by_name[family, f"n = {more}"], by_name[family, f"n = {fewer}"])
            steps.append(f"{fewer} → {more}: {interval(change)}{'' if change.high >= 0 else ' (a drop beyond noise)'}")
        lines.append(f"{family}, success change with n: " + "; ".join(steps))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--half", choices=("held-out", "tuning"), default="held-out")
    parser.add_argument("--dialogues", type=int, default=20, help="dialogues per world (25 worlds per half)")
    parser.add_argument("--plot", type=Path, default=Path("docs/decision_quality.png"))
    args = parser.parse_args()
    if args.dialogues < 2:
        parser.error(f"--dialogues must be at least 2, got {args.dialogues}")
    tuning, held_out = split(draw_worlds(WORLDS))
    worlds = held_out if args.half == "held-out" else tuning
    optimum = sum(w.optimal_value(w.start, 0) for w in worlds) / len(worlds)
    print(f"machine: {platform.machine()}, Python {platform.python_version()}; virtual clock, evaluation 1 L, "
          f"transition 2 L; {args.half} half: {len(worlds)} worlds × {args.dialogues} dialogues per row "
          f"({len(worlds) * args.dialogues} dialogues); the optimal policy's success, mean over these worlds: {optimum:.3f}")
    print()
    header = ["search", "n or rule", "wall / decision (L)", "success [95% CI]", "regret / turn [95% CI]", "chosen act N < 2"]
    print(row(*header))
    print(row(*["---"] * len(header)))
    results: dict[Setting, FamilyScore] = {}
    started = time.monotonic()
    for setting in report_settings() if args.half == "held-out" else tuning_settings():
        result = results[setting] = score(setting, worlds, args.dialogues)
        print(row(setting.family, setting.label, f"{result.seconds_per_decision / L:.1f}", interval(result.success),
                  interval(result.regret_per_turn, 4), f"{result.chosen_once:.0%}"), flush=True)
    print()
    if args.half == "held-out":
        for line in claims(results):
            print(f"- {line}")
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    written = plot(results, args.plot, f"Decision quality against wall time, {args.half} worlds")
    print(f"\nplot: {written}; {time.monotonic() - started:.0f} s of real time")


if __name__ == "__main__":
    main()
