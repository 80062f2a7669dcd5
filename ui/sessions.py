"""One chat per browser session, kept server-side, and the turn each one has in flight.

A `ChatSession` holds an AsyncOpenAI client, so it is never deep-copied into `gr.State`: the
registry keys it by Gradio's per-page session hash. When the page unloads (a reload, a closed
tab) the chat waits for the limits' resume window: the browser keeps the chat's resume token
(localStorage), and a page that loads with it takes the chat back under its own session hash. A
chat is closed when that window passes, or when it has been idle for the limits' idle timeout (a session in use is never closed to make room:
gdp_zero/serving/limits.py refuses new ones instead). A turn runs as an asyncio task, so a handler can report
its progress while it runs, and a page closed mid-turn never leaves the dialogue half-written
(the task finishes or is cancelled on close). Every turn holds a slot of the limits while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import shutil
import time
import weakref
from dataclasses import replace
from pathlib import Path
from typing import Any, Awaitable, Callable

from gdp_zero.factory import ChatOptions, build_session
from gdp_zero.llm.errors import LLMError
from gdp_zero.llm.settings import LLMSettings
from gdp_zero.memory.reflection_memory import ReflectionMemory
from gdp_zero.memory.store import LessonStore
from gdp_zero.mcts.search import SearchProgress
from gdp_zero.planners.gdpzero import GDPZeroPlanner
from gdp_zero.planners.remembering import RememberingPlanner
from gdp_zero.records import PlannerTurn
from gdp_zero.session import ChatSession, MessageRejected
from gdp_zero.serving.limits import ClientLimits, LimitExceeded
from gdp_zero.serving.scratch import scratch_folder
from gdp_zero.serving.uploads import UploadedFiles
from ui.tree_view import ViewChoice

logger = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 30.0  # how often idle sessions are looked for
# A reloaded page may load before the old page's unload reaches the server: wait this long for it.
RESUME_WAIT_S = 2.0
GONE_REMEMBERED = 2000  # closed or refused session keys whose reason a page can still be told
TurnAdmission = Callable[[], Callable[[], None]]  # raises LimitExceeded, or returns the slot's release


class UserChat:
    """A person's chat: the session, the planner options in force, the turn in flight and its progress."""

    def __init__(
        self, settings: LLMSettings, options: ChatOptions, workdir: Path, admit_turn: TurnAdmission | None = None,
        memory: LessonStore | None = None,
    ) -> None:
        self.session: ChatSession = build_session(settings, options)
        # The operator's reflection memory: the gdpzero planner recalls lessons from it at every turn,
        # and each dialogue of this chat that ends is reflected on once (`_learn`).
        self.memory = ReflectionMemory(memory, self.session.client, self.session.domain) if memory is not None else None
        self.dialogues = 0  # restarts so far: each starts a new dialogue, learned from under its own id
        self._recall_lessons()
        self.options = options
        # Held by the page's browser (localStorage) to take this chat back after a reload; never logged.
        self.resume_token = secrets.token_urlsafe(24)
        self.task: asyncio.Task[PlannerTurn | None] | None = None
        self.progress: SearchProgress | None = None
        self.phase = ""
        self.started = 0.0
        self.error: str | None = None
        self.view = ViewChoice()  # how this page draws trees
        self.workdir = workdir  # transcript and tree downloads, made with the first one
        self._admit_turn = admit_turn
        self._closing: asyncio.Future[None] | None = None  # connections being closed after a turn
        self.downloads = 0  # files written so far: each version gets its own folder
        self.latest_files: dict[str, Path] = {}  # file name -> its latest version

    # -- options ---------------------------------------------------------------------------

    def configure(self, options: ChatOptions) -> bool:
        """Use `options` from the next turn on; the dialogue so far is kept. True if anything changed.

        Only the planner is rebuilt (on the session's roles and ledger), so a changed search
        forgets the reused subtree but nothing else. Sample counts of the prior and value roles
        stay those the session was built with.
        """
        if options == self.options:
            return False
        self.session.change_planner(options.planner, options.search)
        self._recall_lessons()
        self.options = options
        return True

    def _recall_lessons(self) -> None:
        """With a memory, let the gdpzero planner read it (the other planners have no search it could guide)."""
        if self.memory is not None and isinstance(self.session.planner, GDPZeroPlanner):
            self.session.planner = RememberingPlanner(self.session.planner, self.memory)

    def write_download(self, name: str, text: str) -> str:
        """A file for a download button, in a fresh folder per version (Gradio caches downloads by
        path), keeping a readable file name. Gradio copies the file into its own cache when the
        button gets it, so only the latest version of each file is kept here."""
        self.downloads += 1
        folder = self.workdir / f"v{self.downloads}"
        folder.mkdir(parents=True)
        path = folder / name
        path.write_text(text, encoding="utf-8")
        previous = self.latest_files.get(name)
        if previous is not None:
            shutil.rmtree(previous.parent, ignore_errors=True)
        self.latest_files[name] = path
        return str(path)

    # -- turns -----------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.task is not None and not self.task.done()

    def _on_progress(self, progress: SearchProgress) -> None:
        self.progress = progress

    def _start(self, phase: str, make: Callable[[], Awaitable[PlannerTurn | None]]) -> asyncio.Task[PlannerTurn | None]:
        if self.busy:
            raise MessageRejected("The persuader is still replying: wait for the reply first.")
        release = self._admit_turn() if self._admit_turn is not None else None  # may raise LimitExceeded
        self.progress, self.phase, self.started, self.error = None, phase, time.monotonic(), None
        self.task = asyncio.ensure_future(self._turn_then_learn(make))
        self.task.add_done_callback(self._turn_ended)
        if release is not None:
            self.task.add_done_callback(lambda _: release())
        return self.task

    async def _turn_then_learn(self, make: Callable[[], Awaitable[PlannerTurn | None]]) -> PlannerTurn | None:
        planned = await make()
        await self._learn()
        return planned

    async def _learn(self) -> None:
        """After the turn that ended the dialogue: reflect on it and keep its lessons (once per dialogue).
        A failed reflection loses only the lessons, never the turn."""
        if self.memory is None or self.session.ending is None:
            return
        self.phase = "The dialogue has ended: reflecting on it for the memory"
        record = self.session.record()
        try:
            await self.memory.learn(replace(record, id=f"{record.id}.{self.dialogues}"))
        except LLMError as error:
            logger.warning("reflecting on a finished chat failed: %s", error)

    def _turn_ended(self, task: asyncio.Task[PlannerTurn | None]) -> None:
        # Between turns a chat holds no connection: a server with hundreds of open chats would
        # otherwise keep a pool of sockets (and an SSL context) per chat. The next turn reconnects.
        if not self.busy:
            self._closing = asyncio.ensure_future(self.session.client.aclose())

    def open(self) -> asyncio.Task[PlannerTurn | None]:
        return self._start("The persuader is opening the conversation", lambda: self.session.open(self._on_progress))

    def send(self, text: str | None) -> asyncio.Task[PlannerTurn | None]:
        if self.busy:
            raise MessageRejected("The persuader is still replying: wait for the reply first.")
        if not self.session.log:
            raise MessageRejected("The persuader has not opened the conversation yet: press Retry.")
        self.session.check_send(text)  # refuse before anything runs: the dialogue is over, a reply is missing, ...
        return self._start("Reading your message", lambda: self.session.send(text, self._on_progress))

    def retry(self) -> asyncio.Task[PlannerTurn | None]:
        if not self.can_retry:
            raise MessageRejected("There is nothing to retry: the last turn has its reply.")
        return self._start("Retrying the turn", lambda: self.session.retry(self._on_progress))

    def regenerate(self) -> asyncio.Task[PlannerTurn | None]:
        """Plan the persuader's last turn again from the same history (both versions stay in the transcript)."""
        if not self.session.can_regenerate:
            raise MessageRejected("There is no persuader message to regenerate: the last message is yours.")
        return self._start("Planning the persuader's last turn again", lambda: self.session.regenerate(self._on_progress))

    @property
    def can_retry(self) -> bool:
        log = self.session.log
        if self.busy or self.session.ending is not None:
            return False
        return not log or self.session.pending is not None or log[-1].speaker == "user"

    def finish(self) -> PlannerTurn | None:
        """After the task ended: its turn, or None with `error` set to one line saying what failed."""
        task, self.task = self.task, None
        if task is None or task.cancelled():
            return None
        error = task.exception()
        if error is None:
            return task.result()
        if isinstance(error, LLMError):
            self.error = str(error)
        else:
            logger.error("turn failed", exc_info=error)
            self.error = f"Unexpected error ({type(error).__name__}): {error}"
        return None

    def undo(self) -> bool:
        if self.busy:
            raise MessageRejected("The persuader is still replying: wait for the reply first.")
        self.error = None
        return self.session.undo()

    def restart(self) -> None:
        if self.busy:
            raise MessageRejected("The persuader is still replying: wait for the reply first.")
        self.error = None
        self.session.restart()
        self.dialogues += 1

    async def aclose(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            try:
                await self.task
            except BaseException:  # the cancellation, or whatever the turn failed with
                pass
        try:
            await self.session.aclose()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)


