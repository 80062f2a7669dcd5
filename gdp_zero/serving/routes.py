"""Routes a page never uses answer 404 (ASGI middleware), whatever the web framework mounts.

Gradio mounts more than a page needs: an OpenAPI description at `/openapi.json` and
`/gradio_api/openapi.json`, developer and cloud routes, and `/gradio_api/call/<name>` for any
name (an unknown one answered 500 with a traceback in the log). `RouteGuard` answers 404 for those
before the app sees them, at any mount prefix; `call_names` are the event names a server does
offer through `/gradio_api/call/` (the study's participant flow, driven over HTTP by benchmarks).
Files are served (`/gradio_api/file=...`) only under `file_prefixes` (None: everywhere): on the
study server only the researcher's dashboard hands out files, so the participant app can never
serve an export, whatever is in the process's Gradio cache. `uploads=False` refuses every upload.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gdp_zero.serving.asgi import ASGIApp, Receive, Scope, Send, plain_text

UNUSED_ROUTES = re.compile(
    r"/(openapi\.json|docs|redoc)/?$"
    r"|/gradio_api/(vibe|undo-vibe|profiling|run-history|runs|dev/|process_recording|custom_component|proxy=|mcp)"
)
CALL = re.compile(r"/gradio_api/call/(?:v2/)?([^/]*)")
FILE = re.compile(r"/gradio_api/file[=/]")
UPLOAD = re.compile(r"/gradio_api/upload(_progress)?/?$")


class RouteGuard:
    """ASGI middleware: 404 for routes no page of this server uses, and for calls of events it does not offer."""

    def __init__(self, app: ASGIApp, call_names: Iterable[str] = (), *, file_prefixes: tuple[str, ...] | None = None,
                 uploads: bool = True) -> None:
        self.app = app
        self.call_names = frozenset(call_names)
        self.file_prefixes = file_prefixes
        self.uploads = uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.refused(scope.get("path", "")):
            await plain_text(send, 404, "Not Found")
            return
        await self.app(scope, receive, send)

    def refused(self, path: str) -> bool:
        if UNUSED_ROUTES.search(path):
            return True
        if self.file_prefixes is not None and FILE.search(path) and not path.startswith(self.file_prefixes):
            return True
        if not self.uploads and UPLOAD.search(path):
            return True
        call = CALL.search(path)
        return call is not None and call.group(1) not in self.call_names
