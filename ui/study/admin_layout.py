"""Where each part of the researcher's dashboard sits: the overview's counts, the results, the transcript
browser with its tree, the exports. Built inside the dashboard's Blocks, it returns its components; the
handlers that fill them are ui/study/admin.py.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Mapping

import gradio as gr
import pandas as pd

from gdp_zero.study.spec import Study
from ui import tree_view
from ui.study import admin_views

REFRESH_S = 10.0  # the overview's live counts
MEANS_LABEL = "Per-item means with 95% CIs, by condition (per-turn ratings averaged per participant)"
TESTS_LABEL = "Between conditions: Welch's t and Mann-Whitney U (source \"change\": the pre → post change)"
PREPOST_LABEL = "Pre → post change within each condition (paired t and Wilcoxon)"


@dataclass(frozen=True)
class OverviewTab:
    counts: gr.Dataframe
    updated: gr.HTML
    refresh: gr.Button

    @property
    def outputs(self) -> list[Any]:
        return [self.counts, self.updated]


@dataclass(frozen=True)
class ResultsTab:
    everyone: gr.Checkbox  # the population switch: everyone assigned a condition, or completers only
    refresh: gr.Button
    note: gr.HTML
    means: gr.Dataframe
    means_plot: gr.Plot
    tests: gr.Dataframe
    prepost: gr.Dataframe
    curves_plot: gr.Plot
    strategy_plot: gr.Plot

    @property
    def outputs(self) -> list[Any]:
        return [self.note, self.means, self.means_plot, self.tests, self.prepost, self.curves_plot, self.strategy_plot]


@dataclass(frozen=True)
class TranscriptsTab:
    participation_select: gr.Dropdown
    refresh: gr.Button
    participation_info: gr.HTML
    transcript: gr.Chatbot
    turn_select: gr.Dropdown
    tree_summary: gr.HTML
    tree_plot: gr.Plot
    root_table: gr.Dataframe
    node_select: gr.Dropdown
    node_details: gr.HTML

    @property
    def tree_outputs(self) -> list[Any]:
        return [self.tree_plot, self.tree_summary, self.root_table, self.node_select, self.node_details]

    @property
    def outputs(self) -> list[Any]:
        """What choosing a participation updates."""
        return [self.participation_info, self.transcript, self.turn_select, *self.tree_outputs]


@dataclass(frozen=True)
class ExportTab:
    raw_ids: gr.Checkbox
    make_export: gr.Button
    files: gr.File


@dataclass(frozen=True)
class AdminLayout:
    overview: OverviewTab
    results: ResultsTab
    transcripts: TranscriptsTab
    export: ExportTab
    timer: gr.Timer  # refreshes the overview


def admin_layout(study: Study, models: Mapping[str, str]) -> AdminLayout:
    """The dashboard's components, in page order (call inside `gr.Blocks`); `models`: each condition's model."""
    gr.HTML(
        f'<h1 class="study-title">Admin · {html.escape(study.title)}</h1>'
        f'<p>Study <code>{html.escape(study.id)}</code>. Participants open <code>/?{html.escape(study.recruitment.participant_param)}=…</code>; '
        'walk the flow yourself, uncounted, in the <a href="../preview/" target="_blank">preview</a>.</p>',
        elem_id="admin-title",
    )
    with gr.Tabs():
        with gr.Tab("Overview", id="overview"):
            overview = overview_tab(study, models)
        with gr.Tab("Results", id="results"):
            results = results_tab()
        with gr.Tab("Transcripts", id="transcripts"):
            transcripts = transcripts_tab()
        with gr.Tab("Export", id="export"):
            export = export_tab()
    return AdminLayout(overview, results, transcripts, export, gr.Timer(REFRESH_S))


def overview_tab(study: Study, models: Mapping[str, str]) -> OverviewTab:
    counts = gr.Dataframe(admin_views.counts_frame([], study, models), elem_id="admin-counts", label="Participations by condition",
                          interactive=False, wrap=True)
    updated = gr.HTML("", elem_id="admin-updated")
    refresh = gr.Button("Refresh now", size="sm", elem_id="admin-refresh")
    return OverviewTab(counts, updated, refresh)


def results_tab() -> ResultsTab:
    with gr.Row():
        everyone = gr.Checkbox(False, label="Everyone assigned a condition, not only completers (labelled on every table)",
                               elem_id="admin-everyone", scale=4)
        refresh = gr.Button("Recompute", size="sm", elem_id="admin-results-refresh", scale=1)
    note = gr.HTML("", elem_id="results-note")
    means = gr.Dataframe(elem_id="admin-means", label=MEANS_LABEL, interactive=False, wrap=True)
    means_plot = gr.Plot(elem_id="admin-means-plot", label="Means with 95% CIs")
    tests = gr.Dataframe(elem_id="admin-tests", label=TESTS_LABEL, interactive=False, wrap=True)
    prepost = gr.Dataframe(elem_id="admin-prepost", label=PREPOST_LABEL, interactive=False, wrap=True)
    curves_plot = gr.Plot(elem_id="admin-curves", label="Per-turn ratings")
    strategy_plot = gr.Plot(elem_id="admin-strategies", label="Strategy share per condition")
    return ResultsTab(everyone, refresh, note, means, means_plot, tests, prepost, curves_plot, strategy_plot)


def transcripts_tab() -> TranscriptsTab:
    with gr.Row():
        participation_select = gr.Dropdown([], label="Participation", elem_id="admin-participation", scale=4)
        refresh = gr.Button("Reload list", size="sm", scale=1, elem_id="admin-transcripts-refresh")
    participation_info = gr.HTML("", elem_id="admin-participation-info")
    transcript = gr.Chatbot(elem_id="admin-transcript", label="Transcript (acts as the planner and the tagger gave them)",
                            height=None, min_height=200, max_height=600, sanitize_html=True, render_markdown=True,
                            latex_delimiters=[], allow_tags=False, group_consecutive_messages=False,
                            feedback_options=None, buttons=[], layout="bubble")
    turn_select = gr.Dropdown([], label="Bot turn", elem_id="admin-turn", interactive=True)
    tree_summary = gr.HTML("", elem_id="admin-tree-summary")
    tree_plot = gr.Plot(elem_id="admin-tree", label="Search tree: size = visits N, colour = Q")
    with gr.Row():
        root_table = gr.Dataframe(pd.DataFrame(columns=tree_view.ROOT_TABLE_HEADERS), label="Root acts",
                                  elem_id="admin-root-table", interactive=False, wrap=True)
        with gr.Column():
            node_select = gr.Dropdown([], label="Node", elem_id="admin-node", interactive=True)
            node_details = gr.HTML(tree_view.node_details_html(None), elem_id="admin-node-details")
    return TranscriptsTab(participation_select, refresh, participation_info, transcript, turn_select, tree_summary,
                          tree_plot, root_table, node_select, node_details)


def export_tab() -> ExportTab:
    gr.Markdown("CSV and JSONL per participant, per message, per rating and per answer, and every dialogue "
                "as a DialogueRecord (columns in the README). Recruitment ids are salted hashes unless you "
                "ask for the raw ids. Previews are left out.")
    raw_ids = gr.Checkbox(False, label="Raw recruitment ids (identifying: personal data)", elem_id="admin-raw-ids")
    make_export = gr.Button("Prepare the files", variant="primary", elem_id="admin-export")
    files = gr.File(label="Files", file_count="multiple", interactive=False, elem_id="admin-export-files")
    return ExportTab(raw_ids, make_export, files)
