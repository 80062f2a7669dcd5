"""A round of the Arena: two anonymous persuaders answer the person side by side; the person votes; who was
who is shown. `RoundPage` holds the handlers as methods over the components of ui/arena_round_layout.py.

Before the vote only the replies are shown (no acts, no planner, no timings: anything could give a
contestant away); the vote is stored first (gdp_zero.arena.service), then identities, acts and each
side's last search tree are shown. The round, the vote and the statistics are gdp_zero.arena's.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import gradio as gr

from gdp_zero.analysis.figures import empty_figure
from gdp_zero.arena.battle import SIDES, Battle, VoteRefused
from gdp_zero.arena.rounds import ArenaRounds
from gdp_zero.llm.errors import LLMError
from gdp_zero.serving.limits import LimitExceeded, client_address
from gdp_zero.session import ChatSession, MessageRejected
from gdp_zero.wording import plural
from ui import chat_view, tree_view
from ui.arena_round_layout import VOTES, RoundLayout

logger = logging.getLogger(__name__)

VOTE_WORDS = {"a": "A is better", "b": "B is better", "tie": "a tie", "both_bad": "both are bad"}
ROUND_GONE = "This round has ended (the page was idle, or the server restarted): start a new round."


def side_messages(chat: ChatSession, revealed: bool, pending: str | None = None) -> list[dict[str, Any]]:
    """One side's dialogue as chat messages: the text alone until the vote, acts and planner notes after it."""
    messages = []
    for turn in chat.log:
        if turn.speaker == "user":
            shown = chat_view.user_message(turn.text, turn.act) if revealed else \
                {"role": "user", "content": chat_view.message_text(turn.text)}
        else:
            shown = chat_view.bot_message(turn) if revealed else \
                {"role": "assistant", "content": chat_view.message_text(turn.text)}
        messages.append(shown)
    if pending is not None:
        messages.append({"role": "user", "content": chat_view.message_text(pending)})
    return messages


def reveal_html(battle: Battle, side: str) -> str:
    """Who this side was, once the vote is in."""
    if battle.winner is None:
        return ""
    contestant, chat = battle.contestant(side), battle.sides[side]
    models = sorted(set(chat.client.settings.models_by_role().values()))
    # What it ran with, not only what its label says: a search's size depends on the server's defaults too.
    settings = chat.planner.describe()
    searched = f" · {plural(settings['simulations'], 'simulation')}" if "simulations" in settings else ""
    verdict = {"a": "a", "b": "b"}.get(battle.winner)
    won = " · your pick" if verdict == side else ""
    return (f'<div class="arena-reveal" id="arena-identity-{side}"><b>{side.upper()} was {html.escape(contestant.shown_name)}</b>'
            f"{html.escape(won)}<br><span class='turn-meta'>planner {html.escape(contestant.planner)}{html.escape(searched)} · model "
            f"{html.escape(', '.join(models))}</span></div>")


def last_tree(chat: ChatSession) -> dict[str, Any] | None:
    for turn in reversed(chat.log):
        if turn.planned is not None:
            return turn.planned.tree
    return None


def page_session(request: gr.Request) -> str:
    """The page's session: its round, and (in the app's tab) the key of the pseudonym its votes are stored under."""
    return request.session_hash or ""


def no_gate(request: gr.Request) -> str | None:
    """Every round may start (the app's tab)."""
    return None


