"""The GDP-Zero studio web app: chat with the planner as the persuadee, watch its search tree, compare strategies.

`build_app(backend)` makes the Gradio Blocks; `serve(demo, ...)` starts it with the app's CSS
(Gradio 6 takes CSS and theme at launch); `launch(backend, ...)` is `gdp-zero ui`. Everything about the
dialogue lives in `gdp_zero`; this module only wires components to a per-browser `UserChat`.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import asyncio
import html
import json
import time
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Sequence

import gradio as gr
import pandas as pd

from gdp_zero.backends import Backend, suggested_search
from gdp_zero.domain import load_domain
from gdp_zero.factory import ChatOptions
from gdp_zero.planners import PLANNERS, GDPZeroConfig
from gdp_zero.mcts.config import InvalidSetting, Limits, changed, within_limits
from gdp_zero.session import MAX_MESSAGE_CHARS, MessageRejected
from ui import chat_view, strategies_view, tree_view, usage_view
from gdp_zero.serving.limits import ClientLimits, LimitExceeded, LimitSettings, client_address
from ui.sessions import SessionRegistry, UserChat

POLL_S = 0.2  # how often a running turn reports its progress
CONCURRENCY = 32  # turns of different people running at once
# One server serves everyone: a person may not start an arbitrarily long search.
SERVER_LIMITS = Limits(simulations=200, realizations=10, time_budget_s=300.0)
# The control that sets each planner number, to name it when it is refused.
CONTROL_LABELS = {"simulations": "Simulations", "realizations": "k", "q0": "Q0", "c_puct": "c_puct",
                  "time_budget_s": "The time budget", "root": "Root act selection"}
MESSAGE_PLACEHOLDER = (f"Your reply to the persuader (up to {MAX_MESSAGE_CHARS} characters); "
                       "Enter sends, Shift+Enter for a new line")
MAX_DEPTH_SHOWN = 10  # the depth slider's top: "all"
CLICK_SEP = "\u241f"  # between a clicked node's label and the click's nonce

# Empty the message box in the browser as the message is sent; the server gets the text as typed.
CLEAR_MESSAGE_JS = """(...values) => {
  const box = document.querySelector('#message textarea');
  if (box) { box.value = ''; box.dispatchEvent(new Event('input', {bubbles: true})); }
  return values;
}"""

# Runs once per page. Plotly clicks open a node's details through the hidden #clicked-node box;
# chat messages get aria-labels of their text (Gradio labels them with the message's markup).
PAGE_JS = """() => {
  const onClick = (event) => {
    const point = event.points && event.points[0];
    const label = point && (point.customdata ?? point.id);
    const box = document.querySelector('#clicked-node textarea');
    if (label == null || !box) return;
    box.value = label + '\u241f' + Date.now();
    box.dispatchEvent(new Event('input', {bubbles: true}));
  };
  const update = () => {
    const plot = document.querySelector('#tree-plot .js-plotly-plot');
    if (plot && plot.on) { plot.removeListener && plot.removeListener('plotly_click', onClick); plot.on('plotly_click', onClick); }
    document.querySelectorAll('#chat [data-testid=bot], #chat [data-testid=user]').forEach((m) => {
      const who = m.dataset.testid === 'bot' ? "Persuader's message: " : 'Your message: ';
      const label = who + (m.innerText || '').replace(/\\s+/g, ' ').trim();
      if (m.getAttribute('aria-label') !== label) m.setAttribute('aria-label', label);
    });
  };
  new MutationObserver(update).observe(document.body, {subtree: true, childList: true, attributes: true,
                                                        attributeFilter: ['aria-label']});
  update();
}"""
QUEUE_SIZE = 512  # events waiting for a worker; beyond it Gradio answers "queue full"
# Every event is for this page only: hidden from the API page and gradio_client (gdp_zero/serving/limits.py
# bounds what a client calling the queue directly can do).
PAGE_ONLY = dict(api_visibility="private", show_progress="hidden")
MAX_UPLOAD = "20mb"  # the Strategies tab's transcripts and runs files; nothing else is uploaded
PLANNER_CHOICES = [("GDP-Zero (search)", "gdpzero"), ("Prompting (no search)", "prompting"), ("Random", "random")]
ROOT_CHOICES = [("PUCT (as published)", "puct"), ("Gumbel + Sequential Halving", "gumbel")]

CSS = """
.act-tag { display: inline-block; padding: 0 8px; margin-right: 6px; border-radius: 999px;
  background: #dbeafe; color: #1e3a8a; font-size: 0.78em; font-weight: 600; line-height: 1.6; }
.act-tag.user-act { background: #fef3c7; color: #78350f; }
.act-tag.pending-tag { background: #e5e7eb; color: #374151; font-style: italic; }
.turn-meta { font-size: 0.75em; color: #6b7280; margin-top: 4px; }
.budget-note { color: #b45309; font-weight: 600; }
.chat-error { border: 1px solid #fca5a5; background: #fef2f2; color: #991b1b; padding: 8px 12px;
  border-radius: 8px; margin: 4px 0; }
.demo-banner { border: 1px solid #fdba74; background: #fff7ed; color: #7c2d12; padding: 8px 12px;
  border-radius: 8px; }
.status { padding: 2px 4px; min-height: 1.5em; }
.status-busy { color: #1d4ed8; font-weight: 600; }
.status-hint { color: #b45309; font-weight: 600; }
.status-error { color: #b91c1c; font-weight: 600; }
.status-done { color: #166534; }
.status-ended { color: #1e3a8a; font-weight: 700; border-left: 4px solid #1d4ed8; padding-left: 8px; }
.offscreen { position: absolute !important; left: -10000px; width: 1px; height: 1px; overflow: hidden; }
.node-details { font-size: 0.9em; }
.node-details .node-path { font-weight: 700; margin-bottom: 4px; }
.node-details table.node-stats th { text-align: left; padding-right: 12px; font-weight: 500; }
.node-details ol.realizations li { margin-bottom: 8px; }
.node-details .who { color: #6b7280; }
.node-details .real-stats { color: #6b7280; font-size: 0.85em; }
.tree-summary { padding: 4px 0; }
.strategies-test { background: #eff6ff; border: 1px solid #bfdbfe; padding: 8px 12px; border-radius: 8px; }
#chat button[aria-label="Clear"] { display: none; }  /* it would only blank the view, not the session */
"""


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
        search = within_limits(changed(defaults, simulations=sims, realizations=k, q0=q0_f, c_puct=c_f,
                                       time_budget_s=budget_s, root=root), SERVER_LIMITS)
    except InvalidSetting as invalid:
        raise SettingsRejected(f"{CONTROL_LABELS.get(invalid.setting, invalid.setting)} {invalid.problem}.") from None
    if planner not in PLANNERS:
        raise SettingsRejected(f"Unknown planner {planner!r}: choose one of {', '.join(PLANNERS)}.")
    return ChatOptions(planner=planner, search=search)


def build_app(
    backend: Backend, *, search: GDPZeroConfig | None = None, planner: str = "gdpzero", limits: LimitSettings | None = None,
    data_dirs: Sequence[Path] = (),
) -> gr.Blocks:
    """The app for one backend; `search` sets the initial search parameters (default: suited to the backend);
    the Strategies tab reads P4G files on the server only under `data_dirs`."""
    defaults = search or suggested_search(backend.mode)
    registry = SessionRegistry(backend.settings, ClientLimits(limits))
    settings = backend.settings

    with gr.Blocks(title="GDP-Zero studio", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown("## GDP-Zero studio\nYou are the **persuadee**: the persuader plans each reply with a search over dialogue strategies.")
        if backend.banner:
            gr.HTML(f'<div class="demo-banner">{html.escape(backend.banner)}</div>', elem_id="banner")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat-tab"):
                # Side by side on a wide screen (the tree grows beside the chat), stacked on a narrow one.
                with gr.Row(equal_height=False):
                    with gr.Column(scale=5, min_width=420):
                        chatbot = gr.Chatbot(
                            # A fixed height makes the message list the scrolling box that Gradio autoscrolls.
                            elem_id="chat", label="Dialogue", height=600,
                            # Messages are escaped by chat_view; only its own tags are HTML.
                            sanitize_html=True, render_markdown=True, latex_delimiters=[], allow_tags=False,
                            group_consecutive_messages=False,
                            feedback_options=None, buttons=[], layout="bubble",
                        )
                        error_box = gr.HTML("", elem_id="chat-error", visible=False)
                        status = gr.HTML(chat_view.status_html("Starting…", "busy"), elem_id="status")
                        with gr.Row():
                            message = gr.Textbox(
                                elem_id="message", show_label=False, scale=5, lines=1, max_lines=8,
                                placeholder=MESSAGE_PLACEHOLDER,
                            )
                            send = gr.Button("Send", elem_id="send", variant="primary", scale=1)
                        with gr.Row():
                            undo = gr.Button("Undo", elem_id="undo", size="sm")
                            retry = gr.Button("Retry", elem_id="retry", size="sm", interactive=False)
                            restart = gr.Button("Restart", elem_id="restart", size="sm")
                            transcript_dl = gr.DownloadButton("Download transcript (JSON)", elem_id="download-transcript",
                                                              size="sm", interactive=False)
                        with gr.Accordion("Planner: changes apply from the persuader's next turn", open=True):
                            planner_in = gr.Radio(PLANNER_CHOICES, value=planner, label="Planner", elem_id="planner")
                            with gr.Row():
                                sims_in = gr.Number(defaults.simulations, precision=0, label="Simulations per turn",
                                                    elem_id="simulations", min_width=120)
                                k_in = gr.Number(defaults.realizations, precision=0, label="Realizations per node (k)",
                                                 elem_id="realizations", min_width=120)
                                q0_in = gr.Number(defaults.q0, label="Q0 (initial Q of untried acts)", elem_id="q0", min_width=120)
                            with gr.Row():
                                cpuct_in = gr.Number(defaults.c_puct, label="c_puct (exploration)", elem_id="c-puct", min_width=120)
                                budget_in = gr.Textbox("" if defaults.time_budget_s is None else str(defaults.time_budget_s),
                                                       label="Time budget, seconds (blank = none)", placeholder="none",
                                                       elem_id="time-budget", min_width=120)
                                gr.Textbox(settings.default.model, label="Model (set when the server starts)",
                                           interactive=False, elem_id="model", min_width=120)
                            root_in = gr.Radio(ROOT_CHOICES, value=defaults.root, label="Root act selection",
                                               elem_id="root-rule")
                            with gr.Accordion("LLM settings (no secrets)", open=False):
                                gr.JSON(settings.public_dict(), elem_id="llm-settings")
                    with gr.Column(scale=6, min_width=420, elem_id="tree-panel"):
                        gr.Markdown("### Search tree")
                        with gr.Row():
                            turn_select = gr.Dropdown([], label="Turn", elem_id="turn-select", scale=3, interactive=True)
                            tree_dl = gr.DownloadButton("Download tree (JSON)", elem_id="download-tree", size="sm",
                                                        interactive=False, scale=1)
                        tree_summary = gr.HTML("", elem_id="tree-summary")
                        with gr.Row():
                            view_in = gr.Radio(list(tree_view.VIEWS), value=tree_view.VIEWS[0], label="View",
                                               elem_id="tree-view", scale=2)
                            depth_in = gr.Slider(1, MAX_DEPTH_SHOWN, value=MAX_DEPTH_SHOWN, step=1, label="Depth shown",
                                                 elem_id="tree-depth", scale=1)
                            min_visits_in = gr.Slider(1, 50, value=1, step=1, label="Hide acts visited fewer times",
                                                      elem_id="tree-min-visits", scale=1)
                        tree_plot = gr.Plot(elem_id="tree-plot", label="Size = visits N, colour = Q; click a node for its "
                                            "details (in the icicle and sunburst, a click also zooms in)")
                        root_table = gr.Dataframe(
                            pd.DataFrame(columns=tree_view.ROOT_TABLE_HEADERS), label="Root acts (the chosen one first)",
                            elem_id="root-table", interactive=False, wrap=True, max_height=320,
                        )
                        node_select = gr.Dropdown([], label="Node (act path from the root)", elem_id="node-select", interactive=True)
                        node_details = gr.HTML(tree_view.node_details_html(None), elem_id="node-details")
                        # Written by the page's script when a node of the figure is clicked (Plotly has no Gradio event).
                        clicked_node = gr.Textbox("", elem_id="clicked-node", elem_classes=["offscreen"], show_label=False,
                                                  container=False)
            with gr.Tab("Usage", id="usage-tab"):
                gr.Markdown("LLM calls, tokens and seconds on the wire, by role: for the whole session and per turn "
                            "(a turn's row includes tagging the message before it).")
                usage_table = gr.Dataframe(pd.DataFrame(columns=usage_view.USAGE_HEADERS), elem_id="usage-table",
                                           interactive=False, label="Usage")
            with gr.Tab("Strategies", id="strategies-tab"):
                wire_strategies = strategies_view.build_tab(
                    load_domain(), lambda request: registry.get(request.session_hash), data_dirs,
                    {**PAGE_ONLY, "show_progress": "minimal"},
                )

        controls = [planner_in, sims_in, k_in, q0_in, cpuct_in, budget_in, root_in]
        tree_outputs = [tree_plot, tree_summary, root_table, node_select, node_details, tree_dl]
        outputs = [chatbot, status, error_box, message, send, transcript_dl, turn_select, usage_table, retry, *tree_outputs]

        # -- views ------------------------------------------------------------------------

        def tree_updates(user: UserChat, index: int | None) -> dict[Any, Any]:
            log = user.session.log
            turn = log[index] if index is not None and 0 <= index < len(log) else None
            planned = turn.planned if turn is not None else None
            tree = planned.tree if planned is not None else None
            if tree is None:
                message_text = "No turn yet." if planned is None else "This turn's planner does not search: no tree."
                return {
                    tree_plot: tree_view.empty_figure(message_text),
                    tree_summary: tree_view.tree_summary_html(None, _planner_label(planned.planner)) if planned else "",
                    root_table: pd.DataFrame(columns=tree_view.ROOT_TABLE_HEADERS),
                    node_select: gr.Dropdown(choices=[], value=None),
                    node_details: tree_view.node_details_html(None),
                    tree_dl: gr.DownloadButton(value=None, interactive=False),
                }
            chosen = tree.get("chosen_act")
            choices = tree_view.node_choices(tree)
            selected = chosen if chosen in choices else tree_view.ROOT_LABEL
            number = _turn_number(user, index)
            return {
                tree_plot: tree_view.draw(tree, user.view),
                tree_summary: tree_view.tree_summary_html(tree, planned.planner, planned.simulations,
                                                          planned.reused_simulations, planned.seconds),
                root_table: pd.DataFrame(tree_view.root_table(tree), columns=tree_view.ROOT_TABLE_HEADERS),
                node_select: gr.Dropdown(choices=choices, value=selected),
                node_details: tree_view.node_details_html(tree_view.find_node(tree, selected), tree),
                tree_dl: gr.DownloadButton(value=_write_json(user, f"gdp-zero-tree-turn-{number}.json", tree), interactive=True),
            }

        async def live_tree_updates(user: UserChat) -> dict[Any, Any]:
            """The tree of the turn being searched, as it stands: redrawn whenever a simulation ends.

            The snapshot is taken here, between the search's steps; the figure is built in a thread,
            so that other people's requests are not kept waiting while it is.
            """
            progress = user.progress
            if progress is None or progress.tree is None:
                return {}
            tree = progress.tree.to_dict()
            return {
                tree_plot: await asyncio.to_thread(tree_view.draw, tree, user.view),
                tree_summary: tree_view.live_summary_html(tree, progress.done, progress.total),
                root_table: pd.DataFrame(tree_view.root_table(tree), columns=tree_view.ROOT_TABLE_HEADERS),
            }

        def full_view(user: UserChat, status_text: str, kind: str = "done") -> dict[Any, Any]:
            log = user.session.log
            bot_turns = [i for i, t in enumerate(log) if t.speaker == "system"]
            choices = [(_turn_label(user, i), i) for i in bot_turns]
            latest = bot_turns[-1] if bot_turns else None
            labels = {log[i].ledger_turn: _turn_label(user, i) for i in bot_turns}
            has_content = bool(log) or user.session.pending is not None
            ending = user.session.ending
            if ending is not None and not user.error:
                status_text, kind = f"{ending} Press Restart for a new dialogue.", "ended"
            view = {
                chatbot: chat_view.chat_messages(log, user.session.pending,
                                                 waiting="waiting for a reply" if user.error else "reading…"),
                status: chat_view.status_html(status_text, kind),
                error_box: gr.HTML(chat_view.error_html(user.error, has_message=user.session.pending is not None
                                                        or bool(log and log[-1].speaker == "user")),
                                   visible=bool(user.error)),
                message: gr.Textbox(interactive=ending is None,
                                    placeholder="The dialogue has ended: press Restart for a new one." if ending
                                    else MESSAGE_PLACEHOLDER),
                send: gr.Button(interactive=ending is None),
                transcript_dl: gr.DownloadButton(
                    value=_write_json(user, "gdp-zero-transcript.json", user.session.transcript()) if has_content else None,
                    interactive=has_content,
                ),
                turn_select: gr.Dropdown(choices=list(reversed(choices)), value=latest),
                usage_table: pd.DataFrame(usage_view.usage_rows(user.session.client.ledger, labels),
                                          columns=usage_view.USAGE_HEADERS),
                retry: gr.Button(interactive=user.can_retry, variant="primary" if user.can_retry else "secondary"),
            }
            view.update(tree_updates(user, latest))
            return view

        def busy_view(user: UserChat) -> dict[Any, Any]:
            elapsed = time.monotonic() - user.started
            log = user.session.log
            phase = user.phase
            if user.session.pending is None and log and log[-1].speaker == "user":
                phase = "Your message is labelled; the persuader is planning a reply"
            text = chat_view.progress_text(user.progress, elapsed, phase)
            return {
                chatbot: chat_view.chat_messages(user.session.log, user.session.pending, waiting="reading…"),
                status: chat_view.status_html(text, "busy"),
                error_box: gr.HTML("", visible=False),
                retry: gr.Button(interactive=False, variant="secondary"),
            }

        async def run_turn(
            user: UserChat, start: Callable[[], asyncio.Task], first: dict[Any, Any] | None = None
        ) -> AsyncIterator[dict[Any, Any]]:
            """Start a turn and report its progress, and its tree as it grows, every POLL_S seconds until it ends."""
            try:
                task = start()
            except (MessageRejected, LimitExceeded) as rejected:
                yield {status: chat_view.status_html(str(rejected), "hint"), **(first or {}),
                       retry: gr.Button(interactive=user.can_retry, variant="primary" if user.can_retry else "secondary")}
                return
            await asyncio.sleep(0)  # let the turn start: a sent message is then pending, shown at once
            yield busy_view(user)
            drawn = None  # simulations done when the tree was last drawn
            while not task.done():
                # asyncio.wait never cancels the task: a page closed mid-turn leaves a whole turn behind.
                await asyncio.wait({task}, timeout=POLL_S)
                if not task.done():
                    update = busy_view(user)
                    done = user.progress.done if user.progress is not None else None
                    if done is not None and done != drawn:
                        update.update(await live_tree_updates(user))
                        drawn = done
                    yield update
            planned = user.finish()
            if user.error:
                yield full_view(user, "The turn failed: see the error above the status line, then press Retry.", "error")
            else:
                yield full_view(user, chat_view.done_text(planned), "done")

        def configured(request: gr.Request, values: tuple[Any, ...]) -> tuple[UserChat | None, str | None]:
            user = registry.get(request.session_hash)
            if user is None:
                return None, ("This page's session has ended (the server restarted, or the page was closed or idle "
                              "for a long time): reload the page.")
            try:
                options = options_from_controls(defaults, *values)
            except SettingsRejected as rejected:
                return None, str(rejected)
            if not user.busy:  # a running turn keeps its planner; the request is then refused anyway
                user.configure(options)
            return user, None

        # -- handlers ---------------------------------------------------------------------

        # Gradio passes the control values positionally and the request by its annotation.
        async def on_load(
            planner_v: str, sims: Any, k: Any, q0: Any, cpuct: Any, budget: Any, root: Any, request: gr.Request
        ) -> AsyncIterator[dict[Any, Any]]:
            try:
                options = options_from_controls(defaults, planner_v, sims, k, q0, cpuct, budget, root)
            except SettingsRejected:
                options = ChatOptions(search=defaults)
            try:
                user = await registry.create(request.session_hash, client_address(request), options)
            except LimitExceeded as refused:
                yield {status: chat_view.status_html(str(refused), "hint")}
                return
            async for update in run_turn(user, user.open):
                yield update

        async def configured_turn(
            request: gr.Request, controls: tuple[Any, ...], begin: Callable[[UserChat], Any], refused: dict | None = None
        ) -> AsyncIterator[dict[Any, Any]]:
            """Apply the controls, then run the turn that `begin(user)` returns; refusals become hints.

            `refused` is shown with a refusal: a sent message, cleared from the box as it was sent, goes back.
            """
            user, problem = configured(request, controls)
            if user is not None:
                try:
                    start = begin(user)
                except MessageRejected as rejected:
                    user, problem = None, str(rejected)
            if user is None:
                yield {status: chat_view.status_html(problem or "", "hint"), **(refused or {})}
                return
            async for update in run_turn(user, start, first=refused):
                yield update

        def restart_then_open(user: UserChat) -> Any:
            user.restart()
            return user.open

        async def on_send(
            text: str, planner_v: str, sims: Any, k: Any, q0: Any, cpuct: Any, budget: Any, root: Any, request: gr.Request
        ) -> AsyncIterator[dict[Any, Any]]:
            controls = (planner_v, sims, k, q0, cpuct, budget, root)
            async for update in configured_turn(request, controls, lambda user: lambda: user.send(text), {message: text}):
                yield update

        async def on_retry(
            planner_v: str, sims: Any, k: Any, q0: Any, cpuct: Any, budget: Any, root: Any, request: gr.Request
        ) -> AsyncIterator[dict[Any, Any]]:
            async for update in configured_turn(request, (planner_v, sims, k, q0, cpuct, budget, root), lambda user: user.retry):
                yield update

        async def on_restart(
            planner_v: str, sims: Any, k: Any, q0: Any, cpuct: Any, budget: Any, root: Any, request: gr.Request
        ) -> AsyncIterator[dict[Any, Any]]:
            async for update in configured_turn(request, (planner_v, sims, k, q0, cpuct, budget, root), restart_then_open):
                yield update

        async def on_undo(request: gr.Request) -> dict[Any, Any]:
            user = registry.get(request.session_hash)
            if user is None:
                return {status: chat_view.status_html("This page's session has ended: reload the page.", "hint")}
            try:
                undone = user.undo()
            except MessageRejected as rejected:
                return {status: chat_view.status_html(str(rejected), "hint")}
            if not undone:
                return {status: chat_view.status_html("Nothing to undo.", "hint")}
            return full_view(user, "Undone: your last message and the reply to it were taken back.", "done")

        async def on_turn(index: Any, request: gr.Request) -> dict[Any, Any]:
            user = registry.get(request.session_hash)
            if user is None:
                return {}
            return tree_updates(user, _as_index(index))

        async def on_view(kind: str, depth: Any, min_visits: Any, index: Any, request: gr.Request) -> dict[Any, Any]:
            user = registry.get(request.session_hash)
            if user is None:
                return {}
            shown = int(depth or MAX_DEPTH_SHOWN)
            user.view = tree_view.ViewChoice(kind if kind in tree_view.VIEWS else tree_view.VIEWS[0],
                                             None if shown >= MAX_DEPTH_SHOWN else shown, int(min_visits or 1))
            if user.busy:
                return await live_tree_updates(user)
            tree = _tree_of(user, _as_index(index))
            return {tree_plot: tree_view.draw(tree, user.view)} if tree is not None else {}

        async def on_node(index: Any, label: str | None, request: gr.Request) -> dict[Any, Any]:
            user = registry.get(request.session_hash)
            tree = _tree_of(user, _as_index(index)) if user is not None else None
            if tree is None:
                return {node_details: tree_view.node_details_html(None)}
            label = (label or "").split(CLICK_SEP)[0]  # a click carries a nonce, so clicking a node again counts
            found = tree_view.find_node(tree, label)
            return {node_details: tree_view.node_details_html(found, tree),
                    node_select: gr.Dropdown(value=found.label) if found is not None else gr.Dropdown()}

        async def on_unload(request: gr.Request) -> None:
            await registry.close(request.session_hash)

        # The controls reach the handlers as sent (preprocess=False), so a value from the page and
        # one sent to the queue directly are checked by the same options_from_controls.
        demo.load(on_load, inputs=controls, outputs=outputs, preprocess=False, **PAGE_ONLY)
        # The box is emptied in the browser as the message leaves, so text typed meanwhile is never wiped;
        # a message sent while the last turn's event is still closing runs after it instead of being dropped.
        send_args = dict(inputs=[message, *controls], outputs=outputs, preprocess=False, js=CLEAR_MESSAGE_JS,
                         trigger_mode="always_last", **PAGE_ONLY)
        send.click(on_send, **send_args)
        message.submit(on_send, **send_args)
        retry.click(on_retry, inputs=controls, outputs=outputs, preprocess=False, **PAGE_ONLY)
        restart.click(on_restart, inputs=controls, outputs=outputs, preprocess=False, **PAGE_ONLY)
        undo.click(on_undo, outputs=outputs, **PAGE_ONLY)
        turn_select.select(on_turn, inputs=[turn_select], outputs=tree_outputs, **PAGE_ONLY)
        for view_control in (view_in, depth_in, min_visits_in):
            view_control.change(on_view, inputs=[view_in, depth_in, min_visits_in, turn_select],
                                outputs=[tree_plot, tree_summary, root_table], **PAGE_ONLY)
        node_select.select(on_node, inputs=[turn_select, node_select], outputs=[node_details, node_select], **PAGE_ONLY)
        clicked_node.change(on_node, inputs=[turn_select, clicked_node], outputs=[node_details, node_select], **PAGE_ONLY)
        demo.unload(on_unload)
        wire_strategies()  # after the page's own events, which keep their places

    # api_open=False: no direct HTTP call skips the queue (and with it the concurrency limit).
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE, api_open=False)
    demo.gdp_registry = registry  # type: ignore[attr-defined]  # for tests and monitoring
    return demo


def _tree_of(user: UserChat, index: int | None) -> dict[str, Any] | None:
    log = user.session.log
    planned = log[index].planned if index is not None and 0 <= index < len(log) else None
    return planned.tree if planned is not None else None


def _planner_label(name: str) -> str:
    return chat_view.PLANNER_LABELS.get(name, name)


def _whole_number(value: Any) -> int:
    """An int from a control's value as sent (a number, or text from the API); ValueError if not whole."""
    number = float(value)
    if not number.is_integer():  # also NaN and infinities
        raise ValueError(f"not a whole number: {value!r}")
    return int(number)


def _as_index(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _turn_number(user: UserChat, index: int | None) -> int:
    """1 for the greeting, 2 for the persuader's next reply, ..."""
    if index is None:
        return 0
    return sum(1 for t in user.session.log[: index + 1] if t.speaker == "system")


def _turn_label(user: UserChat, index: int) -> str:
    turn = user.session.log[index]
    planner = _planner_label(turn.planned.planner) if turn.planned else ""
    return f"turn {_turn_number(user, index)} · {turn.act} ({planner})"


def _write_json(user: UserChat, name: str, data: Any) -> str:
    return user.write_download(name, json.dumps(data, indent=2, ensure_ascii=False))


def serve(demo: gr.Blocks, *, host: str = "127.0.0.1", port: int | None = None, share: bool = False,
          block: bool = True, quiet: bool = False) -> tuple[Any, str, str]:
    """Launch with the app's theme and CSS, and only the routes the page needs. `block=False`
    returns at once (tests)."""
    registry: SessionRegistry = demo.gdp_registry  # type: ignore[attr-defined]
    return demo.launch(
        server_name=host, server_port=port, share=share, prevent_thread_lock=not block, quiet=quiet,
        css=CSS, js=PAGE_JS, theme=gr.themes.Soft(primary_hue="blue"), footer_links=[],
        mcp_server=False, enable_monitoring=False, run_history=False, pwa=False, ssr_mode=False,
        max_file_size=MAX_UPLOAD,
        # Gradio keeps a little state per session id, also for ids our limits refused: bound it.
        # The app keeps none of its own there, so an id that falls out only gets a fresh copy.
        state_session_capacity=2 * registry.limits.settings.max_sessions,
    )


def launch(backend: Backend, *, host: str = "127.0.0.1", port: int = 7860, share: bool = False,
           limits: LimitSettings | None = None, data_dirs: Sequence[Path] = ()) -> None:
    """`gdp-zero ui`: serve the app on an open backend until interrupted (the caller stops the backend)."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    demo = build_app(backend, limits=limits, data_dirs=data_dirs)
    where = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}/"
    # Gradio's own start-up lines would suggest share=True in launch(); the CLI has --share.
    print(f"GDP-Zero studio: open {where} in a browser (Ctrl-C stops it).", flush=True)
    try:
        serve(demo, host=host, port=port, share=share, quiet=True)
    finally:
        demo.gdp_registry.remove_files()  # type: ignore[attr-defined]  # sessions still open at Ctrl-C
