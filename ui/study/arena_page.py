"""A crowd arena (a study file with an [arena]): the crowd worker's page at `/` and the researcher's leaderboard.

The worker comes from the recruitment platform's link (`?PROLIFIC_PID=...`), whose id the study's
[recruitment] rules validate as the chat study's do; the votes are stored under its salted hash
(gdp_zero.arena.service), never the id itself. After consent the worker plays rounds of the app's
Arena tab (ui/arena_view.py: the same components and rules, identities shown only after each vote);
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
from ui.arena_round_layout import round_layout
from ui.chat_page import PAGE_ONLY
from ui.study.participant import completion_html, notice_html

CONSENTED_LIMIT = 10_000  # page sessions remembered as having consented (the oldest are forgotten first)


def arena_rules(study: Study) -> ArenaRules:
    if study.arena is None:
        raise ValueError(f"study {study.id!r} declares no [arena]")
    return study.arena


def build_crowd_arena_app(study: Study, service: ArenaService, limits: ClientLimits, *, banner: str | None = None
                          ) -> gr.Blocks:
    """The worker's page: consent, then arena rounds with a count of votes, then the completion code."""
    rules, recruitment = arena_rules(study), study.recruitment
    consented: dict[str, None] = {}  # page sessions that agreed, oldest first

    def worker_id(request: gr.Request) -> str | None:
        """The recruitment id of the link, when it has the study's form (else the page cannot vote)."""
        found = (request.query_params.get(recruitment.participant_param) or "").strip()
        return found if found and recruitment.accepts_id(found) else None

    def gate(request: gr.Request) -> str | None:
        worker = worker_id(request)
        if worker is None:
            return NOTICES["missing_id"]
        cast = service.votes_of(worker)
        if cast >= rules.most_votes:
            return f"You have cast all {rules.most_votes} votes this study takes: thank you."
        if not cast and (request.session_hash or "") not in consented:
            return "Please agree to take part first (reload the page to see the consent form)."
        return None

    def votes_cast(request: gr.Request) -> int:
        worker = worker_id(request)
        return service.votes_of(worker) if worker is not None else 0

    def counted(cast: int) -> list[Any]:
        """The worker's votes so far, and the completion code once they are enough."""
        line = f'<div class="study-status">Your votes: {cast} of {rules.votes_required}</div>'
        if cast < rules.votes_required:
            return [line, ""]
        code, url = study.completion.redirect()
        return [line, completion_html(ParticipantView(phase="complete", completion_code=code, redirect_url=url))]

    def on_voted(request: gr.Request) -> list[Any]:  # typed: Gradio hands the request only to a parameter so typed
        return counted(votes_cast(request))

    with gr.Blocks(title=study.title, analytics_enabled=False) as demo:
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
            gr.Markdown(f"{arena_view.INSTRUCTIONS} Please vote on {rules.votes_required} rounds: start each with "
                        "**Start a round**, send at least one message, then vote.")
            progress = gr.HTML("", elem_id="arena-progress")
            completion = gr.HTML("", elem_id="completion")
            wire_round = RoundPage(
                ArenaRounds(service, limits), round_layout(), PAGE_ONLY, voter_key=worker_id, gate=gate,
                after_vote=(on_voted, [progress, completion]),
            ).wire

        def on_load(request: gr.Request) -> list[Any]:
            if worker_id(request) is None:
                given = (request.query_params.get(recruitment.participant_param) or "").strip()
                notice_text = NOTICES["invalid_id" if given else "missing_id"]
                return [notice_html(notice_text, "closed"), gr.Column(visible=False), gr.Column(visible=False), "", ""]
            cast = votes_cast(request)  # a worker who has voted agreed before: a reload goes straight on
            return ["", gr.Column(visible=not cast), gr.Column(visible=bool(cast)), *counted(cast)]

        def on_agree(request: gr.Request) -> list[Any]:
            consented[request.session_hash or ""] = None
            while len(consented) > CONSENTED_LIMIT:
                del consented[next(iter(consented))]
            return ["", gr.Column(visible=False), gr.Column(visible=True)]

        def on_decline() -> list[Any]:
            return [notice_html(NOTICES["declined"], "closed"), gr.Column(visible=False), gr.Column(visible=False)]

        pages = [notice, consent_page, arena_page]
        demo.load(on_load, outputs=[*pages, progress, completion], **PAGE_ONLY)
        agree.click(on_agree, outputs=pages, **PAGE_ONLY)
        decline.click(on_decline, outputs=pages, **PAGE_ONLY)
        wire_round(demo)
    demo.queue(default_concurrency_limit=64)
    return demo


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
