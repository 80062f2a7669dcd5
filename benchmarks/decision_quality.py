"""Decision quality against wall time: the published search, concurrent PUCT and the Gumbel root.

Every setting plays whole dialogues on two worlds with known answers: the persuasion world
(gdp_zero.mcts.known_world: success = a donation within the turn limit, regret in probability
of success) and the toy world (gdp_zero.mcts.toy: one decision, success = the best act). Calls
wait L like LLM calls (an evaluation 1 L, a transition 2 L) on a virtual clock
(gdp_zero.mcts.virtual_clock): in-flight calls overlap exactly as they would against a server
that answers each after L, computation takes no time, and the run is reproducible.

Prints one markdown table (success and regret per turn with 95% intervals, mean wall time per
decision in L) and writes a plot of success against wall time.

    python benchmarks/decision_quality.py --dialogues 1000 --plot docs/decision_quality.png
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from gdp_zero.mcts.known_world import KnownPersuasionWorld
from gdp_zero.mcts.scoring import KnownAnswers, SettingScore, score_setting
from gdp_zero.mcts.toy import ToyEnvironment
from gdp_zero.mcts.virtual_clock import run_with_virtual_clock
from gdp_zero.planners import GDPZeroConfig

L = 1.0  # one call's latency, in virtual seconds: times below are in units of L
UNCAPPED = 1000  # simulations asked for when a time budget, not n, should end the search

WORLDS: dict[str, Callable[[int], KnownAnswers]] = {
    "persuasion world": lambda seed: KnownPersuasionWorld(seed=seed, latency_s=L),
    "toy world": lambda seed: ToyEnvironment(seed=seed, latency_s=L),
}


@dataclass(frozen=True)
class Setting:
    family: str
    label: str
    config: GDPZeroConfig


def settings(published: list[int], concurrent: list[int], budgets: list[float]) -> list[Setting]:
    default = GDPZeroConfig()
    puct, gumbel = replace(default, root="puct"), replace(default, root="gumbel")
    quiet = replace(gumbel, gumbel_scale=0.0)
    rows = [Setting("published", f"n = {n}", GDPZeroConfig.sequential(simulations=n)) for n in published]
    for family, config in (("concurrent PUCT", puct), ("Gumbel", gumbel), ("Gumbel, no noise", quiet)):
        rows += [Setting(family, f"n = {n}", replace(config, simulations=n)) for n in concurrent]
    for family, config in (("PUCT, time budget", puct), ("Gumbel, time budget", gumbel),
                           ("Gumbel no noise, time budget", quiet)):
        rows += [Setting(family, f"{b:g} L", replace(config, simulations=UNCAPPED, time_budget_s=b * L))
                 for b in budgets]
    return rows


def score(setting: Setting, world: str, dialogues: int) -> SettingScore:
    def progress(done: int) -> None:
        if done % 100 == 0 or done == dialogues:
            print(f"\r  {setting.family}, {setting.label}, {world}: {done}/{dialogues} dialogues",
                  end="", file=sys.stderr, flush=True)

    config = setting.config
    result = run_with_virtual_clock(score_setting(WORLDS[world], config.search_config(), reuse_tree=config.reuse_tree,
                                                  dialogues=dialogues, on_dialogue=progress))
    print(file=sys.stderr)
    return result


def cells(result: SettingScore) -> list[str]:
    s, r = result.success, result.regret_per_turn
    return [f"{result.seconds_per_decision / L:.1f}", f"{s.mean:.3f} [{s.low:.3f}, {s.high:.3f}]",
            f"{r.mean:.3f} [{r.low:.3f}, {r.high:.3f}]"]


def row(*values: object) -> str:
    return "| " + " | ".join(str(v) for v in values) + " |"


def plot(results: dict[tuple[Setting, str], SettingScore], path: Path) -> Path:
    """Success against wall time per decision, one panel per world; PNG if kaleido can render, else HTML."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    worlds = list(WORLDS)
    figure = make_subplots(rows=1, cols=len(worlds), subplot_titles=[f"{w}" for w in worlds])
    families = list(dict.fromkeys(s.family for s, _ in results))
    for column, world in enumerate(worlds, start=1):
        for index, family in enumerate(families):
            points = [(s, r) for (s, w), r in results.items() if w == world and s.family == family]
            figure.add_trace(go.Scatter(
                x=[r.seconds_per_decision / L for _, r in points],
                y=[r.success.mean for _, r in points],
                error_y={"type": "data", "symmetric": False,
                         "array": [r.success.high - r.success.mean for _, r in points],
                         "arrayminus": [r.success.mean - r.success.low for _, r in points]},
                text=[s.label for s, _ in points], mode="lines+markers", name=family,
                legendgroup=family, showlegend=column == 1,
                marker={"color": qualitative.Plotly[index % len(qualitative.Plotly)]},
                line={"dash": "dot" if "budget" in family else "solid"},
                hovertemplate="%{text}: %{y:.3f} at %{x:.1f} L",
            ), row=1, col=column)
        default = [r for (s, w), r in results.items() if w == world and s.config == GDPZeroConfig()]
        figure.add_trace(go.Scatter(
            x=[r.seconds_per_decision / L for r in default], y=[r.success.mean for r in default],
            mode="markers", name=f"the default (n = {GDPZeroConfig().simulations})", legendgroup="default",
            showlegend=column == 1, marker={"symbol": "star", "size": 16, "color": "black"},
            hovertemplate="the default: %{y:.3f} at %{x:.1f} L",
        ), row=1, col=column)
        figure.update_xaxes(type="log", title_text="wall time per decision (L)", row=1, col=column)
        figure.update_yaxes(title_text="success rate (95% CI)", row=1, col=column)
    figure.update_layout(width=1200, height=520, title="Decision quality against wall time")
    try:
        figure.write_image(path)
        return path
    except (ImportError, ValueError, RuntimeError):  # no kaleido or no browser for it: keep an interactive plot
        html = path.with_suffix(".html")
        figure.write_html(html, include_plotlyjs="cdn")
        return html


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dialogues", type=int, default=300, help="dialogues per row and world (at least 300 for the README)")
    parser.add_argument("--published", type=int, nargs="+", default=[10, 20, 50])
    parser.add_argument("--sims", type=int, nargs="+", default=[10, 20, 30, 50, 100, 200])
    parser.add_argument("--budgets", type=float, nargs="+", default=[5, 10, 20], help="time budgets in L")
    parser.add_argument("--plot", type=Path, default=Path("docs/decision_quality.png"))
    args = parser.parse_args()
    if args.dialogues < 1:
        parser.error(f"--dialogues must be at least 1, got {args.dialogues}")
    default = GDPZeroConfig()
    print(f"machine: {platform.machine()}, Python {platform.python_version()}; virtual clock, evaluation 1 L, "
          f"transition 2 L; {args.dialogues} dialogues per row and world; product settings (k = {default.realizations}, "
          f"Q0 = {default.q0}, {default.concurrency} in flight, tree reuse; Gumbel m = {default.considered_acts})")
    print()
    header = ["search", "n or budget"]
    for world in WORLDS:
        header += [f"{world}: wall / decision (L)", f"{world}: success [95% CI]", f"{world}: regret / turn [95% CI]"]
    print(row(*header))
    print(row(*["---"] * len(header)))
    results: dict[tuple[Setting, str], SettingScore] = {}
    started = time.monotonic()
    for setting in settings(args.published, args.sims, args.budgets):
        line = [setting.family, setting.label]
        for world in WORLDS:
            results[setting, world] = score(setting, world, args.dialogues)
            line += cells(results[setting, world])
        print(row(*line), flush=True)
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    written = plot(results, args.plot)
    print(f"\nplot: {written}; {time.monotonic() - started:.0f} s of real time")


if __name__ == "__main__":
    main()
