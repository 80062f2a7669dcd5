"""The Arena's round panel, laid out: two anonymous chats with their reveals, the message box, the votes, the
round's buttons and each side's search tree. Built inside the page's Blocks, it returns its components; the
handlers that fill them are ui/arena_round.py. The app's Arena tab and a crowd arena's page lay out one each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from gdp_zero.arena.battle import SIDES
from gdp_zero.session import MAX_MESSAGE_CHARS
from ui import chat_view

VOTES = (("a", "← A is better", "arena-vote-a"), ("b", "B is better →", "arena-vote-b"),
         ("tie", "Tie", "arena-vote-tie"), ("both_bad", "Both are bad", "arena-vote-both-bad"))


@dataclass(frozen=True)
class RoundLayout:
    chats: dict[str, gr.Chatbot]  # by side
    reveals: dict[str, gr.HTML]  # who each side was, after the vote
    status: gr.HTML
    message: gr.Textbox
    send: gr.Button
    vote_buttons: list[gr.Button]  # in the order of VOTES
    new_round: gr.Button
    retry: gr.Button
    trees: dict[str, gr.Plot]  # by side, after the vote

    @property
    def outputs(self) -> list[Any]:
        """What every event of the round updates, in the order `RoundPage.view` gives them."""
        return [*self.chats.values(), *self.reveals.values(), self.status, self.message, self.send, *self.vote_buttons,
                self.retry, self.new_round, *self.trees.values()]


def round_layout() -> RoundLayout:
    """The round's components, side by side on a wide screen, stacked on a narrow one (call inside `gr.Blocks`)."""
    chats, reveals, trees = {}, {}, {}
    with gr.Row(equal_height=False):
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
    return RoundLayout(chats, reveals, status, message, send, vote_buttons, new_round, retry, trees)
