"""A chat between a person (the persuadee) and a planner: the one home of dialogue state.

The terminal chat and the web app are thin clients of this class. A person's message is kept
before anything can fail: if tagging or planning fails (endpoint down), the message stays,
`retry` completes the turn, and nothing already said is lost.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import Domain
from gdp_zero.llm.client import LLMClient
from gdp_zero.planners import GDPZeroConfig, build_planner
from gdp_zero.planners.base import Planner, ProgressCallback
from gdp_zero.records import DialogueRecord, Feedback, PlannerTurn, Rating, TurnRecord, now_iso
from gdp_zero.roles import Roles
from gdp_zero.text import clean_text

MAX_MESSAGE_CHARS = 2000
KEEP = object()  # give_feedback: leave this part of the feedback as it is
NO_REPLY_YET = "Your previous message has no reply yet: retry it, or undo it first."


class MessageRejected(ValueError):
    """A message the person should change before sending; the text says what to change."""


class DialogueOver(MessageRejected):
    """A message sent after the dialogue ended; the text says how it ended (each client says how to restart)."""


def check_message(text: str | None, limit: int = MAX_MESSAGE_CHARS) -> str:
    """The message as it will be kept (gdp_zero.text.clean_text, stripped), or MessageRejected."""
    if text is not None and not isinstance(text, str):  # sent to the API directly: a number, a list
        raise MessageRejected(f"A message must be text, not {type(text).__name__}.")
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
    log: list[TurnRecord] = field(default_factory=list)
    pending: str | None = None  # the person's last message while it has no reply yet
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    source: str = "chat"
    started_at: str = field(default_factory=now_iso)
    _next_ledger_turn: int = 0

    @property
    def dialogue(self) -> Dialogue:
        return Dialogue.of(self.log)

    @property
    def outcome(self) -> float | None:
        """Set once the person's act is the goal (or the turn limit passed); they may still go on."""
        return self.domain.outcome(self.dialogue)

    @property
    def end_reason(self) -> str | None:
        return self.domain.end_reason(self.dialogue)

    @property
    def ending(self) -> str | None:
        """How the dialogue ended, in words (why, and its outcome), or None while it goes on."""
        reason, outcome = self.end_reason, self.outcome
        if reason is None or outcome is None:
            return None
        last = self.dialogue.last("user")
        said = f"the {self.domain.user_role.lower()}'s last act was [{last.act}]" if last else ""
        why = {
            "success": f"success, {said}",
            "turn_limit": f"the turn limit of {self.domain.max_exchanges} exchanges was reached and {said}",
        }.get(reason, reason)
        return f"The dialogue has ended: {why}. Outcome {outcome:+.1f}."

    def check_send(self, text: str | None) -> str:
        """The message as it will be sent, or MessageRejected saying why it cannot be sent now."""
        if self.ending is not None:
            raise DialogueOver(self.ending)
        if self.pending is not None or (self.log and self.log[-1].speaker == "user"):
            raise MessageRejected(NO_REPLY_YET)
        return check_message(text)

    async def open(self, on_progress: ProgressCallback | None = None) -> PlannerTurn:
        """The persuader speaks first."""
        if self.log:
            raise RuntimeError("the conversation has already started")
        return await self._bot_turn(self._new_ledger_turn(), on_progress)

    async def send(self, text: str | None, on_progress: ProgressCallback | None = None) -> PlannerTurn | None:
        """Tag the person's message and plan the reply; None when the message ended the dialogue."""
        self.pending = self.check_send(text)
        return await self.retry(on_progress)

    async def retry(self, on_progress: ProgressCallback | None = None) -> PlannerTurn | None:
        """Complete the turn of the pending message (or the opening turn): tag it, then plan.

        A message that ends the dialogue (the goal reached, the turn limit) gets no reply: None.
        """
        if not self.log:
            return await self.open(on_progress)
        if self.ending is not None or (self.log[-1].speaker == "system" and self.pending is None):
            raise MessageRejected("There is nothing to retry: the last turn has its reply.")
        ledger_turn = self._new_ledger_turn()
        if self.pending is not None:
            tagged = await self.roles.tagger.tag(self.dialogue, self.pending)
            self.log.append(TurnRecord("user", tagged.act, self.pending, now_iso(), tagged.fallback, ledger_turn=ledger_turn))
            self.pending = None
            if self.end_reason is not None:
                return None
        return await self._bot_turn(ledger_turn, on_progress)

    def hear(self, text: str, act: str, fallback: str | None = None) -> None:
        """Keep a message whose act is already known (a simulated persuadee names its own), untagged.

        Nothing is planned: the caller decides whether the dialogue goes on, then `retry` replies.
        `fallback` says why the act was a guess, as the tagger's would.
        """
        if not self.log:
            raise RuntimeError("the conversation has not started: open it first")
        if self.pending is not None or self.log[-1].speaker == "user":
            raise MessageRejected(NO_REPLY_YET)
        self.log.append(TurnRecord("user", act, check_message(text), now_iso(), fallback, ledger_turn=self._next_ledger_turn))

    async def plan_for(self, dialogue: Dialogue, on_progress: ProgressCallback | None = None) -> PlannerTurn:
        """The planner's turn for `dialogue`, stamped with the settings it ran with; the session's log is untouched
        (the static evaluation plans from real histories this way)."""
        planned = await self.planner.plan(dialogue, on_progress)
        return replace(planned, settings={**self.planner.describe(), "models": self.client.settings.models_by_role()})

    async def _bot_turn(self, ledger_turn: int, on_progress: ProgressCallback | None) -> PlannerTurn:
        planned = await self.plan_for(self.dialogue, on_progress)
        # the turn's calls, the tagging of the message before it included
        usage = {role: asdict(u) for role, u in self.client.ledger.by_role(ledger_turn).items()}
        self.log.append(
            TurnRecord("system", planned.act, planned.reply, now_iso(), planned=planned, usage=usage, ledger_turn=ledger_turn)
        )
        return planned

    def _new_ledger_turn(self) -> int:
        self.client.ledger.turn = self._next_ledger_turn
        self._next_ledger_turn += 1
        return self.client.ledger.turn

    @property
    def can_regenerate(self) -> bool:
        """The last turn is the persuader's, so it can be planned again from the same history."""
        return bool(self.log) and self.log[-1].speaker == "system" and self.pending is None

    async def regenerate(self, on_progress: ProgressCallback | None = None) -> PlannerTurn:
        """Plan the persuader's last turn again from the same history, with a fresh search (to see how
        much the search varies). The new turn keeps the earlier versions in `replaced`; if planning
        fails, the earlier version stays as it was."""
        if not self.can_regenerate:
            raise MessageRejected("There is no persuader message to regenerate: the last message is yours.")
        earlier = self.log.pop()
        self.planner.forget()
        try:
            planned = await self._bot_turn(self._new_ledger_turn(), on_progress)
        except BaseException:
            self.log.append(earlier)
            raise
        self.log[-1] = replace(self.log[-1], replaced=(*earlier.replaced, replace(earlier, replaced=())))
        return planned

    def give_feedback(self, index: int, *, rating: Rating | None | object = KEEP, note: str | object = KEEP) -> TurnRecord:
        """Set the 👍/👎 (None clears it) and/or the note on the persuader message at `index` of the log."""
        if not (0 <= index < len(self.log)) or self.log[index].speaker != "system":
            raise MessageRejected("Feedback goes on one of the persuader's messages.")
        turn = self.log[index]
        old = turn.feedback or Feedback()
        if note is not KEEP:
            note = clean_text(str(note or "")).strip()
            if len(note) > MAX_MESSAGE_CHARS:
                raise MessageRejected(f"Your note has {len(note)} characters; the limit is {MAX_MESSAGE_CHARS}.")
        feedback = Feedback(old.rating if rating is KEEP else rating,  # type: ignore[arg-type]
                            old.note if note is KEEP else str(note), now_iso())
        self.log[index] = replace(turn, feedback=feedback)
        return self.log[index]

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

    def resume(self, record: DialogueRecord, pending: str | None = None) -> None:
        """Go on with a dialogue kept elsewhere (a study's database): its turns, id, source and start.

        `pending` is the person's message that still awaits its reply. The usage of the resumed
        turns stays in their records (this session's ledger starts empty).
        """
        if record.domain != self.domain.name:
            raise ValueError(f"record {record.id} is a {record.domain} dialogue, not {self.domain.name}")
        self.log = list(record.turns)
        self.pending = pending
        self.id, self.source = record.id, record.source
        self.started_at = record.started_at or self.started_at
        self.planner.forget()

    def keep_pending(self, text: str | None) -> None:
        """Hold the person's message, already checked and kept elsewhere (a study's database), as the
        one `retry` answers next; None: no message awaits its reply."""
        self.pending = text

    def record(self) -> DialogueRecord:
        """The dialogue so far as the project's one dialogue record (what a saved transcript holds)."""
        ledger = self.client.ledger
        end_reason = self.end_reason
        return DialogueRecord(
            id=self.id,
            source=self.source,
            domain=self.domain.name,
            turns=tuple(self.log),
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
