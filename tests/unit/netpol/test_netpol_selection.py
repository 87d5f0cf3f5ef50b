"""Policies → allow-lists, one case per example of the upstream NetworkPolicy documentation
(concepts/services-networking/network-policies), addresses moved into 198.18.0.0/16."""

from __future__ import annotations

from typing import Any

import pytest
from netpol_helpers import namespace, pod, policy

from kubeplane.network.policy.selection import (
    Allow,
    ClusterView,
    DirectionRules,
    PodRules,
    PortMatch,
    ip_block_ranges,
    policy_types,
    rules_for_pod,
)

JSON = dict[str, Any]

NAMESPACES = [namespace("default"), namespace("prod", project="myproject", user="alice"),
              namespace("other", user="bob")]
DB = pod("default", "db", "198.18.1.10", {"role": "db"},
         ports=[{"name": "http", "containerPort": 8080}, {"name": "dns", "containerPort": 5353, "protocol": "UDP"}])
FRONTEND = pod("default", "frontend", "198.18.1.11", {"role": "frontend"})
CLIENT_PROD = pod("prod", "client", "198.18.2.20", {"role": "client"},
                  ports=[{"name": "http", "containerPort": 9090}])
OTHER_PROD = pod("prod", "other", "198.18.2.21", {"role": "other"})
CLIENT_OTHER = pod("other", "client", "198.18.3.30", {"role": "client"},
                   ports=[{"name": "http", "containerPort": 7070}])
PODS = [DB, FRONTEND, CLIENT_PROD, OTHER_PROD, CLIENT_OTHER]
TCP = "TCP"


def rules(target: JSON, *policies: JSON, pods: list[JSON] | None = None) -> PodRules:
    return rules_for_pod(target, policies, ClusterView(NAMESPACES, PODS if pods is None else pods))


def isolated(*allows: Allow, by: str = "default/p") -> DirectionRules:
    return DirectionRules((by,), allows)


def tcp(port: int, end: int | None = None) -> PortMatch:
    return PortMatch(TCP, port, end if end is not None else port)


