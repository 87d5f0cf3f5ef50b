"""Rule rendering: the chains, jumps, DNAT targets and probabilities of upstream's iptables proxier."""

from __future__ import annotations

from typing import Any

import pytest
from proxy_helpers import endpoint, endpoint_slice, parse, probabilities, service

from kubeplane.component.iptables import chains
from kubeplane.proxy.changes import ChangeTracker
from kubeplane.proxy.iptables import missing_jumps
from kubeplane.proxy.model import ServicePortName
from kubeplane.proxy.rules import JUMPS, Rendered, RenderOptions, render, render_service_chains

JSON = dict[str, Any]
OPTIONS = RenderOptions(node_name="node-a", zone="zone-a", cluster_cidr="198.18.0.0/16")


def build(services: list[JSON], slices: list[JSON], options: RenderOptions = OPTIONS,
          existing: set[str] | None = None, changed: set[tuple[str, str]] | None = None) -> Rendered:
    tracker = ChangeTracker()
    for svc in services:
        tracker.service_changed((svc["metadata"]["namespace"], svc["metadata"]["name"]), svc)
    for item in slices:
        tracker.slice_changed((item["metadata"]["namespace"], item["metadata"]["name"]), item)
    return render(tracker.service_port_map(), tracker.endpoints_map(), options, existing or set(), changed)


def chain_names(name: str, protocol: str = "tcp", port: str = "http", namespace: str = "ns") -> dict[str, str]:
    h = ServicePortName(namespace, name, port, protocol).hash
    return {prefix: f"KUBE-{prefix}-{h}" for prefix in ("SVC", "SVL", "EXT", "FW")}


def test_chain_names_hash_like_upstream() -> None:
    # Chain names seen on every real cluster (kube-dns and the kubernetes Service).
    assert ServicePortName("default", "kubernetes", "https", "tcp").hash == "NPX46M4PTMTKRN6Y"
    assert ServicePortName("kube-system", "kube-dns", "dns", "udp").hash == "TCOU7JCQXEZGVUNU"
    assert ServicePortName("kube-system", "kube-dns", "dns-tcp", "tcp").hash == "ERIFXISQEP7F7OF4"


def test_cluster_ip_balances_across_all_ready_endpoints() -> None:
    eps = [endpoint("198.18.1.3"), endpoint("198.18.1.2", node="node-b"), endpoint("198.18.1.4")]
    rendered = build([service("web", "198.19.0.10")], [endpoint_slice("web", eps)])
    nat = parse(rendered.text)["nat"]
    svc = chain_names("web")["SVC"]

    [capture] = [r for r in nat.chain_rules("KUBE-SERVICES") if r.endswith(f"-j {svc}")]
    assert "-d 198.19.0.10 --dport 80" in capture and "-p tcp" in capture
    assert nat.rules.index(capture) < nat.rules.index(nat.chain_rules("KUBE-SERVICES")[-1])
    assert nat.chain_rules("KUBE-SERVICES")[-1].endswith("-j KUBE-NODEPORTS")

    # First rule masquerades off-cluster clients; then one statistic rule per endpoint, 1/(n-i).
    masq, *balance = nat.chain_rules(svc)
    assert "! -s 198.18.0.0/16" in masq and masq.endswith("-j KUBE-MARK-MASQ")
    assert probabilities(balance) == [pytest.approx(1 / 3), pytest.approx(1 / 2), None]
    seps = nat.targets(svc)[1:]
    assert len(set(seps)) == 3 and all(s.startswith("KUBE-SEP-") for s in seps)
    # Endpoints in address order; each SEP marks hairpin traffic and DNATs to its endpoint.
    for sep, ip in zip(seps, ["198.18.1.2", "198.18.1.3", "198.18.1.4"], strict=True):
        assert sep in nat.chains
        hairpin, dnat = nat.chain_rules(sep)
        assert f"-s {ip} -j KUBE-MARK-MASQ" in hairpin
        assert dnat.endswith(f"-j DNAT --to-destination {ip}:8080")
    assert rendered.nat_chains == {svc, *seps}


def test_service_without_endpoints_is_rejected_in_filter() -> None:
    rendered = build([service("empty", "198.19.0.11", type="NodePort",
                              ports=[{"name": "http", "port": 80, "nodePort": 30080}])], [])
    tables = parse(rendered.text)
    [reject] = tables["filter"].chain_rules("KUBE-SERVICES")
    assert '"ns/empty:http has no endpoints"' in reject and "-d 198.19.0.11 --dport 80" in reject
    assert reject.endswith("-j REJECT")
    [external] = tables["filter"].chain_rules("KUBE-EXTERNAL-SERVICES")
    assert "--dst-type LOCAL" in external and "--dport 30080" in external and external.endswith("-j REJECT")
    assert not any(c.startswith(("KUBE-SVC-", "KUBE-EXT-", "KUBE-SEP-")) for c in tables["nat"].chains)
    assert rendered.nat_chains == set()


