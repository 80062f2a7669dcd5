"""A crowd arena (a study file with an [arena]): the crowd worker's page at `/` and the researcher's leaderboard.

The layout is ui/study/arena_layout.py; `CrowdArenaPage` holds the handlers as methods.

The worker comes from the recruitment platform's link (`?PROLIFIC_PID=...`), whose id the study's
[recruitment] rules validate as the chat study's do; the votes are stored under its salted hash
(gdp_zero.arena.service), never the id itself. After consent the worker plays rounds of the app's
Arena tab (ui/arena_round.py: the same components and rules, identities shown only after each vote);
after `votes_required` votes the completion code shows, and shows again on a reload. No round starts
once the worker has cast `max_votes`. The researcher's page shows the leaderboard of the stored votes
and hands out the votes as CSV (pseudonyms included).
"""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from gdp_zero.arena.rounds import ArenaRounds
from gdp_zero.arena.service import ArenaService
from gdp_zero.serving.limits import ClientLimits
from gdp_zero.study.service import NOTICES, ParticipantView
from gdp_zero.study.spec import ArenaRules, Study
from ui import arena_view
from ui.arena_round import RoundPage
from ui.chat_page import PAGE_ONLY
from ui.study.arena_layout import CrowdArenaLayout, crowd_arena_layout
from ui.study.participant import completion_html, notice_html

CONSENTED_LIMIT = 10_000  # page sessions remembered as having consented (the oldest are forgotten first)


def arena_rules(study: Study) -> ArenaRules:
    if study.arena is None:
        raise ValueError(f"study {study.id!r} declares no [arena]")
    return study.arena


def build_crowd_arena_app(study: Study, service: ArenaService, limits: ClientLimits, *, banner: str | None = None
                          ) -> gr.Blocks:
    """The worker's page: consent, then arena rounds with a count of votes, then the completion code."""
    rules = arena_rules(study)
    with gr.Blocks(title=study.title, analytics_enabled=False) as demo:
        layout = crowd_arena_layout(study, rules, banner)
        CrowdArenaPage(study, rules, service, limits, layout).wire(demo)
    demo.queue(default_concurrency_limit=64)
    return demo


class CrowdArenaPage:
    """The worker page's handlers over its components; the rounds are the Arena's (`RoundPage`), gated here."""

    def __init__(self, study: Study, rules: ArenaRules, service: ArenaService, limits: ClientLimits,
                 layout: CrowdArenaLayout) -> None:
        self.study, self.rules, self.service, self.layout = study, rules, service, layout
        self.recruitment = study.recruitment
        self.consented: dict[str, None] = {}  # page sessions that agreed, oldest first
        self.round = RoundPage(ArenaRounds(service, limits), layout.round, PAGE_ONLY, voter_key=self.worker_id,
                               gate=self.gate, after_vote=(self.on_voted, [layout.progress, layout.completion]))

    def worker_id(self, request: gr.Request) -> str | None:
        """The recruitment id of the link, when it has the study's form (else the page cannot vote)."""
        found = (request.query_params.get(self.recruitment.participant_param) or "").strip()
        return found if found and self.recruitment.accepts_id(found) else None

    def gate(self, request: gr.Request) -> str | None:
        """Why this worker may not start a round (None: they may); after a vote, what comes next."""
        worker = self.worker_id(request)
        if worker is None:
            return NOTICES["missing_id"]
        cast = self.service.votes_of(worker)
        if cast >= self.rules.most_votes:
            return f"You have cast all {self.rules.most_votes} votes this study takes: thank you."
        if not cast and (request.session_hash or "") not in self.consented:
            return "Please agree to take part first (reload the page to see the consent form)."
        return None

    def votes_cast(self, request: gr.Request) -> int:
        worker = self.worker_id(request)
        return self.service.votes_of(worker) if worker is not None else 0

    def counted(self, cast: int) -> list[Any]:
        """The worker's votes so far, and the completion code once they are enough."""
        line = f'<div class="study-status">Your votes: {cast} of {self.rules.votes_required}</div>'
        if cast < self.rules.votes_required:
            return [line, ""]
        code, url = self.study.completion.redirect()
        return [line, completion_html(ParticipantView(phase="complete", completion_code=code, redirect_url=url))]

    # -- handlers -------------------------------------------------------------------------

    def on_voted(self, request: gr.Request) -> list[Any]:  # typed: Gradio hands the request only to a parameter so typed
        return self.counted(self.votes_cast(request))

    def on_load(self, request: gr.Request) -> list[Any]:
        if self.worker_id(request) is None:
            given = (request.query_params.get(self.recruitment.participant_param) or "").strip()
            notice_text = NOTICES["invalid_id" if given else "missing_id"]
            return [notice_html(notice_text, "closed"), gr.Column(visible=False), gr.Column(visible=False), "", ""]
        cast = self.votes_cast(request)  # a worker who has voted agreed before: a reload goes straight on
        return ["", gr.Column(visible=not cast), gr.Column(visible=bool(cast)), *self.counted(cast)]

    def on_agree(self, request: gr.Request) -> list[Any]:
        self.consented[request.session_hash or ""] = None
        while len(self.consented) > CONSENTED_LIMIT:
            del self.consented[next(iter(self.consented))]
        return ["", gr.Column(visible=False), gr.Column(visible=True)]

    def on_decline(self) -> list[Any]:
        return [notice_html(NOTICES["declined"], "closed"), gr.Column(visible=False), gr.Column(visible=False)]

    def wire(self, demo: gr.Blocks) -> None:
        ui = self.layout
        demo.load(self.on_load, outputs=[*ui.pages, ui.progress, ui.completion], **PAGE_ONLY)
        ui.agree.click(self.on_agree, outputs=ui.pages, **PAGE_ONLY)
        ui.decline.click(self.on_decline, outputs=ui.pages, **PAGE_ONLY)
        self.round.wire(demo)


def build_crowd_arena_admin(study: Study, service: ArenaService) -> gr.Blocks:
    """The researcher's page: the leaderboard of the stored votes, its figures, the report and the votes as CSV."""
    rules = arena_rules(study)
    with gr.Blocks(title=f"Admin · {study.title}", analytics_enabled=False, delete_cache=(3600, 3600)) as admin:
        names = ", ".join(c.name for c in rules.contestants)
        gr.HTML(f'<h1 class="study-title">Admin · {html.escape(study.title)}: arena leaderboard</h1>'
                f"<p>Arena <code>{html.escape(study.id)}</code>: contestants {html.escape(names)}; "
                f"{rules.votes_required} votes for the completion code, at most {rules.most_votes} per worker. "
                "The votes' CSV names each worker by a pseudonym (the salted hash of the recruitment id).</p>",
                elem_id="admin-title")
        wire_board = arena_view.leaderboard_panel(service, PAGE_ONLY, on_load=True)
        wire_board(admin)
    admin.queue(default_concurrency_limit=4)
    return admin
