"""Probes for VPC tests: TCP and ICMP between namespaces, and a snapshot of the root namespace."""

from __future__ import annotations

import secrets
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

from pyroute2 import IPRoute  # type: ignore[import-untyped]

from kubeplane.network.vpc import VpcService
from kubeplane.network.vpc.netlink import socket_in_netns


@dataclass
class VpcUnderTest:
    """A VPC name reserved for one test, the service to drive it and its state directory."""

    name: str
    service: VpcService
    state_root: Path


def root_netns_snapshot() -> dict[str, object]:
    with IPRoute() as ipr:
        links = sorted((link["index"], link.get("ifname")) for link in ipr.link("dump"))
        routes = sorted(
            repr((route.get("table"), route.get("dst"), route["dst_len"], route.get("gateway"), route.get("oif")))
            for route in ipr.route("dump", family=socket.AF_INET))
    return {"links": links, "routes": routes,
            "ip_forward": Path("/proc/sys/net/ipv4/ip_forward").read_text()}


def tcp_exchange(client_netns: str, server_netns: str, server_ip: str, client_ip: str | None = None) -> str:
    """Connect from one namespace to a listener in another; returns the client address the server
    saw (proof of which source address the packets carried)."""
    with socket_in_netns(server_netns) as server, socket_in_netns(client_netns) as client:
        server.bind((server_ip, 0))
        server.listen(1)
        client.settimeout(5)
        if client_ip is not None:
            client.bind((client_ip, 0))
        client.connect(server.getsockname())
        server.settimeout(5)
        accepted, peer = server.accept()
        with accepted:
            accepted.sendall(b"pong")
            assert client.recv(4) == b"pong"
        return str(peer[0])


def icmp_echo_ttl(netns: str, destination: str) -> int:
    """Send one ICMP echo from ``netns``; return the TTL of the reply's IP header (64 minus the
    number of routers on the way back)."""
    identifier = secrets.randbelow(0xFFFF)
    header = struct.pack("!BBHHH", 8, 0, 0, identifier, 1)
    payload = b"kubeplane-vpc"
    checksum = _checksum(header + payload)
    packet = struct.pack("!BBHHH", 8, 0, checksum, identifier, 1) + payload
    with socket_in_netns(netns, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as raw:
        raw.settimeout(5)
        raw.sendto(packet, (destination, 0))
        while True:
            data, (source, _) = raw.recvfrom(2048)
            header_length = (data[0] & 0x0F) * 4
            kind, _, _, reply_id, _ = struct.unpack("!BBHHH", data[header_length:header_length + 8])
            if kind == 0 and reply_id == identifier and source == destination:
                return data[8]


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF
