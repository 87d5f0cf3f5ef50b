"""Passing an upgraded HTTP connection (SPDY/3.1 or WebSocket) through to another server: the API
server to a kubelet (pods/exec, attach, portforward) and the kubelet to containerd's streaming server.

The request is replayed upstream with its upgrade headers; when upstream answers 101 the same 101
goes back to the client and from then on bytes are copied both ways without being looked at, so
every protocol that starts with an HTTP/1.1 upgrade passes unchanged. Anything but 101 is returned
as an ordinary response. aiohttp has no public way to take over a server connection, so this uses
the hook its own WebSocket support uses: after the 101, a "parser" that only hands bytes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

from aiohttp import web
from aiohttp.http_writer import StreamWriter
from multidict import CIMultiDict

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 64 * 1024
MAX_ERROR_BODY_BYTES = 1024 * 1024
# Headers about the connection or the body, which the relay sets itself.
_NOT_COPIED = frozenset({"content-length", "transfer-encoding", "date", "server", "host", "keep-alive",
                         "authorization", "te", "trailer", "proxy-authorization"})
# Request headers an upgrade needs upstream (WebSocket handshake, SPDY stream protocol choice).
UPGRADE_REQUEST_HEADERS = frozenset({"upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
                                     "sec-websocket-protocol", "sec-websocket-extensions",
                                     "x-stream-protocol-version", "user-agent", "origin"})


@dataclass
class ResponseHead:
    status: int
    reason: str
    headers: CIMultiDict[str]


def is_upgrade(request: web.Request) -> bool:
    connection = {token.strip().lower() for token in request.headers.get("Connection", "").split(",")}
    return "upgrade" in connection and bool(request.headers.get("Upgrade"))


def is_websocket(request: web.Request) -> bool:
    return is_upgrade(request) and request.headers.get("Upgrade", "").lower() == "websocket"


def upgrade_headers(request: web.Request) -> list[tuple[str, str]]:
    return [(name, value) for name, value in request.headers.items() if name.lower() in UPGRADE_REQUEST_HEADERS]


async def send_request(writer: asyncio.StreamWriter, method: str, target: str, host: str,
                       headers: Iterable[tuple[str, str]]) -> None:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Content-Length: 0"]
    lines += [f"{name}: {value}" for name, value in headers]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    await writer.drain()


async def read_response_head(reader: asyncio.StreamReader) -> ResponseHead:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise ConnectionError("upstream response head too large") from None
    except asyncio.IncompleteReadError:
        raise ConnectionError("upstream closed the connection before answering") from None
    status_line, *header_lines = raw.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise ConnectionError(f"bad upstream status line {status_line!r}")
    headers: CIMultiDict[str] = CIMultiDict()
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            headers.add(name.strip(), value.strip())
    return ResponseHead(int(parts[1]), parts[2] if len(parts) > 2 else "", headers)


async def read_error_body(reader: asyncio.StreamReader, head: ResponseHead) -> bytes:
    """The body of a non-101 answer (Content-Length, else up to EOF), bounded."""
    length = head.headers.get("Content-Length")
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError, TimeoutError):
        async with asyncio.timeout(10):
            if length is not None and length.isdigit():
                return await reader.readexactly(min(int(length), MAX_ERROR_BODY_BYTES))
            return await reader.read(MAX_ERROR_BODY_BYTES)
    return b""


def error_response(head: ResponseHead, body: bytes) -> web.Response:
    response = web.Response(status=head.status, body=body)
    content_type = head.headers.get("Content-Type")
    if content_type:
        response.headers["Content-Type"] = content_type
    return response


class _Feed:
    """Takes the place of aiohttp's body parser after the 101: every byte the client sends is queued."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.queue.put_nowait(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self.queue.put_nowait(None)


async def switch_protocols(request: web.Request, head: ResponseHead) -> tuple[web.StreamResponse, _Feed]:
    """Answer the client with upstream's 101 and take the connection over."""
    response = web.StreamResponse(status=101, reason=head.reason or "Switching Protocols")
    for name, value in head.headers.items():
        if name.lower() not in _NOT_COPIED:
            response.headers.add(name, value)
    response.force_close()
    writer = cast(StreamWriter, await response.prepare(request))
    writer.send_headers()
    feed = _Feed()
    protocol: Any = request.protocol
    protocol.set_parser(feed)
    protocol.keep_alive(False)
    return response, feed


async def splice(request: web.Request, feed: _Feed, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
    """Copy bytes both ways until either side closes, then close both."""
    transport = request.transport
    assert transport is not None

    async def client_to_upstream() -> None:
        while (chunk := await feed.queue.get()) is not None:
            writer.write(chunk)
            await writer.drain()

    async def upstream_to_client() -> None:
        while chunk := await reader.read(65536):
            if transport.is_closing():
                return
            transport.write(chunk)

    try:
        await until_first_done(client_to_upstream(), upstream_to_client())
    finally:
        writer.close()
        transport.close()


async def relay_upgrade(request: web.Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        target: str, host: str, headers: Iterable[tuple[str, str]],
                        method: str | None = None,
                        on_refused: Callable[[ResponseHead, bytes], web.StreamResponse] = error_response,
                        ) -> web.StreamResponse:
    """Replay ``request`` as ``target`` on the open connection, then splice; an answer other than
    101 goes to ``on_refused`` (which may raise), by default returned to the client as it is.
    Raises ConnectionError when upstream's answer is missing or malformed."""
    try:
        await send_request(writer, method or request.method, target, host, headers)
        head = await read_response_head(reader)
        if head.status != 101:
            body = await read_error_body(reader, head)
            writer.close()
            return on_refused(head, body)
        response, feed = await switch_protocols(request, head)
    except BaseException:
        writer.close()
        raise
    await splice(request, feed, reader, writer)
    return response


async def until_first_done(*pumps: Awaitable[Any]) -> None:
    """Run the relay's pumps until one of them ends, then cancel and reap the others: either side
    closing ends the whole relay."""
    tasks = [asyncio.ensure_future(pump) for pump in pumps]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
