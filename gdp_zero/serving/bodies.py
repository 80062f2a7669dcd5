"""Request bodies: bounded in size and in the time they take to arrive (ASGI middleware).

A server without it took a 50 MB body to `/queue/join` (99 MiB more memory for that request) and
waited forever on a body sent a byte at a time, each such connection holding a file descriptor
until none were left. `BodyLimit` reads a request's whole body before the app sees it: one that
declares or sends more than its path's cap is answered 413, one whose next piece does not come
within `idle_timeout_s` (or that is not complete within `total_timeout_s`) 408, and the app then
gets the body in one piece. The caps are small (the pages send short JSON) except on the upload
path, which takes files up to the app's own file limit.

    app = BodyLimit(app, BodySettings(upload_paths=("/gradio_api/upload",), upload_bytes=21 * 2**20))
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from gdp_zero.serving.asgi import ASGIApp, Message, Receive, Scope, Send, content_length, plain_text


@dataclass(frozen=True)
class BodySettings:
    max_bytes: int = 1 << 20  # any request but an upload: a page's events are short JSON
    upload_paths: tuple[str, ...] = ()  # paths that take files (the path's end is matched, so a mount prefix is allowed)
    upload_bytes: int = 0  # the cap on those paths' bodies
    idle_timeout_s: float = 10.0  # between two pieces of a body
    total_timeout_s: float = 120.0  # for the whole body (a 20 MB upload on a slow line still fits)

    def cap_for(self, path: str) -> int:
        return self.upload_bytes if path.endswith(self.upload_paths) and self.upload_paths else self.max_bytes


class BodyTooLarge(Exception):
    pass


class BodyTooSlow(Exception):
    pass


class BodyLimit:
    """ASGI middleware: every HTTP request's body within its cap and time, or a 413 / 408 answer."""

    def __init__(self, app: ASGIApp, settings: BodySettings | None = None) -> None:
        self.app = app
        self.settings = settings or BodySettings()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.settings.cap_for(scope.get("path", ""))
        declared = content_length(scope)
        if declared is not None and declared > cap:
            await plain_text(send, 413, _too_large(cap))
            return
        try:
            body = await asyncio.wait_for(self._read(receive, cap), self.settings.total_timeout_s)
        except BodyTooLarge:
            await plain_text(send, 413, _too_large(cap))
            return
        except (TimeoutError, BodyTooSlow):
            await plain_text(send, 408, "The request's body did not arrive in time.")
            return
        if body is None:  # the client went away
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive, cap: int) -> bytes | None:
        pieces: list[bytes] = []
        size = 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), self.settings.idle_timeout_s)
            except TimeoutError:
                raise BodyTooSlow from None
            if message["type"] == "http.disconnect":
                return None
            piece = message.get("body", b"")
            size += len(piece)
            if size > cap:
                raise BodyTooLarge
            pieces.append(piece)
            if not message.get("more_body", False):
                return b"".join(pieces)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body in one message, then the connection's own messages (a disconnect, for streams)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _too_large(cap: int) -> str:
    return f"The request is too large: at most {cap / 2**20:.1f} MB here."
