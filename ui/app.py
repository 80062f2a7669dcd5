"""The GDP-Zero studio web app: chat with the planner as the persuadee, watch its search tree, compare strategies.

`build_app(backend)` makes the Gradio Blocks; `serve(demo, ...)` starts it with the app's CSS
(Gradio 6 takes CSS and theme at launch); `launch(backend, ...)` is `gdp-zero ui`. Everything about the
dialogue lives in `gdp_zero`; this module only wires components to a per-browser `UserChat`.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from gdp_zero.arena.service import ArenaService
from gdp_zero.backends import Backend, suggested_search
from gdp_zero.domain import load_domain
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.serving.bodies import BodyLimit, BodySettings
from gdp_zero.serving.forwarding import trust_forwarded_from
from gdp_zero.serving.limits import ClientLimits, LimitSettings
from gdp_zero.serving.heads import bounded_heads
from gdp_zero.serving.logs import guard_logs, guard_stderr
from gdp_zero.serving.ports import check_port_free
from gdp_zero.serving.routes import RouteGuard
from gdp_zero.serving.signals import stop_on_sigterm
from gdp_zero.serving.uploads import UploadBudget, UploadedFiles
from ui import arena_view, strategies_view
from ui.chat_layout import chat_column, glossary_panel, planner_controls, tree_column, usage_tab
from ui.chat_page import PAGE_ONLY, ChatPage, SettingsRejected, options_from_controls
from ui.gradio_cache import private_gradio_cache
from ui.sessions import SessionRegistry
from ui.style import CSS

__all__ = ["CSS", "SettingsRejected", "build_app", "launch", "options_from_controls", "serve"]

# The README's "The local model" table (benchmarks/local_model_turns.py, 2 idle cores): 15.1 s and 2.3 s a turn.
LOCAL_TURN_NOTE = ("With the local model a GDP-Zero turn takes about 15 s on 2 idle cores, longer on a busy machine; "
                   "**Prompting (no search)** answers in about 2 s: choose it under *Planner* below.")
CONCURRENCY = 32  # turns of different people running at once

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
  // A message's copy button copies what the person reads (its text), not the markup of its act tag.
  document.addEventListener('click', (event) => {
    const button = event.target.closest && event.target.closest('#chat button[aria-label="Copy message"]');
    if (!button) return;
    const before = [...document.querySelectorAll('#chat [data-testid=bot], #chat [data-testid=user]')]
      .filter((m) => m.compareDocumentPosition(button) & Node.DOCUMENT_POSITION_FOLLOWING);
    const message = before[before.length - 1];  // the message this button row follows
    const text = message && message.querySelector('.message-text') ? message.querySelector('.message-text').innerText : '';
    if (text) setTimeout(() => navigator.clipboard.writeText(text), 50);  // after Gradio's own copy
  }, true);
}"""
QUEUE_SIZE = 512  # events waiting for a worker; beyond it Gradio answers "queue full"
MAX_UPLOAD = "20mb"  # the Strategies tab's transcripts and runs files; nothing else is uploaded
# Every request's body: short JSON events, and on the upload route one file of MAX_UPLOAD with
# its multipart wrapping; a body that stops arriving is dropped (gdp_zero/serving/bodies.py).
BODY_LIMITS = BodySettings(upload_paths=("/gradio_api/upload",), upload_bytes=21 * 2**20)



def build_app(
    backend: Backend, *, search: GDPZeroConfig | None = None, planner: str = "gdpzero", limits: LimitSettings | None = None,
    data_dirs: Sequence[Path] = (), arena: ArenaService | None = None, memory: Path | None = None,
) -> gr.Blocks:
    """The app for one backend; `search` sets the initial search parameters (default: suited to the backend);
    the Strategies tab reads P4G files on the server only under `data_dirs`; `arena` adds the Arena tab;
    `memory`, a reflection memory file the planner recalls lessons from and every finished chat adds to."""
    defaults = search or suggested_search(backend.mode)
    # Before any block: where Gradio copies downloads and uploads.
    registry = SessionRegistry(backend.settings, ClientLimits(limits), memory, UploadedFiles(private_gradio_cache()))
    domain = load_domain()

    with gr.Blocks(title="GDP-Zero studio", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown("**GDP-Zero studio** · You are the **persuadee**: the persuader plans each reply with a search "
                    "over dialogue strategies.", elem_id="app-header")
        if backend.banner:  # the visitor gets the short thing; the set-up advice is in the server's log
            gr.HTML(f'<div class="demo-banner">{html.escape(visitor_notice(backend.banner))}</div>', elem_id="banner")
        if backend.mode == "local":  # the wait is said before the person's first message, and how to shorten it
            gr.Markdown(LOCAL_TURN_NOTE, elem_id="local-note")
        if memory is not None:
            gr.Markdown("Memory is on: the persuader recalls lessons from earlier chats, and learns from this one when it ends.",
                        elem_id="memory-on")
        with gr.Tabs():
            # Side by side on a wide screen (the tree grows beside the chat), stacked on a narrow one.
            with gr.Tab("Chat", id="chat-tab"), gr.Row(equal_height=False):
                with gr.Column(scale=5, min_width=420):
                    chat = chat_column()
                    glossary_panel(domain)
                    controls = planner_controls(defaults, planner, backend.settings)
                with gr.Column(scale=6, min_width=420, elem_id="tree-panel"):
                    tree = tree_column()
            with gr.Tab("Usage", id="usage-tab"):
                usage_table = usage_tab()
            with gr.Tab("Strategies", id="strategies-tab", elem_id="strategies-tab") as strategies_tab:
                wire_strategies = strategies_view.build_tab(
                    domain, lambda request: registry.get(request.session_hash or ""), data_dirs,
                    {**PAGE_ONLY, "show_progress": "minimal"},
                )
            wire_arena = arena_view.arena_tab(arena, registry.limits, PAGE_ONLY)
        ChatPage(registry, defaults, chat, controls, tree, usage_table).wire(demo)
        wire_strategies()  # after the page's own events, which keep their places
        wire_arena(demo)

        async def open_uploads(request: gr.Request) -> None:  # the tab's file box is the app's only upload
            registry.open_uploads(request.session_hash or "")

        strategies_tab.select(open_uploads, **PAGE_ONLY)

    # api_open=False: no direct HTTP call skips the queue (and with it the concurrency limit).
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE, api_open=False)
    demo.gdp_registry = registry  # for tests and monitoring
    return demo


