"""pods/log, pods/exec, pods/attach, pods/portforward and nodes/proxy: the API server as a proxy to
the kubelet.

How the API server reaches a kubelet. Upstream dials the node's address (by
``--kubelet-preferred-address-types``) at ``status.daemonEndpoints.kubeletEndpoint.Port``. Here node
addresses live inside the simulated VPC's network namespaces, which the API server (root namespace)
cannot reach, while the kubelets themselves run in the root namespace; so every kubelet serves on
127.0.0.1 at a port of its own, reports that port in ``daemonEndpoints`` as upstream does, and the
API server dials ``--kubelet-address`` (default 127.0.0.1) at that port. This loopback hop is the
simulation's control-plane-to-node path (EKS uses cross-account ENIs in the customer's VPC).

It presents ``--kubelet-client-certificate``/``--kubelet-client-key`` and checks the kubelet's
certificate against ``--kubelet-certificate-authority`` when given (upstream skips the check
without it; kubelets here make self-signed serving certificates as upstream's do by default).

log is an ordinary streamed GET. exec/attach/portforward are upgraded connections (SPDY/3.1 or
WebSocket), passed to the kubelet byte for byte: the kubelet negotiates the protocol with the
client and bridges it to containerd (``kubeplane.kubelet.server.websocket``), so the API server
needs no translation; the pass-through is ``kubeplane.component.upgrade``, as in the kubelet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import yarl
from aiohttp import web

from kubeplane.apiserver.registry.context import RequestContext
from kubeplane.apiserver.registry.store import Store
from kubeplane.component import upgrade
from kubeplane.machinery import errors

log = logging.getLogger(__name__)

JSON = dict[str, Any]
STREAMING_SUBRESOURCES = ("log", "exec", "attach", "portforward")
CONNECT_TIMEOUT = 10.0
# pods/log parameters handed to the kubelet as they are (after checking).
LOG_PARAMS = ("follow", "previous", "timestamps", "tailLines", "limitBytes", "sinceSeconds", "sinceTime")
# exec/attach: the API's parameter names and the kubelet's (upstream renames them the same way).
STREAM_PARAMS = {"stdin": "input", "stdout": "output", "stderr": "error", "tty": "tty"}
# nodes/proxy: the request headers passed to the kubelet and the response headers passed back
# (never the caller's credentials: the API server authenticates to the kubelet as itself).
_FORWARDED_HEADERS = ("accept", "accept-encoding", "content-type")
_RETURNED_HEADERS = ("content-type", "content-encoding", "cache-control")


@dataclass(frozen=True)
class KubeletClientConfig:
    address: str = "127.0.0.1"
    client_certificate: str = ""
    client_key: str = ""
    certificate_authority: str = ""

    def ssl_context(self) -> ssl.SSLContext:
        if self.certificate_authority:
            context = ssl.create_default_context(cafile=self.certificate_authority)
            context.check_hostname = False  # kubelet certificates name the node, dialled here by address
        else:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.client_certificate:
            context.load_cert_chain(self.client_certificate, self.client_key)
        return context


def _flag(query: Mapping[str, str], name: str) -> bool:
    return query.get(name, "").lower() in ("1", "true")


def _container_names(pod: JSON) -> tuple[list[str], list[str], list[str]]:
    spec = pod.get("spec") or {}
    return ([c["name"] for c in spec.get("containers") or []], [c["name"] for c in spec.get("initContainers") or []],
            [c["name"] for c in spec.get("ephemeralContainers") or []])


def choose_container(pod: JSON, wanted: str) -> str:
    """The container a request means: the one named, or the only one; upstream's 400 messages."""
    name = pod["metadata"]["name"]
    containers, init, ephemeral = _container_names(pod)
    if not wanted:
        if len(containers) == 1:
            return containers[0]
        message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]"
        if init:
            message += f" or one of the init containers: [{' '.join(init)}]"
        if ephemeral:
            message += f" or one of the ephemeral containers: [{' '.join(ephemeral)}]"
        raise errors.bad_request(message)
    if wanted not in (*containers, *init, *ephemeral):
        raise errors.bad_request(f"container {wanted} is not valid for pod {name}")
    return wanted


def log_query(query: Mapping[str, str]) -> list[tuple[str, str]]:
    """The kubelet's query for pods/log, checked as upstream validates PodLogOptions."""
    for name in ("tailLines", "limitBytes", "sinceSeconds"):
        if name in query:
            try:
                value = int(query[name])
            except ValueError:
                raise errors.bad_request(f"{name}: invalid value {query[name]!r}: must be an integer") from None
            if value < 0 or (value == 0 and name != "tailLines"):
                raise errors.bad_request(f"{name}: Invalid value: {value}: must be greater than "
                                         f"{'or equal to ' if name == 'tailLines' else ''}0")
    if "sinceSeconds" in query and "sinceTime" in query:
        raise errors.bad_request("at most one of `sinceTime` or `sinceSeconds` may be specified")
    return [(name, query[name]) for name in LOG_PARAMS if name in query]


def stream_query(query: Any, subresource: str) -> list[tuple[str, str]]:
    """exec/attach/portforward query for the kubelet."""
    if subresource == "portforward":
        return [("port", port) for port in query.getall("ports", [])]
    out = [(kubelet_name, "1") for api_name, kubelet_name in STREAM_PARAMS.items() if _flag(query, api_name)]
    if subresource == "exec":
        commands = query.getall("command", [])
        if not commands:
            raise errors.bad_request("you must specify at least one command for the container")
        out += [("command", command) for command in commands]
    if not any(_flag(query, name) for name in ("stdin", "stdout", "stderr")):
        raise errors.bad_request("you must specify at least 1 of stdin, stdout, stderr")
    return out


