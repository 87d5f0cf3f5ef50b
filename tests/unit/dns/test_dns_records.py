"""Record computation per the Kubernetes DNS specification, and the index kept from informer events."""

from __future__ import annotations

from dns_objects import endpoint, endpoint_slice, external_name, port, service

from kubeplane.network.dns.names import ancestors, dashed, undash
from kubeplane.network.dns.records import Record, Srv, service_records
from kubeplane.network.dns.store import ClusterRecords

ZONE = "cluster.local"
WEB = "web.default.svc.cluster.local"


def by_type(records: list[Record], rtype: str) -> list[Record]:
    return [r for r in records if r.rtype == rtype]


def test_cluster_ip_service_has_a_ptr_and_srv_only_for_named_ports() -> None:
    svc = service("Web", cluster_ip="198.19.0.10",
                  ports=[port("http", 80), port("dns", 53, "UDP"), port(None, 8080)])
    records = service_records(svc, [], ZONE)
    assert by_type(records, "A") == [Record(WEB, "A", "198.19.0.10")]
    assert by_type(records, "PTR") == [Record("10.0.19.198.in-addr.arpa", "PTR", WEB)]
    assert by_type(records, "SRV") == [
        Record(f"_http._tcp.{WEB}", "SRV", Srv(0, 100, 80, WEB)),
        Record(f"_dns._udp.{WEB}", "SRV", Srv(0, 100, 53, WEB)),
    ]


def test_dual_stack_service_has_a_and_aaaa() -> None:
    svc = service("web", cluster_ip="198.19.0.10", clusterIPs=["198.19.0.10", "fd00:198:19::a"])
    records = service_records(svc, [], ZONE)
    assert [(r.rtype, r.value) for r in records if r.name == WEB] == [
        ("A", "198.19.0.10"), ("AAAA", "fd00:198:19::a")]
    assert Record("a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.9.1.0.0.8.9.1.0.0.0.d.f.ip6.arpa", "PTR", WEB) in records


def test_headless_service_yields_ready_endpoints_hostnames_and_per_endpoint_srv() -> None:
    svc = service("db", cluster_ip="None", ports=[port("pg", 5432)])
    slices = [endpoint_slice("db-1", "db", [
        endpoint("198.18.0.11", hostname="db-0"),
        endpoint("198.18.0.12"),
        endpoint("198.18.0.13", ready=False),
        endpoint("198.18.0.14", ready=None),  # no condition: ready, per the EndpointSlice API
    ], ports=[port("pg", 15432), port(None, 9000)])]
    records = service_records(svc, slices, ZONE)
    base = "db.default.svc.cluster.local"
    assert [r.value for r in records if r.name == base] == ["198.18.0.11", "198.18.0.12", "198.18.0.14"]
    assert Record(f"db-0.{base}", "A", "198.18.0.11") in records
    assert Record(f"198-18-0-12.{base}", "A", "198.18.0.12") in records
    assert not [r for r in records if r.value == "198.18.0.13"]
    # The endpoint's own port, one SRV per ready endpoint, weight spread among them.
    assert by_type(records, "SRV") == [Record(f"_pg._tcp.{base}", "SRV", Srv(0, 33, 15432, f"{host}.{base}"))
                                       for host in ("db-0", "198-18-0-12", "198-18-0-14")]
    assert Record("11.0.18.198.in-addr.arpa", "PTR", f"db-0.{base}") in records


def test_publish_not_ready_addresses_includes_unready_endpoints() -> None:
    svc = service("db", cluster_ip="None", publishNotReadyAddresses=True)
    slices = [endpoint_slice("db-1", "db", [endpoint("198.18.0.13", ready=False)])]
    assert by_type(service_records(svc, slices, ZONE), "A")[0].value == "198.18.0.13"


def test_headless_service_without_endpoints_has_no_records() -> None:
    assert service_records(service("db", cluster_ip="None", ports=[port("pg", 5432)]), [], ZONE) == []


def test_fqdn_slices_are_ignored_and_ipv6_slices_give_aaaa() -> None:
    svc = service("db", cluster_ip="None")
    slices = [endpoint_slice("f", "db", [endpoint("example.com")], address_type="FQDN"),
              endpoint_slice("v6", "db", [endpoint("fd00::5")], address_type="IPv6")]
    records = service_records(svc, slices, ZONE)
    assert Record("db.default.svc.cluster.local", "AAAA", "fd00::5") in records
    assert Record("fd00--5.db.default.svc.cluster.local", "AAAA", "fd00::5") in records
    assert not [r for r in records if r.rtype == "A"]


