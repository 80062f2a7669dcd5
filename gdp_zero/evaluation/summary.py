"""Self-play runs summarised as PPDPP reports them, with intervals and a test from scipy.

Per run: success rate with a Wilson 95% interval, average turns (a failed dialogue counts as
the turn limit), the share of dialogues that succeeded by each turn, and the planner's LLM calls
and tokens per dialogue (the simulated persuadee's own calls are counted apart). Between two
runs: Fisher's exact test on the 2x2 table of successes and failures.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any, Iterable

from scipy.stats import binomtest, fisher_exact

from gdp_zero.domain import SUCCESS
from gdp_zero.intervals import wilson_interval
from gdp_zero.records import DialogueRecord, RecordError
from gdp_zero.selfplay import SOURCE as SELFPLAY_SOURCE


@dataclass(frozen=True)
class RunSummary:
    name: str
    planner: str
    dialogues: int
    successes: int
    ci_low: float
    ci_high: float
    average_turns: float  # failures count as the turn limit
    turn_limit: int
    success_by_turn: tuple[float, ...]  # share of dialogues succeeded by turn 1, 2, ... turn_limit
    calls_per_dialogue: float  # the planner's (tagging and search included)
    prompt_tokens_per_dialogue: float
    completion_tokens_per_dialogue: float
    persuadee_calls_per_dialogue: float

    @property
    def success_rate(self) -> float:
        return self.successes / self.dialogues


@dataclass(frozen=True)
class JudgmentSummary:
    """A static evaluation: the planner's wins, draws and losses against one opponent."""

    run: str
    opponent: str
    wins: int
    draws: int
    losses: int
    ci_low: float  # of the win rate
    ci_high: float
    shown_first: int  # judgments where the planner's reply was A
    order_p_value: float  # binomial test of shown_first against half: is the order balanced?
    judge_chose_a: int  # decided judgments that went to A, whoever wrote it: the judge's position bias

    @property
    def judgments(self) -> int:
        return self.wins + self.draws + self.losses

    @property
    def win_rate(self) -> float:
        """Wins among decided judgments (draws left out); 0.5 means no better than the opponent."""
        decided = self.wins + self.losses
        return self.wins / decided if decided else float("nan")


@dataclass(frozen=True)
class Comparison:
    first: str
    second: str
    odds_ratio: float
    p_value: float


def summarize_run(name: str, records: list[DialogueRecord]) -> RunSummary:
    if not records:
        raise ValueError(f"run {name!r} has no finished dialogues")
    limit = max(_turn_limit(r) for r in records)
    turns = [_turns(r) if r.end_reason == SUCCESS else _turn_limit(r) for r in records]
    won_at = [_turns(r) for r in records if r.end_reason == SUCCESS]
    successes = len(won_at)
    low, high = wilson_interval(successes, len(records))
    planner = [_usage(r, "system") for r in records]
    persuadee = [_usage(r, "user") for r in records]
    n = len(records)
    return RunSummary(
        name=name,
        planner=str((records[0].planner or {}).get("planner", "?")),
        dialogues=n,
        successes=successes,
        ci_low=low,
        ci_high=high,
        average_turns=sum(turns) / n,
        turn_limit=limit,
        success_by_turn=tuple(sum(t <= turn for t in won_at) / n for turn in range(1, limit + 1)),
        calls_per_dialogue=sum(u[0] for u in planner) / n,
        prompt_tokens_per_dialogue=sum(u[1] for u in planner) / n,
        completion_tokens_per_dialogue=sum(u[2] for u in planner) / n,
        persuadee_calls_per_dialogue=sum(u[0] for u in persuadee) / n,
    )


def summarize_judgments(judgments: list[Any]) -> JudgmentSummary:
    """`judgments`: one run's `gdp_zero.evaluation.static.Judgment`s against one opponent."""
    if not judgments:
        raise ValueError("no judgments to summarise")
    verdicts = [j.verdict for j in judgments]
    wins, draws, losses = (verdicts.count(v) for v in ("win", "draw", "lose"))
    low, high = wilson_interval(wins, wins + losses)
    shown_first = sum(not j.swapped for j in judgments)
    went_to_a = sum((j.verdict == "win") != j.swapped for j in judgments if j.verdict != "draw")
    return JudgmentSummary(
        run=judgments[0].run,
        opponent=judgments[0].opponent,
        wins=wins,
        draws=draws,
        losses=losses,
        ci_low=low,
        ci_high=high,
        shown_first=shown_first,
        order_p_value=float(binomtest(shown_first, len(judgments), 0.5).pvalue),
        judge_chose_a=went_to_a,
    )


