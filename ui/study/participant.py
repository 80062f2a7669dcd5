"""The participant's page: consent, pre-survey, the chat with a rating per bot message, post-survey, completion.

Every step is one call to the headless `StudyService` (gdp_zero/study/service.py), which commits
it before it returns; this module only shows the `ParticipantView` it gets back. The browser keeps
the participation's access token in localStorage (`gr.BrowserState`), so a reload, a reconnect or
a server restart resumes where the person was. The page never receives the condition's name, the
acts, the strategies or the tree: the view carries texts only.

Each event has an `api_name`, undocumented (no API page), so a benchmark can drive the flow over
plain HTTP exactly as the page does; every call needs the token, so an id in a URL or an API call
opens nothing by itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import logging
import time
from typing import Any, AsyncIterator, Awaitable, Callable

import gradio as gr

from gdp_zero.llm.errors import LLMError
from gdp_zero.session import MessageRejected
from gdp_zero.study.service import ParticipantView, StudyRefusal, StudyService, SurveyInvalid
from ui.chat_view import literal
from ui.polling import while_running
from gdp_zero.serving.limits import ClientLimits, LimitExceeded, client_address
from ui.study import forms

logger = logging.getLogger(__name__)

POLL_S = 1.0  # how often the "writing" line updates while the bot turn runs (it counts whole seconds)
CONCURRENCY = 64  # participants' events running at once (bot turns wait on the LLM, not the CPU)
PREVIEW_CONDITION_PARAM = "condition"  # /preview/?condition=NAME walks that condition
LLM_FAILED = "Your chat partner could not answer just now. Nothing you wrote is lost: press Try again."
CHAT_OVER = "The chat is over: press the button below to continue."
# Once per page: whenever a message is added or the rating form opens, the chat box scrolls to its end
# and the page to the newest message, with what to do about it (the rating form, the reply box) below.
# Other changes (the seconds counting while the partner writes) leave the person's scrolling alone.
SCROLL_TO_NEWEST_JS = """
() => {
  if (window.__studyScroll) return;
  window.__studyScroll = true;
  let seen = "", queued = false;
  const newest = () => {
    queued = false;
    const chat = document.querySelector("#study-chat");
    const panel = document.querySelector("#rating-panel");
    const messages = chat ? chat.querySelectorAll("[data-testid='bot'], [data-testid='user']") : [];
    const last = messages[messages.length - 1];
    if (!last || !last.offsetParent) return;
    const state = messages.length + "/" + Boolean(panel && panel.offsetParent);
    if (state === seen) return;
    seen = state;
    for (let box = last.parentElement; box && box !== chat.parentElement; box = box.parentElement) {
      if (box.scrollHeight > box.clientHeight + 1) box.scrollTop = box.scrollHeight;
    }
    const shown = last.getBoundingClientRect();
    const below = panel && panel.offsetParent ? panel.getBoundingClientRect().bottom : shown.bottom;
    if (shown.top < 0 || below > window.innerHeight) last.scrollIntoView({block: "start"});
  };
  new MutationObserver(() => { if (!queued) { queued = true; requestAnimationFrame(newest); } })
    .observe(document.body, {childList: true, subtree: true, attributes: true, attributeFilter: ["class", "style"]});
}
"""
RETURN_SUBMISSION = "Please return your submission on Prolific: you could not take part through no fault of your own."


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


def chat_messages(view: ParticipantView, pending: str | None = None) -> list[dict[str, str]]:
    """The transcript as chat bubbles: texts only, escaped; the partner on the left."""
    messages = [
        {"role": "assistant" if line.speaker == "bot" else "user", "content": literal(line.text)} for line in view.transcript
    ]
    if pending is not None:
        messages.append({"role": "user", "content": literal(pending)})
    return messages


def notice_html(text: str | None, kind: str = "hint") -> str:
    return f'<div class="study-notice study-{kind}" role="status">{html.escape(text)}</div>' if text else ""


def completion_html(view: ParticipantView) -> str:
    """The end of the study: thanks (or why it ended), the code, the link back to the panel.

    Someone who found the study full after the pre-survey gets the study file's code for that, or
    (without one) is asked to return their submission.
    """
    completed = view.phase == "complete"
    parts = ["<p><b>Thank you!</b> You have completed the study.</p>" if completed else f"<p>{html.escape(view.notice or '')}</p>"]
    if view.completion_code:
        label = "Your completion code" if completed else "Your code for the study site"
        parts.append(f'<p>{label}: <code id="completion-code">{html.escape(view.completion_code)}</code></p>')
    if view.redirect_url:
        url = html.escape(view.redirect_url, quote=True)
        text = "Return to the study site to finish" if completed else "Return to the study site"
        parts.append(f'<p><a id="completion-link" class="completion-link" href="{url}" rel="noopener">{text}</a></p>')
    elif view.reason == "study_full" and not view.completion_code:
        parts.append(f"<p>{RETURN_SUBMISSION}</p>")
    return "".join(parts)


def problems_html(problems: dict[str, str], item_text: Callable[[str], str]) -> str:
    """A refused form's problems, one per line, shown beside its submit button (a phone shows them where the person is)."""
    lines = "".join(f"<li>{html.escape(item_text(item))}: {html.escape(problem)}</li>" for item, problem in problems.items())
    return f'<div class="study-notice study-error" role="alert">Please check your answers:<ul>{lines}</ul></div>'