CASES: list[tuple[str, JSON, PodRules]] = [
    ("default deny all ingress",
     policy("default", "p", policyTypes=["Ingress"]),
     PodRules(isolated(), None)),
    ("allow all ingress",
     policy("default", "p", ingress=[{}]),
     PodRules(isolated(Allow()), None)),
    ("default deny all egress",
     policy("default", "p", policyTypes=["Egress"]),
     PodRules(None, isolated())),
    ("allow all egress",
     policy("default", "p", egress=[{}], policyTypes=["Egress"]),
     PodRules(None, isolated(Allow()))),
    ("default deny all ingress and all egress",
     policy("default", "p", policyTypes=["Ingress", "Egress"]),
     PodRules(isolated(), isolated())),
    ("policyTypes unset: egress rules make it Ingress and Egress",
     policy("default", "p", egress=[{"ports": [{"port": 53, "protocol": "UDP"}]}]),
     PodRules(isolated(), isolated(Allow(None, PortMatch("UDP", 53, 53))))),
    ("the documented test-network-policy",
     policy("default", "p", podSelector={"matchLabels": {"role": "db"}}, policyTypes=["Ingress", "Egress"],
            ingress=[{"from": [{"ipBlock": {"cidr": "198.18.128.0/17", "except": ["198.18.129.0/24"]}},
                               {"namespaceSelector": {"matchLabels": {"project": "myproject"}}},
                               {"podSelector": {"matchLabels": {"role": "frontend"}}}],
                      "ports": [{"protocol": "TCP", "port": 6379}]}],
            egress=[{"to": [{"ipBlock": {"cidr": "198.18.64.0/24"}}], "ports": [{"protocol": "TCP", "port": 5978}]}]),
     PodRules(isolated(*(Allow(cidr, tcp(6379)) for cidr in sorted(
         ["198.18.1.11/32", "198.18.2.20/32", "198.18.2.21/32", "198.18.128.0/24", "198.18.130.0/23",
          "198.18.132.0/22", "198.18.136.0/21", "198.18.144.0/20", "198.18.160.0/19", "198.18.192.0/18"]))),
              isolated(Allow("198.18.64.0/24", tcp(5978))))),
    ("namespaceSelector AND podSelector in one peer",
     policy("default", "p", ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"user": "alice"}},
                                               "podSelector": {"matchLabels": {"role": "client"}}}]}]),
     PodRules(isolated(Allow("198.18.2.20/32")), None)),
    ("namespaceSelector OR podSelector as two peers",
     policy("default", "p", ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"user": "alice"}}},
                                               {"podSelector": {"matchLabels": {"role": "client"}}}]}]),
     # podSelector alone means the policy's own namespace: default has no client, so only alice's pods.
     PodRules(isolated(Allow("198.18.2.20/32"), Allow("198.18.2.21/32")), None)),
    ("empty namespaceSelector: every namespace",
     policy("default", "p", ingress=[{"from": [{"namespaceSelector": {},
                                               "podSelector": {"matchLabels": {"role": "client"}}}]}]),
     PodRules(isolated(Allow("198.18.2.20/32"), Allow("198.18.3.30/32")), None)),
    ("empty podSelector peer: every pod of the policy's namespace",
     policy("default", "p", ingress=[{"from": [{"podSelector": {}}]}]),
     PodRules(isolated(Allow("198.18.1.10/32"), Allow("198.18.1.11/32")), None)),
    ("namespaceSelector by the automatic name label, with matchExpressions",
     policy("default", "p", ingress=[{"from": [{"namespaceSelector": {"matchExpressions": [
         {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["other"]}]}}]}]),
     PodRules(isolated(Allow("198.18.3.30/32")), None)),
    ("endPort: a port range",
     policy("default", "p", policyTypes=["Egress"],
            egress=[{"to": [{"ipBlock": {"cidr": "198.18.0.0/24"}}],
                     "ports": [{"protocol": "TCP", "port": 32000, "endPort": 32768}]}]),
     PodRules(None, isolated(Allow("198.18.0.0/24", tcp(32000, 32768))))),
    ("protocol without a port: every port of it",
     policy("default", "p", ingress=[{"ports": [{"protocol": "SCTP"}]}]),
     PodRules(isolated(Allow(None, PortMatch("SCTP"))), None)),
    ("ingress named port: resolved on the local (destination) pod, protocol included",
     policy("default", "p", ingress=[{"ports": [{"port": "http"}, {"port": "dns", "protocol": "UDP"},
                                                {"port": "dns"}, {"port": "missing"}]}]),
     PodRules(isolated(Allow(None, tcp(8080)), Allow(None, PortMatch("UDP", 5353, 5353))), None)),
    ("egress named port: resolved on each destination pod",
     policy("default", "p", policyTypes=["Egress"],
            egress=[{"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"role": "client"}}},
                            {"ipBlock": {"cidr": "198.18.9.0/24"}}],
                     "ports": [{"port": "http"}, {"port": 443}]}]),
     PodRules(None, isolated(Allow("198.18.2.20/32", tcp(443)), Allow("198.18.2.20/32", tcp(9090)),
                             Allow("198.18.3.30/32", tcp(443)), Allow("198.18.3.30/32", tcp(7070)),
                             Allow("198.18.9.0/24", tcp(443))))),
    ("egress named port to anyone: every pod that has the name",
     policy("default", "p", policyTypes=["Egress"], egress=[{"ports": [{"port": "http"}]}]),
     PodRules(None, isolated(Allow("198.18.1.10/32", tcp(8080)), Allow("198.18.2.20/32", tcp(9090)),
                             Allow("198.18.3.30/32", tcp(7070))))),
    ("a selector that matches no pod allows nothing (still isolated)",
     policy("default", "p", ingress=[{"from": [{"podSelector": {"matchLabels": {"role": "nobody"}}}]}]),
     PodRules(isolated(), None)),
    ("a policy not selecting the pod leaves it open",
     policy("default", "p", podSelector={"matchLabels": {"role": "frontend"}}),
     PodRules(None, None)),
    ("a policy of another namespace leaves it open",
     policy("prod", "p"),
     PodRules(None, None)),
]


