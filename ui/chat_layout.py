"""The chat tab's components, laid out: each function places its part of the page and returns its components.

Called inside a `gr.Blocks` context; the events are wired in `ui/chat_page.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from gdp_zero.domain import Domain
from gdp_zero.llm.settings import LLMSettings
from gdp_zero.planners import GDPZeroConfig
from ui import chat_view, tree_view, usage_view

# Short enough for one line on a phone: the box stays one line tall (the character limit is said when it is passed).
MESSAGE_PLACEHOLDER = "Your reply (Enter sends, Shift+Enter: new line)"
CHAT_HEIGHT = "calc(100dvh - 330px)"  # what the header, tabs, status line and message box leave of the screen
CHAT_MIN_HEIGHT = 240
MAX_DEPTH_SHOWN = 10  # the depth slider's top: "all"
MIN_VISITS_LABEL = "Hide acts visited fewer times"
PLANNER_CHOICES = [("GDP-Zero (search)", "gdpzero"), ("Prompting (no search)", "prompting"), ("Random", "random")]
ROOT_CHOICES = [("PUCT (as published)", "puct"), ("Gumbel + Sequential Halving", "gumbel")]
RESUME_STORAGE_KEY = "gdp-zero-chat"  # localStorage: the chat's resume token


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
    regenerate: gr.Button
    note: gr.Textbox
    save_note: gr.Button
    noted: gr.Number
    resume: gr.BrowserState


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
    sim_step: gr.Slider
    sim_details: gr.HTML


def chat_column() -> ChatColumn:
    chatbot = gr.Chatbot(
        # A fixed height makes the message list the scrolling box that Gradio autoscrolls; it leaves the
        # status line and the message box on the first screen, on a phone as on a laptop.
        elem_id="chat", label="Dialogue", height=CHAT_HEIGHT, min_height=CHAT_MIN_HEIGHT,
        # Messages are escaped by chat_view; only its own tags are HTML.
        sanitize_html=True, render_markdown=True, latex_delimiters=[], allow_tags=False,
        group_consecutive_messages=False,
        # 👍/👎 on each persuader message (saved in the transcript), a copy button on every message.
        feedback_options=("Like", "Dislike"), buttons=["copy"], layout="bubble",
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
        regenerate = gr.Button("Regenerate", elem_id="regenerate", size="sm", interactive=False)
        restart = gr.Button("Restart", elem_id="restart", size="sm")
        transcript_dl = gr.DownloadButton("Download transcript (JSON)", elem_id="download-transcript",
                                          size="sm", interactive=False)
    with gr.Row(elem_id="note-row"):
        note = gr.Textbox(label="Note on the persuader message you last rated 👍/👎 (saved in the transcript)",
                          elem_id="note", lines=1, max_lines=4, scale=5, interactive=False,
                          placeholder="Rate a persuader message first")
        save_note = gr.Button("Save note", elem_id="save-note", size="sm", scale=1, interactive=False)
        noted = gr.Number(None, visible=False, elem_id="noted-index")  # the log index the note goes to
    # The chat's resume token, in localStorage: a reloaded page takes its dialogue back (ui/sessions.py).
    resume = gr.BrowserState(None, storage_key=RESUME_STORAGE_KEY)
    return ChatColumn(chatbot, error_box, status, message, send, undo, retry, restart, transcript_dl, regenerate,
                      note, save_note, noted, resume)


def glossary_panel(domain: Domain) -> None:
    with gr.Accordion("Act glossary: what each act means (also on hover over a tag)", open=False, elem_id="glossary"):
        gr.HTML(chat_view.glossary_html(domain))


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
        # Shares, not pixels: on a phone the act column wraps and P, N, Q, ✓ stay on the screen.
        column_widths=["34%", "16%", "12%", "18%", "20%"],
    )
    sim_step = gr.Slider(1, 2, value=1, step=1, label="Step through this turn's simulations, in the order they ran",
                         elem_id="sim-step", interactive=False)
    sim_details = gr.HTML("", elem_id="sim-details")
    node_select = gr.Dropdown([], label="Node (act path from the root)", elem_id="node-select", interactive=True)
    node_details = gr.HTML(tree_view.node_details_html(None), elem_id="node-details")
    # Plotly has no Gradio event: the page's script writes a clicked node's label here.
    clicked_node = gr.Textbox("", elem_id="clicked-node", elem_classes=["offscreen"], show_label=False, container=False)
    return TreeColumn(turn_select, tree_dl, summary, view_in, depth_in, min_visits_in, plot, root_table,
                      node_select, node_details, clicked_node, sim_step, sim_details)


def usage_tab() -> gr.Dataframe:
    gr.Markdown("LLM calls, tokens and seconds on the wire, by role: for the whole session and per turn "
                "(a turn's row includes tagging the message before it).")
    return gr.Dataframe(pd.DataFrame(columns=usage_view.USAGE_HEADERS), elem_id="usage-table",
                        interactive=False, label="Usage")
