"""Answers: NXDOMAIN vs NODATA, CNAME following, pod names, the apex, and out-of-zone names."""

from __future__ import annotations

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import pytest
from dns_objects import endpoint, endpoint_slice, external_name, namespace, pod, port, service

from kubeplane.network.dns import wire
from kubeplane.network.dns.records import Record
from kubeplane.network.dns.resolver import PodMode, Rcode, Resolver
from kubeplane.network.dns.store import ClusterRecords

ZONE = "cluster.local"


@pytest.fixture
def store() -> ClusterRecords:
    store = ClusterRecords(ZONE)
    for name in ("default", "kube-system", "empty"):
        store.upsert_namespace(namespace(name))
    store.upsert_service(service("web", ports=[port("http", 80)]))
    store.upsert_service(service("kube-dns", namespace="kube-system", cluster_ip="198.19.0.53"))
    store.upsert_service(service("db", cluster_ip="None", ports=[port("pg", 5432)]))
    store.upsert_slice(endpoint_slice("db-1", "db", [endpoint("198.18.0.11", hostname="db-0")],
                                      ports=[port("pg", 5432)]))
    store.upsert_service(service("empty-headless", cluster_ip="None"))
    store.upsert_service(external_name("alias", "web.default.svc.cluster.local"))
    store.upsert_service(external_name("outside", "www.example.com"))
    store.upsert_service(external_name("dangling", "gone.default.svc.cluster.local"))
    return store


def values(records: list[Record]) -> list[str]:
    return [str(r.value) for r in records]


def test_a_record_and_case_insensitive_names(store: ClusterRecords) -> None:
    result = Resolver(store).resolve("WEB.Default.svc.Cluster.Local.", "A")
    assert result.rcode is Rcode.NOERROR and result.authoritative
    assert values(result.answer) == ["198.19.0.10"]


def test_nodata_for_existing_name_with_other_type(store: ClusterRecords) -> None:
    result = Resolver(store).resolve("web.default.svc.cluster.local", "AAAA")
    assert result.rcode is Rcode.NOERROR and result.answer == []
    assert [r.rtype for r in result.authority] == ["SOA"]


@pytest.mark.parametrize("name", ["svc.cluster.local", "default.svc.cluster.local", "empty.svc.cluster.local",
                                  "_tcp.web.default.svc.cluster.local", "pod.cluster.local",
                                  "default.pod.cluster.local"])
def test_empty_non_terminals_are_nodata(store: ClusterRecords, name: str) -> None:
    result = Resolver(store).resolve(name, "A")
    assert (result.rcode, result.answer) == (Rcode.NOERROR, [])


@pytest.mark.parametrize("name", ["nope.default.svc.cluster.local", "web.nope.svc.cluster.local",
                                  "empty-headless.default.svc.cluster.local", "x.web.default.svc.cluster.local",
                                  "nope.cluster.local", "web.default.svc.cluster.local.default.svc.cluster.local",
                                  "_nope._tcp.web.default.svc.cluster.local", "nope.pod.cluster.local"])
def test_names_that_do_not_exist_are_nxdomain(store: ClusterRecords, name: str) -> None:
    result = Resolver(store).resolve(name, "A")
    assert result.rcode is Rcode.NXDOMAIN
    assert [r.rtype for r in result.authority] == ["SOA"]


def test_srv_has_targets_addresses_in_additional(store: ClusterRecords) -> None:
    result = Resolver(store).resolve("_pg._tcp.db.default.svc.cluster.local", "SRV")
    assert values(result.answer) == ["Srv(priority=0, weight=100, port=5432, target='db-0.db.default.svc.cluster.local')"]
    assert [(r.name, r.value) for r in result.additional] == [("db-0.db.default.svc.cluster.local", "198.18.0.11")]


def test_in_zone_cname_is_followed(store: ClusterRecords) -> None:
    result = Resolver(store).resolve("alias.default.svc.cluster.local", "A")
    assert [(r.rtype, str(r.value)) for r in result.answer] == [
        ("CNAME", "web.default.svc.cluster.local"), ("A", "198.19.0.10")]
    assert result.chase is None


def test_cname_to_missing_in_zone_name_is_nxdomain_with_the_cname(store: ClusterRecords) -> None:
    result = Resolver(store).resolve("dangling.default.svc.cluster.local", "A")
    assert result.rcode is Rcode.NXDOMAIN
    assert [r.rtype for r in result.answer] == ["CNAME"]


def test_external_cname_is_left_for_the_upstream(store: ClusterRecords) -> None:
    result = Resolver(store).resolve("outside.default.svc.cluster.local", "A")
    assert [(r.rtype, r.value) for r in result.answer] == [("CNAME", "www.example.com")]
    assert result.chase == "www.example.com"
    assert values(Resolver(store).resolve("outside.default.svc.cluster.local", "CNAME").answer) == ["www.example.com"]


