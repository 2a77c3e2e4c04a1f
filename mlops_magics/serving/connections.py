"""How many connections a worker holds, and for how long one may take to send its request headers.

uvicorn closes a keep-alive connection that idles after a response, but nothing closes one that was opened and
never sent a request, or sends its headers a byte at a time: 300 such connections stayed open for good. Here
each worker:

- gives a request ``header_timeout`` seconds from the connection's start (or, on a keep-alive connection, from
  the request's first byte) to finish its headers, then answers 408 (or, if nothing came at all, just closes);
- holds at most ``max_connections`` connections: one more is answered 503 with ``Retry-After`` and closed at
  once, so that a flood costs a worker a bounded number of file descriptors and buffers. The other workers on
  the same socket take new connections while one is full.

The body has bounds of its own (``bodies.py``): stalled for ``BODY_IDLE_SECONDS``, or over the size limit.
"""

from __future__ import annotations

import asyncio
from typing import Any

HEADER_TIMEOUT_S = 10.0
BODY_TIMEOUT_S = 10.0  # how long a request body may pause (``bodies.read_capped``)
MAX_CONNECTIONS = 1000


def _canned(status: str, code: str, message: str, extra: str = "") -> bytes:
    """A whole response written straight to the socket (no app runs), in the scoring server's error shape."""
    body = b'{"error_code":"%s","message":"%s"}' % (code.encode(), message.encode())
    head = f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n{extra}"
    return head.encode() + b"connection: close\r\n\r\n" + body


def guarded_protocol(header_timeout: float = HEADER_TIMEOUT_S, max_connections: int = MAX_CONNECTIONS) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with a header-read timeout and a connection cap (``uvicorn.Config(http=...)``)."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    busy = _canned("503 Service Unavailable", "busy", "the server holds its most connections; try again", "retry-after: 1\r\n")
    slow = _canned("408 Request Timeout", "timeout", f"the request headers did not come within {header_timeout:g} s")

    class Guarded(HttpToolsProtocol):  # type: ignore[misc]
        _header_timer: asyncio.TimerHandle | None = None
        _began = False  # some of a request has come: a timeout is answered, not just closed

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                transport.write(busy)
                transport.close()
                return
            self._await_headers()

        def _await_headers(self) -> None:
            self._stop_waiting()
            self._header_timer = self.loop.call_later(header_timeout, self._headers_too_slow)

        def _stop_waiting(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                if self._began:
                    self.transport.write(slow)
                self.transport.close()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._began = True
            if self._header_timer is None:  # the next request on a keep-alive connection
                self._await_headers()

        def on_headers_complete(self) -> None:
            self._stop_waiting()
            self._began = False
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_waiting()
            super().connection_lost(exc)

    return Guarded