def test_external_name_is_a_cname_only() -> None:
    records = service_records(external_name("ext", "Example.COM."), [], ZONE)
    assert records == [Record("ext.default.svc.cluster.local", "CNAME", "example.com")]


def test_service_without_a_cluster_ip_yet_has_no_records() -> None:
    assert service_records(service("web", cluster_ip="", ports=[port("http", 80)]), [], ZONE) == \
        [Record(f"_http._tcp.{WEB}", "SRV", Srv(0, 100, 80, WEB))]


def test_names_helpers() -> None:
    assert dashed("10.0.0.1") == "10-0-0-1"
    assert dashed("fd00::1") == "fd00--1"
    assert str(undash("10-0-0-1")) == "10.0.0.1"
    assert str(undash("fd00--1")) == "fd00::1"
    assert undash("010-0-0-1") is None
    assert undash("10-0-0") is None
    assert undash("web") is None
    assert ancestors("_http._tcp.web.default.svc.cluster.local", ZONE) == [
        "_tcp.web.default.svc.cluster.local", "web.default.svc.cluster.local", "default.svc.cluster.local",
        "svc.cluster.local"]


def test_store_follows_service_and_slice_changes() -> None:
    store = ClusterRecords("Cluster.Local.")
    svc = service("db", cluster_ip="None")
    store.upsert_service(svc)
    assert store.lookup("db.default.svc.cluster.local") == []
    assert not store.is_nonterminal("default.svc.cluster.local")

    # A slice seen before its Service is kept and applied once the Service arrives.
    other = endpoint_slice("api-x", "api", [endpoint("198.18.0.30")])
    store.upsert_slice(other)
    assert store.lookup("api.default.svc.cluster.local") == []
    store.upsert_service(service("api", cluster_ip="None"))
    assert [r.value for r in store.lookup("API.default.svc.cluster.local.")] == ["198.18.0.30"]

    first = endpoint_slice("db-a", "db", [endpoint("198.18.0.11")])
    second = endpoint_slice("db-b", "db", [endpoint("198.18.0.12", hostname="db-1")])
    store.upsert_slice(first)
    store.upsert_slice(second)
    assert sorted(str(r.value) for r in store.lookup("db.default.svc.cluster.local")) == [
        "198.18.0.11", "198.18.0.12"]
    assert store.is_nonterminal("default.svc.cluster.local")

    store.delete_slice(first)
    assert [r.value for r in store.lookup("db.default.svc.cluster.local")] == ["198.18.0.12"]
    assert store.lookup("198-18-0-11.db.default.svc.cluster.local") == []

    # Relabelling a slice to another Service moves its records.
    store.upsert_slice(endpoint_slice("db-b", "api", [endpoint("198.18.0.12", hostname="db-1")]))
    assert store.lookup("db.default.svc.cluster.local") == []
    assert store.lookup("db-1.api.default.svc.cluster.local") != []

    store.delete_service(service("api", cluster_ip="None"))
    store.delete_service(svc)
    assert store.lookup("db-1.api.default.svc.cluster.local") == []
    assert not store.is_nonterminal("default.svc.cluster.local")
    assert not store.is_nonterminal("svc.cluster.local")


def test_shared_records_are_reference_counted() -> None:
    store = ClusterRecords(ZONE)
    for name in ("a", "b"):
        store.upsert_service(service(name, cluster_ip="None"))
        store.upsert_slice(endpoint_slice(f"{name}-1", name, [endpoint("198.18.0.40", hostname="x")]))
    reverse = "40.0.18.198.in-addr.arpa"
    assert len(store.lookup(reverse)) == 2
    store.delete_service(service("a", cluster_ip="None"))
    assert [r.value for r in store.lookup(reverse)] == ["x.b.default.svc.cluster.local"]


def test_unchanged_service_does_not_count_as_a_change() -> None:
    store = ClusterRecords(ZONE)
    svc = service("web")
    store.upsert_service(svc)
    changes = store.changes
    store.upsert_service(svc)
    assert store.changes == changes
    store.upsert_service(service("web", cluster_ip="198.19.0.11"))
    assert store.changes == changes + 1
