"""Where each part of the participant's page sits: consent, the surveys, the chat with its rating form,
completion. Built inside the page's Blocks, it returns its components; the handlers that fill them
are ui/study/participant.py. Every page starts hidden: the opening event shows the one the person is on.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from typing import Any

import gradio as gr

from gdp_zero.study.spec import Study
from ui.study import forms

PREVIEW_CONDITION_PARAM = "condition"  # /preview/?condition=NAME walks that condition


@dataclass(frozen=True)
class SurveyForm:
    page: gr.Column
    inputs: list[Any]
    problems: gr.HTML  # a refused form's problems, above its submit button
    submit: gr.Button


@dataclass(frozen=True)
class ParticipantLayout:
    token: gr.BrowserState
    phase: gr.Textbox  # the service's phase, for tests and API clients
    notice: gr.HTML
    consent_page: gr.Column
    agree: gr.Button
    decline: gr.Button
    pre: SurveyForm
    chat_page: gr.Column
    partner: gr.Markdown
    chatbot: gr.Chatbot
    status: gr.HTML
    rating_panel: gr.Column
    rating_inputs: list[Any]
    rate_problems: gr.HTML
    rate_submit: gr.Button
    message_row: gr.Row
    message: gr.Textbox
    send: gr.Button
    retry: gr.Button
    finish: gr.Button
    post: SurveyForm
    complete_page: gr.Column
    completion: gr.HTML
    closed_page: gr.Column
    closed: gr.HTML

    @property
    def pages(self) -> dict[str, gr.Column]:
        """The pages by the name `ParticipantPage.page_of` gives a view; exactly one is visible."""
        return {"consent": self.consent_page, "pre_survey": self.pre.page, "chat": self.chat_page,
                "post_survey": self.post.page, "complete": self.complete_page, "closed": self.closed_page}

    @property
    def problem_areas(self) -> list[gr.HTML]:
        return [self.pre.problems, self.post.problems, self.rate_problems]

    @property
    def outputs(self) -> list[Any]:
        """What every event may update."""
        return [self.token, self.phase, self.notice, *self.pages.values(), self.partner, self.chatbot, self.status,
                self.rating_panel, self.message_row, self.message, self.retry, self.finish, self.completion, self.closed,
                *self.rating_inputs, *self.problem_areas]


def participant_layout(study: Study, *, preview: bool, banner: str | None) -> ParticipantLayout:
    """The page's components, in page order (call inside `gr.Blocks`)."""
    token = gr.BrowserState(None, storage_key=storage_key(study.id, preview), secret=browser_secret(study.id))
    gr.HTML(f'<h1 class="study-title">{html.escape(study.title)}</h1>', elem_id="study-title")
    if preview:
        gr.HTML('<div class="study-banner">Researcher preview: this walk-through is not counted and takes no '
                f"condition's slot. Add <code>?{PREVIEW_CONDITION_PARAM}=NAME</code> to the address to walk one "
                "condition.</div>", elem_id="preview-banner")
    if banner:
        gr.HTML(f'<div class="study-banner">{html.escape(banner)}</div>', elem_id="demo-banner")
    phase = gr.Textbox(visible=False, elem_id="study-phase")
    notice = gr.HTML("", elem_id="study-notice")

    with gr.Column(visible=False, elem_id="consent-page") as consent_page:
        gr.Markdown(study.consent.text, elem_id="consent-text")
        agree = gr.Button(study.consent.agree, variant="primary", elem_id="consent-agree")
        decline = gr.Button(study.consent.decline, elem_id="consent-decline")

    pre = survey_form("pre", "Before the chat", study.survey_items("pre"), "Continue")

    with gr.Column(visible=False, elem_id="chat-page") as chat_page:
        partner = gr.Markdown("", elem_id="partner-label")
        chatbot = gr.Chatbot(
            elem_id="study-chat", show_label=False, height=None, min_height=260, max_height=560,
            # Texts are escaped by `literal`; nothing of a message is ever HTML.
            sanitize_html=True, render_markdown=True, latex_delimiters=[], allow_tags=False,
            group_consecutive_messages=False, feedback_options=None, buttons=[], layout="bubble",
        )
        status = gr.HTML("", elem_id="chat-status")
        with gr.Column(visible=False, elem_id="rating-panel", elem_classes=["rating-panel"]) as rating_panel:
            gr.Markdown("**Please rate your chat partner's last message before you reply.**")
            rating_inputs = [forms.item_component(item, "rate") for item in study.turn_ratings]
            rate_problems = gr.HTML("", elem_id="rate-problems")
            rate_submit = gr.Button("Submit rating", variant="primary", elem_id="rate-submit")
        with gr.Row(visible=False, elem_id="message-row") as message_row:
            message = gr.Textbox(
                elem_id="study-message", show_label=False, scale=5, lines=1, max_lines=6,
                max_length=study.chat.max_message_chars,
                placeholder=f"Your reply (up to {study.chat.max_message_chars} characters); Enter sends",
            )
            send = gr.Button("Send", variant="primary", elem_id="study-send", scale=1, min_width=80)
        retry = gr.Button("Try again", elem_id="study-retry", visible=False, variant="primary")
        finish = gr.Button("End the chat and continue", elem_id="study-finish", visible=False)

    post = survey_form("post", "After the chat", study.survey_items("post"), "Submit")

    with gr.Column(visible=False, elem_id="complete-page") as complete_page:
        completion = gr.HTML("", elem_id="completion")
    with gr.Column(visible=False, elem_id="closed-page") as closed_page:
        closed = gr.HTML("", elem_id="closed-message")

    return ParticipantLayout(token, phase, notice, consent_page, agree, decline, pre, chat_page, partner, chatbot,
                             status, rating_panel, rating_inputs, rate_problems, rate_submit, message_row, message,
                             send, retry, finish, post, complete_page, completion, closed_page, closed)


def survey_form(survey: str, heading: str, items: Any, submit: str) -> SurveyForm:
    """A hidden page of survey items (elem_ids `<survey>-page`, `<survey>-<item id>`, `<survey>-problems`, `<survey>-submit`)."""
    with gr.Column(visible=False, elem_id=f"{survey}-page") as page:
        gr.Markdown(f"### {heading}")
        inputs = [forms.item_component(item, survey) for item in items]
        problems = gr.HTML("", elem_id=f"{survey}-problems")
        button = gr.Button(submit, variant="primary", elem_id=f"{survey}-submit")
    return SurveyForm(page, inputs, problems, button)


def storage_key(study_id: str, preview: bool) -> str:
    """The localStorage key of the token: one per study, the preview's apart from a participation's.

    Hashed: a study's id often names its conditions ("gdpzero_vs_prompting"), which participants must not read.
    """
    digest = hashlib.sha256(f"gdp-zero-study:{study_id}".encode()).hexdigest()
    return f"gdp-zero-study-{digest[:16]}{'-preview' if preview else ''}"


def browser_secret(study_id: str) -> str:
    # Gradio encrypts BrowserState values with a key it sends to the page, so this is no secret;
    # it must only stay the same across restarts and processes, or stored tokens become unreadable.
    return hashlib.sha256(f"gdp-zero-study-secret:{study_id}".encode()).hexdigest()[:32]