def visitor_notice(banner: str) -> str:
    """The banner's first sentence: what a visitor needs to know (the CLI prints the whole banner)."""
    first = banner.split(". ", 1)[0].rstrip(".")
    return first + "."


def serve(demo: gr.Blocks, *, host: str = "127.0.0.1", port: int | None = None, share: bool = False,
          block: bool = True, quiet: bool = False, trusted_proxies: Sequence[str] = ()) -> tuple[Any, str, str]:
    """Launch with the app's theme and CSS, and only the routes the page needs. `block=False`
    returns at once (tests). X-Forwarded-For is believed only from `trusted_proxies`."""
    registry: SessionRegistry = demo.gdp_registry  # type: ignore[attr-defined]
    private_gradio_cache()  # Gradio serves the files of the folder set when it mounts the app
    trust_forwarded_from(trusted_proxies)  # read by uvicorn as the server starts
    with bounded_heads():  # Gradio's launch makes its own uvicorn.Config and returns once the server runs
        launched = demo.launch(
            # Outermost first: routes no page uses answer 404, then bodies are capped and timed out.
            # Uploads only from an address whose page opened the Strategies tab, within its hourly
            # budget; removed with its last chat.
            app_kwargs={"middleware": [Middleware(RouteGuard), Middleware(BodyLimit, settings=BODY_LIMITS),
                                       Middleware(UploadBudget, has_session=registry.may_upload,
                                                  kept=registry.uploads.add if registry.uploads else None)]},
            server_name=host, server_port=port, share=share, prevent_thread_lock=True, quiet=quiet,
            css=CSS, js=PAGE_JS, theme=gr.themes.Soft(primary_hue="blue"), footer_links=[],
            mcp_server=False, enable_monitoring=False, run_history=False, pwa=False, ssr_mode=False,
            max_file_size=MAX_UPLOAD,
            # Gradio keeps a little state per session id, also for ids our limits refused: bound it.
            # The app keeps none of its own there, so an id that falls out only gets a fresh copy.
            state_session_capacity=2 * registry.limits.settings.max_sessions,
        )
    if block:  # what launch does without prevent_thread_lock
        demo.block_thread()
    return launched


def launch(backend: Backend, *, host: str = "127.0.0.1", port: int = 7860, share: bool = False,
           limits: LimitSettings | None = None, data_dirs: Sequence[Path] = (), arena: ArenaService | None = None,
           trusted_proxies: Sequence[str] = (), memory: Path | None = None) -> None:
    """`gdp-zero ui`: serve the app on an open backend until interrupted (the caller stops the backend)."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    stop_on_sigterm()  # systemd's and docker's stop clean up as Ctrl-C does
    guard_stderr()  # Gradio prints a failed event's traceback, with the values sent, to stderr
    check_port_free(host, port)  # a busy port is one line, before "open http://..." is printed
    demo = build_app(backend, limits=limits, data_dirs=data_dirs, arena=arena, memory=memory)
    where = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}/"
    # Gradio's own start-up lines would suggest share=True in launch(); the CLI has --share.
    print(f"GDP-Zero studio: open {where} in a browser (Ctrl-C stops it).", flush=True)
    try:
        serve(demo, host=host, port=port, share=share, block=False, quiet=True, trusted_proxies=trusted_proxies)
        guard_logs()  # now that uvicorn has configured its loggers (not in serve: a test's handlers are pytest's)
        demo.block_thread()
    finally:
        demo.gdp_registry.remove_files()  # type: ignore[attr-defined]  # sessions still open at Ctrl-C
