"""Where each part of a crowd arena's worker page sits: the consent form, then the Arena's round with the count
of votes and the completion code. Built inside the page's Blocks, it returns its components; the handlers that
fill them are ui/study/arena_page.py. Both pages start hidden: the opening event shows the one the worker is on.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import gradio as gr

from gdp_zero.study.spec import ArenaRules, Study
from ui.arena_round_layout import RoundLayout, round_layout
from ui.arena_view import INSTRUCTIONS


@dataclass(frozen=True)
class CrowdArenaLayout:
    notice: gr.HTML  # why the page shows nothing (no id, declined)
    consent_page: gr.Column
    agree: gr.Button
    decline: gr.Button
    arena_page: gr.Column
    progress: gr.HTML  # the worker's votes so far
    completion: gr.HTML  # the completion code, once the votes are enough
    round: RoundLayout

    @property
    def pages(self) -> list[Any]:
        """The notice and the two pages, as the opening and the consent events show them."""
        return [self.notice, self.consent_page, self.arena_page]


def crowd_arena_layout(study: Study, rules: ArenaRules, banner: str | None) -> CrowdArenaLayout:
    """The page's components, in page order (call inside `gr.Blocks`)."""
    gr.HTML(f'<h1 class="study-title">{html.escape(study.title)}</h1>', elem_id="study-title")
    if banner:
        gr.HTML(f'<div class="study-banner">{html.escape(banner)}</div>', elem_id="demo-banner")
    notice = gr.HTML("", elem_id="study-notice")
    with gr.Column(visible=False, elem_id="consent-page") as consent_page:
        gr.Markdown(study.consent.text, elem_id="consent-text")
        agree = gr.Button(study.consent.agree, variant="primary", elem_id="consent-agree")
        decline = gr.Button(study.consent.decline, elem_id="consent-decline")
    with gr.Column(visible=False, elem_id="arena-page") as arena_page:
        if study.description:
            gr.Markdown(study.description)
        gr.Markdown(f"{INSTRUCTIONS} Please vote on {rules.votes_required} rounds: start each with "
                    "**Start a round**, send at least one message, then vote.")
        progress = gr.HTML("", elem_id="arena-progress")
        completion = gr.HTML("", elem_id="completion")
        round_ = round_layout()
    return CrowdArenaLayout(notice, consent_page, agree, decline, arena_page, progress, completion, round_)
