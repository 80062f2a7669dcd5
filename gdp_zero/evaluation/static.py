"""The paper's static evaluation: the planner's reply against the human's, on real P4G contexts.

At each persuader turn of an annotated P4G dialogue, the planner is given the real history
and plans its reply; an LLM judge (role "evaluator") sees the history and both replies in an
order drawn per context, A or B, is sampled `votes` times and answers by majority, "can't
tell" being a third option. Drawing the order per context and mapping the verdict back cancels
the judge's position bias: a judge that always answers "A" wins about half the time.

The opponent is the human persuader's real next turn, or the replies a previous evaluation's
planner gave at the same contexts (its judgments file). Every judgment is one JSON line with
its swap flag and raw votes, appended when made; a re-run skips the contexts already judged.
"""

from __future__ import annotations

import random
from contextlib import aclosing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Literal

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import Domain, load_domain
from gdp_zero.evaluation.conditions import RunHeader, check_header, content_hash, llm_conditions, planner_conditions, write_header
from gdp_zero.evaluation.jobs import RunMismatch, as_done, check_same_planner, only_writer
from gdp_zero.factory import ChatOptions, build_session
from gdp_zero.llm.client import LLMClient
from gdp_zero.llm.ledger import UsageLedger
from gdp_zero.planners.base import usage_since
from gdp_zero.records import RUN_HEADER_KEY, DialogueRecord, RecordError, append_json_line, drop_torn_line, json_lines, now_iso, read_as, read_text
from gdp_zero.roles.evaluator import CANT_TELL, FIRST, PairwiseJudge, majority

HUMAN = "human"
Verdict = Literal["win", "draw", "lose"]


@dataclass(frozen=True)
class Context:
    """A persuader turn of a real dialogue: the history before it and what was said there."""

    dialogue_id: str
    turn: int  # index of the persuader turn in the record's turns
    history: Dialogue
    act: str
    text: str

    @property
    def key(self) -> tuple[str, int]:
        return self.dialogue_id, self.turn


@dataclass(frozen=True)
class Judgment:
    run: str
    dialogue_id: str
    turn: int
    planner_act: str
    planner_reply: str
    opponent: str  # "human" or the other run's name
    opponent_act: str
    opponent_reply: str
    swapped: bool  # True: the planner's reply was shown as B
    votes: list[str]  # the judge's raw answers
    choices: list[str]  # each read as A, B or can't tell
    verdict: Verdict  # for the planner
    planner_turn: dict[str, Any] = field(default_factory=dict)  # the whole PlannerTurn: settings, usage, tree
    judge_usage: dict[str, dict[str, Any]] = field(default_factory=dict)
    at: str = field(default_factory=now_iso)

    @property
    def key(self) -> tuple[str, int]:
        return self.dialogue_id, self.turn

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Judgment:
        return read_as(Judgment, data, where)


@dataclass(frozen=True)
class StaticEvaluation:
    run: str
    out: Path  # JSONL of judgments
    options: ChatOptions  # the planner under test
    against: dict[tuple[str, int], tuple[str, str]] | None = None  # another run's (act, reply) by context; None: human
    against_name: str = HUMAN
    votes: int = 5
    seed: int = 0  # draws the order A/B per context
    concurrency: int = 8  # contexts at once


@dataclass
class EvaluationProgress:
    total: int
    done: int = 0
    wins: int = 0
    draws: int = 0
    losses: int = 0

    def add(self, judgment: Judgment) -> None:
        self.done += 1
        self.wins += judgment.verdict == "win"
        self.draws += judgment.verdict == "draw"
        self.losses += judgment.verdict == "lose"


def contexts(records: Iterable[DialogueRecord], domain: Domain) -> list[Context]:
    """Every persuader turn with its real history. Acts the domain does not know (unmapped or
    unlabelled corpus labels) are shown to the planner as the speaker's catch-all act."""
    found = []
    for record in records:
        history = Dialogue()
        for index, turn in enumerate(record.turns):
            if turn.speaker == "system" and (not history.turns or history.turns[-1].speaker == "user"):
                found.append(Context(record.id, index, history, turn.act, turn.text))
            history = history.add(turn.speaker, _known_act(domain, turn.speaker, turn.act), turn.text)
    return found


def is_swapped(seed: int, context: Context) -> bool:
    """The planner's reply is shown second (B) for about half of the contexts, fixed per context."""
    return random.Random(f"{seed}:{context.dialogue_id}:{context.turn}").random() < 0.5


def load_judgments(path: Path) -> list[Judgment]:
    """The judgments in a file of `gdp-zero evaluate`; its header lines are skipped, a dialogue record is refused by name."""
    path = Path(path)
    judgments = []
    for number, data in json_lines(path, read_text(path)):
        if isinstance(data, dict) and RUN_HEADER_KEY in data:
            continue
        if isinstance(data, dict) and "turns" in data and "schema_version" in data:
            raise RecordError(f"{path}:{number}: a dialogue record (a self-play runs file or transcript), not a judgment: "
                              "give a judgments file written by gdp-zero evaluate")
        judgments.append(Judgment.from_dict(data, f"{path}:{number}"))
    return judgments


