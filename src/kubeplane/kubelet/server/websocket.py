"""WebSocket clients of exec/attach/port-forward, bridged to what containerd 1.6 speaks.

containerd 1.6's stream server (the kubelet's streaming package of Kubernetes 1.2x) serves SPDY/3.1
and the WebSocket channel protocols up to ``v4.channel.k8s.io``. kubectl 1.30+ asks for
``v5.channel.k8s.io`` (v4 plus a "close this stream" message on channel 255) for exec and attach,
and for port-forward tunnels SPDY inside WebSocket binary messages
(``SPDY/3.1+portforward.k8s.io``). So:

* exec/attach: v5 (or v4) from the client, v4 to containerd, messages copied as they are; a v5
  close message has no v4 equivalent and is dropped, so closing stdin does not reach the process
  (``kubectl exec -i`` reading stdin to EOF waits until the client disconnects; SPDY clients can);
* port-forward: the tunnel is opened, a SPDY upgrade is sent to containerd, and then the bytes
  inside the client's binary messages are containerd's SPDY stream, in both directions.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from kubeplane.component import upgrade

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


async def relay_channels(request: web.Request, url: str, connector: aiohttp.BaseConnector) -> web.StreamResponse:
    """exec/attach for a WebSocket client: v5/v4 here, v4 to containerd at ``url``."""
    offered = requested_protocols(request)
    if not any(p in CHANNEL_PROTOCOLS for p in offered):
        return _no_protocol(CHANNEL_PROTOCOLS, offered)
    async with aiohttp.ClientSession(connector=connector) as session:
        try:
            upstream = await session.ws_connect(url.replace("http", "ws", 1), protocols=(V4_CHANNEL,),
                                                max_msg_size=0)
        except aiohttp.WSServerHandshakeError as error:
            return web.Response(status=502, text=f"container runtime stream server refused: {error}\n")
        client = web.WebSocketResponse(protocols=CHANNEL_PROTOCOLS, max_msg_size=0)
        await client.prepare(request)
        tasks = [asyncio.ensure_future(_pump_ws(client, upstream.send_bytes, drop_close_signal=True)),
                 asyncio.ensure_future(_pump_ws(upstream, client.send_bytes))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            # containerd closes after the status message on channel 3: let that reach the client.
            await asyncio.wait(tasks[1:], timeout=2)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await upstream.close()
            with contextlib.suppress(ConnectionError):
                await client.close()
        return client


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

        tasks = [asyncio.ensure_future(_pump_ws(client, write_upstream)),
                 asyncio.ensure_future(upstream_to_client())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(ConnectionError):
                await client.close()
        return client
    finally:
        writer.close()
