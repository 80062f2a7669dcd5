"""The reflection memory a planner reads and a finished dialogue writes.

A dialogue's *situation* is what the persuadee has shown of itself: its first few lines. Lessons
are stored under the embedding of the situation they were learned in, and recalled for the
current dialogue by the similarity of its situation, so a persuadee who talks like an earlier
one brings back what was learned about that one (R-MCTS keys reflections by the task the same way).

Learning is two steps so that a killed run adds nothing twice: `reflect` asks the reflection
role for lessons (kept in the dialogue's record), then `keep` stores them under the dialogue's
id, which the store holds once only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import Domain
from gdp_zero.llm.client import LLMClient
from gdp_zero.memory.store import LessonStore, NewLesson, Recalled
from gdp_zero.records import DialogueRecord
from gdp_zero.roles.reflection import Expectation, Reflector

EMBEDDING_ROLE = "embedding"
# The persuadee's first lines make a dialogue's situation: the first says who they are, later ones
# drift towards reactions any persuadee gives. Two lessons a turn: on a seed-0 pilot of the fake world
# (not the seeds the README reports), a third mostly came from another kind of persuadee.
SITUATION_LINES = 2
DEFAULT_RECALL = 2


def situation(domain: Domain, dialogue: Dialogue) -> str:
    """The persuadee's first SITUATION_LINES lines, "" before it has said anything."""
    said = [t.text for t in dialogue if t.speaker == "user"][:SITUATION_LINES]
    return "\n".join(f"{domain.user_role}: {text}" for text in said)


def expectations(record: DialogueRecord) -> list[Expectation]:
    """For each searched persuader turn: the chosen act's Q at the root and its best simulated reply."""
    found = []
    for index, turn in enumerate(record.turns):
        tree = turn.planned.tree if turn.planned is not None else None
        if turn.speaker != "system" or not tree or "root" not in tree:
            continue
        root = tree["root"]
        child = next((c for c in root.get("children", []) if c["path"][-1:] == [turn.act]), None)
        best = max(child["realizations"], key=lambda r: r.get("mean_value") or -2.0, default=None) if child else None
        found.append(Expectation(
            turn=index,
            act=turn.act,
            q=root.get("q", {}).get(turn.act),
            simulated_reply_act=best["reply_act"] if best else "",
            simulated_reply=best["reply"] if best else "",
        ))
    return found


@dataclass
class ReflectionMemory:
    store: LessonStore
    client: LLMClient
    domain: Domain
    k: int = DEFAULT_RECALL

    @classmethod
    def open(cls, path: Path, client: LLMClient, domain: Domain, k: int = DEFAULT_RECALL) -> ReflectionMemory:
        return cls(LessonStore(path), client, domain, k)

    def describe(self) -> dict[str, Any]:
        return {"file": str(self.store.path), "recall": self.k}

    async def recall(self, dialogue: Dialogue) -> list[Recalled]:
        """The k lessons learned in the situations most like this dialogue's (none before the persuadee spoke)."""
        query = situation(self.domain, dialogue)
        if not query or not len(self.store):
            return []
        (vector,) = await self.client.embed(EMBEDDING_ROLE, [query])
        return self.store.search(vector, self.k)

    async def reflect(self, record: DialogueRecord) -> tuple[str, ...]:
        """Lessons from a finished dialogue: what its searches expected against what happened."""
        reflection = await Reflector(self.client, self.domain).reflect(record.dialogue, expectations(record), record.outcome)
        return reflection.lessons

    async def keep(self, dialogue_id: str, dialogue: Dialogue, lessons: Sequence[str], outcome: float | None) -> int:
        """Store a dialogue's lessons once; how many were new (0 when they are already there)."""
        where = situation(self.domain, dialogue)
        if not lessons or not where or self.store.has_dialogue(dialogue_id):
            return 0
        (vector,) = await self.client.embed(EMBEDDING_ROLE, [where])
        return self.store.add(dialogue_id, [NewLesson(text, where, vector) for text in lessons], outcome)

    async def learn(self, record: DialogueRecord) -> int:
        """Reflect on a finished dialogue and keep its lessons, once: a dialogue the store holds is not reflected on again."""
        if self.store.has_dialogue(record.id):
            return 0
        return await self.keep(record.id, record.dialogue, await self.reflect(record), record.outcome)


def recalled_dicts(recalled: Sequence[Recalled]) -> list[dict[str, Any]]:
    """What a planned turn records of its recalled lessons (the transcript and tree panel show them)."""
    return [
        {"id": r.lesson.id, "text": r.lesson.text, "similarity": round(r.similarity, 4), "from": r.lesson.dialogue_id}
        for r in recalled
    ]
