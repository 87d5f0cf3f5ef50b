"""One-shot probes against real local servers (HTTP via aiohttp, TCP, gRPC health via grpcio) and a
fake runtime for exec: results and upstream's messages. Sockets are made in the test's own network
namespace (``Dialer(None)``); the node-namespace path is covered by the integration tests."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio
import pytest
from aiohttp import web
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from kubeplane.kubelet.cri import CRIError
from kubeplane.kubelet.prober import Dialer, ProbeOutcome, ProbeRunner, Result
from kubeplane.kubelet.prober.spec import PortError, go_duration, go_quote, resolve_port

JSON = dict[str, Any]
LOCAL = "127.0.0.1"


@dataclass
class ExecReply:
    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 0


class FakeRuntime:
    def __init__(self, reply: ExecReply | CRIError) -> None:
        self.reply = reply
        self.calls: list[tuple[str, list[str], int]] = []

    async def exec_sync(self, container_id: str, cmd: Sequence[str], timeout: int = 0) -> ExecReply:
        self.calls.append((container_id, list(cmd), timeout))
        if isinstance(self.reply, CRIError):
            raise self.reply
        return self.reply


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind((LOCAL, 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
async def web_server() -> AsyncIterator[tuple[int, list[JSON]]]:
    seen: list[JSON] = []
    release = asyncio.Event()  # holds /slow until teardown

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append({"path": request.path_qs, "headers": dict(request.headers)})
        port = request.url.port
        match request.path:
            case "/ok":
                return web.Response(text="fine")
            case "/fail":
                return web.Response(status=500, text="broken")
            case "/same-host":
                raise web.HTTPFound("/ok")
            case "/other-host":
                raise web.HTTPFound(f"http://localhost:{port}/ok")
            case "/loop":
                raise web.HTTPFound("/loop")
            case "/slow":
                await release.wait()
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, LOCAL, 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield port, seen
    finally:
        release.set()
        await runner.cleanup()


def prober(runtime: FakeRuntime | None = None) -> ProbeRunner:
    return ProbeRunner(runtime or FakeRuntime(ExecReply()), Dialer(None), kube_version="v1.35.2")


async def http(port: int | str, path: str, container: JSON | None = None, **action: Any) -> ProbeOutcome:
    probe = {"httpGet": {"port": port, "path": path, **action}, "timeoutSeconds": 1}
    return await prober().run(probe, container or {"name": "app"}, LOCAL, "c1")


async def test_http_status_decides(web_server: tuple[int, list[JSON]]) -> None:
    port, seen = web_server
    assert await http(port, "/ok") == ProbeOutcome(Result.SUCCESS, "fine")
    assert await http(port, "/fail") == ProbeOutcome(Result.FAILURE, "HTTP probe failed with statuscode: 500")
    headers = seen[0]["headers"]
    assert headers["User-Agent"] == "kube-probe/1.35"
    assert headers["Accept"] == "*/*"
    assert headers["Host"] == f"{LOCAL}:{port}"


async def test_http_headers_named_port_and_host_override(web_server: tuple[int, list[JSON]]) -> None:
    port, seen = web_server
    container = {"name": "app", "ports": [{"name": "http", "containerPort": port}]}
    headers = [{"name": "Host", "value": "web.example"}, {"name": "X-Probe", "value": "yes"},
               {"name": "Accept", "value": ""}]
    outcome = await http("http", "ok?x=1", container, httpHeaders=headers)
    assert outcome.result == Result.SUCCESS
    assert seen[0]["path"] == "/ok?x=1"
    sent = seen[0]["headers"]
    assert (sent["Host"], sent["X-Probe"]) == ("web.example", "yes")
    assert "Accept" not in sent  # an empty Accept removes the header


async def test_http_redirects_followed_on_the_same_host_only(web_server: tuple[int, list[JSON]]) -> None:
    port, seen = web_server
    assert (await http(port, "/same-host")).result == Result.SUCCESS
    assert [s["path"] for s in seen] == ["/same-host", "/ok"]
    other = await http(port, "/other-host")
    assert other.result == Result.WARNING and other.output.startswith("Probe terminated redirects, Response body: ")
    looping = await http(port, "/loop")
    assert looping == ProbeOutcome(Result.FAILURE, f'Get "http://{LOCAL}:{port}/loop": stopped after 10 redirects')
    assert len([s for s in seen if s["path"] == "/loop"]) == 10


async def test_http_connection_refused_and_timeout(web_server: tuple[int, list[JSON]]) -> None:
    port, _ = web_server
    closed = free_port()
    refused = await http(closed, "/healthz")
    assert refused == ProbeOutcome(
        Result.FAILURE, f'Get "http://{LOCAL}:{closed}/healthz": dial tcp {LOCAL}:{closed}: connect: connection refused')
    slow = await http(port, "/slow")
    assert slow == ProbeOutcome(Result.FAILURE, f'Get "http://{LOCAL}:{port}/slow": context deadline exceeded '
                                                "(Client.Timeout exceeded while awaiting headers)")


async def test_http_unknown_port_name_errors() -> None:
    outcome = await http("metrics", "/")
    assert outcome.result == Result.UNKNOWN and outcome.error == "port metrics not found"


async def test_tcp_probe() -> None:
    with socket.socket() as listener:
        listener.bind((LOCAL, 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert await prober().run({"tcpSocket": {"port": port}}, {"name": "app"}, LOCAL, "c1") == ProbeOutcome(
            Result.SUCCESS)
    closed = free_port()
    outcome = await prober().run({"tcpSocket": {"port": closed}}, {"name": "app"}, LOCAL, "c1")
    assert outcome == ProbeOutcome(Result.FAILURE, f"dial tcp {LOCAL}:{closed}: connect: connection refused")


@pytest.fixture
async def grpc_server() -> AsyncIterator[tuple[int, int]]:
    """A server with the health service ("" serving, "db" not) and one without it."""
    with_health = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, with_health)
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    await servicer.set("db", health_pb2.HealthCheckResponse.NOT_SERVING)
    health_port = with_health.add_insecure_port(f"{LOCAL}:0")
    without_health = grpc.aio.server()
    bare_port = without_health.add_insecure_port(f"{LOCAL}:0")
    await with_health.start()
    await without_health.start()
    try:
        yield health_port, bare_port
    finally:
        await with_health.stop(None)
        await without_health.stop(None)


async def grpc_probe(port: int, service: str | None = None, timeout: int = 2) -> ProbeOutcome:
    action: JSON = {"port": port, **({"service": service} if service is not None else {})}
    return await prober().run({"grpc": action, "timeoutSeconds": timeout}, {"name": "app"}, LOCAL, "c1")


async def test_grpc_health(grpc_server: tuple[int, int]) -> None:
    health_port, bare_port = grpc_server
    assert await grpc_probe(health_port) == ProbeOutcome(Result.SUCCESS, "service healthy")
    assert await grpc_probe(health_port, "db") == ProbeOutcome(
        Result.FAILURE, 'service unhealthy (responded with "NOT_SERVING")')
    missing = await grpc_probe(health_port, "nope")
    # grpcio's health servicer answers NOT_FOUND without details.
    assert missing == ProbeOutcome(Result.FAILURE, "error: health rpc probe failed: rpc error: code = NotFound desc = ")
    bare = await grpc_probe(bare_port)
    assert bare.result == Result.FAILURE
    assert bare.output.startswith("error: this server does not implement the grpc health protocol "
                                  "(grpc.health.v1.Health): ")


async def test_grpc_nothing_listening_times_out() -> None:
    closed = free_port()
    assert await grpc_probe(closed, timeout=1) == ProbeOutcome(
        Result.FAILURE, f'timeout: failed to connect service "{LOCAL}:{closed}" within 1s: context deadline exceeded')


async def test_exec_probe_exit_code_and_output() -> None:
    runtime = FakeRuntime(ExecReply(b"out\n", b"err\n", 1))
    probe = {"exec": {"command": ["sh", "-c", "check"]}, "timeoutSeconds": 4}
    outcome = await prober(runtime).run(probe, {"name": "app"}, LOCAL, "containerd://abc")
    assert outcome == ProbeOutcome(Result.FAILURE, "out\nerr\n")
    assert runtime.calls == [("abc", ["sh", "-c", "check"], 4)]
    runtime.reply = ExecReply(b"ok", b"", 0)
    assert await prober(runtime).run(probe, {"name": "app"}, LOCAL, "abc") == ProbeOutcome(Result.SUCCESS, "ok")


async def test_exec_probe_timeout_fails_and_runtime_errors_are_retried() -> None:
    timed_out = FakeRuntime(CRIError("ExecSync", grpc.StatusCode.UNKNOWN,
                                     "failed to exec in container: timeout 1s exceeded: context deadline exceeded"))
    probe = {"exec": {"command": ["sleep", "5"]}}
    assert await prober(timed_out).run(probe, {"name": "app"}, LOCAL, "abc") == ProbeOutcome(
        Result.FAILURE, 'command "sleep 5" timed out')
    broken = FakeRuntime(CRIError("ExecSync", grpc.StatusCode.NOT_FOUND, "container abc not found"))
    outcome = await prober(broken).run(probe, {"name": "app"}, LOCAL, "abc")
    assert outcome.result == Result.UNKNOWN and outcome.error == "CRI ExecSync failed: NOT_FOUND: container abc not found"
    assert len(broken.calls) == 3


def test_port_resolution_and_go_formatting() -> None:
    container = {"ports": [{"name": "web", "containerPort": 8080}]}
    assert (resolve_port(81, container), resolve_port("web", container), resolve_port("82", container)) == (81, 8080, 82)
    with pytest.raises(PortError, match="invalid port number: 70000"):
        resolve_port(70000, container)
    assert go_quote('a "b"\n') == '"a \\"b\\"\\n"'
    assert [go_duration(s) for s in (1, 90, 3600)] == ["1s", "1m30s", "1h0m0s"]
