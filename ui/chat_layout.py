"""The chat tab's components, laid out: each function places its part of the page and returns its components.

Called inside a `gr.Blocks` context; the events are wired in `ui/chat_page.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from gdp_zero.llm.settings import LLMSettings
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.session import MAX_MESSAGE_CHARS
from ui import chat_view, tree_view, usage_view

MESSAGE_PLACEHOLDER = (f"Your reply to the persuader (up to {MAX_MESSAGE_CHARS} characters); "
                       "Enter sends, Shift+Enter for a new line")
MAX_DEPTH_SHOWN = 10  # the depth slider's top: "all"
MIN_VISITS_LABEL = "Hide acts visited fewer times"
PLANNER_CHOICES = [("GDP-Zero (search)", "gdpzero"), ("Prompting (no search)", "prompting"), ("Random", "random")]
ROOT_CHOICES = [("PUCT (as published)", "puct"), ("Gumbel + Sequential Halving", "gumbel")]


@dataclass(frozen=True)
class ChatColumn:
    chatbot: gr.Chatbot
    error_box: gr.HTML
    status: gr.HTML
    message: gr.Textbox
    send: gr.Button
    undo: gr.Button
    retry: gr.Button
    restart: gr.Button
    transcript_dl: gr.DownloadButton


@dataclass(frozen=True)
class PlannerControls:
    planner: gr.Radio
    simulations: gr.Number
    realizations: gr.Number
    q0: gr.Number
    c_puct: gr.Number
    budget: gr.Textbox
    root: gr.Radio

    def inputs(self) -> list[Any]:
        """In the order `options_from_controls` takes them."""
        return [self.planner, self.simulations, self.realizations, self.q0, self.c_puct, self.budget, self.root]


@dataclass(frozen=True)
class TreeColumn:
    turn_select: gr.Dropdown
    tree_dl: gr.DownloadButton
    summary: gr.HTML
    view: gr.Radio
    depth: gr.Slider
    min_visits: gr.Slider
    plot: gr.Plot
    root_table: gr.Dataframe
    node_select: gr.Dropdown
    node_details: gr.HTML
    clicked_node: gr.Textbox  # written by the page's script when a node of the figure is clicked


def chat_column() -> ChatColumn:
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
        message = gr.Textbox(elem_id="message", show_label=False, scale=5, lines=1, max_lines=8,
                             placeholder=MESSAGE_PLACEHOLDER)
        send = gr.Button("Send", elem_id="send", variant="primary", scale=1)
    with gr.Row():
        undo = gr.Button("Undo", elem_id="undo", size="sm")
        retry = gr.Button("Retry", elem_id="retry", size="sm", interactive=False)
        restart = gr.Button("Restart", elem_id="restart", size="sm")
        transcript_dl = gr.DownloadButton("Download transcript (JSON)", elem_id="download-transcript",
                                          size="sm", interactive=False)
    return ChatColumn(chatbot, error_box, status, message, send, undo, retry, restart, transcript_dl)


def planner_controls(defaults: GDPZeroConfig, planner: str, settings: LLMSettings) -> PlannerControls:
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
        root_in = gr.Radio(ROOT_CHOICES, value=defaults.root, label="Root act selection", elem_id="root-rule")
        with gr.Accordion("LLM settings (no secrets)", open=False):
            gr.JSON(settings.public_dict(), elem_id="llm-settings")
    return PlannerControls(planner_in, sims_in, k_in, q0_in, cpuct_in, budget_in, root_in)


def tree_column() -> TreeColumn:
    gr.Markdown("### Search tree")
    with gr.Row():
        turn_select = gr.Dropdown([], label="Turn", elem_id="turn-select", scale=3, interactive=True)
        tree_dl = gr.DownloadButton("Download tree (JSON)", elem_id="download-tree", size="sm",
                                    interactive=False, scale=1)
    summary = gr.HTML("", elem_id="tree-summary")
    with gr.Row():
        view_in = gr.Radio(list(tree_view.VIEWS), value=tree_view.VIEWS[0], label="View", elem_id="tree-view", scale=2)
        depth_in = gr.Slider(1, MAX_DEPTH_SHOWN, value=MAX_DEPTH_SHOWN, step=1, label="Depth shown",
                             elem_id="tree-depth", scale=1)
        min_visits_in = gr.Slider(1, 50, value=1, step=1, label=MIN_VISITS_LABEL, elem_id="tree-min-visits", scale=1)
    plot = gr.Plot(elem_id="tree-plot", label="Size = visits N, colour = Q; click a node for its "
                   "details (in the icicle and sunburst, a click also zooms in)")
    root_table = gr.Dataframe(
        pd.DataFrame(columns=tree_view.ROOT_TABLE_HEADERS), label="Root acts (the chosen one first)",
        elem_id="root-table", interactive=False, wrap=True, max_height=320,
    )
    node_select = gr.Dropdown([], label="Node (act path from the root)", elem_id="node-select", interactive=True)
    node_details = gr.HTML(tree_view.node_details_html(None), elem_id="node-details")
    # Plotly has no Gradio event: the page's script writes a clicked node's label here.
    clicked_node = gr.Textbox("", elem_id="clicked-node", elem_classes=["offscreen"], show_label=False, container=False)
    return TreeColumn(turn_select, tree_dl, summary, view_in, depth_in, min_visits_in, plot, root_table,
                      node_select, node_details, clicked_node)


def usage_tab() -> gr.Dataframe:
    gr.Markdown("LLM calls, tokens and seconds on the wire, by role: for the whole session and per turn "
                "(a turn's row includes tagging the message before it).")
    return gr.Dataframe(pd.DataFrame(columns=usage_view.USAGE_HEADERS), elem_id="usage-table",
                        interactive=False, label="Usage")