def chat_status(view: ParticipantView) -> str:
    """The line under the chat: what the person can do now."""
    if view.awaiting_reply:
        if not view.transcript:
            return "Your chat partner could not open the chat yet: press Try again."
        return "Your chat partner has not answered yet: press Try again."
    if view.phase == "rating":
        return "Rate the message above to continue."
    if view.must_finish:  # the turn limit, or the dialogue ended (the participant agreed to donate)
        return CHAT_OVER
    left = view.min_turns - view.turns
    if left > 0:
        return f"Your turn. Send at least {left} more message{'s' if left > 1 else ''} before you can end the chat."
    return f"You may end the chat now, or go on (up to {view.max_turns} messages)."


def writing_line(elapsed_s: float) -> str:
    return f'<div class="study-status study-busy">Your chat partner is writing… {elapsed_s:.0f} s</div>'


def survey_page(survey: str, heading: str, items: Any, submit: str) -> tuple[gr.Column, list[Any], gr.HTML, gr.Button]:
    """A hidden page of survey items (elem_ids `<survey>-page`, `<survey>-<item id>`, `<survey>-problems`, `<survey>-submit`)."""
    with gr.Column(visible=False, elem_id=f"{survey}-page") as page:
        gr.Markdown(f"### {heading}")
        inputs = [forms.item_component(item, survey) for item in items]
        problems = gr.HTML("", elem_id=f"{survey}-problems")
        button = gr.Button(submit, variant="primary", elem_id=f"{survey}-submit")
    return page, inputs, problems, button