def test_headless_and_external_name_services_get_no_rules() -> None:
    headless = service("headless", "None")
    external = service("ext", "", type="ExternalName", externalName="example.com")
    rendered = build([headless, external], [endpoint_slice("headless", [endpoint("198.18.1.2")])])
    tables = parse(rendered.text)
    assert tables["filter"].chain_rules("KUBE-SERVICES") == []
    assert [r for r in tables["nat"].chain_rules("KUBE-SERVICES") if "KUBE-NODEPORTS" not in r] == []


def test_nodeport_cluster_policy_masquerades_then_balances() -> None:
    svc = service("np", "198.19.0.12", type="NodePort", ports=[{"name": "http", "port": 80, "nodePort": 30080}])
    rendered = build([svc], [endpoint_slice("np", [endpoint("198.18.1.2", node="node-b")])])
    nat = parse(rendered.text)["nat"]
    names = chain_names("np")
    [nodeport] = nat.chain_rules("KUBE-NODEPORTS")
    assert "--dport 30080" in nodeport and nodeport.endswith(f"-j {names['EXT']}")
    assert nat.targets(names["EXT"]) == ["KUBE-MARK-MASQ", names["SVC"]]


def test_external_traffic_policy_local_keeps_client_address_and_uses_local_endpoints() -> None:
    svc = service("loc", "198.19.0.13", type="NodePort", externalTrafficPolicy="Local",
                  ports=[{"name": "http", "port": 80, "nodePort": 30081}])
    eps = [endpoint("198.18.1.2", node="node-a"), endpoint("198.18.2.2", node="node-b")]
    nat = parse(build([svc], [endpoint_slice("loc", eps)]).text)["nat"]
    names = chain_names("loc")
    ext = nat.chain_rules(names["EXT"])
    # Pods and the node itself short-circuit to the cluster chain; everyone else stays local.
    assert "-s 198.18.0.0/16" in ext[0] and ext[0].endswith(f"-j {names['SVC']}")
    assert "--src-type LOCAL" in ext[1] and ext[1].endswith("-j KUBE-MARK-MASQ")
    assert "--src-type LOCAL" in ext[2] and ext[2].endswith(f"-j {names['SVC']}")
    assert ext[3] == f"-A {names['EXT']} -j {names['SVL']}"
    assert not any("MARK-MASQ" in r and "src-type" not in r for r in ext)
    assert len(nat.chain_rules(names["SVL"])) == 1  # only node-a's endpoint
    assert len(nat.targets(names["SVC"])) == 3  # masquerade rule + both endpoints


def test_external_traffic_policy_local_without_local_endpoints_drops_external_traffic() -> None:
    svc = service("loc", "198.19.0.13", type="NodePort", externalTrafficPolicy="Local",
                  ports=[{"name": "http", "port": 80, "nodePort": 30081}])
    rendered = build([svc], [endpoint_slice("loc", [endpoint("198.18.2.2", node="node-b")])])
    tables = parse(rendered.text)
    names = chain_names("loc")
    [drop] = tables["filter"].chain_rules("KUBE-EXTERNAL-SERVICES")
    assert "has no local endpoints" in drop and "--dport 30081" in drop and drop.endswith("-j DROP")
    # The ClusterIP still works, and the EXT chain still short-circuits pods and the node.
    assert any(r.endswith(f"-j {names['SVC']}") for r in tables["nat"].chain_rules("KUBE-SERVICES"))
    assert names["SVL"] not in tables["nat"].chains
    assert tables["nat"].targets(names["EXT"]) == [names["SVC"], "KUBE-MARK-MASQ", names["SVC"]]
    assert rendered.no_local_endpoints == {"internal": 0, "external": 1}


def test_internal_traffic_policy_local() -> None:
    svc = service("itp", "198.19.0.14", internalTrafficPolicy="Local")
    names = chain_names("itp")
    local = build([svc], [endpoint_slice("itp", [endpoint("198.18.1.2"), endpoint("198.18.2.2", node="node-b")])])
    nat = parse(local.text)["nat"]
    assert any(r.endswith(f"-j {names['SVL']}") for r in nat.chain_rules("KUBE-SERVICES"))
    assert names["SVC"] not in nat.chains
    assert nat.targets(names["SVL"]) == ["KUBE-MARK-MASQ", nat.targets(names["SVL"])[1]]

    remote_only = build([svc], [endpoint_slice("itp", [endpoint("198.18.2.2", node="node-b")])])
    [drop] = parse(remote_only.text)["filter"].chain_rules("KUBE-SERVICES")
    assert "has no local endpoints" in drop and drop.endswith("-j DROP")


