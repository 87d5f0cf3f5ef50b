"""The kubelet's HTTPS API (upstream's port 10250): health, the pods it runs, container logs, and
exec/attach/port-forward.

Logs are read here from the CRI log files. For exec, attach and port-forward the kubelet asks CRI
for a streaming URL and then carries the client's upgraded connection to containerd's stream
server, which listens on 127.0.0.1 inside the node's network namespace: the kubelet (in the root
namespace) dials it from there with the prober's ``Dialer``. SPDY passes through unchanged;
WebSocket clients are bridged as ``websocket.py`` explains.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from kubeplane.component import upgrade
from kubeplane.kubelet.cri import CRIClient, CRIError
from kubeplane.kubelet.prober import Dialer
from kubeplane.kubelet.server import logs, runtime, websocket
from kubeplane.kubelet.server.auth import WebhookAuthorizer, user_from_peer_cert

log = logging.getLogger(__name__)

JSON = dict[str, Any]
DIAL_TIMEOUT = 10.0
PUBLIC_PATHS = ("/healthz",)


def bind_socket(address: str, port: int) -> socket.socket:
    """The listening socket, bound now so the chosen port (``port`` 0: any free one) is known before
    the Node's status reports it."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def ssl_context(cert_file: str, key_file: str, client_ca_file: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    if client_ca_file:
        context.load_verify_locations(client_ca_file)
        context.verify_mode = ssl.CERT_OPTIONAL  # /healthz answers without a certificate
    return context


@dataclass
class ServerDeps:
    node_name: str
    cri: CRIClient
    dialer: Dialer
    pods: Callable[[], list[JSON]]  # the pods bound to this node, as the kubelet knows them
    authorizer: WebhookAuthorizer | None  # None: any verified client certificate may do anything


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message.rstrip("\n") + "\n")


