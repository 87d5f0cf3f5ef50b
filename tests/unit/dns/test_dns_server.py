"""The asyncio server on loopback sockets in this process: UDP and TCP, truncation, refusing and
forwarding names outside the zone (the upstream is a second server of ours), and the metrics."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest
from dns_objects import endpoint, endpoint_slice, external_name, namespace, service

from kubeplane.network.dns import sockets
from kubeplane.network.dns.app import parse_args
from kubeplane.network.dns.forward import Forwarder, Upstream, parse_upstream
from kubeplane.network.dns.metrics import DnsMetrics
from kubeplane.network.dns.resolver import PodMode, Resolver
from kubeplane.network.dns.server import DnsServer, QueryHandler
from kubeplane.network.dns.store import ClusterRecords

TIMEOUT = 5.0


@dataclass
class Running:
    store: ClusterRecords
    metrics: DnsMetrics
    host: str
    port: int


async def start(zone: str, upstreams: list[Upstream] | None = None) -> tuple[Running, DnsServer]:
    store = ClusterRecords(zone)
    metrics = DnsMetrics("dns://test")
    forwarder = Forwarder(upstreams, timeout=1.0, on_result=lambda up, rc: metrics.forwarded(str(up), rc)) \
        if upstreams else None
    server = DnsServer(QueryHandler(Resolver(store), metrics, forwarder))
    listening = sockets.bind("127.0.0.1", 0)
    await server.start(listening)
    host, port = listening.address
    return Running(store, metrics, host, port), server


@pytest.fixture
async def upstream() -> AsyncIterator[Running]:
    running, server = await start("example.test")
    running.store.upsert_namespace(namespace("default"))
    running.store.upsert_service(service("www", cluster_ip="198.19.9.9"))
    yield running
    await server.close()


@pytest.fixture
async def cluster(upstream: Running) -> AsyncIterator[Running]:
    running, server = await start("cluster.local", [Upstream(upstream.host, upstream.port)])
    store = running.store
    store.upsert_namespace(namespace("default"))
    store.upsert_service(service("web", cluster_ip="198.19.0.10"))
    store.upsert_service(service("big", cluster_ip="None"))
    store.upsert_slice(endpoint_slice("big-1", "big", [endpoint(f"198.18.1.{i}") for i in range(1, 101)]))
    store.upsert_service(external_name("ext", "www.default.svc.example.test"))
    yield running
    await server.close()


async def udp(running: Running, name: str, rdtype: str, **kwargs: object) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, **kwargs)  # type: ignore[arg-type]
    return await dns.asyncquery.udp(query, running.host, TIMEOUT, running.port)


async def tcp(running: Running, name: str, rdtype: str) -> dns.message.Message:
    return await dns.asyncquery.tcp(dns.message.make_query(name, rdtype), running.host, TIMEOUT, running.port)


async def test_udp_and_tcp_answers(cluster: Running) -> None:
    for ask in (udp, tcp):
        answer = await ask(cluster, "web.default.svc.cluster.local.", "A")
        assert answer.rcode() == dns.rcode.NOERROR and answer.flags & dns.flags.AA
        assert [rd.address for rd in answer.answer[0]] == ["198.19.0.10"]
    missing = await udp(cluster, "nope.default.svc.cluster.local.", "A")
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert missing.authority[0].name.to_text() == "cluster.local."


async def test_large_answers_truncate_over_udp_and_come_whole_over_tcp(cluster: Running) -> None:
    truncated = await udp(cluster, "big.default.svc.cluster.local.", "A")
    assert truncated.flags & dns.flags.TC and truncated.answer == []
    whole = await tcp(cluster, "big.default.svc.cluster.local.", "A")
    assert not whole.flags & dns.flags.TC and len(whole.answer[0]) == 100
    assert cluster.metrics.truncated.labels("dns://test")._value.get() == 1


async def test_tcp_connection_carries_several_queries(cluster: Running) -> None:
    reader, writer = await asyncio.open_connection(cluster.host, cluster.port)
    try:
        for name in ("web.default.svc.cluster.local.", "nope.default.svc.cluster.local."):
            data = dns.message.make_query(name, "A").to_wire()
            writer.write(len(data).to_bytes(2, "big") + data)
        rcodes = []
        for _ in range(2):
            size = int.from_bytes(await reader.readexactly(2), "big")
            rcodes.append(dns.message.from_wire(await reader.readexactly(size)).rcode())
        assert rcodes == [dns.rcode.NOERROR, dns.rcode.NXDOMAIN]
    finally:
        writer.close()
        await writer.wait_closed()


async def test_out_of_zone_names_go_upstream_and_external_names_are_chased(cluster: Running,
                                                                            upstream: Running) -> None:
    forwarded = await udp(cluster, "www.default.svc.example.test.", "A")
    assert [rd.address for rd in forwarded.answer[0]] == ["198.19.9.9"]
    # Passed through as the upstream gave it (CoreDNS's forward plugin does not rewrite answers).
    assert 'rcode="NOERROR",server="dns://test",view="",zone="example.test."} 1.0' in \
        upstream.metrics.exposition().decode()
    chased = await udp(cluster, "ext.default.svc.cluster.local.", "A")
    assert [rrset.rdtype for rrset in chased.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]
    assert chased.flags & dns.flags.RA
    assert cluster.metrics.forward_requests.labels(f"127.0.0.1:{upstream.port}")._value.get() == 2


async def test_without_upstream_outside_names_are_refused() -> None:
    running, server = await start("cluster.local")
    try:
        answer = await udp(running, "www.example.com.", "A")
        assert answer.rcode() == dns.rcode.REFUSED and not answer.flags & dns.flags.RA
        exposition = running.metrics.exposition().decode()
        assert 'coredns_dns_responses_total{plugin="",rcode="REFUSED",server="dns://test",view="",zone="."} 1.0' \
            in exposition
    finally:
        await server.close()


async def test_dead_upstream_gives_servfail() -> None:
    # A bound UDP socket that never answers: the forwarder times out.
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    running, server = await start("cluster.local", [Upstream("127.0.0.1", silent.getsockname()[1])])
    try:
        answer = await udp(running, "www.example.com.", "A")
        assert answer.rcode() == dns.rcode.SERVFAIL
    finally:
        await server.close()
        silent.close()


async def test_requests_are_counted_by_zone_type_and_rcode(cluster: Running) -> None:
    await udp(cluster, "web.default.svc.cluster.local.", "A")
    await udp(cluster, "web.default.svc.cluster.local.", "AAAA", use_edns=0)
    text = cluster.metrics.exposition().decode()
    assert 'coredns_dns_requests_total{family="1",proto="udp",server="dns://test",type="AAAA",view="",' \
           'zone="cluster.local."} 1.0' in text
    assert 'coredns_dns_responses_total{plugin="kubernetes",rcode="NOERROR",server="dns://test",view="",' \
           'zone="cluster.local."} 2.0' in text


def test_flag_parsers() -> None:
    assert parse_upstream("198.18.0.2") == Upstream("198.18.0.2", 53)
    assert parse_upstream("198.18.0.2:5353") == Upstream("198.18.0.2", 5353)
    assert parse_upstream("[fd00::2]:54") == Upstream("fd00::2", 54)
    assert parse_upstream("fd00::2") == Upstream("fd00::2", 53)
    with pytest.raises(ValueError):
        parse_upstream("dns.google")
    assert sockets.parse_listen(":53") == ("0.0.0.0", 53)
    assert sockets.parse_listen("[::1]:5353") == ("::1", 5353)
    with pytest.raises(ValueError):
        sockets.parse_listen("localhost:53")


def test_command_line() -> None:
    opts = parse_args(["--upstream=198.18.0.2,198.18.0.3:5353", "--upstream=[fd00::2]:53", "--pods=verified",
                       "--cluster-domain=Cluster.Local.", "--listen=127.0.0.1:5300", "--ttl=30"])
    assert opts.upstream == [Upstream("198.18.0.2"), Upstream("198.18.0.3", 5353), Upstream("fd00::2")]
    assert (opts.pods, opts.cluster_domain, opts.listen, opts.ttl) == (
        PodMode.VERIFIED, "cluster.local", ("127.0.0.1", 5300), 30)
    defaults = parse_args([])
    assert (defaults.upstream, defaults.listen, defaults.ttl, defaults.pods) == ([], ("0.0.0.0", 53), 5,
                                                                                  PodMode.INSECURE)
    for bad in (["--ttl=4000"], ["--upstream=dns.google"], ["--listen=localhost:53"], ["--cluster-domain=a..b"]):
        with pytest.raises(SystemExit):
            parse_args(bad)
