"""The participant's page: consent, pre-survey, the chat with a rating per bot message, post-survey, completion.

The layout is ui/study/participant_layout.py; `ParticipantPage` holds the handlers as methods.

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
from ui.study.participant_layout import PREVIEW_CONDITION_PARAM, ParticipantLayout, participant_layout

logger = logging.getLogger(__name__)

POLL_S = 1.0  # how often the "writing" line updates while the bot turn runs (it counts whole seconds)
CONCURRENCY = 64  # participants' events running at once (bot turns wait on the LLM, not the CPU)
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


def build_participant_app(
    service: StudyService, *, preview: bool = False, banner: str | None = None, limits: ClientLimits | None = None
) -> gr.Blocks:
    """The flow for `service`'s study; `preview=True` is the researcher's uncounted walk-through.

    `limits` bounds the LLM turns each client address may start per minute and those in flight
    (gdp_zero/serving/limits.py, as in the chat app): a refused turn keeps the person's page as it was, with the reason.
    """
    with gr.Blocks(title=service.study.title, analytics_enabled=False) as demo:
        layout = participant_layout(service.study, preview=preview, banner=banner)
        ParticipantPage(service, layout, preview=preview, limits=limits).wire(demo)
    demo.queue(default_concurrency_limit=CONCURRENCY)
    return demo


class ParticipantPage:
    """The page's handlers over its components: each step one StudyService call, its view rendered."""

    def __init__(self, service: StudyService, layout: ParticipantLayout, *, preview: bool,
                 limits: ClientLimits | None) -> None:
        self.service, self.study, self.layout, self.preview, self.limits = service, service.study, layout, preview, limits
        self.pre_items, self.post_items = self.study.survey_items("pre"), self.study.survey_items("post")
        self.rating_items = self.study.turn_ratings

    # -- views ----------------------------------------------------------------------------

    def page_of(self, view: ParticipantView) -> str:
        if view.phase in ("chat", "rating"):
            return "chat"
        if view.phase in ("complete", "screened_out"):
            return "complete"
        return view.phase if view.phase in self.layout.pages else "closed"  # declined, timed out, refused

    def render(self, view: ParticipantView, note: str | None = None, kind: str = "hint") -> dict[Any, Any]:
        ui = self.layout
        shown = self.page_of(view)
        update: dict[Any, Any] = {page: gr.Column(visible=name == shown) for name, page in ui.pages.items()}
        if view.token is not None:  # only `enter` hands out the token; other views must not erase it
            update[ui.token] = view.token
        update[ui.phase] = view.phase
        update[ui.notice] = notice_html(note)
        update |= {area: "" for area in ui.problem_areas}
        if shown == "chat":
            update |= self.chat_update(view)
        elif shown == "complete":
            update[ui.completion] = completion_html(view)
        elif shown == "closed":
            update[ui.closed] = notice_html(view.notice or "This page cannot be shown.", "closed")
        return update

    def chat_update(self, view: ParticipantView) -> dict[Any, Any]:
        ui = self.layout
        rating = view.phase == "rating"
        can_send = not (rating or view.awaiting_reply or view.must_finish)
        update = {
            # The condition's label once assigned; nothing before (a placeholder would change under the person).
            ui.partner: f"#### {html.escape(view.partner_label)}" if view.partner_label else "",
            ui.chatbot: chat_messages(view),
            ui.status: f'<div class="study-status">{html.escape(chat_status(view))}</div>',
            ui.rating_panel: gr.Column(visible=rating),
            ui.message_row: gr.Row(visible=can_send),
            ui.retry: gr.Button(visible=view.awaiting_reply),
            ui.finish: gr.Button(visible=(view.can_finish or view.must_finish) and not rating and not view.awaiting_reply,
                                 variant="primary" if view.must_finish else "secondary"),
        }
        if rating:  # a fresh form for each message
            update |= {component: None for component in ui.rating_inputs}
        return update

    def refused(self, error: Exception, token: str | None, problems: gr.HTML | None = None) -> dict[Any, Any]:
        """A refused step: the page shows where the person really is, and why the step was refused.

        A form's invalid answers are listed in `problems`, its own area above its submit button."""
        if isinstance(error, SurveyInvalid) and problems is not None:
            return {problems: problems_html(error.problems, lambda item: _item_text(self.study, item))}
        try:
            view = self.service.view(token or "")
        except StudyRefusal:  # no participation behind this token at all
            return self.render(self.closed_view(str(error)))
        return self.render(view, str(error))

    def closed_view(self, text: str) -> ParticipantView:
        return ParticipantView(phase="refused", notice=text, title=self.study.title)

    def step(self, token: str | None, action: Callable[[], ParticipantView],
             problems: gr.HTML | None = None) -> dict[Any, Any]:
        try:
            return self.render(action())
        except (StudyRefusal, MessageRejected) as error:
            return self.refused(error, token, problems)

    # -- bot turns ------------------------------------------------------------------------

    async def bot_turn(self, token: str, client: str, run: Callable[[], Awaitable[ParticipantView]],
                       pending: str | None = None, done: dict[Any, Any] | None = None) -> AsyncIterator[dict[Any, Any]]:
        """Run a bot turn, showing the person's message and a "writing" line until the reply is stored.

        `done` is added to the last update when the turn went through (not when it was refused).
        """
        ui = self.layout
        try:
            shown = await asyncio.to_thread(self.service.view, token)
        except StudyRefusal as error:
            yield await asyncio.to_thread(self.refused, error, token)
            return
        release: Callable[[], None] = _nothing_to_release
        if self.limits is not None:
            try:
                release = self.limits.start_turn(client)
            except LimitExceeded as error:  # nothing was stored: the typed message stays in its box
                yield self.render(shown, str(error), "hint")
                return
        started = time.monotonic()
        task = asyncio.ensure_future(run())
        task.add_done_callback(lambda _: release())  # the slot is held while the turn runs, however it ends
        await asyncio.sleep(0)
        # The whole page once; then only the line that counts the seconds (50 people waiting at
        # once must not cost the server a chat's worth of updates each per second).
        yield {ui.chatbot: chat_messages(shown, pending), ui.message_row: gr.Row(visible=False), ui.notice: "",
               ui.finish: gr.Button(visible=False), ui.retry: gr.Button(visible=False),
               ui.rating_panel: gr.Column(visible=False), ui.status: writing_line(0)}
        async for _ in while_running(task, POLL_S):  # a page closed mid-turn still gets its reply stored
            yield {ui.status: writing_line(time.monotonic() - started)}
        failure = task.exception()
        if failure is None:
            yield {**self.render(task.result()), **(done or {})}
        elif isinstance(failure, LLMError):  # the message is stored; Try again completes the turn
            logger.warning("bot turn failed: %s", failure)
            yield {**self.render(await asyncio.to_thread(self.service.view, token), LLM_FAILED, "error"), **(done or {})}
        elif isinstance(failure, (StudyRefusal, MessageRejected)):
            yield await asyncio.to_thread(self.refused, failure, token)
        else:
            raise failure

    async def chat_onward(self, view: ParticipantView, token: str, client: str) -> AsyncIterator[dict[Any, Any]]:
        """In the chat without the bot's message it owes (a new chat, or a turn cut by a restart): run it."""
        if view.phase == "chat" and not view.transcript:
            async for update in self.bot_turn(token, client, lambda: self.service.start_chat(token)):
                yield update
        elif view.awaiting_reply:
            async for update in self.bot_turn(token, client, lambda: self.service.retry(token)):
                yield update

    # -- handlers (each is also an API endpoint: the token is always an input) ------------

    async def on_load(self, stored: str | None, request: gr.Request) -> AsyncIterator[dict[Any, Any]]:
        params = dict(request.query_params)
        condition = params.get(PREVIEW_CONDITION_PARAM) if self.preview else None
        if self.limits is not None and not self.preview and not stored:  # a browser without a participation of its own
            try:
                self.limits.start_participation(client_address(request))
            except LimitExceeded as refused:
                yield self.render(self.closed_view(str(refused)))
                return
        try:
            view = await asyncio.to_thread(self.service.enter, params, stored, preview=self.preview,
                                           preview_condition=condition)
        except StudyRefusal as error:  # e.g. a preview of a condition the study does not have
            yield self.render(self.closed_view(str(error)))
            return
        yield self.render(view)
        if view.token is not None:
            async for update in self.chat_onward(view, view.token, client_address(request)):
                yield update

    def on_consent(self, stored: str | None) -> dict[Any, Any]:
        return self.step(stored, lambda: self.service.consent(stored or "", True))

    def on_decline(self, stored: str | None) -> dict[Any, Any]:
        return self.step(stored, lambda: self.service.consent(stored or "", False))

    async def on_pre(self, values: dict[Any, Any], request: gr.Request) -> AsyncIterator[dict[Any, Any]]:
        ui = self.layout
        stored = values[ui.token] or ""
        try:
            view = await asyncio.to_thread(self.service.answer, stored, "pre",
                                           forms.answers(self.pre_items, values, ui.pre.inputs))
        except StudyRefusal as error:
            yield await asyncio.to_thread(self.refused, error, stored, ui.pre.problems)
            return
        yield self.render(view)
        async for update in self.chat_onward(view, stored, client_address(request)):
            yield update

    def on_post(self, values: dict[Any, Any]) -> dict[Any, Any]:
        ui = self.layout
        stored = values[ui.token] or ""
        return self.step(
            stored, lambda: self.service.answer(stored, "post", forms.answers(self.post_items, values, ui.post.inputs)),
            ui.post.problems,
        )

    def on_rate(self, values: dict[Any, Any]) -> dict[Any, Any]:
        ui = self.layout
        stored = values[ui.token] or ""

        def rate() -> ParticipantView:
            awaiting = self.service.view(stored).awaiting_rating
            if awaiting is None:
                raise StudyRefusal("There is no message to rate now.")
            return self.service.rate(stored, awaiting, forms.answers(self.rating_items, values, ui.rating_inputs))

        return self.step(stored, rate, ui.rate_problems)

    async def on_send(self, stored: str | None, text: Any, request: gr.Request) -> AsyncIterator[dict[Any, Any]]:
        """`text` as sent (preprocess=False): a number or a list from an API client is refused by
        check_message with its hint, not stored as its str() (what the text box would have made of it)."""
        token = stored if isinstance(stored, str) else ""
        shown = text.strip() or None if isinstance(text, str) else None
        # The typed text is cleared once it is stored: a refused message stays, to be edited.
        async for update in self.bot_turn(token, client_address(request), lambda: self.service.send(token, text),
                                          shown, {self.layout.message: ""}):
            yield update

    async def on_retry(self, stored: str | None, request: gr.Request) -> AsyncIterator[dict[Any, Any]]:
        token = stored or ""
        async for update in self.bot_turn(token, client_address(request), lambda: self.service.retry(token)):
            yield update

    def on_finish(self, stored: str | None) -> dict[Any, Any]:
        return self.step(stored, lambda: self.service.finish_chat(stored or ""))

    # -- wiring ---------------------------------------------------------------------------

    def wire(self, demo: gr.Blocks) -> None:
        ui = self.layout
        quiet: dict[str, Any] = {"outputs": ui.outputs, "show_progress": "hidden", "api_visibility": "undocumented"}
        demo.load(None, js=SCROLL_TO_NEWEST_JS, api_visibility="private")  # the browser's own script, no endpoint
        demo.load(self.on_load, inputs=[ui.token], api_name="enter", **quiet)
        ui.agree.click(self.on_consent, inputs=[ui.token], api_name="consent", **quiet)
        ui.decline.click(self.on_decline, inputs=[ui.token], api_name="decline", **quiet)
        ui.pre.submit.click(self.on_pre, inputs={ui.token, *ui.pre.inputs}, api_name="pre_survey", **quiet)
        ui.rate_submit.click(self.on_rate, inputs={ui.token, *ui.rating_inputs}, api_name="rate", **quiet)
        ui.send.click(self.on_send, inputs=[ui.token, ui.message], api_name="send", preprocess=False, **quiet)
        # Enter in the box: the page's own event, no second name for `send` (api_name=False made
        # a working /gradio_api/call/false).
        ui.message.submit(self.on_send, inputs=[ui.token, ui.message], preprocess=False,
                          **{**quiet, "api_visibility": "private"})
        ui.retry.click(self.on_retry, inputs=[ui.token], api_name="retry", **quiet)
        ui.finish.click(self.on_finish, inputs=[ui.token], api_name="finish", **quiet)
        ui.post.submit.click(self.on_post, inputs={ui.token, *ui.post.inputs}, api_name="post_survey", **quiet)


def _nothing_to_release() -> None:
    """The turn's release when no per-client limits apply."""


def _item_text(study: Any, item_id: str) -> str:
    for item in (*study.survey_items("pre"), *study.survey_items("post"), *study.turn_ratings):
        if item.id == item_id:
            return f"“{item.text}”"
    return item_id