class KubeletProxy:
    """Finds a pod's kubelet and carries log, exec, attach and portforward requests to it."""

    def __init__(self, config: KubeletClientConfig, nodes: Store) -> None:
        self.config = config
        self.nodes = nodes
        self._ssl = config.ssl_context()
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def _kubelet_port(self, ctx: RequestContext, node_name: str) -> int:
        node = await self.nodes.get(RequestContext(user=ctx.user, groups=ctx.groups), node_name)
        endpoint = ((node.get("status") or {}).get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}
        port = int(endpoint.get("Port") or 0)
        if not port:
            raise errors.StatusError(503, "ServiceUnavailable", f"node {node_name} reports no kubelet port")
        return port

    async def serve(self, request: web.Request, ctx: RequestContext, pod: JSON, subresource: str) -> web.StreamResponse:
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name:
            raise errors.bad_request(f"pod {pod['metadata']['name']} does not have a host assigned")
        namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        port = await self._kubelet_port(ctx, node_name)
        if subresource == "portforward":
            path = f"/portForward/{quote(namespace)}/{quote(name)}"
        else:
            container = choose_container(pod, request.query.get("container", ""))
            kubelet_verb = "containerLogs" if subresource == "log" else subresource
            path = f"/{kubelet_verb}/{quote(namespace)}/{quote(name)}/{quote(container)}"
        if subresource == "log":
            query = log_query(request.query)
            return await self._stream_log(request, port, path + ("?" + urlencode(query) if query else ""))
        query = stream_query(request.query, subresource)
        if not upgrade.is_upgrade(request):
            raise errors.bad_request("Upgrade request required")
        return await self._upgrade(request, port, path + ("?" + urlencode(query) if query else ""))

    # -- nodes/proxy ------------------------------------------------------------------------------

    async def serve_node(self, request: web.Request, ctx: RequestContext, node_name: str,
                         path: str) -> web.StreamResponse:
        """nodes/<name>/proxy/<path>: the request, method, query and body as they came, to the
        node's kubelet at <path> (upstream's node proxy; `kubectl get --raw .../proxy/pods`)."""
        port = await self._kubelet_port(ctx, node_name)
        target = "/" + quote(path.lstrip("/"), safe="/:@!$&'()*+,;=-._~")
        if request.query_string:
            target += "?" + request.query_string
        if upgrade.is_upgrade(request):
            return await self._upgrade(request, port, target)
        body = await request.read() if request.can_read_body else None
        headers = {name: value for name, value in request.headers.items() if name.lower() in _FORWARDED_HEADERS}
        upstream = await self._open(request.method, port, target, body, headers)
        async with upstream:
            response = web.StreamResponse(status=upstream.status, headers={
                name: value for name, value in upstream.headers.items() if name.lower() in _RETURNED_HEADERS})
            await response.prepare(request)
            with contextlib.suppress(aiohttp.ClientError, ConnectionError):
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
            await response.write_eof()
            return response

    def _client_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._ssl),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT))
        return self._session

    async def _open(self, method: str, port: int, target: str, body: bytes | None = None,
                    headers: Mapping[str, str] | None = None) -> aiohttp.ClientResponse:
        url = f"https://{self.config.address}:{port}{target}"
        try:
            # The target is already quoted: aiohttp must not quote it again.
            return await self._client_session().request(method, yarl.URL(url, encoded=True), data=body,
                                                        headers=headers, allow_redirects=False)
        except (aiohttp.ClientError, OSError) as error:
            raise _unreachable(error) from None

    # -- pods/log ---------------------------------------------------------------------------------

    async def _stream_log(self, request: web.Request, port: int, target: str) -> web.StreamResponse:
        upstream = await self._open("GET", port, target)
        async with upstream:
            if upstream.status != 200:
                text = (await upstream.read()).decode(errors="replace").strip()
                raise errors.StatusError(upstream.status if upstream.status < 500 else 500,
                                         "BadRequest" if upstream.status < 500 else "InternalError", text)
            response = web.StreamResponse(headers={"Content-Type": "text/plain"})
            await response.prepare(request)
            with contextlib.suppress(aiohttp.ClientError, ConnectionError):
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
            await response.write_eof()
            return response

    # -- exec / attach / portforward --------------------------------------------------------------

    async def _upgrade(self, request: web.Request, port: int, target: str) -> web.StreamResponse:
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                reader, writer = await asyncio.open_connection(self.config.address, port, ssl=self._ssl)
        except (OSError, TimeoutError) as error:
            raise _unreachable(error) from None
        try:
            return await upgrade.relay_upgrade(request, reader, writer, target, f"{self.config.address}:{port}",
                                               upgrade.upgrade_headers(request), on_refused=_refused)
        except ConnectionError as error:
            raise _unreachable(error) from None


def _unreachable(error: BaseException) -> errors.StatusError:
    return errors.StatusError(500, "InternalError", f"error dialing backend: {error}")


def _refused(head: upgrade.ResponseHead, body: bytes) -> web.StreamResponse:
    """The kubelet's errors are plain text; upstream wraps them in a Status the same way."""
    status = head.status
    reason = "NotFound" if status == 404 else "BadRequest" if status < 500 else "InternalError"
    raise errors.StatusError(status if status < 500 else 500, reason, body.decode(errors="replace").strip())
