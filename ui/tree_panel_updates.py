"""A turn's tree panel (ui.tree_view.TreePanel) as the updates of the five components that show it,
in the chat app's tree column and the study dashboard's transcript browser alike."""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from ui.tree_view import ROOT_TABLE_HEADERS, TreePanel


def panel_updates(panel: TreePanel, *, plot: Any, summary: Any, root_table: Any, node_select: Any,
                  node_details: Any) -> dict[Any, Any]:
    return {
        plot: panel.figure,
        summary: panel.summary,
        root_table: pd.DataFrame(panel.root_rows, columns=ROOT_TABLE_HEADERS),
        node_select: gr.Dropdown(choices=panel.nodes, value=panel.selected),
        node_details: panel.details,
    }
