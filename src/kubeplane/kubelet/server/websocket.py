"""WebSocket clients of exec/attach/port-forward, bridged to what containerd 1.6 speaks.

containerd 1.6's stream server (the kubelet's streaming package of Kubernetes 1.2x) serves SPDY/3.1
and the WebSocket channel protocols up to ``v4.channel.k8s.io``. kubectl 1.30+ asks for
``v5.channel.k8s.io`` (v4 plus a "close this stream" message on channel 255) for exec and attach,
and for port-forward tunnels SPDY inside WebSocket binary messages
(``SPDY/3.1+portforward.k8s.io``). So:

* exec/attach: v5 (or v4) from the client; to containerd each channel is a SPDY stream
  (``spdy.py``), because v5's "close stdin" has no v4 WebSocket equivalent while a SPDY FIN is
  EOF on the process's stdin (``kubectl exec -i`` and ``kubectl cp`` into a pod need it);
* port-forward: the tunnel is opened, a SPDY upgrade is sent to containerd, and then the bytes
  inside the client's binary messages are containerd's SPDY stream, in both directions.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from kubeplane.component import upgrade
from kubeplane.kubelet.server.spdy import SpdyConnection

V5_CHANNEL = "v5.channel.k8s.io"
V4_CHANNEL = "v4.channel.k8s.io"
CHANNEL_PROTOCOLS = (V5_CHANNEL, V4_CHANNEL)
PORT_FORWARD_TUNNEL = "SPDY/3.1+portforward.k8s.io"
Connect = Callable[[str, int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
V5_CLOSE_CHANNEL = 255


def requested_protocols(request: web.Request) -> list[str]:
    return [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]


def _no_protocol(wanted: tuple[str, ...], offered: list[str]) -> web.Response:
    return web.Response(status=400, text=f"none of the requested WebSocket protocols {offered} is supported; "
                                         f"supported: {list(wanted)}\n")


async def _pump_ws(source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
                   send: Callable[[bytes], object], drop_close_signal: bool = False) -> None:
    async for message in source:
        if message.type == aiohttp.WSMsgType.BINARY:
            data: bytes = message.data
            if drop_close_signal and data[:1] == bytes([V5_CLOSE_CHANNEL]):
                continue
            result = send(data)
            if asyncio.iscoroutine(result):
                await result
        elif message.type == aiohttp.WSMsgType.TEXT:  # the base64 protocols; not offered, but harmless
            result = send(message.data.encode())
            if asyncio.iscoroutine(result):
                await result
        elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR):
            return


# Channel numbers of the WebSocket protocols and the SPDY stream types they stand for.
STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
_STREAM_TYPES = {STDIN: "stdin", STDOUT: "stdout", STDERR: "stderr", ERROR: "error", RESIZE: "resize"}


@dataclass(frozen=True)
class Streams:
    """Which streams the runtime's exec/attach session expects (the request's flags)."""
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool

    def channels(self) -> list[int]:
        wanted = [ERROR, *(c for c, on in ((STDIN, self.stdin), (STDOUT, self.stdout), (STDERR, self.stderr)) if on)]
        # With a tty stderr is merged into stdout by the runtime; resize carries the window size.
        return [c for c in wanted if not (c == STDERR and self.tty)] + ([RESIZE] if self.tty else [])


async def relay_channels(request: web.Request, url: str, connect: Connect, streams: Streams) -> web.StreamResponse:
    """exec/attach for a WebSocket client (v5/v4): each channel is a SPDY stream to containerd."""
    offered = requested_protocols(request)
    if not any(p in CHANNEL_PROTOCOLS for p in offered):
        return _no_protocol(CHANNEL_PROTOCOLS, offered)
    parts = urlsplit(url)
    reader, writer = await connect(parts.hostname or "127.0.0.1", parts.port or 80)
    try:
        await upgrade.send_request(writer, "POST", parts.path + (f"?{parts.query}" if parts.query else ""),
                                   parts.netloc, [("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1"),
                                                  ("X-Stream-Protocol-Version", V4_CHANNEL)])
        head = await upgrade.read_response_head(reader)
        if head.status != 101:
            return upgrade.error_response(head, await upgrade.read_error_body(reader, head))
        spdy = SpdyConnection(reader, writer)
        stream_of = {channel: spdy.open_stream({"streamType": _STREAM_TYPES[channel]})
                     for channel in streams.channels()}
        channel_of = {stream_id: channel for channel, stream_id in stream_of.items()}
        await spdy.drain()
        client = web.WebSocketResponse(protocols=CHANNEL_PROTOCOLS, max_msg_size=0)
        await client.prepare(request)

        async def client_to_runtime() -> None:
            async for message in client:
                if message.type != aiohttp.WSMsgType.BINARY or not message.data:
                    if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR):
                        return
                    continue
                channel, data = message.data[0], message.data[1:]
                if channel == V5_CLOSE_CHANNEL and data and data[0] in stream_of:
                    spdy.send(stream_of[data[0]], b"", fin=True)  # EOF on the process's stdin
                elif channel in stream_of and channel in (STDIN, RESIZE):
                    spdy.send(stream_of[channel], data)
                await spdy.drain()

        async def runtime_to_client() -> None:
            # The runtime ends a session with the status on the error stream, then closes.
            while (frame := await spdy.next_frame()) is not None:
                channel = channel_of.get(frame.stream_id)
                if frame.control == 0 and frame.data and channel in (STDOUT, STDERR, ERROR):
                    await client.send_bytes(bytes([channel]) + frame.data)
                if channel == ERROR and frame.fin:
                    return

        try:
            await upgrade.until_first_done(client_to_runtime(), runtime_to_client())
        finally:
            with contextlib.suppress(ConnectionError):
                await client.close()
        return client
    finally:
        writer.close()


async def tunnel_spdy(request: web.Request, url: str, connect: Connect) -> web.StreamResponse:
    """port-forward for a WebSocket client: SPDY bytes carried in binary messages, to containerd."""
    offered = requested_protocols(request)
    if PORT_FORWARD_TUNNEL not in offered:
        return _no_protocol((PORT_FORWARD_TUNNEL,), offered)
    parts = urlsplit(url)
    reader, writer = await connect(parts.hostname or "127.0.0.1", parts.port or 80)
    try:
        await upgrade.send_request(writer, "POST", parts.path + (f"?{parts.query}" if parts.query else ""),
                                   parts.netloc, [("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1"),
                                                  ("X-Stream-Protocol-Version", "portforward.k8s.io")])
        head = await upgrade.read_response_head(reader)
        if head.status != 101:
            return upgrade.error_response(head, await upgrade.read_error_body(reader, head))
        client = web.WebSocketResponse(protocols=(PORT_FORWARD_TUNNEL,), max_msg_size=0)
        await client.prepare(request)

        async def upstream_to_client() -> None:
            while chunk := await reader.read(65536):
                await client.send_bytes(chunk)

        async def write_upstream(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        try:
            await upgrade.until_first_done(_pump_ws(client, write_upstream), upstream_to_client())
        finally:
            with contextlib.suppress(ConnectionError):
                await client.close()
        return client
    finally:
        writer.close()