def build_participant_app(
    service: StudyService, *, preview: bool = False, banner: str | None = None, limits: ClientLimits | None = None
) -> gr.Blocks:
    """The flow for `service`'s study; `preview=True` is the researcher's uncounted walk-through.

    `limits` bounds the LLM turns each client address may start per minute and those in flight
    (gdp_zero/serving/limits.py, as in the chat app): a refused turn keeps the person's page as it was, with the reason.
    """
    study = service.study
    pre_items, post_items, rating_items = study.survey_items("pre"), study.survey_items("post"), study.turn_ratings

    with gr.Blocks(title=study.title, analytics_enabled=False) as demo:
        token = gr.BrowserState(None, storage_key=storage_key(study.id, preview), secret=browser_secret(study.id))
        gr.HTML(f'<h1 class="study-title">{html.escape(study.title)}</h1>', elem_id="study-title")
        if preview:
            gr.HTML('<div class="study-banner">Researcher preview: this walk-through is not counted and takes no '
                    f"condition's slot. Add <code>?{PREVIEW_CONDITION_PARAM}=NAME</code> to the address to walk one "
                    "condition.</div>", elem_id="preview-banner")
        if banner:
            gr.HTML(f'<div class="study-banner">{html.escape(banner)}</div>', elem_id="demo-banner")
        phase = gr.Textbox(visible=False, elem_id="study-phase")  # the service's phase, for tests and API clients
        notice = gr.HTML("", elem_id="study-notice")

        with gr.Column(visible=False, elem_id="consent-page") as consent_page:
            gr.Markdown(study.consent.text, elem_id="consent-text")
            agree = gr.Button(study.consent.agree, variant="primary", elem_id="consent-agree")
            decline = gr.Button(study.consent.decline, elem_id="consent-decline")

        pre_page, pre_inputs, pre_problems, pre_submit = survey_page("pre", "Before the chat", pre_items, "Continue")

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
                rating_inputs = [forms.item_component(item, "rate") for item in rating_items]
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

        post_page, post_inputs, post_problems, post_submit = survey_page("post", "After the chat", post_items, "Submit")

        with gr.Column(visible=False, elem_id="complete-page") as complete_page:
            completion = gr.HTML("", elem_id="completion")

        with gr.Column(visible=False, elem_id="closed-page") as closed_page:
            closed = gr.HTML("", elem_id="closed-message")

        pages = {"consent": consent_page, "pre_survey": pre_page, "chat": chat_page, "post_survey": post_page,
                 "complete": complete_page, "closed": closed_page}
        problem_areas = [pre_problems, post_problems, rate_problems]
        outputs = [token, phase, notice, *pages.values(), partner, chatbot, status, rating_panel, message_row,
                   message, retry, finish, completion, closed, *rating_inputs, *problem_areas]

        # -- views ------------------------------------------------------------------------

        def page_of(view: ParticipantView) -> str:
            if view.phase in ("chat", "rating"):
                return "chat"
            if view.phase in ("complete", "screened_out"):
                return "complete"
            return view.phase if view.phase in pages else "closed"  # declined, timed out, refused

        def render(view: ParticipantView, note: str | None = None, kind: str = "hint") -> dict[Any, Any]:
            shown = page_of(view)
            update: dict[Any, Any] = {page: gr.Column(visible=name == shown) for name, page in pages.items()}
            if view.token is not None:  # only `enter` hands out the token; other views must not erase it
                update[token] = view.token
            update[phase] = view.phase
            update[notice] = notice_html(note)
            update |= {area: "" for area in problem_areas}
            if shown == "chat":
                update |= chat_update(view)
            elif shown == "complete":
                update[completion] = completion_html(view)
            elif shown == "closed":
                update[closed] = notice_html(view.notice or "This page cannot be shown.", "closed")
            return update

        def chat_update(view: ParticipantView) -> dict[Any, Any]:
            rating = view.phase == "rating"
            can_send = not (rating or view.awaiting_reply or view.must_finish)
            update = {
                # The condition's label once assigned; nothing before (a placeholder would change under the person).
                partner: f"#### {html.escape(view.partner_label)}" if view.partner_label else "",
                chatbot: chat_messages(view),
                status: f'<div class="study-status">{html.escape(chat_status(view))}</div>',
                rating_panel: gr.Column(visible=rating),
                message_row: gr.Row(visible=can_send),
                retry: gr.Button(visible=view.awaiting_reply),
                finish: gr.Button(visible=(view.can_finish or view.must_finish) and not rating and not view.awaiting_reply,
                                  variant="primary" if view.must_finish else "secondary"),
            }
            if rating:  # a fresh form for each message
                update |= {component: None for component in rating_inputs}
            return update

        def refused(error: Exception, token_value: str | None, problems: gr.HTML | None = None) -> dict[Any, Any]:
            """A refused step: the page shows where the person really is, and why the step was refused.

            A form's invalid answers are listed in `problems`, its own area above its submit button."""
            if isinstance(error, SurveyInvalid) and problems is not None:
                return {problems: problems_html(error.problems, lambda item: _item_text(study, item))}
            try:
                view = service.view(token_value or "")
            except StudyRefusal:  # no participation behind this token at all
                return render(closed_view(str(error)))
            return render(view, str(error))

        def closed_view(text: str) -> ParticipantView:
            return ParticipantView(phase="refused", notice=text, title=study.title)

        def step(token_value: str | None, action: Callable[[], ParticipantView], problems: gr.HTML | None = None) -> dict[Any, Any]:
            try:
                return render(action())
            except (StudyRefusal, MessageRejected) as error:
                return refused(error, token_value, problems)

        async def bot_turn(token_value: str, client: str, run: Callable[[], Awaitable[ParticipantView]],
                           pending: str | None = None, done: dict[Any, Any] | None = None) -> AsyncIterator[dict[Any, Any]]:
            """Run a bot turn, showing the person's message and a "writing" line until the reply is stored.

            `done` is added to the last update when the turn went through (not when it was refused).
            """
            try:
                shown = await asyncio.to_thread(service.view, token_value)
            except StudyRefusal as error:
                yield await asyncio.to_thread(refused, error, token_value)
                return
            release: Callable[[], None] = _nothing_to_release
            if limits is not None:
                try:
                    release = limits.start_turn(client)
                except LimitExceeded as error:  # nothing was stored: the typed message stays in its box
                    yield render(shown, str(error), "hint")
                    return
            started = time.monotonic()
            task = asyncio.ensure_future(run())
            task.add_done_callback(lambda _: release())  # the slot is held while the turn runs, however it ends
            await asyncio.sleep(0)
            # The whole page once; then only the line that counts the seconds (50 people waiting at
            # once must not cost the server a chat's worth of updates each per second).
            yield {chatbot: chat_messages(shown, pending), message_row: gr.Row(visible=False), notice: "",
                   finish: gr.Button(visible=False), retry: gr.Button(visible=False), rating_panel: gr.Column(visible=False),
                   status: writing_line(0)}
            async for _ in while_running(task, POLL_S):  # a page closed mid-turn still gets its reply stored
                yield {status: writing_line(time.monotonic() - started)}
            failure = task.exception()
            if failure is None:
                yield {**render(task.result()), **(done or {})}
            elif isinstance(failure, LLMError):  # the message is stored; Try again completes the turn
                logger.warning("bot turn failed: %s", failure)
                yield {**render(await asyncio.to_thread(service.view, token_value), LLM_FAILED, "error"), **(done or {})}
            elif isinstance(failure, (StudyRefusal, MessageRejected)):
                yield await asyncio.to_thread(refused, failure, token_value)
            else:
                raise failure

        async def chat_onward(view: ParticipantView, token_value: str, client: str) -> AsyncIterator[dict[Any, Any]]:
            """In the chat without the bot's message it owes (a new chat, or a turn cut by a restart): run it."""
            if view.phase == "chat" and not view.transcript:
                async for update in bot_turn(token_value, client, lambda: service.start_chat(token_value)):
                    yield update
            elif view.awaiting_reply:
                async for update in bot_turn(token_value, client, lambda: service.retry(token_value)):
                    yield update

        # -- handlers (each is also an API endpoint: the token is always an input) --------

        async def on_load(stored: str | None, request: gr.Request) -> AsyncIterator[dict[Any, Any]]:
            params = dict(request.query_params)
            condition = params.get(PREVIEW_CONDITION_PARAM) if preview else None
            if limits is not None and not preview and not stored:  # a browser without a participation of its own
                try:
                    limits.start_participation(client_address(request))
                except LimitExceeded as refused:
                    yield render(closed_view(str(refused)))
                    return
            try:
                view = await asyncio.to_thread(service.enter, params, stored, preview=preview, preview_condition=condition)
            except StudyRefusal as error:  # e.g. a preview of a condition the study does not have
                yield render(closed_view(str(error)))
                return
            yield render(view)
            if view.token is not None:
                async for update in chat_onward(view, view.token, client_address(request)):
                    yield update

        def on_consent(stored: str | None) -> dict[Any, Any]:
            return step(stored, lambda: service.consent(stored or "", True))

        def on_decline(stored: str | None) -> dict[Any, Any]:
            return step(stored, lambda: service.consent(stored or "", False))

        async def on_pre(values: dict[Any, Any], request: gr.Request) -> AsyncIterator[dict[Any, Any]]:
            stored = values[token] or ""
            try:
                view = await asyncio.to_thread(service.answer, stored, "pre", forms.answers(pre_items, values, pre_inputs))
            except StudyRefusal as error:
                yield await asyncio.to_thread(refused, error, stored, pre_problems)
                return
            yield render(view)
            async for update in chat_onward(view, stored, client_address(request)):
                yield update

        def on_post(values: dict[Any, Any]) -> dict[Any, Any]:
            stored = values[token] or ""
            return step(stored, lambda: service.answer(stored, "post", forms.answers(post_items, values, post_inputs)), post_problems)

        def on_rate(values: dict[Any, Any]) -> dict[Any, Any]:
            stored = values[token] or ""

            def rate() -> ParticipantView:
                awaiting = service.view(stored).awaiting_rating
                if awaiting is None:
                    raise StudyRefusal("There is no message to rate now.")
                return service.rate(stored, awaiting, forms.answers(rating_items, values, rating_inputs))

            return step(stored, rate, rate_problems)

        async def on_send(stored: str | None, text: str, request: gr.Request) -> AsyncIterator[dict[Any, Any]]:
            stored = stored or ""
            # The typed text is cleared once it is stored: a refused message stays, to be edited.
            async for update in bot_turn(stored, client_address(request), lambda: service.send(stored, text),
                                         (text or "").strip() or None, {message: ""}):
                yield update

        async def on_retry(stored: str | None, request: gr.Request) -> AsyncIterator[dict[Any, Any]]:
            stored = stored or ""
            async for update in bot_turn(stored, client_address(request), lambda: service.retry(stored)):
                yield update

        def on_finish(stored: str | None) -> dict[Any, Any]:
            return step(stored, lambda: service.finish_chat(stored or ""))

        quiet: dict[str, Any] = {"outputs": outputs, "show_progress": "hidden", "api_visibility": "undocumented"}
        demo.load(None, js=SCROLL_TO_NEWEST_JS, api_name=False)
        demo.load(on_load, inputs=[token], api_name="enter", **quiet)
        agree.click(on_consent, inputs=[token], api_name="consent", **quiet)
        decline.click(on_decline, inputs=[token], api_name="decline", **quiet)
        pre_submit.click(on_pre, inputs={token, *pre_inputs}, api_name="pre_survey", **quiet)
        rate_submit.click(on_rate, inputs={token, *rating_inputs}, api_name="rate", **quiet)
        send.click(on_send, inputs=[token, message], api_name="send", **quiet)
        # Enter in the box: the page's own event, no second name for `send` (api_name=False made
        # a working /gradio_api/call/false).
        message.submit(on_send, inputs=[token, message], **{**quiet, "api_visibility": "private"})
        retry.click(on_retry, inputs=[token], api_name="retry", **quiet)
        finish.click(on_finish, inputs=[token], api_name="finish", **quiet)
        post_submit.click(on_post, inputs={token, *post_inputs}, api_name="post_survey", **quiet)

    demo.queue(default_concurrency_limit=CONCURRENCY)
    return demo


def _nothing_to_release() -> None:
    """The turn's release when no per-client limits apply."""


def _item_text(study: Any, item_id: str) -> str:
    for item in (*study.survey_items("pre"), *study.survey_items("post"), *study.turn_ratings):
        if item.id == item_id:
            return f"“{item.text}”"
    return item_id
