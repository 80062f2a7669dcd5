"""`gdp-zero study serve`: the participant flow at `/`, the researcher's pages behind a password.

One FastAPI app holds separate Gradio apps, so no researcher page shares a nav bar, a config or
an API with the participant's: `/` is the participant flow (nothing else of GDP-Zero studio is
mounted), `/admin/` the dashboard and `/preview/` the flow as a researcher walks it without being
counted. A study file with an [arena] is served as a crowd arena (ui/study/arena_page.py) behind the
same guards: the worker's rounds at `/`, the leaderboard at `/admin/`, and at `/preview/` the
worker's page whose votes go to an arena of their own (the leaderboard never counts them). Both researcher apps ask for the admin password (Gradio's login page, any user name).
Several processes may serve one PostgreSQL database behind a load balancer: every state lives in
the database, except Gradio's own per-connection queue, so the balancer must keep a browser on
one process (sticky sessions) for the length of a page visit.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import contextlib
from dataclasses import dataclass
import hmac
import ipaddress
import socket
from collections.abc import Sequence
from typing import AsyncIterator, Awaitable, Callable

import gradio as gr
from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse

from gdp_zero.serving.bodies import BodyLimit, BodySettings
from gdp_zero.serving.login import LoginGuard, LoginThrottle, password_problem
from gdp_zero.serving.forwarding import trust_forwarded_from
from gdp_zero.serving.routes import RouteGuard
from gdp_zero.serving.server import run as run_server
from gdp_zero.serving.signals import stop_on_sigterm
from ui.gradio_cache import private_gradio_cache

from gdp_zero.study.spec import ADMIN_PASSWORD_ENV, Study
from gdp_zero.backends import Backend
from gdp_zero.serving.limits import ClientLimits, LimitSettings
from gdp_zero.study.db import Database
from gdp_zero.validation import ConfigError
from ui.style import CSS as APP_CSS

ADMIN_PATH = "/admin"
PREVIEW_PATH = "/preview"
AUTH_MESSAGE = "Researcher pages of this study. Any user name; the study's admin password."
# What participants read in demo mode; the researcher's fuller banner goes to the terminal.
DEMO_NOTE = "Demo mode: the chat partner's replies are canned test sentences; no language model is connected."

CSS = """
.study-title { font-size: 1.5em; margin: 0.2em 0; }
.study-banner { border: 1px solid #fdba74; background: #fff7ed; color: #7c2d12; padding: 8px 12px; border-radius: 8px; }
.study-notice { padding: 8px 12px; border-radius: 8px; margin: 4px 0; }
.study-hint { border: 1px solid #fcd34d; background: #fffbeb; color: #78350f; }
.study-error { border: 1px solid #fca5a5; background: #fef2f2; color: #991b1b; }
.study-closed { border: 1px solid #d1d5db; background: #f9fafb; color: #111827; font-size: 1.05em; }
.study-status { color: #374151; min-height: 1.4em; }
.study-busy { color: #1d4ed8; font-weight: 600; }
#completion-code { font-size: 1.3em; padding: 2px 8px; user-select: all; }
.completion-link { font-weight: 600; }
#study-chat button[aria-label="Clear"], .pairwise-chat button[aria-label="Clear"] { display: none; }
@media (max-width: 640px) {
  .scale .wrap { flex-direction: column; align-items: stretch; }  /* five labelled options fit a phone only stacked */
  .study-title { font-size: 1.2em; }
}
"""
# The dashboard adds the chat app's styles (act tags, tree details) for its transcript browser.
ADMIN_CSS = APP_CSS + CSS + """
#admin-transcript button[aria-label="Clear"] { display: none; }
.participation-info th { text-align: left; padding-right: 12px; font-weight: 600; }
"""


def is_loopback(host: str) -> bool:
    """True when `host` only listens on this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
        except OSError:
            return False


def check_admin_exposure(host: str, password: str | None, local_only: bool = False) -> None:
    """Refuse researcher pages a stranger could open: without a password unless the operator says
    the server is for this machine alone (`local_only`, on a loopback address), and with a short one.

    Which headers a proxy in front sets cannot be relied on (one that passes none, or only
    X-Real-IP, made every request look local), so the rule does not depend on them."""
    if password is not None:
        problem = password_problem(password)
        if problem is not None:
            raise ConfigError(f"{problem} (--admin-password or the {ADMIN_PASSWORD_ENV} environment variable)")
        return
    if not is_loopback(host):
        raise ConfigError(
            f"--host {host} makes the admin pages reachable from other machines: set a password with "
            f"--admin-password or the {ADMIN_PASSWORD_ENV} environment variable (the environment keeps it "
            "out of process lists)"
        )
    if not local_only:
        raise ConfigError(
            f"the admin pages need a password: set --admin-password or the {ADMIN_PASSWORD_ENV} environment "
            "variable, or pass --local-only to serve them without one when nothing (no proxy) forwards to this server"
        )


PROXIED_WITHOUT_PASSWORD = (f"The admin and preview pages answer requests through a proxy only with a password: start "
                            f"the server with --admin-password or {ADMIN_PASSWORD_ENV}.")


# Headers one proxy or another adds (a proxy that sets only X-Real-IP got through when only
# X-Forwarded-For and Forwarded were looked for).
PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip", "x-forwarded-host", "x-forwarded-proto", "via")


def event_names(blocks: gr.Blocks) -> set[str]:
    """The names under which `blocks` offers events at /gradio_api/call/ (private events have none)."""
    return {fn.api_name for fn in blocks.fns.values() if isinstance(fn.api_name, str) and fn.api_visibility != "private"}


def _proxied_or_remote(request: Request) -> bool:
    headers = request.headers
    client = request.client.host if request.client else ""
    return any(name in headers for name in PROXY_HEADERS) or not is_loopback(client)


def password_check(password: str) -> Callable[[str, str], bool]:
    def check(_user: str, given: str) -> bool:
        return hmac.compare_digest(given.encode(), password.encode())

    return check


def build_server(
    participant: gr.Blocks,
    admin: gr.Blocks,
    preview: gr.Blocks,
    *,
    password: str | None,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
    participant_css: str = CSS,
) -> FastAPI:
    """The participant app at `/`, the researcher apps (password-protected when one is set) beside it.

    `on_shutdown` runs in the server's event loop as it stops (the LLM clients live in that loop).
    """

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if on_shutdown is not None:
            await on_shutdown()

    # No OpenAPI page: the only API is Gradio's, and the participant app hides its docs.
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    # The last added runs first: bodies are capped and timed out before anything reads them,
    # routes no page uses answer 404 (only the dashboard hands out files, and nothing takes an
    # upload), and password guesses on the researcher pages are counted.
    login_paths = {f"{path}/login{end}" for path in (ADMIN_PATH, PREVIEW_PATH) for end in ("", "/")}
    app.add_middleware(LoginThrottle, guard=LoginGuard(), login_paths=login_paths)
    app.add_middleware(RouteGuard, call_names=event_names(participant), file_prefixes=(ADMIN_PATH + "/",), uploads=False)
    app.add_middleware(BodyLimit, settings=BodySettings())
    auth = password_check(password) if password else None
    # Only the routes the pages need (as the chat app's serve()): no MCP, monitoring, run history,
    # PWA or server-side rendering, and no uploads (no page takes a file).
    style = {"theme": gr.themes.Soft(primary_hue="blue"), "ssr_mode": False, "run_history": False, "pwa": False,
             "mcp_server": False, "enable_monitoring": False, "max_file_size": "1kb", "footer_links": []}
    if password is None:
        # Without a password the researcher pages are for this machine only (check_admin_exposure
        # refuses other hosts), and a reverse proxy on this machine would hand them to anyone.
        @app.middleware("http")
        async def researcher_pages_stay_local(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            if request.url.path.startswith((ADMIN_PATH, PREVIEW_PATH)) and _proxied_or_remote(request):
                return PlainTextResponse(PROXIED_WITHOUT_PASSWORD, status_code=403)
            return await call_next(request)

    # Starlette matches mounts in order: the researcher paths before the catch-all root.
    for blocks, path, css in ((admin, ADMIN_PATH, ADMIN_CSS), (preview, PREVIEW_PATH, participant_css)):
        gr.mount_gradio_app(app, blocks, path=path, auth=auth, auth_message=AUTH_MESSAGE, css=css, **style)
    # show_error=False: an unexpected exception's text never reaches a participant's page.
    gr.mount_gradio_app(app, participant, path="", show_error=False, css=participant_css, **style)
    return app


@dataclass(frozen=True)
class Pages:
    """A study's three apps, the participant's styles, and what closes the LLM clients as the server stops."""

    participant: gr.Blocks
    admin: gr.Blocks
    preview: gr.Blocks
    on_shutdown: Callable[[], Awaitable[None]] | None = None
    participant_css: str = CSS


def study_pages(study: Study, database: Database, backend: Backend, limits: ClientLimits, note: str | None) -> Pages:
    """The chat study's participant flow, dashboard and preview."""
    from gdp_zero.study.service import StudyService
    from ui.study.admin import build_admin_app
    from ui.study.participant import build_participant_app

    service = StudyService(study, database, backend.settings)
    return Pages(build_participant_app(service, banner=note, limits=limits), build_admin_app(service),
                 build_participant_app(service, preview=True, banner=note, limits=limits), service.aclose)


def crowd_arena_pages(study: Study, database: Database, backend: Backend, limits: ClientLimits, note: str | None) -> Pages:
    """The crowd arena's worker page, leaderboard, and a preview whose votes are kept apart from the workers'."""
    from gdp_zero.arena.contestants import study_arena
    from gdp_zero.arena.service import ArenaService, VoteLimits
    from ui.study.arena_page import arena_rules, build_crowd_arena_admin, build_crowd_arena_app

    rules, arena = arena_rules(study), study_arena(study)
    votes = VoteLimits(per_session=rules.most_votes, per_address_per_hour=rules.votes_per_address_per_hour)
    service = ArenaService(arena, backend.settings, database, limits=votes)
    preview = ArenaService(arena.model_copy(update={"id": f"{arena.id[:72]}-preview"}), backend.settings, database, limits=votes)
    # The worker sees the acts and planner notes after each vote, styled as in the chat app.
    return Pages(build_crowd_arena_app(study, service, limits, banner=note), build_crowd_arena_admin(study, service),
                 build_crowd_arena_app(study, preview, limits, banner=note), participant_css=APP_CSS + CSS)


def serve(study: Study, *, database_url: str, backend: Backend, host: str, port: int, admin_password: str | None,
          limits: LimitSettings, trusted_proxies: Sequence[str] = (), local_only: bool = False) -> int:
    """`gdp-zero study serve`: open the study's database, then serve on an open backend until
    interrupted (the caller stops the backend). X-Forwarded-For is believed only from
    `trusted_proxies`; without a password the researcher pages need `local_only`."""
    from gdp_zero.study.db import open_database, redacted

    stop_on_sigterm()  # systemd's and docker's stop clean up as Ctrl-C does (the exports' folders)
    private_gradio_cache()  # before any app is built: Gradio's copies of the exports stay this process's

    password = (admin_password or "").strip() or None
    if local_only and trusted_proxies:
        raise ConfigError("--local-only says nothing forwards to this server, --trusted-proxy that a proxy does: choose one")
    check_admin_exposure(host, password, local_only)
    database = open_database(database_url)
    turn_limits = ClientLimits(limits)  # one count of LLM turns for participants and previews
    note = DEMO_NOTE if backend.mode == "fake" else None
    try:
        pages = crowd_arena_pages if study.arena is not None else study_pages
        built = pages(study, database, backend, turn_limits, note)
        app = build_server(built.participant, built.admin, built.preview, password=password, on_shutdown=built.on_shutdown,
                           participant_css=built.participant_css)
        base = f"http://{host}:{port}"
        recruitment = study.recruitment.participant_param
        print(f"Study {study.id!r} ({study.title}) on {redacted(database_url)}", flush=True)
        if backend.banner:
            print(backend.banner, flush=True)
        print(f"Participants: {base}/?{recruitment}=...  (on Prolific: {base}/?{recruitment}={{{{%PROLIFIC_PID%}}}}"
              "&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}})", flush=True)
        lock = "password" if password else "NO PASSWORD (--local-only): anything that forwards to this port hands them out"
        print(f"Admin: {base}{ADMIN_PATH}/   Preview: {base}{PREVIEW_PATH}/   ({lock})", flush=True)
        run_server(app, host=host, port=port,
                   # Only the named proxies' X-Forwarded-For (uvicorn would believe any from 127.0.0.1).
                   forwarded_allow_ips=trust_forwarded_from(trusted_proxies))
    finally:
        database.dispose()
    return 0
