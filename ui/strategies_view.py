"""The Strategies tab: pick sources of dialogues, see every strategy figure and the dialogue-level tests, download the report and tables.

Sources: P4G files by a path on the server, uploaded transcripts (.json) or self-play runs files
(.jsonl), and this page's own chat. The analysis is gdp_zero.analysis's; this module only wires it.
"""

from __future__ import annotations

import asyncio
import html
from pathlib import Path
from typing import Any, Callable, Sequence, cast

import gradio as gr
import pandas as pd

from gdp_zero.analysis.figures import FIGURES, empty_figure
from gdp_zero.analysis.report import html_table, report_html
from gdp_zero.analysis.sources import (
    Source,
    SourceError,
    load_path,
    load_records_file,
    parse_spec,
    records_sources,
    sources_table,
)
from gdp_zero.analysis.strategies import COMPARES, StrategyAnalysis, analyse
from gdp_zero.analysis.table import SCOPES, UNITS, Counting, Scope, Unit
from gdp_zero.analysis.tables import analysis_tables
from gdp_zero.domain import Domain
from gdp_zero.p4g import P4GError
from gdp_zero.records import DialogueRecord

CHAT_LABEL = "this chat"
REPORT_NAME = "gdp-zero-strategies.html"


def allowed_path(text: str, data_dirs: Sequence[Path]) -> Path:
    """The P4G path asked for, if it lies under one of the folders the server was started with.

    A page may be open to strangers: it must not read (or say what is in) any other file.
    """
    path = Path(text).expanduser().resolve()
    for folder in data_dirs:
        if path.is_relative_to(Path(folder).expanduser().resolve()):
            return path
    where = ", ".join(str(d) for d in data_dirs) or "no folder (start it with gdp-zero ui --data-dir FOLDER)"
    raise SourceError(f"this server reads P4G files only under {where}")


def collect_sources(
    p4g_path: str | None, uploads: list[str] | None, chat: DialogueRecord | None, domain: Domain,
    data_dirs: Sequence[Path] = (),
) -> tuple[list[Source], list[str]]:
    """The sources asked for, and one line per source that could not be read (the others still are)."""
    sources: list[Source] = []
    problems: list[str] = []
    if p4g_path and p4g_path.strip():
        try:
            # The path is checked after the label is split off: the whole text may not be the path read.
            label, path = parse_spec(p4g_path.strip())
            sources += load_path(allowed_path(str(path), data_dirs), domain, label)
        except (SourceError, P4GError) as error:
            problems.append(f"P4G: {error}")
    for upload in uploads or []:
        path = Path(upload)
        try:
            # The upload's folder is Gradio's temporary one: the file name is what the person knows.
            sources += records_sources(load_records_file(path), path.stem, path.name)
        except SourceError as error:
            problems.append(str(error).replace(str(path.parent) + "/", ""))
    if chat is not None:
        sources.append(Source(CHAT_LABEL, (chat,), "the chat on this page"))
    return sources, problems


def messages_html(problems: list[str], analysis: StrategyAnalysis | None) -> str:
    lines = [f'<div class="status-error">{html.escape(p)}</div>' for p in problems]
    if analysis is not None:
        for source in analysis.sources:
            lines += [f'<div class="status-hint">{html.escape(source.label)}: {html.escape(n)}</div>' for n in source.notes]
    return "".join(lines)


def test_html(analysis: StrategyAnalysis) -> str:
    cautions = "".join(f'<div class="status-hint strategies-caution">{html.escape(c)}</div>' for c in analysis.cautions)
    tests = "".join(f'<div class="strategies-test">{html.escape(t.text())}</div>' for t in analysis.tests)
    return (f'<div class="strategies-counting">Compared: {html.escape(COMPARES[analysis.compare])}; '
            f'{html.escape(analysis.counting.describe())}.</div>{cautions}{tests}')


SOURCES_TITLE = "Sources"
TOP_ACTS_TITLE = "Acts that contribute most to χ² (adjusted residual per source)"


def titled_table(title: str, frame: pd.DataFrame) -> str:
    """A table under its title, in a box of its own that scrolls sideways on a narrow screen (as in the report)."""
    return f'<div class="strategies-table-title">{html.escape(title)}</div>{html_table(frame)}'


def top_acts_table(analysis: StrategyAnalysis) -> pd.DataFrame:
    return analysis.comparison.top_acts() if analysis.comparison is not None else pd.DataFrame(columns=["act", "share of chi2"])