def test_session_affinity_checks_recent_lists_before_balancing() -> None:
    svc = service("sticky", "198.19.0.15", sessionAffinity="ClientIP",
                  sessionAffinityConfig={"clientIP": {"timeoutSeconds": 600}})
    nat = parse(build([svc], [endpoint_slice("sticky", [endpoint("198.18.1.2"), endpoint("198.18.1.3")])]).text)["nat"]
    svc_chain = chain_names("sticky")["SVC"]
    rules = nat.chain_rules(svc_chain)[1:]
    affinity, balance = rules[:2], rules[2:]
    for rule in affinity:
        sep = rule.rsplit("-j ", 1)[1]
        assert f"-m recent --name {sep} --rcheck --seconds 600 --reap" in rule
        assert f"-m recent --name {sep} --set" in nat.chain_rules(sep)[1]
    assert probabilities(balance) == [pytest.approx(0.5), None]


def test_terminating_endpoints_only_when_no_ready_one() -> None:
    svc = service("term", "198.19.0.16")
    svc_chain = chain_names("term")["SVC"]
    terminating = endpoint("198.18.1.9", ready=False, serving=True, terminating=True)
    not_serving = endpoint("198.18.1.8", ready=False, serving=False, terminating=True)

    mixed = parse(build([svc], [endpoint_slice("term", [endpoint("198.18.1.2"), terminating])]).text)["nat"]
    assert [r for r in mixed.chain_rules(svc_chain) if "->" in r] == \
        [r for r in mixed.chain_rules(svc_chain) if "198.18.1.2:8080" in r]

    only_terminating = parse(build([svc], [endpoint_slice("term", [terminating, not_serving])]).text)["nat"]
    [rule] = [r for r in only_terminating.chain_rules(svc_chain) if "->" in r]
    assert "198.18.1.9:8080" in rule

    nothing = parse(build([svc], [endpoint_slice("term", [not_serving])]).text)["filter"]
    assert nothing.chain_rules("KUBE-SERVICES")[0].endswith("-j REJECT")


def test_topology_hints_narrow_cluster_endpoints_to_this_zone() -> None:
    svc = service("topo", "198.19.0.17")
    svc["metadata"]["annotations"] = {"service.kubernetes.io/topology-mode": "Auto"}
    eps = [endpoint("198.18.1.2", zones=["zone-a"]), endpoint("198.18.2.2", node="node-b", zones=["zone-b"])]
    svc_chain = chain_names("topo")["SVC"]
    nat = parse(build([svc], [endpoint_slice("topo", eps)]).text)["nat"]
    [only] = [r for r in nat.chain_rules(svc_chain) if "->" in r]
    assert "198.18.1.2:8080" in only  # zone-a's endpoint, not zone-b's

    # One ready endpoint without hints: hints are ignored altogether.
    eps[1] = endpoint("198.18.2.2", node="node-b")
    assert len(parse(build([svc], [endpoint_slice("topo", eps)]).text)["nat"].targets(svc_chain)) == 3
    # Not asked for by the Service: ignored too.
    del svc["metadata"]["annotations"]
    eps[1] = endpoint("198.18.2.2", node="node-b", zones=["zone-b"])
    assert len(parse(build([svc], [endpoint_slice("topo", eps)]).text)["nat"].targets(svc_chain)) == 3


def test_external_ips_and_load_balancer_source_ranges() -> None:
    svc = service("lb", "198.19.0.18", type="LoadBalancer", externalIPs=["198.18.9.9"],
                  loadBalancerSourceRanges=["198.18.5.0/24"],
                  ports=[{"name": "http", "port": 80, "nodePort": 30082}])
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": "198.18.8.8"}]}}
    names = chain_names("lb")
    tables = parse(build([svc], [endpoint_slice("lb", [endpoint("198.18.1.2")])]).text)
    services = tables["nat"].chain_rules("KUBE-SERVICES")
    assert any("-d 198.18.9.9" in r and r.endswith(f"-j {names['EXT']}") for r in services)
    assert any("-d 198.18.8.8" in r and r.endswith(f"-j {names['FW']}") for r in services)
    [allowed] = tables["nat"].chain_rules(names["FW"])
    assert "-s 198.18.5.0/24" in allowed and allowed.endswith(f"-j {names['EXT']}")
    [dropped] = tables["filter"].chain_rules("KUBE-PROXY-FIREWALL")
    assert "-d 198.18.8.8" in dropped and dropped.endswith("-j DROP")

    no_endpoints = parse(build([svc], []).text)["filter"].chain_rules("KUBE-EXTERNAL-SERVICES")
    assert any("-d 198.18.9.9" in r and r.endswith("-j REJECT") for r in no_endpoints)


