"""The Arena tab: two anonymous persuaders answer the person side by side; the person votes; a leaderboard.

Before the vote only the replies are shown (no acts, no planner, no timings: anything could give a
contestant away); the vote is stored first (gdp_zero.arena.service), then identities, acts and each
side's last search tree are shown. The round, the vote and the statistics are gdp_zero.arena's;
this module only lays out components and wires them.
"""

from __future__ import annotations

import asyncio
import html
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from gdp_zero.analysis.figures import empty_figure
from gdp_zero.arena.battle import SIDES, Battle, VoteRefused
from gdp_zero.arena.figures import FIGURES
from gdp_zero.arena.leaderboard import Leaderboard, VotesError, leaderboard
from gdp_zero.arena.report import leaderboard_csv, report_html, unbounded_text
from gdp_zero.arena.rounds import ArenaRounds
from gdp_zero.arena.service import ArenaService
from gdp_zero.llm.errors import LLMError
from gdp_zero.serving.limits import ClientLimits, LimitExceeded, client_address
from gdp_zero.serving.scratch import scratch_folder
from gdp_zero.session import MAX_MESSAGE_CHARS, ChatSession, MessageRejected
from gdp_zero.wording import plural
from ui import chat_view, tree_view

logger = logging.getLogger(__name__)

VOTES = (("a", "← A is better", "arena-vote-a"), ("b", "B is better →", "arena-vote-b"),
         ("tie", "Tie", "arena-vote-tie"), ("both_bad", "Both are bad", "arena-vote-both-bad"))
VOTE_WORDS = {"a": "A is better", "b": "B is better", "tie": "a tie", "both_bad": "both are bad"}
APP_ROUNDS = 400  # bootstrap resamples on the page (the offline report takes its own number)
# Left out of the votes a page may download: who voted (pseudonyms link one session's votes) and the round.
PRIVATE_VOTE_COLUMNS = ("voter", "battle")
INSTRUCTIONS = ("Two anonymous persuaders, **A** and **B**, answer each of your messages; you play the persuadee. When "
                "you have read enough, vote for the one that persuaded you better. Who they were is shown after your vote.")
BOARD_HEADERS = ["rank", "contestant", "rating", "lower_95", "upper_95", "battles", "finite"]


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


def board_figures(board: Leaderboard | None) -> list[Any]:
    if board is None:
        return [empty_figure("No votes yet.") for _ in FIGURES]
    return [figure(board) for _, figure in FIGURES]


def arena_tab(service: ArenaService | None, limits: ClientLimits, event_options: dict[str, Any]) -> Callable[[gr.Blocks], None]:
    """The Arena tab, inside the caller's `gr.Tabs`, when the app serves an arena (else nothing); returns the
    function that wires its events, called after the page's own events with the page's Blocks."""
    if service is None:
        return lambda demo: None
    with gr.Tab("Arena", id="arena-tab"):
        return build_tab(ArenaRounds(service, limits), event_options)


def build_tab(rounds: ArenaRounds, event_options: dict[str, Any]) -> Callable[[gr.Blocks], None]:
    """The tab's components; returns the function that wires its events (with the Blocks for its unload event)."""
    gr.Markdown(f"### {html.escape(rounds.service.arena.title)}\n{INSTRUCTIONS}")
    wire_round = round_panel(rounds, event_options)
    with gr.Accordion("Leaderboard", open=False, elem_id="arena-leaderboard-panel"):
        wire_board = leaderboard_panel(rounds.service, event_options, hidden_columns=PRIVATE_VOTE_COLUMNS)

    def wire_events(demo: gr.Blocks) -> None:
        wire_round(demo)
        wire_board(demo)

    return wire_events


def _no_gate(request: gr.Request) -> str | None:
    return None


