"""The participant flow as a headless state machine: the web pages call it, it owns every rule.

consent -> pre_survey -> chat (each bot message rated before the next message) -> post_survey ->
complete; or declined, screened_out (attention check, study full), timed_out (idle too long).

Every event is committed before the method returns, so before the participant's page moves on.
The browser holds a random access token (only its hash is stored); with it a reload or a restart
of the server resumes exactly where the participant was. A participant's `ChatSession` lives in
memory while they chat and is rebuilt from the database whenever memory and database disagree
(after a restart, or when another server process took their last request). Participants only
ever see their condition's neutral label: no condition name, act, strategy or tree.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import secrets
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Literal, Mapping

from sqlalchemy.exc import IntegrityError

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import TURN_LIMIT, load_domain
from gdp_zero.factory import ChatOptions, build_session
from gdp_zero.llm.client import LLMClient
from gdp_zero.llm.errors import LLMError
from gdp_zero.llm.ledger import UsageLedger
from gdp_zero.llm.settings import LLMSettings
from gdp_zero.memory.reflection_memory import ReflectionMemory
from gdp_zero.memory.store import LessonStore
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.planners.base import ProgressCallback, usage_since
from gdp_zero.records import DialogueRecord, TurnRecord
from gdp_zero.session import ChatSession, check_message
from gdp_zero.study import crud
from gdp_zero.study.assignment import StudyFull, assign, choose_condition
from gdp_zero.study.db import Database
from gdp_zero.study.dialogues import message_turn, participation_record
from gdp_zero.study.models import ConditionRow, Message, Participation, utcnow
from gdp_zero.study.spec import SURVEYS, Item, Study, Survey, is_numeric

Phase = Literal[
    "consent", "pre_survey", "chat", "rating", "post_survey", "complete", "screened_out", "declined", "timed_out", "refused"
]
_SURVEY_PHASE: dict[Survey, str] = {"pre": "pre_survey", "post": "post_survey"}

NOTICES = {
    "already_completed": "You have already completed this study. Thank you! You cannot take part a second time.",
    "already_participated": "You have already taken part in this study, so you cannot start it again.",
    "in_progress_elsewhere": (
        "This participant id already has a session in progress in another browser or device. "
        "Please continue there; for your privacy it cannot be opened here."
    ),
    "missing_id": "This link has no participant id. Please open the study from the link on Prolific.",
    "invalid_id": "The participant id in this link is not valid. Please open the study from the link on Prolific.",
    "study_full": "Sorry, this study is full at the moment. Please return your submission on Prolific.",
    # After consent and the pre-survey (screen-out reason "study_full"): the study file says what they get.
    "study_full_after_start": (
        "Thank you for your answers. While you gave them, the last places in this study were taken, "
        "so the chat cannot start and the study ends here."
    ),
    "declined": "You did not agree to take part, so the study ends here. Please return your submission on Prolific.",
    "timed_out": (
        "Your session was inactive for too long and has ended, so the study cannot be continued. "
        "Please return your submission on Prolific."
    ),
    "attention_check": "Thank you for your time. Based on your answers the study ends here.",
}


class StudyRefusal(ValueError):
    """An action the flow does not allow now; the text can be shown to the participant."""


class AccessDenied(StudyRefusal):
    """No participation for this token (a wrong, forged or another study's token)."""


class SurveyInvalid(StudyRefusal):
    """Some answers are missing or invalid; `problems` maps item id -> what is wrong."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"{item}: {problem}" for item, problem in self.problems.items()))


@dataclass(frozen=True)
class TranscriptLine:
    position: int
    speaker: Literal["bot", "you"]
    text: str
    rated: bool = False  # bot lines: the participant has rated it


@dataclass(frozen=True)
class ParticipantView:
    """What a participant's page shows now; never the condition's name, acts or trees."""

    phase: Phase
    token: str | None = None  # only from enter(): the browser keeps it to resume
    notice: str | None = None  # why the flow stopped or refused (refused, declined, screened_out, timed_out)
    reason: str | None = None  # the notice's key in NOTICES
    title: str = ""
    consent: Mapping[str, str] = field(default_factory=dict)  # text, agree, decline
    survey: Survey | None = None
    items: tuple[dict[str, Any], ...] = ()  # the survey's items, in order (Item.model_dump)
    rating_items: tuple[dict[str, Any], ...] = ()
    partner_label: str | None = None
    transcript: tuple[TranscriptLine, ...] = ()
    awaiting_rating: int | None = None  # position of the bot message to rate before going on
    # The bot owes a message (call retry): the reply to the participant's last one, or the opening one.
    awaiting_reply: bool = False
    turns: int = 0  # the participant's messages that have a reply
    min_turns: int = 0
    max_turns: int = 0
    max_message_chars: int = 0
    can_finish: bool = False
    must_finish: bool = False  # max turns reached or the dialogue ended: only "finish" is possible
    completion_code: str | None = None
    redirect_url: str | None = None
    preview: bool = False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class _Chat:
    """A participant's chat held in memory."""

    session: ChatSession
    last_used: float = field(default_factory=time.monotonic)


class StudyService:
    def __init__(
        self,
        study: Study,
        database: Database,
        llm: LLMSettings,
        *,
        base_search: GDPZeroConfig | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.study, self.database, self.llm = study, database, llm
        self.base_search = base_search or GDPZeroConfig()
        self.clock, self.rng = clock, rng or random.SystemRandom()
        # The study's turn limit is the domain's, made no longer than `max_turns`: the chats, their searches
        # and the finish rules all count exchanges the same way, and the participant has the last word.
        domain = load_domain(study.domain)
        self.domain = domain.model_copy(update={"max_exchanges": min(domain.max_exchanges, study.chat.max_turns)})
        self.idle_timeout = timedelta(minutes=study.chat.idle_timeout_minutes)
        self.start_timeout = timedelta(minutes=study.recruitment.start_timeout_minutes)
        with database.transaction() as session:
            row = crud.sync_study(session, study)
            self.study_id = row.id
        self._chats: dict[int, _Chat] = {}
        # One turn at a time per participation: a reload mid-turn waits for the turn in progress, and
        # only then compares the chat in memory with the database (a rebuild would plan the turn twice).
        self._turn_locks: dict[int, asyncio.Lock] = {}
        self._finished: list[ChatSession] = []
        # Reflection memories of the conditions that have one, by file (opened in the event loop's thread),
        # and the finished chats still to reflect on: finish_chat runs in a worker thread, the reflection on the loop.
        self._memories: dict[str, LessonStore] = {}
        self._to_learn: list[tuple[int, str]] = []  # (participation id, condition name)
        self._learning: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- entering and viewing ------------------------------------------------------------------

    def enter(
        self, recruitment: Mapping[str, str], browser_token: str | None = None, preview: bool = False, preview_condition: str | None = None
    ) -> ParticipantView:
        """Start or resume the participation of the id in the URL parameters.

        The browser's token resumes its own participation. A participant id that already has one
        gets it back only with its token: a returning id in another browser is refused, and a
        completed id never starts a second participation.
        """
        rules = self.study.recruitment
        participant_id = (recruitment.get(rules.participant_param) or "").strip()
        if browser_token:
            with self.database.transaction() as session:
                mine = crud.participation_by_token(session, token_hash(browser_token))
            if mine is not None and mine.study_id == self.study_id and (not participant_id or participant_id == mine.participant_id):
                return self._view_for(browser_token, token_out=True)
        if preview:
            participant_id, generated = f"preview-{secrets.token_hex(8)}", True
        elif participant_id:
            if not rules.accepts_id(participant_id):
                return self._refusal("invalid_id")
            generated = False
        elif rules.generate_missing_id and rules.id_pattern is None:
            participant_id, generated = f"anon-{secrets.token_hex(8)}", True
        else:
            return self._refusal("missing_id")

        token = secrets.token_urlsafe(32)
        now = self.clock()
        kept = {name: str(recruitment[name])[:200] for name in rules.params if recruitment.get(name)}
        try:
            with self.database.transaction() as session:
                existing = crud.participation_by_participant(session, self.study_id, participant_id)
                if existing is not None:
                    return self._refusal(_refusal_reason(existing, self._idle_since(now)))
                if not preview and self._full(session, now):
                    return self._refusal("study_full")
                participation = crud.create_participation(
                    session,
                    study_id=self.study_id,
                    participant_id=participant_id,
                    id_generated=generated,
                    recruitment=kept,
                    token_hash=token_hash(token),
                    preview=preview,
                    phase="consent",
                    status=crud.ACTIVE,
                    created_at=now,
                    last_active_at=now,
                )
                crud.add_event(session, participation, "entered", now, preview=preview, preview_condition=preview_condition)
                if preview and preview_condition is not None:
                    self._preview_condition(session, participation, preview_condition, now)
        except IntegrityError:  # the same id entered at the same moment through another request or process
            with self.database.transaction() as session:
                existing = crud.participation_by_participant(session, self.study_id, participant_id)
            if existing is None:
                raise
            return self._refusal(_refusal_reason(existing, self._idle_since(now)))
        return self._view_for(token, token_out=True)

    def view(self, token: str) -> ParticipantView:
        return self._view_for(token)

    # --- consent and surveys -------------------------------------------------------------------

    def consent(self, token: str, agreed: bool) -> ParticipantView:
        self._expire_if_idle(token)
        with self.database.transaction() as session:
            participation = self._participation(session, token, lock=True, phase="consent")
            now = self.clock()
            crud.add_event(session, participation, "consent", now, agreed=bool(agreed))
            if agreed:
                participation.phase = "pre_survey" if self.study.survey_items("pre") else "chat"
            else:
                self._end(participation, crud.DECLINED, "declined", now)
        return self.view(token)

    def answer(self, token: str, survey: Survey, answers: Mapping[str, Any]) -> ParticipantView:
        """Record a whole survey page; invalid or missing answers raise SurveyInvalid and store nothing."""
        if survey not in SURVEYS:
            raise StudyRefusal(f"unknown survey {survey!r}: expected one of {', '.join(SURVEYS)}")
        items = self.study.survey_items(survey)
        checked = _check_answers(items, answers)
        self._expire_if_idle(token)
        with self.database.transaction() as session:
            participation = self._participation(session, token, lock=True, phase=_SURVEY_PHASE[survey])
            now = self.clock()
            crud.add_answers(session, participation.id, survey, checked, now)
            crud.add_event(session, participation, "answers", now, survey=survey, items=[item for item, _, _ in checked])
            check = self.study.attention_check
            if check is not None and check.survey == survey:
                given = next((value for item, value, _ in checked if item == check.item.id), None)  # unanswered: failed
                participation.attention_passed = given == check.item.check(check.correct)
                crud.add_event(session, participation, "attention_check", now, passed=participation.attention_passed)
                if not participation.attention_passed and check.on_failure == "screen_out":
                    self._end(participation, crud.SCREENED_OUT, "screened_out", now, screen_out_reason="attention_check")
                    return self._view_in(session, participation)
            if survey == "pre":
                participation.phase = "chat"
            else:
                self._end(participation, crud.COMPLETED, "complete", now)
                crud.add_event(session, participation, "completion", now, code=self.study.completion.code)
        self._forget_chat(participation.id)
        return self.view(token)

    # --- the chat ------------------------------------------------------------------------------

    async def start_chat(self, token: str, on_progress: ProgressCallback | None = None) -> ParticipantView:
        """Assign a condition (if not yet) and let the bot open the chat (if it has not)."""
        participation = await asyncio.to_thread(self._load, token, "chat")
        if participation.condition_id is None:
            try:
                await asyncio.to_thread(self._assign, participation)
            except StudyFull:
                await asyncio.to_thread(self._screen_out_full, token)
                return self.view(token)
        async with self._turn_lock(participation.id):
            chat = await self._chat(participation.id)
            if not chat.session.log:
                started = time.monotonic()
                turn_mark = len(chat.session.log)
                try:
                    await chat.session.open(on_progress)
                finally:
                    await _hang_up(chat.session)
                await asyncio.to_thread(self._store_turn, token, chat.session, turn_mark, time.monotonic() - started)
        return await asyncio.to_thread(self.view, token)

    async def send(self, token: str, text: str | None, on_progress: ProgressCallback | None = None) -> ParticipantView:
        """The participant's message, committed before the bot answers; the answer committed before returning.

        If the LLM fails the message stays (the view says awaiting_reply) and `retry` completes the turn.
        """
        cleaned = check_message(text, self.study.chat.max_message_chars)
        started = time.monotonic()
        participation = await asyncio.to_thread(self._store_message, token, cleaned)
        return await self._reply(token, participation.id, started, on_progress)

    async def retry(self, token: str, on_progress: ProgressCallback | None = None) -> ParticipantView:
        """Complete a turn the LLM failed: the reply to the pending message, or the opening message."""
        participation = await asyncio.to_thread(self._load, token, "chat")
        state = await asyncio.to_thread(self._chat_state, participation.id)
        if not state.messages or participation.condition_id is None:
            return await self.start_chat(token, on_progress)
        if not state.pending:
            raise StudyRefusal("There is nothing to retry: your last message has its reply.")
        return await self._reply(token, participation.id, time.monotonic(), on_progress)

    def rate(self, token: str, position: int, ratings: Mapping[str, Any]) -> ParticipantView:
        """Rate the bot message at `position` (the one the view says awaits a rating)."""
        checked = _check_answers(self.study.turn_ratings, ratings)
        self._expire_if_idle(token)
        with self.database.transaction() as session:
            participation = self._participation(session, token, lock=True, phase="chat")
            state = self._read_chat(session, participation.id)
            if state.awaiting_rating != position:
                raise StudyRefusal(
                    "That message cannot be rated now." if state.awaiting_rating is None
                    else "Please rate the latest message of your chat partner."
                )
            message = state.messages[position]
            now = self.clock()
            crud.add_ratings(session, participation.id, message.id, checked, now)
            crud.add_event(session, participation, "rating", now, position=position, ratings={i: v for i, v, _ in checked})
        return self.view(token)

    def finish_chat(self, token: str) -> ParticipantView:
        """End the chat and go on to the post-survey; allowed from min_turns, required at max_turns."""
        self._expire_if_idle(token)
        with self.database.transaction() as session:
            participation = self._participation(session, token, lock=True, phase="chat")
            state = self._read_chat(session, participation.id)
            can, must = self._finish_rules(state)
            if state.awaiting_rating is not None:
                raise StudyRefusal("Please rate your chat partner's last message first.")
            if state.pending:
                raise StudyRefusal("Your last message has no reply yet.")
            if not can:
                raise StudyRefusal(f"Please send at least {self.study.chat.min_turns} messages before ending the chat.")
            now = self.clock()
            ended = self._dialogue_end(state)
            reason = "max_turns" if ended == TURN_LIMIT else ended or "participant"
            participation.end_reason = reason
            crud.add_event(session, participation, "chat_finished", now, turns=state.turns, reason=reason)
            if self.study.survey_items("post"):
                participation.phase = "post_survey"
            else:
                self._end(participation, crud.COMPLETED, "complete", now)
                crud.add_event(session, participation, "completion", now, code=self.study.completion.code)
            participation_id = participation.id
            if participation.condition is not None and participation.condition.settings.get("memory"):
                self._to_learn.append((participation_id, participation.condition.name))
        self._forget_chat(participation_id)
        if self._to_learn and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._start_learning)
        return self.view(token)

    async def aclose(self) -> None:
        """Close the LLM clients of the chats held in memory (their data is all in the database)."""
        chats, self._chats = list(self._chats.values()), {}
        self._finished.extend(chat.session for chat in chats)
        await self._close_finished()
        await self.learn_from_finished()
        for store in self._memories.values():
            store.close()
        self._memories.clear()

    async def learn_from_finished(self) -> None:
        """Reflect on every finished chat whose condition has a memory, keeping its lessons there once;
        each participation gets a "reflected" event (lessons added, the reflection's usage, or the error)."""
        self._loop = asyncio.get_running_loop()
        if self._learning is not None and not self._learning.done() and self._learning is not asyncio.current_task():
            await self._learning
        while self._to_learn:
            participation_id, condition = self._to_learn.pop(0)
            spec = self.study.condition_by_name.get(condition)
            if spec is None or spec.memory is None:
                continue
            record = await asyncio.to_thread(self._finished_record, participation_id)
            client = LLMClient(spec.llm_settings(self.llm), UsageLedger())
            detail: dict[str, Any] = {"memory": spec.memory}
            try:
                detail["lessons_added"] = await ReflectionMemory(self._memory(spec.memory), client, self.domain).learn(record)
            except LLMError as error:
                detail["error"] = str(error)
            finally:
                await client.aclose()
            detail["usage"] = usage_since(client.ledger, 0)  # by role: the reflection's call, the embedding's
            await asyncio.to_thread(self._add_event, participation_id, "reflected", detail)

    def _finished_record(self, participation_id: int) -> DialogueRecord:
        with self.database.transaction() as session:
            participation = session.get_one(Participation, participation_id)
            # No participant id: the reflection reads the dialogue only, and the memory keeps none.
            return participation_record(self.study.id, participation, crud.messages_of(session, participation_id), self.domain, "")

    def _start_learning(self) -> None:
        if self._to_learn and (self._learning is None or self._learning.done()):
            self._learning = asyncio.ensure_future(self.learn_from_finished())

    def _memory(self, path: str) -> LessonStore:
        if path not in self._memories:
            self._memories[path] = LessonStore(Path(path))
        return self._memories[path]

    def _add_event(self, participation_id: int, kind: str, detail: dict[str, Any]) -> None:
        with self.database.transaction() as session:
            crud.add_event(session, session.get_one(Participation, participation_id), kind, self.clock(), **detail)

    # --- internals: the chat -------------------------------------------------------------------

    async def _reply(self, token: str, participation_id: int, started: float, on_progress: ProgressCallback | None = None) -> ParticipantView:
        async with self._turn_lock(participation_id):
            chat = await self._chat(participation_id)
            if chat.session.pending is None:  # another request answered it meanwhile
                return await asyncio.to_thread(self.view, token)
            turn_mark = len(chat.session.log)
            try:
                await chat.session.retry(on_progress)
            finally:
                await _hang_up(chat.session)
            await asyncio.to_thread(self._store_turn, token, chat.session, turn_mark, time.monotonic() - started)
        return await asyncio.to_thread(self.view, token)

    def _turn_lock(self, participation_id: int) -> asyncio.Lock:
        return self._turn_locks.setdefault(participation_id, asyncio.Lock())

    async def _chat(self, participation_id: int) -> _Chat:
        """The participant's ChatSession, rebuilt from the database unless memory matches it; call it
        holding the participation's turn lock."""
        self._evict_idle_chats()
        await self._close_finished()
        self._loop = asyncio.get_running_loop()
        self._start_learning()  # chats finished while no loop could take them
        state = await asyncio.to_thread(self._chat_state, participation_id)
        chat = self._chats.get(participation_id)
        if chat is not None and _matches(chat.session, state):
            # The message just committed is the one the chat answers next (ChatSession.retry tags it).
            chat.session.keep_pending(state.pending.text if state.pending else None)
            chat.last_used = time.monotonic()
            return chat
        if chat is not None:
            await chat.session.aclose()
        condition = state.condition
        if condition is None:  # start_chat assigns a condition before any chat
            raise StudyRefusal("This chat has not started yet; please reload the page.")
        spec = self.study.condition_by_name.get(condition.name)
        if spec is None:
            raise StudyRefusal("This study's condition is no longer served; please contact the researcher.")
        memory = Path(spec.memory) if spec.memory is not None else None
        options = ChatOptions(planner=spec.planner, search=spec.search_config(self.base_search), domain=self.study.domain,
                              max_exchanges=self.domain.max_exchanges, memory=memory)
        session = build_session(spec.llm_settings(self.llm), options, memory=self._memory(spec.memory) if spec.memory else None)
        stored = DialogueRecord(
            id=f"{self.study.id}-{participation_id}", source="study", domain=self.domain.name, turns=state.turns_so_far()
        )
        session.resume(stored, pending=state.pending.text if state.pending else None)
        chat = _Chat(session)
        self._chats[participation_id] = chat
        return chat

    def _forget_chat(self, participation_id: int) -> None:
        """Drop a finished chat; its client is closed by the next async call (it needs its own loop)."""
        chat = self._chats.pop(participation_id, None)
        if chat is not None:
            self._finished.append(chat.session)

    def _evict_idle_chats(self) -> None:
        """Let go of chats idle past the timeout (their participants timed out; a return rebuilds them)."""
        idle_since = time.monotonic() - self.idle_timeout.total_seconds()
        for participation_id, chat in list(self._chats.items()):
            if chat.last_used < idle_since and not self._turn_lock(participation_id).locked():
                self._forget_chat(participation_id)
                del self._turn_locks[participation_id]

    async def _close_finished(self) -> None:
        finished, self._finished = self._finished, []
        for session in finished:
            await session.aclose()

    def _chat_state(self, participation_id: int) -> _ChatState:
        with self.database.transaction() as session:
            return self._read_chat(session, participation_id)

    def _store_message(self, token: str, text: str) -> Participation:
        self._expire_if_idle(token)
        with self.database.transaction() as session:
            participation = self._participation(session, token, lock=True, phase="chat")
            state = self._read_chat(session, participation.id)
            if not state.messages:
                raise StudyRefusal("The chat has not started yet.")
            if state.pending:
                raise StudyRefusal("Your previous message has no reply yet.")
            if state.awaiting_rating is not None:
                raise StudyRefusal("Please rate your chat partner's last message before you reply.")
            if self._finish_rules(state)[1]:
                raise StudyRefusal("The chat has ended: please continue to the questions.")
            now = self.clock()
            crud.add_message(session, participation.id, position=len(state.messages), speaker="user", text=text, at=now)
            crud.add_event(session, participation, "message", now, position=len(state.messages))
            return participation

    def _store_turn(self, token: str, chat: ChatSession, turn_mark: int, waited: float) -> None:
        """Commit what the last turn added to the chat: the tagged user message and the bot message."""
        record = chat.record()
        with self.database.transaction() as session:
            participation = self._participation(session, token, lock=True, phase="chat")
            messages = crud.messages_of(session, participation.id)
            now = self.clock()
            for position, turn in enumerate(record.turns[turn_mark:], start=turn_mark):
                if turn.speaker == "user":
                    stored = messages[position]
                    stored.act, stored.tag_fallback = turn.act, turn.tag_fallback
                    continue
                planned = turn.planned
                crud.add_message(
                    session,
                    participation.id,
                    position=position,
                    speaker="system",
                    act=turn.act,
                    text=turn.text,
                    at=now,
                    planner_turn=planned.to_dict() if planned else None,
                    usage=turn.usage,
                    wait_seconds=waited,
                )
                crud.add_event(session, participation, "bot_turn", now, position=position, act=turn.act, seconds=planned.seconds if planned else None)

    def _load(self, token: str, phase: str) -> Participation:
        self._expire_if_idle(token)
        with self.database.transaction() as session:
            return self._participation(session, token, phase=phase)

    def _assign(self, participation: Participation) -> ConditionRow:
        if participation.preview:
            with self.database.transaction() as session:
                mine = session.get(Participation, participation.id, with_for_update=True)
                assert mine is not None
                if mine.condition_id is None:
                    self._preview_condition(session, mine, None, self.clock())
                return mine.condition  # type: ignore[return-value]
        names = [c.name for c in self.study.conditions]
        return assign(self.database, participation.id, self.clock(), self.idle_timeout, names, self.rng, self.start_timeout)

    def _preview_condition(self, session: Any, participation: Participation, name: str | None, now: datetime) -> None:
        """A preview's condition: the one asked for, else any; previews never take a slot."""
        conditions = [c for c in crud.conditions_of(session, self.study_id) if c.name in self.study.condition_by_name]
        if name is not None:
            conditions = [c for c in conditions if c.name == name]
            if not conditions:
                raise StudyRefusal(f"no condition {name!r} in this study: choose one of {', '.join(self.study.condition_by_name)}")
        chosen = self.rng.choice(conditions)
        participation.condition_id, participation.assigned_at = chosen.id, now
        crud.add_event(session, participation, "assigned", now, condition=chosen.name, preview=True)

    def _screen_out_full(self, token: str) -> None:
        with self.database.transaction() as session:
            participation = self._participation(session, token, lock=True, phase="chat")
            self._end(participation, crud.SCREENED_OUT, "screened_out", self.clock(), screen_out_reason="study_full")

    def _full(self, session: Any, now: datetime) -> bool:
        conditions = [c for c in crud.conditions_of(session, self.study_id) if c.name in self.study.condition_by_name]
        crud.expire_idle(session, self.study_id, self._idle_since(now))
        crud.expire_unstarted(session, self.study_id, now - self.start_timeout)
        try:
            choose_condition(conditions, crud.slots_used(session, self.study_id), self.rng)
        except StudyFull:
            return True
        return False

    def _read_chat(self, session: Any, participation_id: int) -> _ChatState:
        rate_from = self.study.chat.rate_from if self.study.turn_ratings else None
        return _ChatState.read(session, participation_id, rate_from)

    def _finish_rules(self, state: _ChatState) -> tuple[bool, bool]:
        """(may finish, must finish) for the chat as stored."""
        if not state.messages or state.pending:
            return False, False
        must = self._dialogue_end(state) is not None  # the participant's donation, or the answer to the last exchange
        return must or state.turns >= self.study.chat.min_turns, must

    def _dialogue_end(self, state: _ChatState) -> str | None:
        return self.domain.end_reason(Dialogue.of(state.turns_so_far()))

    # --- internals: participations and views ---------------------------------------------------

    def _participation(self, session: Any, token: str, *, lock: bool = False, phase: str | None = None) -> Participation:
        participation = crud.participation_by_token(session, token_hash(token or ""), lock=lock)
        if participation is None or participation.study_id != self.study_id:
            raise AccessDenied("This session is not valid. Please open the study again from its link.")
        now = self.clock()
        if participation.status == crud.ACTIVE and participation.last_active_at < self._idle_since(now):
            self._end(participation, crud.TIMED_OUT, "timed_out", now)
            crud.add_event(session, participation, "timed_out", now)
            session.flush()
        if phase is not None and participation.phase != phase:
            if participation.phase in NOTICES:
                raise StudyRefusal(NOTICES[participation.phase])
            raise StudyRefusal(f"This step is over (the study is at: {participation.phase.replace('_', ' ')}). Please reload the page.")
        return participation

    def _expire_if_idle(self, token: str) -> None:
        """Commit a timeout on its own, so that the refusal raised after it does not roll it back."""
        with self.database.transaction() as session:
            self._participation(session, token)

    def _end(self, participation: Participation, status: str, phase: str, now: datetime, screen_out_reason: str | None = None) -> None:
        participation.status, participation.phase, participation.ended_at = status, phase, now
        if screen_out_reason is not None:
            participation.screen_out_reason = screen_out_reason

    def _idle_since(self, now: datetime) -> datetime:
        return now - self.idle_timeout

    def _refusal(self, reason: str) -> ParticipantView:
        return ParticipantView(phase="refused", reason=reason, notice=NOTICES[reason], title=self.study.title)

    def _view_for(self, token: str, token_out: bool = False) -> ParticipantView:
        with self.database.transaction() as session:
            view = self._view_in(session, self._participation(session, token))
        return replace(view, token=token) if token_out else view

    def _view_in(self, session: Any, participation: Participation) -> ParticipantView:
        study = self.study
        base: dict[str, Any] = {"title": study.title, "preview": participation.preview}
        phase = participation.phase
        if phase == "consent":
            consent = {"text": study.consent.text, "agree": study.consent.agree, "decline": study.consent.decline}
            return ParticipantView(phase="consent", consent=consent, **base)
        if phase in ("pre_survey", "post_survey"):
            survey: Survey = "pre" if phase == "pre_survey" else "post"
            items = tuple(item.model_dump(mode="json") for item in study.survey_items(survey))
            return ParticipantView(phase=phase, survey=survey, items=items, **base)  # type: ignore[arg-type]
        if phase == "complete":
            code, url = study.completion.redirect()
            return ParticipantView(phase="complete", completion_code=code, redirect_url=url, **base)
        if phase == "screened_out":
            reason = participation.screen_out_reason or "attention_check"
            full = reason == "study_full"
            code, url = study.completion.redirect(screened_out=True, full=full)
            notice = NOTICES["study_full_after_start" if full else reason]
            return ParticipantView(phase="screened_out", reason=reason, notice=notice, completion_code=code, redirect_url=url, **base)
        if phase in ("declined", "timed_out"):
            return ParticipantView(phase=phase, reason=phase, notice=NOTICES[phase], **base)  # type: ignore[arg-type]
        state = self._read_chat(session, participation.id)
        can, must = self._finish_rules(state)
        transcript = tuple(
            TranscriptLine(m.position, "bot" if m.speaker == "system" else "you", m.text, m.id in state.rated)
            for m in state.messages
        )
        return ParticipantView(
            phase="rating" if state.awaiting_rating is not None else "chat",
            partner_label=state.condition.label if state.condition is not None else None,
            transcript=transcript,
            rating_items=tuple(item.model_dump(mode="json") for item in study.turn_ratings),
            awaiting_rating=state.awaiting_rating,
            awaiting_reply=state.pending is not None or not state.messages,
            turns=state.turns,
            min_turns=study.chat.min_turns,
            max_turns=study.chat.max_turns,
            max_message_chars=study.chat.max_message_chars,
            can_finish=can and state.awaiting_rating is None,
            must_finish=must,
            **base,
        )


@dataclass
class _ChatState:
    """A participation's chat as stored."""

    condition: ConditionRow | None
    messages: list[Message]
    rated: set[int]
    rate_from: int | None  # the first bot message rated (0 = the greeting); None: the study rates none

    @classmethod
    def read(cls, session: Any, participation_id: int, rate_from: int | None) -> _ChatState:
        participation = session.get(Participation, participation_id)
        return cls(
            participation.condition,
            crud.messages_of(session, participation_id),
            crud.rated_message_ids(session, participation_id),
            rate_from,
        )

    @property
    def pending(self) -> Message | None:
        last = self.messages[-1] if self.messages else None
        return last if last is not None and last.speaker == "user" and last.act is None else None

    @property
    def complete(self) -> list[Message]:
        return [m for m in self.messages if m is not self.pending]

    def turns_so_far(self) -> tuple[TurnRecord, ...]:
        """The complete messages as turns (a message awaiting its reply aside)."""
        return tuple(message_turn(m) for m in self.complete)

    @property
    def turns(self) -> int:
        """The participant's messages the chat has taken in (tagged; the last one gets no reply)."""
        return sum(1 for m in self.complete if m.speaker == "user")

    @property
    def awaiting_rating(self) -> int | None:
        last = self.messages[-1] if self.messages else None
        if last is None or last.speaker != "system" or last.id in self.rated or self.rate_from is None:
            return None
        bot_message = sum(1 for m in self.messages if m.speaker == "system") - 1
        return last.position if bot_message >= self.rate_from else None


async def _hang_up(session: ChatSession) -> None:
    """Between turns a chat holds no connection (the server kept 277 sockets in CLOSE-WAIT for 40
    chats, minutes after their turns); the next turn reconnects."""
    await session.client.aclose()


def _matches(session: ChatSession, state: _ChatState) -> bool:
    """Whether the chat in memory holds exactly the stored dialogue (a message awaiting its reply aside)."""
    complete = state.complete
    return len(session.log) == len(complete) and all(
        logged.text == stored.text for logged, stored in zip(session.log[-1:], complete[-1:])
    )


def _check_answers(items: tuple[Item, ...], answers: Mapping[str, Any]) -> list[tuple[str, Any, float | None]]:
    """(item id, value, number for the statistics) per answered item; SurveyInvalid names every problem."""
    if not isinstance(answers, Mapping):
        raise SurveyInvalid({"(answers)": "expected answers by item id"})
    known = {item.id for item in items}
    problems = {key: "not a question of this page" for key in answers if key not in known}
    checked = []
    for item in items:
        value = answers.get(item.id)
        if value is None or value == "":
            if item.type == "checkbox":
                value = False
            elif item.required:
                problems[item.id] = "please answer this question"
                continue
            else:
                continue
        try:
            value = item.check(value)
        except ValueError as error:
            problems[item.id] = str(error)
            continue
        checked.append((item.id, value, float(value) if is_numeric(item) else None))
    if problems:
        raise SurveyInvalid(problems)
    return checked


def _refusal_reason(existing: Participation, idle_since: datetime) -> str:
    if existing.status == crud.COMPLETED:
        return "already_completed"
    if existing.status == crud.ACTIVE and existing.last_active_at >= idle_since:
        return "in_progress_elsewhere"
    if existing.status == crud.ACTIVE:
        return "timed_out"
    return "already_participated" if existing.status != crud.TIMED_OUT else "timed_out"

