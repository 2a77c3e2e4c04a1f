"""Request bodies read as a stream and cut at the deployment's limit, on every route, chunked or not.

A body is never held whole beyond the limit: chunks are added up as they come, and the request is refused
(413) as soon as they pass it. The refusal must reach the client: a server that answers and closes while the
client is still sending makes the client's kernel see a reset, and a client that does not wait for
``Expect: 100-continue`` (Python's urllib) never reads the 413. So, as nginx's lingering close does, the rest of
the body is read and thrown away first — up to ``LINGER_BYTES`` and ``LINGER_SECONDS`` — and the answer then
says ``Connection: close``. A body that stalls (no byte for ``idle`` seconds, ``BODY_TIMEOUT_S`` unless the
deployment says otherwise) is a 408: a slow client holds a connection for that long at most.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.requests import Request

from mlops_magics.serving.connections import BODY_TIMEOUT_S
from mlops_magics.serving.inputs import RequestError

LINGER_BYTES = 512 * 2**20  # what is read and discarded after a refusal, at most (a loopback reads it in ~1 s)
LINGER_SECONDS = 10.0
LINGER_IDLE_SECONDS = 2.0


class BodyRefused(RequestError):
    """A refusal sent after the body was read as far as it will be: the connection closes after the answer."""


class ClientGone(Exception):
    """The client closed the connection before its body was read: there is no one to answer."""


def too_large(limit: int) -> BodyRefused:
    return BodyRefused(413, f"the body is over the limit of {limit:,} bytes; send less per request")


def _declared(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None  # the HTTP parser refuses anything else


def _expects_continue(request: Request) -> bool:
    return request.headers.get("expect", "").lower() == "100-continue"


async def _next(request: Request, idle: float) -> dict[str, Any] | None:
    """The next body message; None when the client is gone; ``asyncio.TimeoutError`` when nothing came for ``idle``."""
    message = await asyncio.wait_for(request.receive(), idle)
    return None if message["type"] == "http.disconnect" else message


async def discard(request: Request, more: bool = True, budget: int = LINGER_BYTES) -> bool:
    """Read and throw away the rest of the body, up to ``budget`` bytes and ``LINGER_SECONDS``; True when it was
    read to its end."""
    if not more:
        return True
    declared = _declared(request)
    if declared is not None and declared > budget:
        return False  # it will not be read to its end: no use starting
    deadline, thrown = time.monotonic() + LINGER_SECONDS, 0
    while thrown <= budget:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            message = await _next(request, min(LINGER_IDLE_SECONDS, left))
        except asyncio.TimeoutError:
            return False
        if message is None:
            return False
        thrown += len(message.get("body", b""))
        if not message.get("more_body", False):
            return True
    return False


async def read_capped(request: Request, limit: int, idle: float = BODY_TIMEOUT_S) -> bytes:
    """The whole body when it is at most ``limit`` bytes; else ``BodyRefused`` (413) once the rest is drained.

    A declared length over the limit is refused before anything is read; a client that asked to be told first
    (``Expect: 100-continue``) then sends nothing, and one that is already sending is drained as far as the
    bounds allow."""
    declared = _declared(request)
    if declared is not None and declared > limit:
        if not _expects_continue(request):
            await discard(request)
        raise too_large(limit)
    # The chunks as they came, joined once at the end: a body that came in one chunk (most) is never copied.
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            message = await _next(request, idle)
        except asyncio.TimeoutError:
            raise BodyRefused(408, f"the body stalled: nothing came for {idle:g} s") from None
        if message is None:
            raise ClientGone
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = bool(message.get("more_body", False))
        if size > limit:
            chunks.clear()  # what was read so far goes at once; the rest is read in chunks and dropped
            await discard(request, more)
            raise too_large(limit)
        if not more:
            return b"".join(chunks)