class KubeletServer:
    def __init__(self, deps: ServerDeps) -> None:
        self.deps = deps
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/pods", self._pods)
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self._container_logs)
        for verb in ("exec", "attach"):
            app.router.add_route("*", f"/{verb}/{{namespace}}/{{pod}}/{{container}}", self._exec_or_attach)
        app.router.add_route("*", "/portForward/{namespace}/{pod}", self._port_forward)
        return app

    async def start(self, sock: socket.socket, context: ssl.SSLContext) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.SockSite(self._runner, sock, ssl_context=context).start()
        log.info("serving the kubelet API on https://%s:%d", *sock.getsockname()[:2])

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    # -- authentication and authorization -----------------------------------------------------------

    @web.middleware
    async def _auth(self, request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS:
            return await handler(request)
        transport = request.transport
        user = user_from_peer_cert(transport.get_extra_info("peercert") if transport is not None else None)
        if user is None:
            return _text(401, "Unauthorized")
        if self.deps.authorizer is not None:
            try:
                allowed, _ = await self.deps.authorizer.authorize(user, request.method, request.path)
            except Exception as error:  # the API server is unreachable: deny, as upstream
                log.warning("authorizing %s %s for %s failed: %s", request.method, request.path, user.name, error)
                allowed = False
            if not allowed:
                return _text(403, WebhookAuthorizer.forbidden_message(user, request.method, request.path,
                                                                      self.deps.node_name))
        return await handler(request)

    # -- handlers -----------------------------------------------------------------------------------

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _pods(self, request: web.Request) -> web.Response:
        return web.json_response({"kind": "PodList", "apiVersion": "v1", "metadata": {},
                                  "items": self.deps.pods()})

    def _pod(self, request: web.Request) -> JSON:
        namespace, name = request.match_info["namespace"], request.match_info["pod"]
        for pod in self.deps.pods():
            meta = pod.get("metadata") or {}
            if meta.get("namespace") == namespace and meta.get("name") == name:
                return pod
        raise runtime.NotFound(f'pod "{name}" not found in namespace "{namespace}" on this node')

    async def _container_logs(self, request: web.Request) -> web.StreamResponse:
        try:
            options = logs.LogOptions.from_query(request.query)
        except ValueError as error:
            return _text(400, str(error))
        cri = self.deps.cri
        try:
            pod = self._pod(request)
            container = request.match_info["container"]
            previous = request.query.get("previous", "false").lower() in ("true", "1")
            container_id, path = await runtime.log_path(cri, pod["metadata"]["uid"], pod["metadata"]["name"],
                                                         container, previous)
        except runtime.NotFound as error:
            return _text(404 if "not found in namespace" in str(error) else 400, str(error))
        except CRIError as error:
            return _text(500, str(error))
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        try:
            async for chunk in logs.read_log(Path(path), options, lambda: runtime.is_running(cri, container_id)):
                await response.write(chunk)
        except FileNotFoundError:
            pass  # removed with its container: what was sent is all there is
        await response.write_eof()
        return response

    async def _exec_or_attach(self, request: web.Request) -> web.StreamResponse:
        if not upgrade.is_upgrade(request):
            return _text(400, "exec and attach need an upgraded connection (SPDY/3.1 or WebSocket)")
        query = request.query
        flags = {name: query.get(name, "").lower() in ("1", "true") for name in ("input", "output", "error", "tty")}
        verb = request.path.split("/")[1]
        try:
            pod = self._pod(request)
            uid, name = pod["metadata"]["uid"], pod["metadata"]["name"]
            container_id = await runtime.running_container(self.deps.cri, uid, name, request.match_info["container"])
            if verb == "exec":
                command = query.getall("command", [])
                if not command:
                    return _text(400, "you must specify at least one command for the container")
                url = await runtime.exec_url(self.deps.cri, container_id, command, tty=flags["tty"],
                                             stdin=flags["input"], stdout=flags["output"], stderr=flags["error"])
            else:
                url = await runtime.attach_url(self.deps.cri, container_id, tty=flags["tty"], stdin=flags["input"],
                                               stdout=flags["output"], stderr=flags["error"])
        except runtime.NotFound as error:
            return _text(404, str(error))
        except CRIError as error:
            return _text(500, str(error))
        streams = websocket.Streams(stdin=flags["input"], stdout=flags["output"], stderr=flags["error"],
                                    tty=flags["tty"])
        if upgrade.is_websocket(request):
            return await websocket.relay_channels(request, url, self._connect, streams)
        return await self._to_stream_server(request, url)

    async def _port_forward(self, request: web.Request) -> web.StreamResponse:
        if not upgrade.is_upgrade(request):
            return _text(400, "port-forward needs an upgraded connection (SPDY/3.1 or WebSocket)")
        try:
            ports = [int(p) for p in request.query.getall("port", [])]
        except ValueError:
            return _text(400, "port: not a number")
        try:
            pod = self._pod(request)
            sandbox = await runtime.ready_sandbox(self.deps.cri, pod["metadata"]["uid"], pod["metadata"]["name"])
            url = await runtime.port_forward_url(self.deps.cri, sandbox, ports)
        except runtime.NotFound as error:
            return _text(404, str(error))
        except CRIError as error:
            return _text(500, str(error))
        return await self._to_stream_server(request, url)

    async def _connect(self, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        sock = await self.deps.dialer.connect(host, port, DIAL_TIMEOUT)
        return await asyncio.open_connection(sock=sock)

    async def _to_stream_server(self, request: web.Request, url: str) -> web.StreamResponse:
        """Carry the client's upgraded connection to containerd's stream server at ``url`` (SPDY as
        it came; port-forward over WebSocket is SPDY tunnelled in its messages)."""
        if upgrade.is_websocket(request):
            return await websocket.tunnel_spdy(request, url, self._connect)
        parts = urlsplit(url)
        reader, writer = await self._connect(parts.hostname or "127.0.0.1", parts.port or 80)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        return await upgrade.relay_upgrade(request, reader, writer, target, parts.netloc,
                                           upgrade.upgrade_headers(request), method="POST")
