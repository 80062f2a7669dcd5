"""The chat tab's events: each handler finds the person's `UserChat`, acts on it, and renders what
`ui/chat_screen.py` says the page shows. The layout is `ui/chat_layout.py`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import gradio as gr
import pandas as pd

from gdp_zero.factory import ChatOptions
from gdp_zero.mcts.config import InvalidSetting, Limits, changed, within_limits
from gdp_zero.planners import PLANNERS, GDPZeroConfig
from gdp_zero.serving.limits import LimitExceeded, client_address
from gdp_zero.session import DialogueOver, MessageRejected
from ui import chat_view, tree_view, usage_view
from ui.chat_layout import (
    MAX_DEPTH_SHOWN,
    MESSAGE_PLACEHOLDER,
    MIN_VISITS_LABEL,
    ChatColumn,
    PlannerControls,
    TreeColumn,
)
from ui.chat_screen import (
    MESSAGE_PLACEHOLDER_ENDED,
    BusyScreen,
    ChatScreen,
    busy_screen,
    chat_screen,
    rating_of,
    transcript_name,
    tree_of,
    turn_panel,
    write_json,
)
from ui.dropdowns import as_index
from ui.polling import while_running
from ui.tree_panel_updates import panel_updates
from ui.sessions import SessionRegistry, UserChat

POLL_S = 0.2  # how often a running turn reports its progress
# One server serves everyone: a person may not start an arbitrarily long search.
SERVER_LIMITS = Limits(simulations=200, realizations=10, time_budget_s=300.0)
# The control that sets each planner number, to name it when it is refused.
CONTROL_LABELS = {"simulations": "Simulations", "realizations": "k", "q0": "Q0", "c_puct": "c_puct",
                  "time_budget_s": "The time budget", "root": "Root act selection"}
CLICK_SEP = "\u241f"  # between a clicked node's label and the click's nonce
RESUMED = "Your dialogue is back after the reload: go on where you left off."
SESSION_ENDED = ("This page's session has ended (the server restarted, or the page was closed or idle "
                 "for a long time): reload the page.")

# Empty the message box in the browser as the message is sent; the server gets the text as typed.
# A person who scrolled up to reread still sees their own message go out: the chat scrolls down
# (Gradio autoscrolls only a chat already at its bottom).
CLEAR_MESSAGE_JS = """(...values) => {
  const box = document.querySelector('#message textarea');
  if (box) { box.value = ''; box.dispatchEvent(new Event('input', {bubbles: true})); }
  const down = () => document.querySelectorAll('#chat *').forEach((el) => {
    if (el.scrollHeight > el.clientHeight + 4 && getComputedStyle(el).overflowY !== 'visible') el.scrollTop = el.scrollHeight;
  });
  [100, 400, 1000].forEach((ms) => setTimeout(down, ms));
  return values;
}"""
# Every event is for this page only: hidden from the API page and gradio_client (gdp_zero/serving/limits.py
# bounds what a client calling the queue directly can do).
PAGE_ONLY: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}

Updates = dict[Any, Any]


class SettingsRejected(ValueError):
    """A planner parameter the person should fix; the text says which and why."""


def options_from_controls(
    defaults: GDPZeroConfig, planner: str, simulations: Any, realizations: Any, q0: Any, c_puct: Any, budget: Any,
    root: Any,
) -> ChatOptions:
    """The planner options the controls describe, checked by the planner's rules and this server's limits."""
    try:
        sims, k = _whole_number(simulations), _whole_number(realizations)
        q0_f, c_f = float(q0), float(c_puct)
    except (TypeError, ValueError, OverflowError):
        raise SettingsRejected("Simulations and k must be whole numbers, Q0 and c_puct numbers.") from None
    text = str(budget or "").strip()
    try:
        budget_s = float(text) if text else None
    except ValueError:
        raise SettingsRejected(f"Time budget {text!r} is not a number of seconds (leave it blank for none).") from None
    try:
        search = changed(defaults, simulations=sims, realizations=k, q0=q0_f, c_puct=c_f, time_budget_s=budget_s,
                         root=root)
        within_limits(search, SERVER_LIMITS)
    except InvalidSetting as invalid:
        raise SettingsRejected(f"{CONTROL_LABELS.get(invalid.setting, invalid.setting)} {invalid.problem}.") from None
    if planner not in PLANNERS:
        raise SettingsRejected(f"Unknown planner {planner!r}: choose one of {', '.join(PLANNERS)}.")
    return ChatOptions(planner=planner, search=search)


def _whole_number(value: Any) -> int:
    """An int from a control's value as sent (a number, or text from the API); ValueError if not whole."""
    number = float(value)
    if not number.is_integer():  # also NaN and infinities
        raise ValueError(f"not a whole number: {value!r}")
    return int(number)