class SessionRegistry:
    """Chats by browser session id, within `limits`. Idle chats expire; chats in use are never closed.

    A chat is in use while its person starts turns (a message, a retry, a restart); viewing its
    trees or downloads does not count, so a script cannot hold a place with cheap events.

    Downloads go under one folder for the registry (`root`, gdp-zero-ui-*), removed with every
    chat by `close_all`, and at interpreter exit (Ctrl-C included) by `remove_files`. An address
    may upload once one of its chats has opened the Strategies tab (`may_upload`: Gradio's upload
    request names no session, only an address); its files (`uploads`) are removed when its last
    chat closes, however it ends.
    """

    def __init__(self, settings: LLMSettings, limits: ClientLimits | None = None, memory: Path | None = None,
                 uploads: UploadedFiles | None = None) -> None:
        self.settings = settings
        self.uploads = uploads
        # Session key -> its client address, for its uploads. Kept here, not asked of the limits: they
        # forget a session they evict to make room before its chat is closed (and its files removed).
        self._clients: dict[str, str] = {}
        self._uploaders: set[str] = set()  # session keys whose page has opened the Strategies tab
        self.memory = memory  # the operator's reflection memory file, shared by every chat (None: off)
        self._lessons: LessonStore | None = None  # opened by the first chat, in the event loop's thread (SQLite's rule)
        self.limits = limits or ClientLimits()
        self._chats: dict[str, UserChat] = {}
        self._gone: dict[str, str] = {}  # session key -> why it has no chat, oldest first
        self._by_token: dict[str, str] = {}  # resume token -> session key of its chat
        self.root = scratch_folder("ui")
        self.remove_files = weakref.finalize(self, shutil.rmtree, self.root, ignore_errors=True)
        self._folders = itertools.count(1)  # never the session hash: it comes from the client
        self._sweeper: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._chats)

    def get(self, key: str) -> UserChat | None:
        """The chat of `key`. Looking does not keep it alive: only its turns do (see `create`)."""
        return self._chats.get(key)

    def why_gone(self, key: str) -> str | None:
        """Why `key` has no chat, when this server closed or refused it (None: never seen, or long ago)."""
        return self._gone.get(key)

    async def create(self, key: str, client: str, options: ChatOptions) -> UserChat:
        """A new chat for `key`; LimitExceeded (nothing created) when the limits refuse it."""
        await self.close(key)
        await self.sweep()  # chats that have expired make room first
        try:
            replaced = self.limits.open_session(key, client, busy=self._busy)
        except LimitExceeded as refused:
            self._remember(key, f"This page has no chat: {refused}")
            raise
        if replaced is not None:
            await self.close(replaced, self._made_room_reason())
        self._gone.pop(key, None)

        def admit_turn() -> Callable[[], None]:
            release = self.limits.start_turn(client)  # LimitExceeded: nothing was started
            self.limits.touch(key)  # a turn is what a person does: the chat is in use
            return release

        try:
            if self.memory is not None and self._lessons is None:
                self._lessons = LessonStore(self.memory)
            chat = UserChat(self.settings, options, self.root / f"s{next(self._folders)}", admit_turn, self._lessons)
        except BaseException:
            self.limits.close_session(key)
            raise
        self._chats[key] = chat
        self._by_token[chat.resume_token] = key
        self._clients[key] = client
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.ensure_future(self._sweep_forever())
        return chat

    def open_uploads(self, key: str) -> None:
        """The page of `key` shows the Strategies tab, whose file box uploads: its address may upload."""
        if key in self._chats:
            self._uploaders.add(key)

    def may_upload(self, client: str) -> bool:
        """True while a chat of `client` that has opened the Strategies tab is open."""
        return any(self._clients.get(key) == client for key in self._uploaders)

    def detach(self, key: str) -> None:
        """The page of `key` went away: its chat waits for a page with its resume token (see `resume`)."""
        self.limits.detach(key)

    async def resume(self, token: str | None, key: str, client: str) -> UserChat | None:
        """The chat whose page went away holding `token`, now under `key`; None if there is none to take back.

        Only a chat whose page is gone can be taken: two open tabs never share one. LimitExceeded
        (the chat closed) when the limits refuse the session its new place."""
        old = self._by_token.get(token or "")
        if old is None or old == key or old not in self._chats:
            return None
        waited = 0.0
        while not self.limits.is_detached(old):  # its page is still open (another tab), or still unloading
            if waited >= RESUME_WAIT_S:
                return None
            await asyncio.sleep(0.1)
            waited += 0.1
        if old not in self._chats:  # closed while we waited
            return None
        try:
            replaced = self.limits.move_session(old, key, client, busy=self._busy)
        except LimitExceeded as refused:
            await self.close(old)
            self._remember(key, f"This page has no chat: {refused}")
            raise
        if replaced is not None:
            await self.close(replaced, self._made_room_reason())
        chat = self._chats.pop(old)
        self._chats[key] = chat
        if old in self._uploaders:
            self._uploaders.discard(old)
            self._uploaders.add(key)
        self._clients.pop(old, None)
        self._clients[key] = client
        self._by_token[chat.resume_token] = key
        self._gone.pop(key, None)
        return chat

    async def close(self, key: str, reason: str | None = None) -> None:
        """Close the chat of `key`; `reason`, if given, is what its page is told afterwards."""
        chat = self._chats.pop(key, None)
        client = self._clients.pop(key, None)
        self._uploaders.discard(key)
        self.limits.close_session(key)
        if client is not None and self.uploads is not None and not self.limits.holds_session(client):
            self.uploads.remove(client)  # the address's last chat: nothing of its may upload any more
        if reason is not None:
            self._remember(key, reason)
        if chat is not None:
            self._by_token.pop(chat.resume_token, None)
            await chat.aclose()

    def _made_room_reason(self) -> str:
        minutes = self.limits.settings.yield_after_idle_s / 60
        return (f"This chat was closed to make room for a newcomer on a full server, after {minutes:g} minutes "
                "without a message: reload the page to start a new one.")

    async def sweep(self) -> int:
        """Close the chats idle for longer than the limits' idle timeout; how many were closed."""
        expired = self.limits.sweep(busy=self._busy)
        minutes = self.limits.settings.idle_timeout_s / 60
        for key in expired:
            await self.close(key, f"This chat was closed after {minutes:g} minutes without a message: "
                                  "reload the page to start a new one.")
        return len(expired)

    def _busy(self, key: str) -> bool:
        return key in self._chats and self._chats[key].busy

    def _remember(self, key: str, reason: str) -> None:
        self._gone.pop(key, None)
        self._gone[key] = reason
        while len(self._gone) > GONE_REMEMBERED:
            del self._gone[next(iter(self._gone))]

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            try:
                await self.sweep()
            except Exception:  # one chat failing to close must not stop the expiry of the others
                logger.exception("closing idle sessions failed")

    async def close_all(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(BaseException):
                await self._sweeper
        for key in list(self._chats):
            await self.close(key)
        if self._lessons is not None:
            self._lessons.close()
            self._lessons = None
        self.remove_files()

    def snapshot(self) -> dict[str, Any]:
        return {**self.limits.snapshot(), "chats": len(self._chats), "busy": sum(c.busy for c in self._chats.values())}