def build_tab(
    domain: Domain, current_chat: Callable[[gr.Request], Any], data_dirs: Sequence[Path], event_options: dict[str, Any]
) -> Callable[[], None]:
    """The tab's components, inside the caller's `gr.Tab`; returns the function that wires its event.

    The caller wires it after the page's own events, so theirs keep their places in the queue's
    function list. `current_chat(request)` is the page's `UserChat` (or None when its session has
    ended): its record is the "this chat" source and its folder holds the report download. P4G
    paths are read only under `data_dirs`; `event_options` are the app's options for its events.
    """
    gr.Markdown("Compare how often each dialogue act is used: people in PersuasionForGood, saved chats, "
                "self-play runs. The same figures and test as `gdp-zero strategies SOURCES --out report.html`.")
    with gr.Row():
        p4g_path = gr.Textbox(
            label="P4G files: a folder or file on this server (300_dialog.csv or .xlsx, full_dialog.csv)",
            value=str(data_dirs[0]) if data_dirs else "", interactive=bool(data_dirs), elem_id="strategies-p4g", scale=3,
            placeholder="under " + ", ".join(map(str, data_dirs)) if data_dirs else "off: start the app with --data-dir FOLDER",
        )
        use_chat = gr.Checkbox(False, label="Include this page's chat", elem_id="strategies-chat", scale=1)
    with gr.Row():
        unit = gr.Radio([(text.split(" (")[0].split(",")[0], key) for key, text in UNITS.items()], value="turn",
                        label="Count", info="; ".join(f"{k}: {v}" for k, v in UNITS.items()), elem_id="strategies-unit")
        scope = gr.Radio([(text, key) for key, text in SCOPES.items()], value="whole", label="Over",
                         elem_id="strategies-scope")
        compare = gr.Radio([(text, key) for key, text in COMPARES.items()], value="sources", label="Compare",
                           elem_id="strategies-compare")
    uploads = gr.File(label="Transcripts (.json) or self-play runs files (.jsonl)", file_count="multiple",
                      file_types=[".json", ".jsonl"], type="filepath", elem_id="strategies-files")
    with gr.Row():
        run = gr.Button("Analyse", variant="primary", elem_id="strategies-run", scale=1)
        report = gr.DownloadButton("Download report (HTML)", interactive=False, elem_id="strategies-download", scale=1)
    tables = gr.File(label="Tables (CSV)", file_count="multiple", interactive=False, elem_id="strategies-csv")
    messages = gr.HTML("", elem_id="strategies-messages")
    test = gr.HTML("", elem_id="strategies-test")
    # HTML tables, not gr.Dataframe: its columns are sized in script to their longest cell and cut off on a phone.
    source_rows = gr.HTML("", elem_id="strategies-sources")
    top_acts = gr.HTML("", elem_id="strategies-top-acts")
    plots = [gr.Plot(label=title, elem_id=f"strategies-plot-{key}") for key, title, _, _ in FIGURES]

    def analysed(path: str, files: list[str] | None, chat: DialogueRecord | None, counting: Counting,
                 compared: str) -> tuple[StrategyAnalysis | None, list[str], str, dict[str, str]]:
        """Reading files, drawing, the report's HTML and the CSV tables: seconds of work, so off the event loop."""
        sources, problems = collect_sources(path, files, chat, domain, data_dirs)
        if not sources:
            problems.append("Nothing to analyse: give a P4G path, upload a transcript or runs file, or include the chat.")
            return None, problems, "", {}
        analysis = analyse(sources, domain, counting, "outcome" if compared == "outcome" else "sources")
        csvs = {f"gdp-zero-{name}.csv": frame.to_csv(index=False) for name, frame in analysis_tables(analysis).items()}
        return analysis, problems, report_html(analysis), csvs

    async def on_analyse(path: str, files: list[str] | None, chat_wanted: bool, unit_key: str, scope_key: str,
                         compared: str, request: gr.Request) -> list[Any]:
        user = current_chat(request)
        # The record is taken here, on the event loop, where the chat's turns are written.
        chat = user.session.record() if chat_wanted and user is not None and user.session.log else None
        counting = Counting(cast(Unit, unit_key), cast(Scope, scope_key))  # Gradio holds a radio to its choices
        analysis, problems, page, csvs = await asyncio.to_thread(analysed, path, files, chat, counting, compared)
        if chat_wanted and chat is None:
            problems.insert(0, "This page's chat has no turns yet (or its session has ended): it is left out.")
        if analysis is None:
            return [messages_html(problems, None), "", "", "",
                    gr.DownloadButton(value=None, interactive=False), None] + [empty_figure("No sources yet.") for _ in plots]
        if user is not None:
            download = gr.DownloadButton(value=user.write_download(REPORT_NAME, page), interactive=True)
            files_out = [user.write_download(name, text) for name, text in csvs.items()]
        else:
            download, files_out = gr.DownloadButton(value=None, interactive=False), None
        return [messages_html(problems, analysis), test_html(analysis),
                titled_table(SOURCES_TITLE, sources_table(list(analysis.sources))),
                titled_table(TOP_ACTS_TITLE, top_acts_table(analysis)), download, files_out] + [
                    figure for _, _, figure in analysis.figures]

    def wire_events() -> None:
        run.click(on_analyse, inputs=[p4g_path, uploads, use_chat, unit, scope, compare],
                  outputs=[messages, test, source_rows, top_acts, report, tables, *plots], **event_options)

    return wire_events
