"""Self-play: a planner against the LLM user simulator playing a persona, dialogue after dialogue.

Dialogue i plays persona i mod len(personas) and has the id `<persona id>-<i>`, so a run is
resumable: a finished dialogue is one line of the runs file (a `DialogueRecord`, source
"selfplay", condition = the run's name), appended once it ends, and a re-run skips the ids
already there. A dialogue cut by a kill left nothing (or a torn last line, cut off before
appending again) and is played again from the start.

The planner does not know the persona: its own simulated user inside the search is the plain
one, as it would be facing a stranger. The persuadee labels its own replies with an act, so no
tagging call is made; a user turn's usage is the persuadee's call. Dialogues run `concurrency`
at a time and each GDP-Zero search runs its simulations concurrently; every request of every
dialogue goes through one client limit (`max_concurrency`), while each dialogue keeps its own
usage ledger.

With a reflection memory (`options.memory`), the planner recalls lessons at every turn, and each
finished dialogue is reflected on: its lessons go into its record (meta "memory") before the
record is appended, and into the memory file after. A kill between the two is healed on resume:
the lessons of finished records are kept again, and the store holds a dialogue's lessons once.
"""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from gdp_zero.evaluation.conditions import (
    RunHeader, check_header, content_hash, llm_conditions, planner_conditions, write_header,
)
from gdp_zero.evaluation.jobs import RunMismatch, as_done, check_output_file, check_same_planner, only_writer
from gdp_zero.domain import SUCCESS, Domain, load_domain
from gdp_zero.factory import ChatOptions, build_session
from gdp_zero.llm.client import LLMClient
from gdp_zero.llm.ledger import UsageLedger
from gdp_zero.memory.reflection_memory import ReflectionMemory
from gdp_zero.memory.store import LessonStore
from gdp_zero.personas import Persona
from gdp_zero.planners.base import usage_since
from gdp_zero.records import DialogueRecord, append_record, drop_torn_line, load_records
from gdp_zero.roles.user_simulator import UserSimulator
from gdp_zero.validation import ConfigError

SOURCE = "selfplay"
SEED_STRIDE = 100_003  # LLM seeds per dialogue: seeded runs give each dialogue its own sequence
RUNS_SUFFIX = ".jsonl"  # what readers (summarize, the Strategies tab) take for a runs file


def check_runs_path(out: Path) -> None:
    """A runs file to write: a file (not a folder) whose name ends in .jsonl, as its readers expect."""
    check_output_file(out)
    if out.suffix.lower() != RUNS_SUFFIX:
        raise ConfigError(f"{out}: a runs file holds one dialogue per line and must end in {RUNS_SUFFIX} "
                          f"(summarize and the Strategies tab read it by that name), e.g. {out.with_suffix(RUNS_SUFFIX)}")


@dataclass(frozen=True)
class PlannedDialogue:
    index: int
    persona: Persona

    @property
    def id(self) -> str:
        return f"{self.persona.id}-{self.index:04d}"


@dataclass(frozen=True)
class SelfPlayRun:
    name: str  # every record's condition
    out: Path  # the JSONL runs file
    personas: tuple[Persona, ...]
    dialogues: int
    options: ChatOptions  # planner, search, domain, turn limit
    concurrency: int = 8  # dialogues at once

    def __post_init__(self) -> None:
        check_runs_path(self.out)

    def plan(self) -> list[PlannedDialogue]:
        if not self.personas:
            raise ValueError("self-play needs at least one persona")
        return [PlannedDialogue(i, self.personas[i % len(self.personas)]) for i in range(self.dialogues)]

    def options_for(self, index: int) -> ChatOptions:
        """Seeded runs give each dialogue its own planner seed (a random planner must not repeat itself)."""
        seed = self.options.search.seed
        return self.options if seed is None else replace(self.options, search=replace(self.options.search, seed=seed + index))


@dataclass
class SelfPlayProgress:
    total: int
    done: int = 0
    successes: int = 0
    skipped: int = 0  # finished before this run started
    lessons_added: int = 0  # to the reflection memory, by this run

    def add(self, record: DialogueRecord) -> None:
        self.done += 1
        self.successes += record.end_reason == SUCCESS


def run_header(run: SelfPlayRun, client: LLMClient) -> RunHeader:
    """Everything that defines the run's condition: models and endpoints, planner, domain and turn limit, personas."""
    session = build_session(client.settings, run.options, client.sibling(UsageLedger()))
    conditions = llm_conditions(client.settings) | planner_conditions(session.planner.describe()) | {
        "domain": session.domain.name,
        "domain.max_exchanges": session.domain.max_exchanges,
        "personas.sha256": content_hash(p.to_record() for p in sorted(run.personas, key=lambda p: p.id)),
        "personas.count": len(run.personas),
    }
    return RunHeader(run.name, SOURCE, conditions)