def opponent_replies(judgments: list[Judgment], where: str) -> tuple[str, dict[tuple[str, int], tuple[str, str]]]:
    """A previous evaluation's name and its planner's (act, reply) by context: the opponent for `--against FILE`."""
    runs = sorted({j.run for j in judgments})
    if len(runs) != 1:
        held = f"the runs {', '.join(runs)}" if runs else "no judgments"
        raise RecordError(f"{where}: holds {held}; an opponent must be one run's judgments")
    return runs[0], {j.key: (j.planner_act, j.planner_reply) for j in judgments}


async def run_static_evaluation(
    evaluation: StaticEvaluation,
    records: Iterable[DialogueRecord],
    client: LLMClient,
    on_judgment: Callable[[EvaluationProgress], None] | None = None,
) -> EvaluationProgress:
    """Judge every context of `records` not yet in the output file; returns the counts over all of them."""
    records = list(records)
    todo = contexts(records, load_domain(evaluation.options.domain))
    if evaluation.against is not None:
        todo = [c for c in todo if c.key in evaluation.against]
    with only_writer(evaluation.out, "evaluation"):
        drop_torn_line(evaluation.out)
        header = evaluation_header(evaluation, records, client)
        done = {j.key: j for j in load_judgments(evaluation.out) if j.run == evaluation.run}
        if not check_header(evaluation.out, header):
            # A new run, or one in a file written before headers: its judgments still say their planner and opponent.
            wanted = build_session(client.settings, evaluation.options, client.sibling(UsageLedger())).planner.describe()
            for judgment in done.values():
                where = f"the judgment of {judgment.dialogue_id} turn {judgment.turn} in run {evaluation.run!r}"
                check_same_planner(str(evaluation.out), where, judgment.planner_turn.get("settings", {}), wanted)
                if judgment.opponent != evaluation.against_name:
                    raise RunMismatch(f"{evaluation.out}: {where} is against {judgment.opponent!r}, not "
                                      f"{evaluation.against_name!r}; write to a new file or use another --name")
            write_header(evaluation.out, header)
        progress = EvaluationProgress(total=len(todo))
        for context in todo:
            if context.key in done:
                progress.add(done[context.key])
        if on_judgment is not None:
            on_judgment(progress)
        pending = [c for c in todo if c.key not in done]
        async with aclosing(as_done(pending, lambda c: judge_context(evaluation, c, client), evaluation.concurrency)) as judged:
            async for judgment in judged:
                append_json_line(evaluation.out, asdict(judgment))
                progress.add(judgment)
                if on_judgment is not None:
                    on_judgment(progress)
    return progress


def evaluation_header(evaluation: StaticEvaluation, records: list[DialogueRecord], client: LLMClient) -> RunHeader:
    """Everything that defines the evaluation's condition: models and endpoints (the judge's among them), the
    planner, the judge's votes and order seed, the dialogues judged (by content) and the opponent."""
    session = build_session(client.settings, evaluation.options, client.sibling(UsageLedger()))
    opponent = sorted(evaluation.against.items()) if evaluation.against is not None else HUMAN
    conditions = llm_conditions(client.settings) | planner_conditions(session.planner.describe()) | {
        "domain": session.domain.name,
        "judge.votes": evaluation.votes,
        "judge.order_seed": evaluation.seed,
        "judge.dialogues": len(records),
        "judge.dialogues_sha256": content_hash(r.to_dict() | {"app_version": None} for r in records),
        "judge.against": evaluation.against_name,
        "judge.against_sha256": content_hash([opponent]),
    }
    return RunHeader(evaluation.run, "evaluate", conditions)


async def judge_context(evaluation: StaticEvaluation, context: Context, client: LLMClient) -> Judgment:
    offset = hash_offset(context)
    session = build_session(client.settings, evaluation.options, client.sibling(UsageLedger(), seed_offset=offset))
    planned = await session.plan_for(context.history)
    if evaluation.against is None:
        opponent_act, opponent_reply = context.act, context.text
    else:
        opponent_act, opponent_reply = evaluation.against[context.key]
    swapped = is_swapped(evaluation.seed, context)
    first, second = (opponent_reply, planned.reply) if swapped else (planned.reply, opponent_reply)
    ledger = UsageLedger()
    judge = PairwiseJudge(client.sibling(ledger, seed_offset=offset), session.domain, samples=evaluation.votes)
    votes = await judge.compare(context.history, first, second)
    winner = majority(votes)
    planner_position = "B" if swapped else FIRST
    verdict: Verdict = "draw" if winner == CANT_TELL else "win" if winner == planner_position else "lose"
    return Judgment(
        run=evaluation.run,
        dialogue_id=context.dialogue_id,
        turn=context.turn,
        planner_act=planned.act,
        planner_reply=planned.reply,
        opponent=evaluation.against_name,
        opponent_act=opponent_act,
        opponent_reply=opponent_reply,
        swapped=swapped,
        votes=[v.raw for v in votes],
        choices=[v.choice for v in votes],
        verdict=verdict,
        planner_turn=planned.to_dict(),
        judge_usage=usage_since(ledger, 0),
    )


def hash_offset(context: Context) -> int:
    """A seed offset per context that does not depend on which contexts ran before it."""
    return random.Random(f"{context.dialogue_id}:{context.turn}").randrange(1, 2**31)


def _known_act(domain: Domain, speaker: str, act: str) -> str:
    if speaker == "system":
        return act if act in domain.system_act_names else domain.fallback_system_act
    return act if act in domain.user_act_names else domain.neutral_user_act
