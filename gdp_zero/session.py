"""A chat between a person (the persuadee) and a planner: the one home of dialogue state.

The terminal chat and the web app are thin clients of this class. A person's message is kept
before anything can fail: if tagging or planning fails (endpoint down), the message stays,
`retry` completes the turn, and nothing already said is lost.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from gdp_zero.dialogue import Dialogue, Speaker
from gdp_zero.domain import Domain
from gdp_zero.llm.client import LLMClient
from gdp_zero.planners import GDPZeroConfig, build_planner
from gdp_zero.planners.base import Planner, PlannerTurn, ProgressCallback
from gdp_zero.records import DialogueRecord, TurnRecord, now_iso
from gdp_zero.roles import Roles
from gdp_zero.text import clean_text

MAX_MESSAGE_CHARS = 2000


class MessageRejected(ValueError):
    """A message the person should change before sending; the text says what to change."""


@dataclass
class TurnLog:
    speaker: Speaker
    act: str
    text: str
    ledger_turn: int
    tag_fallback: str | None = None  # the act tagger had to guess this user act
    planned: PlannerTurn | None = None
    at: str = field(default_factory=now_iso)


def check_message(text: str | None, limit: int = MAX_MESSAGE_CHARS) -> str:
    """The message as it will be kept (gdp_zero.text.clean_text, stripped), or MessageRejected."""
    cleaned = clean_text(text or "").strip()
    if not cleaned:
        raise MessageRejected("Your message is empty: type something to reply to the persuader.")
    if len(cleaned) > limit:
        raise MessageRejected(f"Your message has {len(cleaned)} characters; the limit is {limit}. Please shorten it.")
    return cleaned


@dataclass
class ChatSession:
    domain: Domain
    client: LLMClient
    roles: Roles
    planner: Planner
    log: list[TurnLog] = field(default_factory=list)
    pending: str | None = None  # the person's last message while it has no reply yet
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    source: str = "chat"
    started_at: str = field(default_factory=now_iso)
    _next_ledger_turn: int = 0

    @property
    def dialogue(self) -> Dialogue:
        dialogue = Dialogue()
        for turn in self.log:
            dialogue = dialogue.add(turn.speaker, turn.act, turn.text)
        return dialogue

    @property
    def outcome(self) -> float | None:
        """Set once the person's act is the goal (or the turn limit passed); they may still go on."""
        return self.domain.outcome(self.dialogue)

    @property
    def end_reason(self) -> str | None:
        return self.domain.end_reason(self.dialogue)

    async def open(self, on_progress: ProgressCallback | None = None) -> PlannerTurn:
        """The persuader speaks first."""
        if self.log:
            raise RuntimeError("the conversation has already started")
        return await self._bot_turn(self._new_ledger_turn(), on_progress)

    async def send(self, text: str | None, on_progress: ProgressCallback | None = None) -> PlannerTurn:
        if self.pending is not None or (self.log and self.log[-1].speaker == "user"):
            raise MessageRejected("Your previous message has no reply yet: retry it, or undo it first.")
        self.pending = check_message(text)
        return await self.retry(on_progress)

    async def retry(self, on_progress: ProgressCallback | None = None) -> PlannerTurn:
        """Complete the turn of the pending message (or the opening turn): tag it, then plan."""
        if not self.log:
            return await self.open(on_progress)
        if self.log[-1].speaker == "system" and self.pending is None:
            raise MessageRejected("There is nothing to retry: the last turn has its reply.")
        ledger_turn = self._new_ledger_turn()
        if self.pending is not None:
            tagged = await self.roles.tagger.tag(self.dialogue, self.pending)
            self.log.append(TurnLog("user", tagged.act, self.pending, ledger_turn, tag_fallback=tagged.fallback))
            self.pending = None
        return await self._bot_turn(ledger_turn, on_progress)

    async def _bot_turn(self, ledger_turn: int, on_progress: ProgressCallback | None) -> PlannerTurn:
        planned = await self.planner.plan(self.dialogue, on_progress)
        planned = replace(planned, settings={**self.planner.describe(), "models": self.client.settings.models_by_role()})
        self.log.append(TurnLog("system", planned.act, planned.reply, ledger_turn, planned=planned))
        return planned

    def _new_ledger_turn(self) -> int:
        self.client.ledger.turn = self._next_ledger_turn
        self._next_ledger_turn += 1
        return self.client.ledger.turn

    def change_planner(self, name: str, config: GDPZeroConfig) -> None:
        """Plan with another planner or search from the next turn on; the dialogue is kept."""
        self.planner = build_planner(name, self.roles, self.domain, self.client.ledger, config)

    def undo(self) -> bool:
        """Take back the person's last message and the reply to it; False if there is none."""
        if self.pending is not None:
            self.pending = None
            return True
        last_user = max((i for i, t in enumerate(self.log) if t.speaker == "user"), default=None)
        if last_user is None:
            return False
        del self.log[last_user:]
        self.planner.forget()
        return True

    def restart(self) -> None:
        self.log.clear()
        self.pending = None
        self.planner.forget()

    def record(self) -> DialogueRecord:
        """The dialogue so far as the project's one dialogue record (what a saved transcript holds)."""
        ledger = self.client.ledger
        turns = tuple(
            TurnRecord(
                speaker=turn.speaker,
                act=turn.act,
                text=turn.text,
                at=turn.at,
                tag_fallback=turn.tag_fallback,
                planned=turn.planned,
                # the turn's calls, the tagging of the message before it included
                usage={r: vars(u) for r, u in ledger.by_role(turn.ledger_turn).items()} if turn.speaker == "system" else None,
            )
            for turn in self.log
        )
        end_reason = self.end_reason
        return DialogueRecord(
            id=self.id,
            source=self.source,
            domain=self.domain.name,
            turns=turns,
            outcome=self.outcome,
            end_reason=end_reason,
            planner=self.planner.describe(),
            llm=self.client.settings.public_dict(),
            started_at=self.started_at,
            ended_at=self.log[-1].at if end_reason and self.log else None,
            usage=ledger.to_dict(),
            meta={"pending_message": self.pending} if self.pending is not None else {},
        )

    def transcript(self) -> dict[str, Any]:
        return self.record().to_dict()

    async def aclose(self) -> None:
        await self.client.aclose()
