"""A request's head (request line and headers) must arrive within HEAD_TIMEOUT_S, or the connection is closed.

uvicorn times nothing out before a request's head is complete: a connection that sends nothing,
or its headers a byte at a time (slowloris), was kept for ever, each one holding a file
descriptor; with the open-file limit lowered to 150 a probe stopped the server answering anyone.
An ASGI middleware cannot help (the app sees a request only once its head is in), so this is
uvicorn's h11 protocol with a timer from the connection's first moment, and again from the first
byte of each further request on a kept-alive connection, stopped when the head is complete.
Between requests uvicorn's own keep-alive timeout (5 s) closes an idle connection as before, and
a body that stops arriving is gdp_zero/serving/bodies.py's business.

    uvicorn.run(app, http=BoundedHeadProtocol)   # a server we start
    with bounded_heads(): demo.launch(...)       # Gradio's launch, which makes its own uvicorn.Config
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import h11
from uvicorn.config import HTTP_PROTOCOLS
from uvicorn.protocols.http.h11_impl import H11Protocol

# A browser sends a head of a few hundred bytes in one packet; 15 s leaves room for a lost packet's
# retransmissions (1 + 2 + 4 s) on a bad mobile line twice over, and is a third of Apache's
# mod_reqtimeout first bound. One slow connection then holds a descriptor for 15 s at most.
HEAD_TIMEOUT_S = 15.0


class BoundedHeadProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request head is not complete within `head_timeout_s`."""

    head_timeout_s = HEAD_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_timer()  # a connection that never sends a byte is timed too

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and self.conn.their_state is h11.IDLE:
            self._start_timer()  # the first bytes of the next request on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the head is in (or was refused as malformed)
            self._stop_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def _start_timer(self) -> None:
        self._stop_timer()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _stop_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


@contextmanager
def bounded_heads() -> Iterator[None]:
    """Inside the block, a uvicorn server configured with the default protocol (http="auto", as
    Gradio's launch configures it) uses BoundedHeadProtocol. uvicorn picks the protocol as the
    server starts, which Gradio's launch waits for; later servers get uvicorn's default again."""
    saved = HTTP_PROTOCOLS["auto"]
    HTTP_PROTOCOLS["auto"] = f"{BoundedHeadProtocol.__module__}:{BoundedHeadProtocol.__qualname__}"
    try:
        yield
    finally:
        HTTP_PROTOCOLS["auto"] = saved