class ChatPage:
    """The chat tab's handlers over its components, for the chats in `registry`."""

    def __init__(self, registry: SessionRegistry, defaults: GDPZeroConfig, chat: ChatColumn,
                 controls: PlannerControls, tree: TreeColumn, usage_table: gr.Dataframe) -> None:
        self.registry, self.defaults = registry, defaults
        self.chat, self.controls, self.tree, self.usage_table = chat, controls, tree, usage_table
        self.tree_outputs = [tree.plot, tree.summary, tree.root_table, tree.node_select, tree.node_details, tree.tree_dl,
                             tree.depth, tree.min_visits, tree.sim_step, tree.sim_details]
        c = chat
        self.outputs = [c.chatbot, c.status, c.error_box, c.message, c.send, c.transcript_dl, tree.turn_select,
                        usage_table, c.retry, c.regenerate, *self.tree_outputs]
        self.feedback_outputs = [c.status, c.note, c.save_note, c.noted, c.transcript_dl]

    # -- rendering ----------------------------------------------------------------------------

    def hint(self, text: str) -> Updates:
        return {self.chat.status: chat_view.status_html(text, "hint")}

    def retry_button(self, can_retry: bool) -> gr.Button:
        return gr.Button(interactive=can_retry, variant="primary" if can_retry else "secondary")

    def render_tree(self, user: UserChat, index: int | None) -> Updates:
        panel, download = turn_panel(user, index)
        t = self.tree
        return {
            **panel_updates(panel, plot=t.plot, summary=t.summary, root_table=t.root_table, node_select=t.node_select,
                            node_details=t.node_details),
            t.tree_dl: gr.DownloadButton(value=download, interactive=download is not None),
            **self.filter_controls(user.view, panel.floor),
            **self.simulation_steps(tree_of(user, index)),
        }

    def simulation_steps(self, tree: dict[str, Any] | None) -> Updates:
        """The stepper over the turn's simulations, at the last one."""
        count = len((tree or {}).get("simulations") or [])
        # A slider needs two ends: with one simulation it stands still at 1.
        return {self.tree.sim_step: gr.Slider(minimum=1, maximum=max(count, 2), value=max(count, 1), interactive=count > 1),
                self.tree.sim_details: tree_view.simulation_html(tree, count)}

    def filter_controls(self, view: tree_view.ViewChoice, floor: int | None) -> Updates:
        """The depth and visit sliders: active in the node-link view only (the others show every node),
        the visit slider saying the floor applied when the figure raised it to fit the screen."""
        node_link = view.kind == "node-link"
        raised = floor is not None and floor > view.min_visits
        label = f"{MIN_VISITS_LABEL} (applied: N ≥ {floor}, to fit the screen)" if raised else MIN_VISITS_LABEL
        return {self.tree.depth: gr.Slider(interactive=node_link),
                self.tree.min_visits: gr.Slider(interactive=node_link, label=label)}

    def render(self, user: UserChat, screen: ChatScreen) -> Updates:
        c = self.chat
        view = {
            c.chatbot: gr.update(value=screen.messages, feedback_value=screen.feedback),
            c.status: screen.status,
            c.error_box: gr.HTML(screen.error, visible=bool(screen.error)),
            c.message: gr.Textbox(interactive=not screen.ended,
                                  placeholder=MESSAGE_PLACEHOLDER_ENDED if screen.ended else MESSAGE_PLACEHOLDER),
            c.send: gr.Button(interactive=not screen.ended),
            c.transcript_dl: gr.DownloadButton(value=screen.transcript, interactive=screen.transcript is not None),
            self.tree.turn_select: gr.Dropdown(choices=screen.turns, value=screen.latest),
            self.usage_table: pd.DataFrame(screen.usage, columns=usage_view.USAGE_HEADERS),
            c.retry: self.retry_button(screen.can_retry),
            c.regenerate: gr.Button(interactive=screen.can_regenerate),
        }
        view.update(self.render_tree(user, screen.latest))
        return view

    def full_view(self, user: UserChat, status_text: str, kind: str = "done") -> Updates:
        return self.render(user, chat_screen(user, status_text, kind))

    def busy_view(self, user: UserChat) -> Updates:
        screen: BusyScreen = busy_screen(user)
        return {self.chat.chatbot: screen.messages, self.chat.status: screen.status,
                self.chat.error_box: gr.HTML("", visible=False), self.chat.retry: self.retry_button(False),
                self.chat.regenerate: gr.Button(interactive=False)}

    async def live_tree(self, user: UserChat) -> Updates:
        """The tree of the turn being searched, as it stands: redrawn whenever a simulation ends.

        The snapshot is taken here, between the search's steps; the figure is built in a thread,
        so that other people's requests are not kept waiting while it is.
        """
        progress = user.progress
        if progress is None or progress.tree is None:
            return {}
        tree = progress.tree.to_dict()
        return {
            self.tree.plot: await asyncio.to_thread(tree_view.draw, tree, user.view),
            self.tree.summary: tree_view.live_summary_html(tree, progress.done, progress.total),
            self.tree.root_table: pd.DataFrame(tree_view.root_table(tree), columns=tree_view.ROOT_TABLE_HEADERS),
        }

    # -- turns --------------------------------------------------------------------------------

    async def run_turn(self, user: UserChat, start: Callable[[], asyncio.Task], first: Updates | None = None
                       ) -> AsyncIterator[Updates]:
        """Start a turn and report its progress, and its tree as it grows, every POLL_S seconds until it ends."""
        try:
            task = start()
        except (MessageRejected, LimitExceeded) as rejected:
            yield {**self.hint(refusal(rejected)), **(first or {}), self.chat.retry: self.retry_button(user.can_retry)}
            return
        await asyncio.sleep(0)  # let the turn start: a sent message is then pending, shown at once
        async for update in self.follow_turn(user, task):
            yield update

    async def follow_turn(self, user: UserChat, task: asyncio.Task) -> AsyncIterator[Updates]:
        """The page's view of a turn that has started, until it ends (also one a reloaded page takes back)."""
        yield self.busy_view(user)
        drawn = None  # simulations done when the tree was last drawn
        async for _ in while_running(task, POLL_S):
            update = self.busy_view(user)
            done = user.progress.done if user.progress is not None else None
            if done is not None and done != drawn:
                update.update(await self.live_tree(user))
                drawn = done
            yield update
        planned = user.finish()
        if user.error:
            yield self.full_view(user, "The turn failed: see the error above the status line, then press Retry.", "error")
        else:
            yield self.full_view(user, chat_view.done_text(planned), "done")

    def configured(self, request: gr.Request, values: tuple[Any, ...]) -> tuple[UserChat | None, str | None]:
        user = self.registry.get(_key(request))
        if user is None:  # closed or refused by this server (it says why), or a server since restarted
            return None, self.registry.why_gone(_key(request)) or SESSION_ENDED
        try:
            options = options_from_controls(self.defaults, *values)
        except SettingsRejected as rejected:
            return None, str(rejected)
        if not user.busy:  # a running turn keeps its planner; the request is then refused anyway
            user.configure(options)
        return user, None

    async def configured_turn(self, request: gr.Request, controls: tuple[Any, ...],
                              begin: Callable[[UserChat], Any], refused: Updates | None = None) -> AsyncIterator[Updates]:
        """Apply the controls, then run the turn that `begin(user)` returns; refusals become hints.

        `refused` is shown with a refusal: a sent message, cleared from the box as it was sent, goes back.
        """
        user, problem = self.configured(request, controls)
        if user is not None:
            try:
                start = begin(user)
            except MessageRejected as rejected:
                user, problem = None, refusal(rejected)
        if user is None:
            yield {**self.hint(problem or ""), **(refused or {})}
            return
        async for update in self.run_turn(user, start, first=refused):
            yield update

    # -- handlers (Gradio passes the control values positionally and the request by its annotation) --

    async def on_load(self, planner: str, sims: Any, k: Any, q0: Any, cpuct: Any, budget: Any, root: Any,
                      resume_token: Any, request: gr.Request) -> AsyncIterator[Updates]:
        """A page opens: it takes back the chat its browser left on a reload, or starts a new one."""
        try:
            resumed = await self.registry.resume(resume_token if isinstance(resume_token, str) else None,
                                                 _key(request), client_address(request))
        except LimitExceeded as refused:
            yield self.hint(str(refused))
            return
        if resumed is not None:
            if resumed.task is not None:  # a turn was running (or ended unseen) when the page went away
                async for update in self.follow_turn(resumed, resumed.task):
                    yield update
            else:
                yield self.full_view(resumed, RESUMED)
            return
        try:
            options = options_from_controls(self.defaults, planner, sims, k, q0, cpuct, budget, root)
        except SettingsRejected as rejected:  # said, not replaced by defaults the sender never chose
            reason = f"This page has no chat: its planner settings were refused. {rejected} Reload the page."
            await self.registry.close(_key(request), reason)  # later events of the page say so too
            yield self.hint(reason)
            return
        try:
            user = await self.registry.create(_key(request), client_address(request), options)
        except LimitExceeded as refused:
            yield self.hint(str(refused))
            return
        yield {self.chat.resume: user.resume_token}
        async for update in self.run_turn(user, user.open):
            yield update

    async def on_send(self, text: str, planner: str, sims: Any, k: Any, q0: Any, cpuct: Any, budget: Any, root: Any,
                      request: gr.Request) -> AsyncIterator[Updates]:
        controls = (planner, sims, k, q0, cpuct, budget, root)
        async for update in self.configured_turn(request, controls, lambda user: lambda: user.send(text),
                                                 {self.chat.message: text}):
            yield update

    async def on_retry(self, planner: str, sims: Any, k: Any, q0: Any, cpuct: Any, budget: Any, root: Any,
                       request: gr.Request) -> AsyncIterator[Updates]:
        async for update in self.configured_turn(request, (planner, sims, k, q0, cpuct, budget, root),
                                                 lambda user: user.retry):
            yield update

    async def on_restart(self, planner: str, sims: Any, k: Any, q0: Any, cpuct: Any, budget: Any, root: Any,
                         request: gr.Request) -> AsyncIterator[Updates]:
        async for update in self.configured_turn(request, (planner, sims, k, q0, cpuct, budget, root), _restart_then_open):
            yield update

    async def on_regenerate(self, planner: str, sims: Any, k: Any, q0: Any, cpuct: Any, budget: Any, root: Any,
                            request: gr.Request) -> AsyncIterator[Updates]:
        async for update in self.configured_turn(request, (planner, sims, k, q0, cpuct, budget, root),
                                                 lambda user: user.regenerate):
            yield update

    async def on_like(self, data: gr.LikeData, request: gr.Request) -> Updates:
        """👍/👎 on a persuader message (a thumb clicked again takes it back); the note box then writes to it."""
        user = self.registry.get(_key(request))
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        if user is None:
            return self.hint(SESSION_ENDED)
        try:
            turn = user.session.give_feedback(int(index), rating=rating_of(data.liked))
        except MessageRejected as rejected:
            return self.hint(str(rejected))
        said = {"up": "👍 saved", "down": "👎 saved", None: "Rating taken back"}[turn.feedback.rating if turn.feedback else None]
        c = self.chat
        return {c.status: chat_view.status_html(f"{said} on the persuader's message “{_short(turn.text)}”: add a note "
                                                "below if you like.", "done"),
                c.note: gr.Textbox(value=turn.feedback.note if turn.feedback else "", interactive=True,
                                   placeholder="What made this message good or bad?"),
                c.save_note: gr.Button(interactive=True), c.noted: int(index),
                c.transcript_dl: gr.DownloadButton(value=write_json(user, transcript_name(user), user.session.transcript()),
                                                   interactive=True)}

    async def on_note(self, text: str, index: Any, request: gr.Request) -> Updates:
        user = self.registry.get(_key(request))
        target = as_index(index)
        if user is None or target is None:
            return self.hint(SESSION_ENDED if user is None else "Rate a persuader message 👍/👎 first, then add its note.")
        try:
            turn = user.session.give_feedback(target, note=text)
        except MessageRejected as rejected:
            return self.hint(str(rejected))
        return {self.chat.status: chat_view.status_html(f"Note saved on “{_short(turn.text)}”.", "done"),
                self.chat.transcript_dl: gr.DownloadButton(
                    value=write_json(user, transcript_name(user), user.session.transcript()), interactive=True)}

    async def on_undo(self, request: gr.Request) -> Updates:
        user = self.registry.get(_key(request))
        if user is None:
            return self.hint(self.registry.why_gone(_key(request)) or SESSION_ENDED)
        try:
            undone = user.undo()
        except MessageRejected as rejected:
            return self.hint(str(rejected))
        if not undone:
            return self.hint("Nothing to undo.")
        return self.full_view(user, "Undone: your last message and the reply to it were taken back.", "done")

    async def on_turn(self, index: Any, request: gr.Request) -> Updates:
        user = self.registry.get(_key(request))
        # No chat (closed, refused): no update. An empty dict is read as one value, not none, and
        # each such event wrote a traceback to the log.
        return self.render_tree(user, as_index(index)) if user is not None else {self.tree.summary: gr.skip()}

    async def on_view(self, kind: str, depth: Any, min_visits: Any, index: Any, request: gr.Request) -> Updates:
        user = self.registry.get(_key(request))
        if user is None:
            return {self.tree.summary: gr.skip()}
        shown = int(depth or MAX_DEPTH_SHOWN)
        user.view = tree_view.ViewChoice(kind if kind in tree_view.VIEWS else tree_view.VIEWS[0],
                                         None if shown >= MAX_DEPTH_SHOWN else shown, int(min_visits or 1))
        if user.busy:
            return await self.live_tree(user)
        tree = tree_of(user, as_index(index))
        if tree is None:
            return self.filter_controls(user.view, None)
        return {self.tree.plot: tree_view.draw(tree, user.view),
                **self.filter_controls(user.view, tree_view.applied_floor(tree, user.view))}

    async def on_node(self, index: Any, label: str | None, request: gr.Request) -> Updates:
        user = self.registry.get(_key(request))
        tree = tree_of(user, as_index(index)) if user is not None else None
        if tree is None:
            return {self.tree.node_details: tree_view.node_details_html(None)}
        label = (label or "").split(CLICK_SEP)[0]  # a click carries a nonce, so clicking a node again counts
        found = tree_view.find_node(tree, label)
        return {self.tree.node_details: tree_view.node_details_html(found, tree),
                self.tree.node_select: gr.Dropdown(value=found.label) if found is not None else gr.Dropdown()}

    async def on_step(self, index: Any, step: Any, request: gr.Request) -> Updates:
        user = self.registry.get(_key(request))
        tree = tree_of(user, as_index(index)) if user is not None else None
        return {self.tree.sim_details: tree_view.simulation_html(tree, int(step or 1))}

    async def on_unload(self, request: gr.Request) -> None:
        self.registry.detach(_key(request))  # kept for a reload (the resume window), then closed by the sweep

    # -- wiring -------------------------------------------------------------------------------

    def wire(self, demo: gr.Blocks) -> None:
        c, t, controls, outputs = self.chat, self.tree, self.controls.inputs(), self.outputs
        # The controls reach the handlers as sent (preprocess=False), so a value from the page and
        # one sent to the queue directly are checked by the same options_from_controls.
        demo.load(self.on_load, inputs=[*controls, c.resume], outputs=[*outputs, c.resume], preprocess=False, **PAGE_ONLY)
        # The box is emptied in the browser as the message leaves, so text typed meanwhile is never wiped;
        # a message sent while the last turn's event is still closing runs after it instead of being dropped.
        send_args: dict[str, Any] = {"inputs": [c.message, *controls], "outputs": outputs, "preprocess": False,
                                     "js": CLEAR_MESSAGE_JS, "trigger_mode": "always_last", **PAGE_ONLY}
        c.send.click(self.on_send, **send_args)
        c.message.submit(self.on_send, **send_args)
        c.retry.click(self.on_retry, inputs=controls, outputs=outputs, preprocess=False, **PAGE_ONLY)
        c.restart.click(self.on_restart, inputs=controls, outputs=outputs, preprocess=False, **PAGE_ONLY)
        c.undo.click(self.on_undo, outputs=outputs, **PAGE_ONLY)
        c.regenerate.click(self.on_regenerate, inputs=controls, outputs=outputs, preprocess=False, **PAGE_ONLY)
        c.chatbot.like(self.on_like, outputs=self.feedback_outputs, **PAGE_ONLY)
        c.save_note.click(self.on_note, inputs=[c.note, c.noted], outputs=self.feedback_outputs, **PAGE_ONLY)
        t.turn_select.select(self.on_turn, inputs=[t.turn_select], outputs=self.tree_outputs, **PAGE_ONLY)
        for view_control in (t.view, t.depth, t.min_visits):
            view_control.change(self.on_view, inputs=[t.view, t.depth, t.min_visits, t.turn_select],
                                outputs=[t.plot, t.summary, t.root_table, t.depth, t.min_visits], **PAGE_ONLY)
        node_outputs = [t.node_details, t.node_select]
        t.node_select.select(self.on_node, inputs=[t.turn_select, t.node_select], outputs=node_outputs, **PAGE_ONLY)
        t.clicked_node.change(self.on_node, inputs=[t.turn_select, t.clicked_node], outputs=node_outputs, **PAGE_ONLY)
        t.sim_step.change(self.on_step, inputs=[t.turn_select, t.sim_step], outputs=[t.sim_details], **PAGE_ONLY)
        demo.unload(self.on_unload)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def refusal(rejected: Exception) -> str:
    """A refused request in the page's words: after the end of a dialogue, what to press."""
    return f"{rejected} Press Restart for a new dialogue." if isinstance(rejected, DialogueOver) else str(rejected)


def _key(request: gr.Request) -> str:
    """The page's session id: Gradio gives every queued event one."""
    return request.session_hash or ""


def _restart_then_open(user: UserChat) -> Any:
    user.restart()
    return user.open