def round_panel(
    rounds: ArenaRounds, event_options: dict[str, Any], *, voter_key: Callable[[gr.Request], str | None] | None = None,
    gate: Callable[[gr.Request], str | None] = _no_gate,
    after_vote: tuple[Callable[[gr.Request], list[Any]], list[Any]] | None = None,
) -> Callable[[gr.Blocks], None]:
    """The round's components (two chats, the message box, the votes, the reveal, the trees); returns the function
    that wires its events. A vote is stored under `voter_key(request)` (default: the page's session); `gate` says
    why a round may not start (None: it may); `after_vote` (handler, outputs) runs after each vote's event."""
    service = rounds.service
    key_of = voter_key or _key
    with gr.Row(equal_height=False):
        chats, reveals, trees = {}, {}, {}
        for side in SIDES:
            with gr.Column(min_width=300):
                chats[side] = gr.Chatbot(
                    elem_id=f"arena-chat-{side}", elem_classes=["arena-chat"], label=f"Persuader {side.upper()}", height=420,
                    sanitize_html=True, render_markdown=True, latex_delimiters=[], allow_tags=False,
                    group_consecutive_messages=False, feedback_options=None, buttons=[], layout="bubble",
                )
                reveals[side] = gr.HTML("", elem_id=f"arena-reveal-{side}")
    status = gr.HTML(chat_view.status_html("Press Start a round: two persuaders will greet you.", "info"),
                     elem_id="arena-status")
    with gr.Row():
        message = gr.Textbox(elem_id="arena-message", show_label=False, scale=5, lines=1, max_lines=6, interactive=False,
                             placeholder=f"Your reply to both persuaders (up to {MAX_MESSAGE_CHARS} characters)")
        send = gr.Button("Send to both", elem_id="arena-send", variant="primary", scale=1, interactive=False)
    with gr.Row():
        vote_buttons = [gr.Button(label, elem_id=elem_id, interactive=False, min_width=120) for _, label, elem_id in VOTES]
    with gr.Row():
        new_round = gr.Button("Start a round", elem_id="arena-new-round", variant="secondary")
        retry = gr.Button("Retry", elem_id="arena-retry", interactive=False)
    with gr.Accordion("Search trees of the last turn (shown after your vote)", open=False, elem_id="arena-trees"), gr.Row():
        for side in SIDES:
            trees[side] = gr.Plot(label=f"Persuader {side.upper()}", elem_id=f"arena-tree-{side}")

    round_outputs = [*chats.values(), *reveals.values(), status, message, send, *vote_buttons, retry, new_round,
                     *trees.values()]
    MESSAGE_OUTPUT = round_outputs.index(message)
    def view(battle: Battle | None, text: str, kind: str, pending: str | None = None, busy: bool = False) -> list[Any]:
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

    def after_step(battle: Battle) -> list[Any]:
        if battle.ended:
            return view(battle, "The dialogue has ended: vote for the persuader that did better.", "ended")
        if battle.exchanges >= 1:
            return view(battle, "Both have replied. Keep chatting, or vote when you have read enough.", "done")
        return view(battle, "Both persuaders have greeted you: reply to them.", "done")

    async def stepped(key: str, step: Callable[[Battle], Any], busy_text: str, pending: str | None = None
                      ) -> AsyncIterator[list[Any]]:
        found = rounds.get(key)
        if found is None:
            yield view(None, "This round has ended (the page was idle, or the server restarted): start a new round.", "hint")
            return
        busy = view(found.battle, busy_text, "busy", pending=pending, busy=True)
        if pending is not None:  # the message is on its way: the box is emptied for the next one
            busy[MESSAGE_OUTPUT] = gr.Textbox(value="", interactive=False)
        yield busy
        try:
            await rounds.run(found, step)
        except (MessageRejected, LimitExceeded) as refused:
            yield view(found.battle, str(refused), "hint")
            return
        except LLMError as error:
            yield view(found.battle, f"A persuader's LLM endpoint failed ({error}). Nothing is lost: press Retry.", "error")
            return
        except Exception as error:
            logger.exception("arena turn failed")
            yield view(found.battle, f"Unexpected error ({type(error).__name__}): press Retry.", "error")
            return
        yield after_step(found.battle)

    async def on_new_round(request: gr.Request) -> AsyncIterator[list[Any]]:
        refusal = await asyncio.to_thread(gate, request)
        if refusal is not None:
            yield view(None, refusal, "hint")
            return
        try:
            await rounds.start(_key(request), client_address(request))
        except LimitExceeded as refused:
            yield view(None, str(refused), "hint")
            return
        async for update in stepped(_key(request), lambda battle: battle.open(), "Both persuaders are writing a greeting…"):
            yield update

    async def on_send(text: str, request: gr.Request) -> AsyncIterator[list[Any]]:
        found = rounds.get(_key(request))
        if found is not None:
            try:
                found.battle.check_send(text)
            except MessageRejected as rejected:
                yield view(found.battle, str(rejected), "hint")
                return
        async for update in stepped(_key(request), lambda battle: battle.send(text),
                                    "Both persuaders are replying…", pending=text):
            yield update

    async def on_retry(request: gr.Request) -> AsyncIterator[list[Any]]:
        async for update in stepped(_key(request), lambda battle: battle.retry(), "Retrying the missing reply…"):
            yield update

    def voter(winner: str) -> Callable[[gr.Request], Any]:
        async def on_vote(request: gr.Request) -> list[Any]:
            found, voter_key = rounds.get(_key(request)), key_of(request)
            if found is None or found.busy or voter_key is None:
                text = ("This page cannot vote: open it from the study's link." if voter_key is None else
                        "Wait for both replies before voting." if found else "This round has ended: start a new round.")
                return view(found.battle if found else None, text, "hint")
            try:
                await asyncio.to_thread(service.vote, found.battle, winner, voter_key, client_address(request))
            except VoteRefused as refused:
                return view(found.battle, str(refused), "hint")
            # What comes next is the gate's word: a crowd worker who has cast every vote is not sent to a new round.
            after = await asyncio.to_thread(gate, request) or "Press New round for another pair."
            return view(found.battle, f"Thank you: your vote ({VOTE_WORDS[winner]}) is saved. {after}", "done")
        return on_vote

    async def on_unload(request: gr.Request) -> None:
        await rounds.close(_key(request))

    def wire_events(demo: gr.Blocks) -> None:
        new_round.click(on_new_round, outputs=round_outputs, **event_options)
        send.click(on_send, inputs=[message], outputs=round_outputs, **event_options)
        message.submit(on_send, inputs=[message], outputs=round_outputs, **event_options)
        retry.click(on_retry, outputs=round_outputs, **event_options)
        for (winner, _, _), button in zip(VOTES, vote_buttons):
            voted = button.click(voter(winner), outputs=round_outputs, **event_options)
            if after_vote is not None:
                voted.then(after_vote[0], outputs=after_vote[1], **event_options)
        demo.unload(on_unload)

    return wire_events


