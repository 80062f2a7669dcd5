"""The researcher's dashboard of a running study: live counts, results, transcripts with trees, exports.

Served at /admin/ behind the admin password (see server.py). Everything shown is read from the
database on each refresh, so several server processes on one database show the same numbers.
Statistics come from gdp_zero/study/stats.py and files from gdp_zero/study/export.py; this module
only lays them out. The tree of each bot turn is drawn by ui/tree_view.py, as in the chat app.
The layout is ui/study/admin_layout.py; `AdminPage` holds the handlers as methods.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Mapping

import gradio as gr
import pandas as pd

from gdp_zero.records import PlannerTurn
from gdp_zero.serving.scratch import scratch_folder
from gdp_zero.study.service import StudyService
from gdp_zero.study.spec import Study
from ui import chat_view, dropdowns, tree_view
from ui.study import admin_views
from ui.tree_panel_updates import panel_updates
from ui.study.admin_layout import MEANS_LABEL, PREPOST_LABEL, REFRESH_S, TESTS_LABEL, AdminLayout, admin_layout


def build_admin_app(service: StudyService) -> gr.Blocks:
    study = service.study
    reader = admin_views.StudyReader(service)
    models = admin_views.condition_models(study, service.llm)
    export_root = scratch_folder("study-export")  # Gradio serves the files from its cache

    with gr.Blocks(title=f"Admin · {study.title}", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        layout = admin_layout(study, models)
        AdminPage(reader, study, models, layout, export_root).wire(demo)
    demo.queue(default_concurrency_limit=4)
    return demo


class AdminPage:
    """The dashboard's handlers over its components: each reads the database afresh through `reader`."""

    def __init__(self, reader: admin_views.StudyReader, study: Study, models: Mapping[str, str], layout: AdminLayout,
                 export_root: Path) -> None:
        self.reader, self.study, self.models, self.layout, self.export_root = reader, study, models, layout, export_root

    def on_counts(self) -> dict[Any, Any]:
        overview = self.layout.overview
        return {overview.counts: admin_views.counts_frame(self.reader.status_counts(), self.study, self.models),
                overview.updated: f'<div class="study-status">Updated {admin_views.now_text()}; refreshes every {REFRESH_S:.0f} s. '
                                  f'<span id="admin-unstarted">{html.escape(self.reader.unstarted_note())}</span></div>'}

    def on_results(self, show_everyone: bool) -> dict[Any, Any]:
        shown = self.layout.results
        results = self.reader.results("everyone" if show_everyone else "completers")

        def table(frame: pd.DataFrame, label: str) -> gr.Dataframe:
            return gr.Dataframe(admin_views.shown(frame), label=admin_views.population_label(label, results))

        return {
            shown.note: admin_views.results_note(results),
            shown.means: table(results.means, MEANS_LABEL), shown.means_plot: admin_views.means_figure(results.means),
            shown.tests: table(results.tests, TESTS_LABEL), shown.prepost: table(results.prepost, PREPOST_LABEL),
            shown.curves_plot: admin_views.curves_figure(results.curves),
            shown.strategy_plot: admin_views.strategy_figure(results.strategies),
        }

    def on_list(self) -> dict[Any, Any]:
        choices = self.reader.participation_choices()
        return {self.layout.transcripts.participation_select: gr.Dropdown(choices=choices,
                                                                          value=choices[0][1] if choices else None)}

    def on_participation(self, participation_id: Any) -> dict[Any, Any]:
        shown = self.layout.transcripts
        record, info = self.reader.transcript(participation_id)
        if record is None:
            return {shown.participation_info: "", shown.transcript: [], shown.turn_select: gr.Dropdown(choices=[], value=None),
                    **self.tree_updates(None)}
        bot_turns = [(dropdowns.turn_label(record.turns, i), i) for i, t in enumerate(record.turns) if t.speaker == "system"]
        latest = bot_turns[-1][1] if bot_turns else None
        return {
            shown.participation_info: info,
            shown.transcript: chat_view.chat_messages(record.turns, None),
            shown.turn_select: gr.Dropdown(choices=bot_turns, value=latest),
            **self.tree_updates(record.turns[latest].planned if latest is not None else None),
        }

    def tree_updates(self, planned: PlannerTurn | None) -> dict[Any, Any]:
        shown = self.layout.transcripts
        panel = tree_view.tree_panel(planned, chat_view.planner_label(planned))
        return panel_updates(panel, plot=shown.tree_plot, summary=shown.tree_summary, root_table=shown.root_table,
                             node_select=shown.node_select, node_details=shown.node_details)

    def planned_of(self, participation_id: Any, index: Any) -> PlannerTurn | None:
        record, _ = self.reader.transcript(participation_id)
        i = dropdowns.as_index(index)
        if record is None or i is None or not 0 <= i < len(record.turns):
            return None
        return record.turns[i].planned

    def on_turn(self, participation_id: Any, index: Any) -> dict[Any, Any]:
        return self.tree_updates(self.planned_of(participation_id, index))

    def on_node(self, participation_id: Any, index: Any, label: str | None) -> str:
        planned = self.planned_of(participation_id, index)
        if planned is None or planned.tree is None:
            return tree_view.node_details_html(None)
        return tree_view.node_details_html(tree_view.find_node(planned.tree, label), planned.tree)

    def on_export(self, raw: bool) -> list[str]:
        return self.reader.export(self.export_root, raw_ids=bool(raw))

    def wire(self, demo: gr.Blocks) -> None:
        overview, results, transcripts, export = (self.layout.overview, self.layout.results, self.layout.transcripts,
                                                  self.layout.export)
        quiet: dict[str, Any] = {"show_progress": "hidden", "api_visibility": "private"}
        demo.load(self.on_counts, outputs=overview.outputs, **quiet)
        demo.load(self.on_results, inputs=[results.everyone], outputs=results.outputs, **quiet)
        demo.load(self.on_list, outputs=[transcripts.participation_select], **quiet)
        self.layout.timer.tick(self.on_counts, outputs=overview.outputs, **quiet)
        overview.refresh.click(self.on_counts, outputs=overview.outputs, **quiet)
        results.refresh.click(self.on_results, inputs=[results.everyone], outputs=results.outputs, **quiet)
        results.everyone.change(self.on_results, inputs=[results.everyone], outputs=results.outputs, **quiet)
        transcripts.refresh.click(self.on_list, outputs=[transcripts.participation_select], **quiet)
        transcripts.participation_select.change(self.on_participation, inputs=[transcripts.participation_select],
                                                outputs=transcripts.outputs, **quiet)
        transcripts.turn_select.select(self.on_turn, inputs=[transcripts.participation_select, transcripts.turn_select],
                                       outputs=transcripts.tree_outputs, **quiet)
        transcripts.node_select.select(self.on_node, inputs=[transcripts.participation_select, transcripts.turn_select,
                                                             transcripts.node_select],
                                       outputs=[transcripts.node_details], **quiet)
        export.make_export.click(self.on_export, inputs=[export.raw_ids], outputs=[export.files], show_progress="full",
                                 api_visibility="private")
