"""The chat app's CSS; the study pages use it too (Gradio 6 takes CSS at launch)."""

from gdp_zero.analysis.figures import TRANSITIONS_MIN_WIDTH_PX

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
.node-details code.raw-answer { white-space: pre-wrap; overflow-wrap: anywhere; }
.tree-summary { padding: 4px 0; }
.strategies-test { background: #eff6ff; border: 1px solid #bfdbfe; padding: 8px 12px; border-radius: 8px; }
/* Strategies tables: each column as wide as its text up to 20em, the table in a box of its own that scrolls
   sideways when it is wider than the screen; a shadow at an edge says there is more that way. */
.strategies-table-title { color: var(--block-label-text-color); font-size: var(--block-label-text-size); margin: 8px 0 4px; }
#strategies-sources .table-scroll, #strategies-top-acts .table-scroll { overflow-x: auto; max-width: 100%;
  border: 1px solid var(--border-color-primary); border-radius: 8px;
  background: linear-gradient(to right, var(--block-background-fill) 30%, transparent) left / 40px 100% no-repeat local,
    linear-gradient(to left, var(--block-background-fill) 30%, transparent) right / 40px 100% no-repeat local,
    radial-gradient(farthest-side at 0 50%, rgba(0, 0, 0, 0.2), transparent) left / 12px 100% no-repeat scroll,
    radial-gradient(farthest-side at 100% 50%, rgba(0, 0, 0, 0.2), transparent) right / 12px 100% no-repeat scroll
    var(--block-background-fill); }
#strategies-sources table.data, #strategies-top-acts table.data { width: max-content; border: 0; border-collapse: collapse;
  font-size: 0.9em; }
#strategies-sources table.data tr, #strategies-top-acts table.data tr { border: 0; }
#strategies-sources table.data th, #strategies-sources table.data td,
#strategies-top-acts table.data th, #strategies-top-acts table.data td { padding: 4px 8px; text-align: left; max-width: 20em;
  border: 0; border-bottom: 1px solid var(--border-color-primary); overflow-wrap: break-word; background: transparent; }
/* The act-to-act heatmaps need room for a 13 x 13 grid per source: on a phone they scroll sideways in their box. */
#strategies-plot-transitions { overflow-x: auto !important; }
""" + f"#strategies-plot-transitions .js-plotly-plot {{ min-width: {TRANSITIONS_MIN_WIDTH_PX}px; }}" + """
#app-header p { margin: 0; }
/* The first screen holds the chat, its newest message and the box to type in: the chat takes what the
   header, tabs, status line and message box leave (chat_layout.CHAT_HEIGHT), less on a phone, where they wrap. */
@media (max-width: 600px) { #chat { height: calc(100dvh - 470px) !important; } }
/* On a phone the root-acts table's cells keep little padding, so P, N, Q and the ✓ stay unbroken on screen. */
@media (max-width: 600px) {
  #root-table th, #root-table td { padding: 4px 3px !important; font-size: 0.85em; }
  #root-table .cell-wrap { padding: 0 !important; }
}
#chat button[aria-label="Clear"], .arena-chat button[aria-label="Clear"] { display: none; }  /* it would only blank the view, not the session */
"""