def _key(request: gr.Request) -> str:
    """The page's session: its round, and (in the app's tab) the key of the pseudonym its votes are stored under."""
    return request.session_hash or ""


def leaderboard_panel(service: ArenaService, event_options: dict[str, Any], *, hidden_columns: tuple[str, ...] = (),
                      on_load: bool = False) -> Callable[[gr.Blocks], None]:
    """The leaderboard (Bradley–Terry ratings with bootstrap intervals, the win-rate and battle figures) of the stored
    votes, with the report and the votes as downloads (without `hidden_columns`); returns the function that wires its
    events (`on_load`: it is computed when the page opens, too)."""
    downloads = scratch_folder("arena")
    with gr.Row():
        refresh = gr.Button("Refresh the leaderboard", elem_id="arena-refresh", size="sm")
        report_dl = gr.DownloadButton("Report (HTML)", elem_id="arena-report", size="sm", interactive=False)
        board_dl = gr.DownloadButton("Leaderboard (CSV)", elem_id="arena-board-csv", size="sm", interactive=False)
        votes_dl = gr.DownloadButton("Votes (CSV)", elem_id="arena-votes-csv", size="sm", interactive=False)
    board_note = gr.HTML("", elem_id="arena-board-note")
    board_table = gr.Dataframe(pd.DataFrame(columns=BOARD_HEADERS), elem_id="arena-leaderboard", interactive=False,
                               label="Bradley–Terry ratings, 95% bootstrap intervals")
    plots = [gr.Plot(elem_id=f"arena-plot-{key}") for key, _ in FIGURES]
    latest_files: list[Path] = []  # the last leaderboard's download folder; older ones are removed

    def computed_board() -> tuple[Leaderboard | None, pd.DataFrame, str]:
        try:
            votes = service.votes()
            board = leaderboard(votes, rounds=APP_ROUNDS, seed=0)
        except VotesError as error:
            return None, pd.DataFrame(), f"No leaderboard: {error}."
        return board, votes, unbounded_text(board)

    async def on_refresh() -> list[Any]:
        board, votes, note = await asyncio.to_thread(computed_board)
        if board is None:
            empty = gr.DownloadButton(value=None, interactive=False)
            return [chat_view.status_html(note, "hint"), pd.DataFrame(columns=BOARD_HEADERS), empty, empty, empty,
                    *board_figures(None)]
        # A new folder per version (Gradio caches downloads by path); Gradio copies a file when the
        # button gets it, so only the latest folder is kept.
        folder = Path(tempfile.mkdtemp(dir=downloads))
        shown_votes = votes[[c for c in votes.columns if c not in hidden_columns]]
        files = {"arena-report.html": report_html(board, service.arena.title),
                 "arena-leaderboard.csv": leaderboard_csv(board), "arena-votes.csv": shown_votes.to_csv(index=False)}
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
        for old in latest_files:
            shutil.rmtree(old, ignore_errors=True)
        latest_files[:] = [folder]
        shown = f"{board.votes} votes. {note}".strip()
        return [chat_view.status_html(shown, "hint" if note else "info"), board.table(),
                *[gr.DownloadButton(value=str(folder / name), interactive=True) for name in files],
                *board_figures(board)]

    def wire_events(demo: gr.Blocks) -> None:
        outputs = [board_note, board_table, report_dl, board_dl, votes_dl, *plots]
        refresh.click(on_refresh, outputs=outputs, **event_options)
        if on_load:
            demo.load(on_refresh, outputs=outputs, **event_options)

    return wire_events
