"""Serving DNS over UDP and TCP with asyncio: one query in, one answer out.

``QueryHandler`` turns query bytes into answer bytes (resolve in the cluster zone, forward or
refuse the rest, count everything); ``DnsServer`` runs it on already-bound sockets. UDP answers
larger than the client accepts (512 bytes, or its EDNS size) are truncated with TC set, so the
client asks again over TCP, where a connection may carry many length-prefixed queries and is
closed after a few idle seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import time
from collections.abc import Coroutine
from typing import Any, cast

import dns.exception
import dns.message
import dns.rcode
import dns.rrset

from kubeplane.network.dns import wire
from kubeplane.network.dns.forward import Forwarder, UpstreamFailed
from kubeplane.network.dns.metrics import DnsMetrics
from kubeplane.network.dns.resolver import Rcode, Resolver
from kubeplane.network.dns.sockets import ListenSockets

log = logging.getLogger(__name__)

TCP_IDLE_TIMEOUT = 10.0
OUT_OF_ZONE = "."


class QueryHandler:
    def __init__(self, resolver: Resolver, metrics: DnsMetrics, forwarder: Forwarder | None = None) -> None:
        self.resolver = resolver
        self.metrics = metrics
        self.forwarder = forwarder
        self.zone_label = resolver.zone + "."

    async def answer(self, data: bytes, proto: str, family: str) -> bytes | None:
        """The answer's bytes for ``data`` (None: nothing worth answering, e.g. not a query)."""
        started = time.perf_counter()
        try:
            query = wire.parse_query(data)
        except wire.BadQuery as bad:
            response = wire.error_response(bad)
            self.metrics.observe(OUT_OF_ZONE, proto, family, "other", dns.rcode.to_text(bad.rcode), "",
                                 time.perf_counter() - started)
            return self._encode(response, bad.query, proto)
        except dns.exception.DNSException:
            return None
        name, rdtype = wire.question(query)
        response, zone, plugin = await self._respond(query, name, rdtype, proto)
        self.metrics.observe(zone, proto, family, rdtype, dns.rcode.to_text(response.rcode()), plugin,
                             time.perf_counter() - started)
        return self._encode(response, query, proto)

    async def _respond(self, query: dns.message.Message, name: str, rdtype: str,
                       proto: str) -> tuple[dns.message.Message, str, str]:
        """(response, zone label, answering plugin) — the labels CoreDNS's metrics use."""
        resolution = self.resolver.resolve(name, rdtype)
        recursion = self.forwarder is not None
        if resolution.forward:
            if self.forwarder is None:
                return wire.refused(query), OUT_OF_ZONE, ""
            try:
                upstream = await self.forwarder.query(query, tcp=proto == "tcp")
            except UpstreamFailed as err:
                log.info("no upstream answered %s %s: %s", name, rdtype, err)
                return wire.refused(query, dns.rcode.SERVFAIL), OUT_OF_ZONE, "forward"
            return upstream, OUT_OF_ZONE, "forward"
        extra: list[dns.rrset.RRset] = []
        if resolution.chase is not None and self.forwarder is not None:
            extra = await self._chase(resolution.chase, rdtype)
        response = wire.build_response(query, resolution, self.resolver.ttl, recursion, extra)
        zone = self.zone_label if resolution.authoritative and resolution.rcode is not Rcode.REFUSED else OUT_OF_ZONE
        return response, zone, "kubernetes"

    async def _chase(self, target: str, rdtype: str) -> list[dns.rrset.RRset]:
        """The upstream's answer for an ExternalName's target, appended after our CNAME as CoreDNS
        does; if the upstream fails the client still gets the CNAME to chase itself."""
        assert self.forwarder is not None
        try:
            response = await self.forwarder.resolve(target + ".", rdtype)
        except UpstreamFailed as err:
            log.info("no upstream answered for ExternalName target %s: %s", target, err)
            return []
        return list(response.answer)

    def _encode(self, response: dns.message.Message, query: dns.message.Message | None, proto: str) -> bytes:
        if proto == "tcp":
            return wire.to_wire(response, wire.MAX_TCP_MESSAGE)
        data = wire.to_wire(response, wire.udp_limit(query))
        if data[2] & 0x02:  # TC
            self.metrics.truncated.labels(self.metrics.server).inc()
        return data


def _family_label(sock: socket.socket) -> str:
    return "2" if sock.family == socket.AF_INET6 else "1"  # CoreDNS: 1 = IPv4, 2 = IPv6


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer, family: str) -> None:
        self.server = server
        self.family = family
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport does not subclass DatagramTransport, uvloop's does.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        # Each query gets its own task: a forwarded query waiting on its upstream must not hold up
        # the cluster names behind it.
        self.server.spawn(self._reply(data, addr))

    async def _reply(self, data: bytes, addr: tuple[str, int]) -> None:
        answer = await self.server.handler.answer(data, "udp", self.family)
        if answer is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(answer, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("udp: %r", exc)


class DnsServer:
    def __init__(self, handler: QueryHandler) -> None:
        self.handler = handler
        self._transports: list[asyncio.BaseTransport] = []
        self._tcp_servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._connections: set[asyncio.StreamWriter] = set()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("dns query failed: %r", task.exception(), exc_info=task.exception())

    async def start(self, sockets: ListenSockets) -> None:
        loop = asyncio.get_running_loop()
        family = _family_label(sockets.udp)
        transport, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self, family), sock=sockets.udp)
        self._transports.append(transport)
        server = await asyncio.start_server(
            lambda reader, writer: self._serve_tcp(reader, writer, family), sock=sockets.tcp)
        self._tcp_servers.append(server)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, family: str) -> None:
        self._connections.add(writer)
        try:
            while True:
                try:
                    header = await asyncio.wait_for(reader.readexactly(2), TCP_IDLE_TIMEOUT)
                    data = await asyncio.wait_for(reader.readexactly(struct.unpack("!H", header)[0]),
                                                  TCP_IDLE_TIMEOUT)
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    return
                answer = await self.handler.answer(data, "tcp", family)
                if answer is None:
                    return
                writer.write(struct.pack("!H", len(answer)) + answer)
                await writer.drain()
        except ConnectionError:
            return
        finally:
            self._connections.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def close(self) -> None:
        for server in self._tcp_servers:
            server.close()
        for transport in self._transports:
            transport.close()
        for writer in list(self._connections):
            writer.close()  # ends the connection's read, so its handler returns
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self._tcp_servers:
            await server.wait_closed()
        self._tcp_servers.clear()
        self._transports.clear()