@pytest.mark.parametrize(("target", "expected"), [(case[1], case[2]) for case in CASES],
                         ids=[case[0] for case in CASES])
def test_documented_examples(target: JSON, expected: PodRules) -> None:
    assert rules(DB, target) == expected


def test_policies_add_up_and_isolation_is_per_direction() -> None:
    deny_ingress = policy("default", "deny", policyTypes=["Ingress"])
    from_frontend = policy("default", "frontend", ingress=[{"from": [{"podSelector": {"matchLabels": {
        "role": "frontend"}}}], "ports": [{"port": 80}]}])
    everything_from_frontend = policy("default", "all", ingress=[{"from": [{"podSelector": {"matchLabels": {
        "role": "frontend"}}}]}])
    result = rules(DB, deny_ingress, from_frontend)
    assert result == PodRules(DirectionRules(("default/deny", "default/frontend"),
                                             (Allow("198.18.1.11/32", tcp(80)),)), None)
    # An allow-everything-from rule makes the narrower one for the same peer moot.
    assert rules(DB, from_frontend, everything_from_frontend).ingress == DirectionRules(
        ("default/all", "default/frontend"), (Allow("198.18.1.11/32"),))
    assert rules(DB, deny_ingress, policy("default", "open", ingress=[{}])).ingress == DirectionRules(
        ("default/deny", "default/open"), (Allow(),))


def test_pods_without_a_policy_address_are_no_peers() -> None:
    pods = [DB, pod("default", "pending", None, {"role": "frontend"}),
            pod("default", "host", "198.18.0.5", {"role": "frontend"}, host_network=True),
            pod("default", "done", "198.18.1.99", {"role": "frontend"}, phase="Succeeded"),
            FRONTEND]
    allow_frontend = policy("default", "p", ingress=[{"from": [{"podSelector": {"matchLabels": {"role": "frontend"}}}]}])
    assert rules(DB, allow_frontend, pods=pods).ingress == isolated(Allow("198.18.1.11/32"))


def test_a_pod_without_an_address_gets_no_rules() -> None:
    assert rules(pod("default", "db", None, {"role": "db"}), policy("default", "p")) == PodRules(None, None)


def test_policy_types_defaulting() -> None:
    assert policy_types(policy("ns", "p")) == {"Ingress"}
    assert policy_types(policy("ns", "p", ingress=[{}])) == {"Ingress"}
    assert policy_types(policy("ns", "p", egress=[{}])) == {"Ingress", "Egress"}
    assert policy_types(policy("ns", "p", egress=[{}], policyTypes=["Egress"])) == {"Egress"}


@pytest.mark.parametrize(("block", "expected"), [
    ({"cidr": "198.18.0.0/24"}, ["198.18.0.0/24"]),
    ({"cidr": "198.18.0.7/24"}, ["198.18.0.0/24"]),
    ({"cidr": "198.18.0.0/24", "except": ["198.18.0.0/25"]}, ["198.18.0.128/25"]),
    ({"cidr": "198.18.0.0/24", "except": ["198.18.0.0/26", "198.18.0.192/26"]},
     ["198.18.0.64/26", "198.18.0.128/26"]),
    ({"cidr": "198.18.0.0/24", "except": ["198.18.0.0/16"]}, []),
    ({"cidr": "198.18.0.0/24", "except": ["198.18.5.0/24"]}, ["198.18.0.0/24"]),
    ({"cidr": "fd00::/64"}, []),
])
def test_ip_block_except(block: JSON, expected: list[str]) -> None:
    assert [str(network) for network in ip_block_ranges(block)] == expected


def test_invalid_selector_fails_closed() -> None:
    bad = policy("default", "p", ingress=[{"from": [{"podSelector": {"matchExpressions": [
        {"key": "role", "operator": "Near", "values": ["x"]}]}}]}])
    assert rules(DB, bad).ingress == isolated()