def format_judgments(s: JudgmentSummary) -> str:
    decided = s.wins + s.losses
    return (
        f"{s.run} vs {s.opponent}: {s.judgments} judgments, win {s.wins} / draw {s.draws} / lose {s.losses}; "
        f"win rate {s.win_rate:.1%} of {decided} decided [95% Wilson CI {s.ci_low:.1%}, {s.ci_high:.1%}]\n"
        f"  order: the planner's reply was shown first in {s.shown_first} of {s.judgments} (binomial p = {s.order_p_value:.3g}); "
        f"the judge chose A in {s.judge_chose_a} of {decided} decided judgments"
    )


def compare_runs(first: RunSummary, second: RunSummary) -> Comparison:
    table = [
        [first.successes, first.dialogues - first.successes],
        [second.successes, second.dialogues - second.successes],
    ]
    odds_ratio, p_value = fisher_exact(table)
    return Comparison(first.name, second.name, float(odds_ratio), float(p_value))


def runs_of(records: Iterable[DialogueRecord], file_label: str) -> dict[str, list[DialogueRecord]]:
    """Finished self-play dialogues by run name (the record's condition, else the file's name).

    Any other record is refused: a chat has no turn limit it was played to, so its "success by
    turn" and average turns would describe one person's conversation as if it were a run."""
    runs: dict[str, list[DialogueRecord]] = {}
    for record in records:
        if record.source != SELFPLAY_SOURCE:
            raise RecordError(f"{file_label}: dialogue {record.id!r} is a {record.source} record, not self-play: "
                              "summarize reads runs files written by gdp-zero selfplay")
        if record.end_reason is not None:
            runs.setdefault(record.condition or file_label, []).append(record)
    return runs


def format_report(summaries: list[RunSummary]) -> str:
    lines = [
        "| run | planner | dialogues | success (95% Wilson CI) | avg turns | LLM calls / dialogue "
        "| prompt tokens / dialogue | completion tokens / dialogue | persuadee calls / dialogue |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in summaries:
        lines.append(
            f"| {s.name} | {s.planner} | {s.dialogues} | {s.successes}/{s.dialogues} = {s.success_rate:.1%} "
            f"[{s.ci_low:.1%}, {s.ci_high:.1%}] | {s.average_turns:.2f} of {s.turn_limit} "
            f"| {s.calls_per_dialogue:.1f} | {s.prompt_tokens_per_dialogue:.0f} "
            f"| {s.completion_tokens_per_dialogue:.0f} | {s.persuadee_calls_per_dialogue:.1f} |"
        )
    lines.append("")
    lines.append("Success by turn (share of all dialogues that had succeeded by then):")
    for s in summaries:
        curve = "  ".join(f"{turn}:{share:.0%}" for turn, share in enumerate(s.success_by_turn, start=1))
        lines.append(f"  {s.name}: {curve}")
    pairs = [compare_runs(a, b) for a, b in combinations(summaries, 2)]
    if pairs:
        lines.append("")
        lines.append("Fisher's exact test on successes (two-sided; no correction for several pairs):")
        for c in pairs:
            lines.append(f"  {c.first} vs {c.second}: odds ratio {c.odds_ratio:.3g}, p = {c.p_value:.4g}")
    return "\n".join(lines)


def _turns(record: DialogueRecord) -> int:
    return sum(1 for t in record.turns if t.speaker == "system")


def _turn_limit(record: DialogueRecord) -> int:
    return int(record.meta.get("max_exchanges") or _turns(record))


def _usage(record: DialogueRecord, speaker: str) -> tuple[int, int, int]:
    calls = prompt = completion = 0
    for turn in record.turns:
        if turn.speaker != speaker or not turn.usage:
            continue
        for role in turn.usage.values():
            calls += role.get("calls", 0)
            prompt += role.get("prompt_tokens", 0)
            completion += role.get("completion_tokens", 0)
    return calls, prompt, completion
