"""The grpc probe: ``grpc.health.v1.Health/Check`` with an optional service name.

grpcio opens its sockets on its own threads, so they cannot be placed in the node's network
namespace by entering it from ours. Instead the TCP connection is made here (by the ``Dialer``, in
the node namespace) and grpcio talks to it through a private unix socket that relays bytes both
ways; the unix socket is a file in a fresh 0700 directory, which works across namespaces. The
channel still sends ``:authority host:port`` and upstream's User-Agent, as a direct dial would.

Like upstream (``grpc.WithBlock``), connecting is retried until the timeout; every failure is a
probe failure with upstream's message.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import tempfile

import grpc  # type: ignore[import-untyped]
import grpc.aio  # type: ignore[import-untyped]
from grpc_health.v1 import health_pb2  # type: ignore[import-untyped]

from kubeplane.kubelet.prober.dialer import Dialer, DialError
from kubeplane.kubelet.prober.results import ProbeOutcome, Result
from kubeplane.kubelet.prober.spec import go_duration, go_quote, join_host_port

_CHECK = health_pb2.DESCRIPTOR.services_by_name["Health"].methods_by_name["Check"]
CHECK_PATH = f"/{_CHECK.containing_service.full_name}/{_CHECK.name}"
_CONNECT_RETRY_PAUSE = 0.25
_RELAY_CHUNK = 64 * 1024


def _go_code_name(code: grpc.StatusCode) -> str:
    """grpc-go prints codes in CamelCase (``NotFound``), Python names them ``NOT_FOUND``."""
    return "".join(part.capitalize() for part in code.name.split("_"))


async def _connect_until(dialer: Dialer, host: str, port: int, deadline: float) -> socket.socket:
    loop = asyncio.get_running_loop()
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise TimeoutError
        try:
            return await dialer.connect(host, port, remaining)
        except DialError as error:
            if error.timed_out:
                raise TimeoutError from None
        await asyncio.sleep(min(_CONNECT_RETRY_PAUSE, max(0.0, deadline - loop.time())))


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_RELAY_CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            writer.close()


class _Relay:
    """Accepts grpcio's connections on the unix socket and joins each to a TCP connection in the
    node namespace: the first to the one already made, later ones (reconnects) to fresh dials."""

    def __init__(self, first: socket.socket, dialer: Dialer, host: str, port: int, timeout: float) -> None:
        self._spare: socket.socket | None = first
        self._dialer, self._host, self._port, self._timeout = dialer, host, port, timeout
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self._writers.append(client_writer)
        sock, self._spare = self._spare, None
        try:
            if sock is None:
                sock = await self._dialer.connect(self._host, self._port, self._timeout)
            upstream_reader, upstream_writer = await asyncio.open_connection(sock=sock)
        except (DialError, OSError):
            client_writer.close()
            return
        self._writers.append(upstream_writer)
        for reader, writer in ((client_reader, upstream_writer), (upstream_reader, client_writer)):
            task = asyncio.create_task(_pump(reader, writer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        if self._spare is not None:
            self._spare.close()
            self._spare = None
        for writer in self._writers:
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def _check(path: str, authority: str, user_agent: str, service: str, timeout: float) -> health_pb2.HealthCheckResponse:
    options = [("grpc.default_authority", authority), ("grpc.primary_user_agent", user_agent),
               ("grpc.enable_retries", 0)]
    channel = grpc.aio.insecure_channel(f"unix:{path}", options=options)
    try:
        check = channel.unary_unary(CHECK_PATH, request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                                    response_deserializer=health_pb2.HealthCheckResponse.FromString)
        response: health_pb2.HealthCheckResponse = await check(health_pb2.HealthCheckRequest(service=service),
                                                               timeout=timeout)
        return response
    finally:
        await channel.close()


async def grpc_probe(dialer: Dialer, host: str, port: int, service: str, timeout: int,
                     user_agent: str) -> ProbeOutcome:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    address = join_host_port(host, port)
    try:
        first = await _connect_until(dialer, host, port, deadline)
    except TimeoutError:
        return ProbeOutcome(Result.FAILURE, f"timeout: failed to connect service {go_quote(address)} within "
                                            f"{go_duration(timeout)}: context deadline exceeded")
    relay = _Relay(first, dialer, host, port, timeout)
    with tempfile.TemporaryDirectory(prefix="kubeplane-grpc-probe-") as directory:
        path = os.path.join(directory, "relay.sock")
        server = await asyncio.start_unix_server(relay.handle, path)
        try:
            response = await _check(path, address, user_agent, service, max(0.001, deadline - loop.time()))
        except grpc.aio.AioRpcError as error:
            return _rpc_failure(error, timeout)
        finally:
            server.close()
            await relay.close()
            await server.wait_closed()
    if response.status != health_pb2.HealthCheckResponse.SERVING:
        status_name = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
        return ProbeOutcome(Result.FAILURE, f"service unhealthy (responded with {go_quote(status_name)})")
    return ProbeOutcome(Result.SUCCESS, "service healthy")


def _rpc_failure(error: grpc.aio.AioRpcError, timeout: int) -> ProbeOutcome:
    code, details = error.code(), error.details() or ""
    if code == grpc.StatusCode.UNIMPLEMENTED:
        message = f"error: this server does not implement the grpc health protocol (grpc.health.v1.Health): {details}"
    elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
        message = f"timeout: health rpc did not complete within {go_duration(timeout)}"
    else:
        message = f"error: health rpc probe failed: rpc error: code = {_go_code_name(code)} desc = {details}"
    return ProbeOutcome(Result.FAILURE, message)
