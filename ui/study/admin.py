"""The researcher's dashboard of a running study: live counts, results, transcripts with trees, exports.

Served at /admin/ behind the admin password (see server.py). Everything shown is read from the
database on each refresh, so several server processes on one database show the same numbers.
Statistics come from gdp_zero/study/stats.py and files from gdp_zero/study/export.py; this module
only lays them out. The tree of each bot turn is drawn by ui/tree_view.py, as in the chat app.
"""

from __future__ import annotations

import html
from typing import Any

import gradio as gr
import pandas as pd

from gdp_zero.records import PlannerTurn
from gdp_zero.study.service import StudyService
from ui import chat_view, dropdowns, tree_view
from gdp_zero.serving.scratch import scratch_folder
from ui.study import admin_views

REFRESH_S = 10.0  # the overview's live counts
MEANS_LABEL = "Per-item means with 95% CIs, by condition (per-turn ratings averaged per participant)"
TESTS_LABEL = "Between conditions: Welch's t and Mann-Whitney U (source \"change\": the pre → post change)"
PREPOST_LABEL = "Pre → post change within each condition (paired t and Wilcoxon)"


def build_admin_app(service: StudyService) -> gr.Blocks:
    study = service.study
    reader = admin_views.StudyReader(service)
    models = admin_views.condition_models(study, service.llm)
    export_root = scratch_folder("study-export")  # Gradio serves the files from its cache

    with gr.Blocks(title=f"Admin · {study.title}", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.HTML(
            f'<h1 class="study-title">Admin · {html.escape(study.title)}</h1>'
            f'<p>Study <code>{html.escape(study.id)}</code>. Participants open <code>/?{html.escape(study.recruitment.participant_param)}=…</code>; '
            'walk the flow yourself, uncounted, in the <a href="../preview/" target="_blank">preview</a>.</p>',
            elem_id="admin-title",
        )
        with gr.Tabs():
            with gr.Tab("Overview", id="overview"):
                counts = gr.Dataframe(admin_views.counts_frame([], study, models), elem_id="admin-counts", label="Participations by condition",
                                      interactive=False, wrap=True)
                updated = gr.HTML("", elem_id="admin-updated")
                refresh = gr.Button("Refresh now", size="sm", elem_id="admin-refresh")
            with gr.Tab("Results", id="results"):
                with gr.Row():
                    everyone = gr.Checkbox(False, label="Everyone assigned a condition, not only completers (labelled on every table)",
                                           elem_id="admin-everyone", scale=4)
                    results_refresh = gr.Button("Recompute", size="sm", elem_id="admin-results-refresh", scale=1)
                results_note = gr.HTML("", elem_id="results-note")
                means = gr.Dataframe(elem_id="admin-means", label=MEANS_LABEL, interactive=False, wrap=True)
                means_plot = gr.Plot(elem_id="admin-means-plot", label="Means with 95% CIs")
                tests = gr.Dataframe(elem_id="admin-tests", label=TESTS_LABEL, interactive=False, wrap=True)
                prepost = gr.Dataframe(elem_id="admin-prepost", label=PREPOST_LABEL, interactive=False, wrap=True)
                curves_plot = gr.Plot(elem_id="admin-curves", label="Per-turn ratings")
                strategy_plot = gr.Plot(elem_id="admin-strategies", label="Strategy share per condition")
            with gr.Tab("Transcripts", id="transcripts"):
                with gr.Row():
                    participation_select = gr.Dropdown([], label="Participation", elem_id="admin-participation", scale=4)
                    transcripts_refresh = gr.Button("Reload list", size="sm", scale=1, elem_id="admin-transcripts-refresh")
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
            with gr.Tab("Export", id="export"):
                gr.Markdown("CSV and JSONL per participant, per message, per rating and per answer, and every dialogue "
                            "as a DialogueRecord (columns in the README). Recruitment ids are salted hashes unless you "
                            "ask for the raw ids. Previews are left out.")
                raw_ids = gr.Checkbox(False, label="Raw recruitment ids (identifying: personal data)", elem_id="admin-raw-ids")
                make_export = gr.Button("Prepare the files", variant="primary", elem_id="admin-export")
                export_files = gr.File(label="Files", file_count="multiple", interactive=False, elem_id="admin-export-files")
        timer = gr.Timer(REFRESH_S)

        # -- handlers ---------------------------------------------------------------------

        def on_counts() -> dict[Any, Any]:
            return {counts: admin_views.counts_frame(reader.status_counts(), study, models),
                    updated: f'<div class="study-status">Updated {admin_views.now_text()}; refreshes every {REFRESH_S:.0f} s. '
                             f'<span id="admin-unstarted">{html.escape(reader.unstarted_note())}</span></div>'}

        def on_results(show_everyone: bool) -> dict[Any, Any]:
            results = reader.results("everyone" if show_everyone else "completers")

            def table(frame: pd.DataFrame, label: str) -> gr.Dataframe:
                return gr.Dataframe(admin_views.shown(frame), label=admin_views.population_label(label, results))

            return {
                results_note: admin_views.results_note(results),
                means: table(results.means, MEANS_LABEL), means_plot: admin_views.means_figure(results.means),
                tests: table(results.tests, TESTS_LABEL), prepost: table(results.prepost, PREPOST_LABEL),
                curves_plot: admin_views.curves_figure(results.curves),
                strategy_plot: admin_views.strategy_figure(results.strategies),
            }

        def on_list() -> dict[Any, Any]:
            choices = reader.participation_choices()
            return {participation_select: gr.Dropdown(choices=choices, value=choices[0][1] if choices else None)}

        def on_participation(participation_id: Any) -> dict[Any, Any]:
            record, info = reader.transcript(participation_id)
            if record is None:
                return {participation_info: "", transcript: [], turn_select: gr.Dropdown(choices=[], value=None),
                        **tree_updates(None)}
            bot_turns = [(dropdowns.turn_label(record.turns, i), i) for i, t in enumerate(record.turns) if t.speaker == "system"]
            latest = bot_turns[-1][1] if bot_turns else None
            return {
                participation_info: info,
                transcript: chat_view.chat_messages(record.turns, None),
                turn_select: gr.Dropdown(choices=bot_turns, value=latest),
                **tree_updates(record.turns[latest].planned if latest is not None else None),
            }

        def tree_updates(planned: PlannerTurn | None) -> dict[Any, Any]:
            panel = tree_view.tree_panel(planned, chat_view.planner_label(planned))
            return {
                tree_plot: panel.figure,
                tree_summary: panel.summary,
                root_table: pd.DataFrame(panel.root_rows, columns=tree_view.ROOT_TABLE_HEADERS),
                node_select: gr.Dropdown(choices=panel.nodes, value=panel.selected),
                node_details: panel.details,
            }

        def planned_of(participation_id: Any, index: Any) -> PlannerTurn | None:
            record, _ = reader.transcript(participation_id)
            i = dropdowns.as_index(index)
            if record is None or i is None or not 0 <= i < len(record.turns):
                return None
            return record.turns[i].planned

        def on_turn(participation_id: Any, index: Any) -> dict[Any, Any]:
            return tree_updates(planned_of(participation_id, index))

        def on_node(participation_id: Any, index: Any, label: str | None) -> str:
            planned = planned_of(participation_id, index)
            if planned is None or planned.tree is None:
                return tree_view.node_details_html(None)
            return tree_view.node_details_html(tree_view.find_node(planned.tree, label), planned.tree)

        def on_export(raw: bool) -> list[str]:
            return reader.export(export_root, raw_ids=bool(raw))

        quiet: dict[str, Any] = {"show_progress": "hidden", "api_visibility": "private"}
        counts_outputs = [counts, updated]
        results_outputs = [results_note, means, means_plot, tests, prepost, curves_plot, strategy_plot]
        tree_outputs = [tree_plot, tree_summary, root_table, node_select, node_details]
        demo.load(on_counts, outputs=counts_outputs, **quiet)
        demo.load(on_results, inputs=[everyone], outputs=results_outputs, **quiet)
        demo.load(on_list, outputs=[participation_select], **quiet)
        timer.tick(on_counts, outputs=counts_outputs, **quiet)
        refresh.click(on_counts, outputs=counts_outputs, **quiet)
        results_refresh.click(on_results, inputs=[everyone], outputs=results_outputs, **quiet)
        everyone.change(on_results, inputs=[everyone], outputs=results_outputs, **quiet)
        transcripts_refresh.click(on_list, outputs=[participation_select], **quiet)
        participation_select.change(on_participation, inputs=[participation_select],
                                    outputs=[participation_info, transcript, turn_select, *tree_outputs], **quiet)
        turn_select.select(on_turn, inputs=[participation_select, turn_select], outputs=tree_outputs, **quiet)
        node_select.select(on_node, inputs=[participation_select, turn_select, node_select], outputs=[node_details], **quiet)

        make_export.click(on_export, inputs=[raw_ids], outputs=[export_files], show_progress="full", api_visibility="private")

    demo.queue(default_concurrency_limit=4)
    return demo