def test_nodeport_addresses_restrict_the_nodeports_jump() -> None:
    options = RenderOptions(node_name="node-a", nodeport_cidrs=("198.18.0.0/20", "127.0.0.0/8"))
    tail = parse(build([], [], options).text)["nat"].chain_rules("KUBE-SERVICES")
    assert len(tail) == 1 and "-d 198.18.0.0/20 -m addrtype --dst-type LOCAL" in tail[0]
    assert tail[0].endswith("-j KUBE-NODEPORTS")


def test_masquerade_all_marks_every_cluster_ip_connection() -> None:
    options = RenderOptions(node_name="node-a", masquerade_all=True)
    nat = parse(build([service("web", "198.19.0.10")], [endpoint_slice("web", [endpoint("198.18.1.2")])],
                      options).text)["nat"]
    first = nat.chain_rules(chain_names("web")["SVC"])[0]
    assert first.endswith("-j KUBE-MARK-MASQ") and "! -s" not in first


def test_partial_render_rewrites_only_changed_services_and_deletes_stale_chains() -> None:
    services = [service("a", "198.19.0.20"), service("b", "198.19.0.21")]
    slices = [endpoint_slice("a", [endpoint("198.18.1.2")]), endpoint_slice("b", [endpoint("198.18.1.3")])]
    full = build(services, slices)
    a, b = chain_names("a")["SVC"], chain_names("b")["SVC"]
    stale = "KUBE-SEP-AAAAAAAAAAAAAAAA"
    partial = build(services, slices, existing=full.nat_chains | {stale, "KUBE-SOMEONE-ELSE"}, changed={("ns", "a")})
    nat = parse(partial.text)["nat"]
    assert a in nat.chains and b not in nat.chains
    # b's chains are kept (not declared means not flushed) and still referenced.
    assert any(r.endswith(f"-j {b}") for r in nat.chain_rules("KUBE-SERVICES"))
    assert partial.nat_chains == full.nat_chains
    assert nat.other == [f"-X {stale}"] and stale in nat.chains
    # Top-level chains are always rewritten.
    assert {"KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"} <= set(nat.chains)


SAVED = """# Generated by iptables-save v1.8.9 (nf_tables)
*filter
:INPUT ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-X - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
COMMIT
"""


def test_missing_jumps_are_found_from_save_output_and_inserted() -> None:
    missing = missing_jumps(SAVED)
    assert len(missing) == len(JUMPS) - 3
    assert {(j.table, j.chain, j.target) for j in JUMPS} - {(j.table, j.chain, j.target) for j in missing} == {
        ("filter", "OUTPUT", "KUBE-SERVICES"), ("nat", "PREROUTING", "KUBE-SERVICES"),
        ("nat", "OUTPUT", "KUBE-SERVICES")}
    assert chains(SAVED, "nat") == {"PREROUTING", "KUBE-SERVICES", "KUBE-SVC-X"}
    rendered = render({}, {}, OPTIONS, set(), None, missing)
    nat = parse(rendered.text)["nat"]
    assert nat.other == ['-I POSTROUTING 1 -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING']


def test_service_chains_payload_holds_only_the_chosen_services_chains() -> None:
    """A slice of a full sync: only the chosen Services' own chains, exactly as the full render has them."""
    tracker = ChangeTracker()
    for svc in (service("web", "198.19.0.10", type="NodePort",
                        ports=[{"name": "http", "port": 80, "nodePort": 30080}]),
                service("other", "198.19.0.11")):
        tracker.service_changed(("ns", svc["metadata"]["name"]), svc)
    for item in (endpoint_slice("web", [endpoint("198.18.1.2")]), endpoint_slice("other", [endpoint("198.18.1.3")])):
        tracker.slice_changed(("ns", item["metadata"]["name"]), item)
    services, endpoints = tracker.service_port_map(), tracker.endpoints_map()
    full = parse(render(services, endpoints, OPTIONS, set()).text)["nat"]
    text, count = render_service_chains(services, endpoints, OPTIONS, {("ns", "web")})
    tables = parse(text)
    assert set(tables) == {"nat"}
    nat = tables["nat"]
    web = ServicePortName("ns", "web", "http", "tcp").hash
    web_chains = {f"KUBE-SVC-{web}", f"KUBE-EXT-{web}"} | {
        t for t in full.targets(f"KUBE-SVC-{web}") if t.startswith("KUBE-SEP-")}
    assert set(nat.chains) == {"KUBE-MARK-MASQ", *web_chains}
    for chain in web_chains | {"KUBE-MARK-MASQ"}:
        assert nat.chain_rules(chain) == full.chain_rules(chain)
    assert not nat.chain_rules("KUBE-SERVICES") and not nat.chain_rules("KUBE-NODEPORTS")
    assert count == len(nat.rules) - 1