class RoundPage:
    """The round's handlers over its components: start, send, retry and vote, each rendered as the whole panel.

    A vote is stored under `voter_key(request)` (default: the page's session); `gate` says why a round may not
    start (None: it may), and its word after a vote says what comes next; `after_vote` (handler, outputs) runs
    after each vote's event."""

    def __init__(
        self, rounds: ArenaRounds, layout: RoundLayout, event_options: dict[str, Any], *,
        voter_key: Callable[[gr.Request], str | None] = page_session,
        gate: Callable[[gr.Request], str | None] = no_gate,
        after_vote: tuple[Callable[[gr.Request], list[Any]], list[Any]] | None = None,
    ) -> None:
        self.rounds, self.layout, self.event_options = rounds, layout, event_options
        self.voter_key, self.gate, self.after_vote = voter_key, gate, after_vote

    # -- views ----------------------------------------------------------------------------

    def view(self, battle: Battle | None, text: str, kind: str, pending: str | None = None, busy: bool = False
             ) -> list[Any]:
        """The panel (`RoundLayout.outputs`) for `battle` with the status line `text`; `busy` while a step runs."""
        if battle is None:
            return [[], [], "", "", chat_view.status_html(text, kind), gr.Textbox(interactive=False),
                    gr.Button(interactive=False), *[gr.Button(interactive=False) for _ in VOTES],
                    gr.Button(interactive=False), gr.Button(interactive=not busy), gr.Plot(), gr.Plot()]
        revealed = battle.winner is not None
        can_send = not busy and not revealed and not battle.ended and not battle.can_retry
        can_vote = not busy and not revealed and battle.exchanges >= 1
        tree_figures = []
        for side in SIDES:
            tree = last_tree(battle.sides[side]) if revealed else None
            note = "Shown after your vote." if not revealed else "This persuader does not search: no tree."
            tree_figures.append(tree_view.draw(tree, tree_view.ViewChoice()) if tree else empty_figure(note))
        return [
            *[side_messages(battle.sides[side], revealed, pending) for side in SIDES],
            *[reveal_html(battle, side) for side in SIDES],
            chat_view.status_html(text, kind),
            gr.Textbox(interactive=can_send),
            gr.Button(interactive=can_send),
            *[gr.Button(interactive=can_vote) for _ in VOTES],
            gr.Button(interactive=not busy and battle.can_retry),
            gr.Button("New round" if battle.exchanges or revealed else "Start a round", interactive=not busy),
            *tree_figures,
        ]

    def after_step(self, battle: Battle) -> list[Any]:
        if battle.ended:
            return self.view(battle, "The dialogue has ended: vote for the persuader that did better.", "ended")
        if battle.exchanges >= 1:
            return self.view(battle, "Both have replied. Keep chatting, or vote when you have read enough.", "done")
        return self.view(battle, "Both persuaders have greeted you: reply to them.", "done")

    async def stepped(self, key: str, step: Callable[[Battle], Any], busy_text: str, pending: str | None = None
                      ) -> AsyncIterator[list[Any]]:
        """Run `step` on the session's round: the panel, busy, then as the step left it (or why it failed)."""
        found = self.rounds.get(key)
        if found is None:
            yield self.view(None, ROUND_GONE, "hint")
            return
        busy = self.view(found.battle, busy_text, "busy", pending=pending, busy=True)
        if pending is not None:  # the message is on its way: the box is emptied for the next one
            busy[self.layout.outputs.index(self.layout.message)] = gr.Textbox(value="", interactive=False)
        yield busy
        try:
            await self.rounds.run(found, step)
        except (MessageRejected, LimitExceeded) as refused:
            yield self.view(found.battle, str(refused), "hint")
            return
        except LLMError as error:
            yield self.view(found.battle, f"A persuader's LLM endpoint failed ({error}). Nothing is lost: press Retry.", "error")
            return
        except Exception as error:
            logger.exception("arena turn failed")
            yield self.view(found.battle, f"Unexpected error ({type(error).__name__}): press Retry.", "error")
            return
        yield self.after_step(found.battle)

    # -- handlers -------------------------------------------------------------------------

    async def on_new_round(self, request: gr.Request) -> AsyncIterator[list[Any]]:
        refusal = await asyncio.to_thread(self.gate, request)
        if refusal is not None:
            yield self.view(None, refusal, "hint")
            return
        try:
            await self.rounds.start(page_session(request), client_address(request))
        except LimitExceeded as refused:
            yield self.view(None, str(refused), "hint")
            return
        async for update in self.stepped(page_session(request), lambda battle: battle.open(),
                                         "Both persuaders are writing a greeting…"):
            yield update

    async def on_send(self, text: str, request: gr.Request) -> AsyncIterator[list[Any]]:
        found = self.rounds.get(page_session(request))
        if found is not None:
            try:
                found.battle.check_send(text)
            except MessageRejected as rejected:
                yield self.view(found.battle, str(rejected), "hint")
                return
        async for update in self.stepped(page_session(request), lambda battle: battle.send(text),
                                         "Both persuaders are replying…", pending=text):
            yield update

    async def on_retry(self, request: gr.Request) -> AsyncIterator[list[Any]]:
        async for update in self.stepped(page_session(request), lambda battle: battle.retry(), "Retrying the missing reply…"):
            yield update

    async def vote(self, winner: str, request: gr.Request) -> list[Any]:
        """Store the session's vote for `winner` (a key of VOTE_WORDS), then reveal who was who."""
        found, voter_key = self.rounds.get(page_session(request)), self.voter_key(request)
        if found is None or found.busy or voter_key is None:
            text = ("This page cannot vote: open it from the study's link." if voter_key is None else
                    "Wait for both replies before voting." if found else "This round has ended: start a new round.")
            return self.view(found.battle if found else None, text, "hint")
        try:
            await asyncio.to_thread(self.rounds.service.vote, found.battle, winner, voter_key, client_address(request))
        except VoteRefused as refused:
            return self.view(found.battle, str(refused), "hint")
        # What comes next is the gate's word: a crowd worker who has cast every vote is not sent to a new round.
        after = await asyncio.to_thread(self.gate, request) or "Press New round for another pair."
        return self.view(found.battle, f"Thank you: your vote ({VOTE_WORDS[winner]}) is saved. {after}", "done")

    def on_vote(self, winner: str) -> Callable[[gr.Request], Any]:
        """The vote button's handler for `winner` (Gradio hands the request only to a function that takes nothing else)."""
        async def on_vote(request: gr.Request) -> list[Any]:
            return await self.vote(winner, request)
        return on_vote

    async def on_unload(self, request: gr.Request) -> None:
        await self.rounds.close(page_session(request))

    # -- wiring ---------------------------------------------------------------------------

    def wire(self, demo: gr.Blocks) -> None:
        ui, options = self.layout, self.event_options
        ui.new_round.click(self.on_new_round, outputs=ui.outputs, **options)
        ui.send.click(self.on_send, inputs=[ui.message], outputs=ui.outputs, **options)
        ui.message.submit(self.on_send, inputs=[ui.message], outputs=ui.outputs, **options)
        ui.retry.click(self.on_retry, outputs=ui.outputs, **options)
        for (winner, _, _), button in zip(VOTES, ui.vote_buttons):
            voted = button.click(self.on_vote(winner), outputs=ui.outputs, **options)
            if self.after_vote is not None:
                voted.then(self.after_vote[0], outputs=self.after_vote[1], **options)
        demo.unload(self.on_unload)