def finished_records(run: SelfPlayRun, client: LLMClient) -> dict[str, DialogueRecord]:
    """The run's dialogues already in its file; refuses a file of another condition (see gdp_zero.evaluation.conditions)."""
    drop_torn_line(run.out)
    header = run_header(run, client)
    records = {r.id: r for r in load_records(run.out) if r.source == SOURCE and r.condition == run.name}
    if check_header(run.out, header):
        return records
    # A new run, or one in a file written before headers: its records still say their planner settings and turn limit.
    session = build_session(client.settings, run.options, client.sibling(UsageLedger()))
    wanted, limit = session.planner.describe(), session.domain.max_exchanges
    for record in records.values():
        item = f"dialogue {record.id} of run {run.name!r}"
        check_same_planner(str(run.out), item, record.planner or {}, wanted)
        stored = record.meta.get("max_exchanges")
        if stored != limit:  # the success rate of a run is read against one turn limit
            raise RunMismatch(f"{run.out}: {item} was played to {stored} persuader turns, now {limit}; "
                              "write to a new file or use another --name")
    write_header(run.out, header)
    return records


async def run_selfplay(
    run: SelfPlayRun, client: LLMClient, on_dialogue: Callable[[SelfPlayProgress], None] | None = None
) -> SelfPlayProgress:
    """Play every dialogue of `run` not yet in its file, appending each as it finishes."""
    with only_writer(run.out, "self-play"):
        plan = run.plan()
        done = finished_records(run, client)
        todo = [d for d in plan if d.id not in done]
        progress = SelfPlayProgress(total=len(plan), skipped=len(plan) - len(todo))
        for planned in plan:
            if planned.id in done:
                progress.add(done[planned.id])
        memory = LessonStore(run.options.memory) if run.options.memory is not None else None
        domain = load_domain(run.options.domain)
        try:
            if memory is not None:  # lessons of dialogues whose record was saved just before a kill
                for record in done.values():
                    progress.lessons_added += await keep_lessons(memory, record, client, domain)
            if on_dialogue is not None:
                on_dialogue(progress)
            play = lambda d: play_dialogue(run, d, client, memory)  # noqa: E731
            async with aclosing(as_done(todo, play, run.concurrency)) as finished:
                async for record in finished:
                    append_record(run.out, record)
                    progress.add(record)
                    if memory is not None:
                        progress.lessons_added += await keep_lessons(memory, record, client, domain)
                    if on_dialogue is not None:
                        on_dialogue(progress)
        finally:
            if memory is not None:
                memory.close()
    return progress


async def keep_lessons(store: LessonStore, record: DialogueRecord, client: LLMClient, domain: Domain) -> int:
    """Store the lessons a finished record carries; 0 when the store has them already."""
    lessons = (record.meta.get("memory") or {}).get("lessons") or []
    memory = ReflectionMemory(store, client.sibling(UsageLedger()), domain)
    return await memory.keep(record.id, record.dialogue, lessons, record.outcome)


async def play_dialogue(
    run: SelfPlayRun, planned: PlannedDialogue, client: LLMClient, memory: LessonStore | None = None
) -> DialogueRecord:
    """One dialogue from the greeting to success or the turn limit, as a finished record
    (with the lessons reflected from it when the run has a memory)."""
    offset = planned.index * SEED_STRIDE
    session = build_session(
        client.settings, run.options_for(planned.index), client.sibling(UsageLedger(), seed_offset=offset), memory
    )
    lessons_at_start = len(memory) if memory is not None else 0
    session.id, session.source = planned.id, SOURCE
    heard = UsageLedger()
    persuadee = UserSimulator(client.sibling(heard, seed_offset=offset + SEED_STRIDE // 2), session.domain,
                              persona=planned.persona.description)
    heard_usage: list[dict[str, dict[str, Any]]] = []
    await session.open()
    while True:  # every persuader turn is answered: the turn limit counts answered exchanges
        mark = heard.mark()
        (reply,) = await persuadee.reply(session.dialogue)
        heard_usage.append(usage_since(heard, mark))
        session.hear(reply.text, reply.act, reply.fallback)
        if session.end_reason is not None:
            break
        await session.retry()
    record = session.record()
    usage = iter(heard_usage)
    turns = tuple(replace(t, usage=next(usage)) if t.speaker == "user" else t for t in record.turns)
    meta: dict[str, Any] = {
        "index": planned.index, "exchanges": session.dialogue.exchanges, "max_exchanges": session.domain.max_exchanges,
    }
    record = replace(record, turns=turns, condition=run.name, persona=planned.persona.to_record(), meta=meta)
    if memory is None:
        return record
    reflected = UsageLedger()
    reflector = ReflectionMemory(memory, client.sibling(reflected, seed_offset=offset), session.domain)
    lessons = await reflector.reflect(record)
    meta["memory"] = {
        "file": str(memory.path), "lessons_at_start": lessons_at_start, "lessons": list(lessons),
        "usage": usage_since(reflected, 0),
    }
    return replace(record, meta=meta)