def test_pod_records_by_mode(store: ClusterRecords) -> None:
    insecure = Resolver(store, PodMode.INSECURE)
    assert values(insecure.resolve("198-18-0-77.default.pod.cluster.local", "A").answer) == ["198.18.0.77"]
    assert insecure.resolve("198-18-0-77.default.pod.cluster.local", "AAAA").rcode is Rcode.NOERROR
    assert insecure.resolve("198-18-0-77.nope.pod.cluster.local", "A").rcode is Rcode.NXDOMAIN
    assert insecure.resolve("not-an-ip.default.pod.cluster.local", "A").rcode is Rcode.NXDOMAIN
    assert values(insecure.resolve("fd00--7.default.pod.cluster.local", "AAAA").answer) == ["fd00::7"]

    verified = Resolver(store, PodMode.VERIFIED)
    assert verified.resolve("198-18-0-77.default.pod.cluster.local", "A").rcode is Rcode.NXDOMAIN
    store.upsert_pod(pod("p", "198.18.0.77"))
    assert values(verified.resolve("198-18-0-77.default.pod.cluster.local", "A").answer) == ["198.18.0.77"]
    assert verified.resolve("198-18-0-77.kube-system.pod.cluster.local", "A").rcode is Rcode.NXDOMAIN
    store.delete_pod(pod("p", "198.18.0.77"))
    assert verified.resolve("198-18-0-77.default.pod.cluster.local", "A").rcode is Rcode.NXDOMAIN

    disabled = Resolver(store, PodMode.DISABLED)
    assert disabled.resolve("198-18-0-77.default.pod.cluster.local", "A").rcode is Rcode.NXDOMAIN


def test_apex_version_and_nameserver(store: ClusterRecords) -> None:
    resolver = Resolver(store, ttl=5)
    soa = resolver.resolve("cluster.local", "SOA").answer
    assert str(soa[0].value).startswith("ns.dns.cluster.local. hostmaster.cluster.local. ")
    assert str(soa[0].value).endswith(" 7200 1800 86400 5")
    ns = resolver.resolve("cluster.local", "NS")
    assert values(ns.answer) == ["ns.dns.cluster.local"]
    assert values(ns.additional) == ["198.19.0.53"]
    assert values(resolver.resolve("dns-version.cluster.local", "TXT").answer) == ["1.1.0"]
    assert resolver.resolve("cluster.local", "A").answer == []


def test_reverse_and_out_of_zone(store: ClusterRecords) -> None:
    resolver = Resolver(store)
    assert values(resolver.resolve("10.0.19.198.in-addr.arpa.", "PTR").answer) == ["web.default.svc.cluster.local"]
    assert resolver.resolve("99.0.19.198.in-addr.arpa.", "PTR").forward
    outside = resolver.resolve("www.example.com.", "A")
    assert outside.forward and not outside.authoritative
    assert resolver.resolve("cluster.local", "AXFR").rcode is Rcode.REFUSED


def _query(name: str, rdtype: str, **kwargs: object) -> dns.message.Message:
    return dns.message.make_query(name, rdtype, **kwargs)  # type: ignore[arg-type]


def test_wire_response_keeps_question_case_and_sets_flags(store: ClusterRecords) -> None:
    resolver = Resolver(store, ttl=5)
    query = _query("Web.DEFAULT.svc.cluster.local.", "A")
    response = wire.build_response(query, resolver.resolve("Web.DEFAULT.svc.cluster.local.", "A"), 5, False)
    parsed = dns.message.from_wire(wire.to_wire(response, 512))
    assert parsed.id == query.id and parsed.flags & dns.flags.AA and not parsed.flags & dns.flags.RA
    assert parsed.answer[0].name.to_text() == "Web.DEFAULT.svc.cluster.local."
    assert parsed.answer[0].ttl == 5
    assert [rd.address for rd in parsed.answer[0]] == ["198.19.0.10"]


def test_wire_truncates_udp_answers_beyond_the_client_limit() -> None:
    store = ClusterRecords(ZONE)
    store.upsert_service(service("big", cluster_ip="None"))
    store.upsert_slice(endpoint_slice("big-1", "big", [endpoint(f"198.18.1.{i}") for i in range(1, 101)]))
    resolver = Resolver(store)
    small = _query("big.default.svc.cluster.local.", "A")
    response = wire.build_response(small, resolver.resolve("big.default.svc.cluster.local", "A"), 5, False)
    truncated = dns.message.from_wire(wire.to_wire(response, wire.udp_limit(small)))
    assert truncated.flags & dns.flags.TC and truncated.answer == []
    large = _query("big.default.svc.cluster.local.", "A", use_edns=0, payload=4096)
    assert wire.udp_limit(large) == 4096
    whole = dns.message.from_wire(wire.to_wire(response, wire.udp_limit(large)))
    assert not whole.flags & dns.flags.TC and len(whole.answer[0]) == 100


def test_parse_query_rejects_what_it_cannot_answer() -> None:
    query = _query("web.default.svc.cluster.local.", "A")
    assert wire.question(wire.parse_query(query.to_wire())) == ("web.default.svc.cluster.local.", "A")
    with pytest.raises(wire.BadQuery) as bad:
        wire.parse_query(query.to_wire()[:12] + b"\x07garbage")
    assert bad.value.rcode == dns.rcode.FORMERR
    response = dns.message.make_response(query)
    with pytest.raises(dns.exception.FormError):
        wire.parse_query(response.to_wire())  # never answer an answer
    chaos = dns.message.make_query("version.bind.", "TXT", rdclass="CH")
    with pytest.raises(wire.BadQuery) as bad:
        wire.parse_query(chaos.to_wire())
    assert bad.value.rcode == dns.rcode.REFUSED
