"""From NetworkPolicies to per-pod allow-lists, with networking.k8s.io/v1 semantics.

For each pod and direction (ingress, egress):

* the pod is *isolated* in that direction when at least one policy of its namespace selects it
  (``spec.podSelector``, ``{}`` = every pod of the namespace) and lists that direction in its
  ``policyTypes``; unset ``policyTypes`` means Ingress always, plus Egress when the policy has
  egress rules (the API server's defaulting, redone here so a policy stored without it still means
  the same);
* an isolated pod accepts exactly the union of the rules of every such policy (policies only add);
  a direction that is not isolated allows everything;
* a rule's peers (``from``/``to``): absent or empty = any address; ``podSelector`` alone = pods of
  the policy's namespace; ``namespaceSelector`` alone = every pod of the selected namespaces; both
  in one peer = pods matching the pod selector *in* the selected namespaces (AND; two separate
  peers are OR); ``ipBlock`` = a CIDR minus its ``except`` ranges;
* a rule's ports: absent or empty = every port; each entry has a protocol (TCP by default), a port
  number (``endPort`` makes it a range), a port name, or no port (every port of the protocol). A
  name is resolved against the *destination* pod's container ports: the local pod for ingress, each
  peer pod for egress (so an egress name to non-pod addresses allows nothing).

Pods count as peers only with an IP, outside the host network and not finished. Replies and
node-originated traffic are the renderer's business (``rules``), not part of the lists.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubeplane.machinery.errors import StatusError
from kubeplane.machinery.labels import NOTHING, LabelSelector, from_label_selector

JSON = dict[str, Any]

INGRESS = "Ingress"
EGRESS = "Egress"
DEFAULT_PROTOCOL = "TCP"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set by the API server on every namespace
_FINISHED_PHASES = ("Succeeded", "Failed")


@dataclass(frozen=True, order=True)
class PortMatch:
    """One protocol and a port range; ``first is None`` means every port of the protocol."""

    protocol: str
    first: int | None = None
    last: int | None = None


@dataclass(frozen=True, order=True)
class Allow:
    """Traffic to or from ``cidr`` (None: any address) on ``port`` (None: any protocol and port)."""

    cidr: str | None = None
    port: PortMatch | None = None


@dataclass(frozen=True)
class DirectionRules:
    """An isolated direction: what the policies named in ``policies`` let through."""

    policies: tuple[str, ...]
    allows: tuple[Allow, ...]


@dataclass(frozen=True)
class PodRules:
    """Per direction: None when no policy isolates the pod that way (everything is allowed)."""

    ingress: DirectionRules | None
    egress: DirectionRules | None


@dataclass(frozen=True)
class PeerPod:
    namespace: str
    name: str
    ip: str
    labels: Mapping[str, str]
    ports: Mapping[tuple[str, str], int]  # (name, protocol) -> containerPort


class ClusterView:
    """The cluster as the policies see it: namespace labels and the pods that can be peers."""

    def __init__(self, namespaces: Iterable[JSON], pods: Iterable[JSON]) -> None:
        self.namespace_labels: dict[str, Mapping[str, str]] = {}
        for namespace in namespaces:
            meta = namespace.get("metadata") or {}
            name = meta.get("name", "")
            self.namespace_labels[name] = {NAMESPACE_NAME_LABEL: name, **(meta.get("labels") or {})}
        self.pods = [peer for pod in pods if (peer := peer_pod(pod)) is not None]

    def namespaces_matching(self, selector: LabelSelector) -> set[str]:
        return {name for name, labels in self.namespace_labels.items() if selector.matches(labels)}


def container_ports(pod: JSON) -> dict[tuple[str, str], int]:
    """Named container ports of a pod, as upstream's FindPort sees them (app containers only)."""
    ports: dict[tuple[str, str], int] = {}
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") and isinstance(port.get("containerPort"), int):
                ports.setdefault((port["name"], port.get("protocol") or DEFAULT_PROTOCOL), port["containerPort"])
    return ports


def pod_ip(pod: JSON) -> str | None:
    """The pod's IPv4 address when it has one and is a policy citizen (not host network, not done)."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    if spec.get("hostNetwork") or status.get("phase") in _FINISHED_PHASES:
        return None
    candidates = [status.get("podIP"), *(entry.get("ip") for entry in status.get("podIPs") or [])]
    for candidate in candidates:
        if candidate and ":" not in candidate:
            return str(candidate)
    return None


def peer_pod(pod: JSON) -> PeerPod | None:
    address = pod_ip(pod)
    if address is None:
        return None
    meta = pod.get("metadata") or {}
    return PeerPod(meta.get("namespace", ""), meta.get("name", ""), address, meta.get("labels") or {},
                   container_ports(pod))


def selector(value: Mapping[str, Any] | None) -> LabelSelector:
    """A metav1.LabelSelector (absent or ``{}`` = everything); an invalid one selects nothing, so a
    policy the API server should have refused fails closed for its peers rather than open."""
    try:
        return from_label_selector(value or {})
    except StatusError:
        return NOTHING


def policy_types(policy: JSON) -> set[str]:
    spec = policy.get("spec") or {}
    declared = spec.get("policyTypes")
    if declared:
        return set(declared)
    return {INGRESS, EGRESS} if spec.get("egress") else {INGRESS}


def selects(policy: JSON, namespace: str, labels: Mapping[str, str]) -> bool:
    meta = policy.get("metadata") or {}
    if meta.get("namespace") != namespace:
        return False
    return selector((policy.get("spec") or {}).get("podSelector")).matches(labels)


def ip_block_ranges(block: Mapping[str, Any]) -> list[ipaddress.IPv4Network]:
    """``cidr`` minus every ``except``, as disjoint networks (iptables has no "but not" in one rule)."""
    try:
        remaining = [ipaddress.IPv4Network(block.get("cidr", ""), strict=False)]
    except ValueError:  # IPv6 or garbage: this node has IPv4 only
        return []
    for text in block.get("except") or []:
        try:
            excluded = ipaddress.IPv4Network(text, strict=False)
        except ValueError:
            continue
        next_remaining: list[ipaddress.IPv4Network] = []
        for network in remaining:
            if excluded.supernet_of(network):
                continue
            if network.supernet_of(excluded):
                next_remaining.extend(network.address_exclude(excluded))
            else:
                next_remaining.append(network)
        remaining = next_remaining
    return sorted(remaining)


def _peer_pods(peer: Mapping[str, Any], policy_namespace: str, view: ClusterView) -> list[PeerPod]:
    """Pods a podSelector/namespaceSelector peer names (empty for an ipBlock peer)."""
    if "podSelector" not in peer and "namespaceSelector" not in peer:
        return []
    pod_selector = selector(peer.get("podSelector"))
    if "namespaceSelector" in peer:
        namespaces = view.namespaces_matching(selector(peer.get("namespaceSelector")))
    else:
        namespaces = {policy_namespace}
    return [pod for pod in view.pods if pod.namespace in namespaces and pod_selector.matches(pod.labels)]


def _in_ranges(address: str, ranges: Sequence[ipaddress.IPv4Network]) -> bool:
    ip = ipaddress.IPv4Address(address)
    return any(ip in network for network in ranges)


@dataclass(frozen=True)
class _Peers:
    """What a rule's peer list names: None for "anyone", else the pods and the address ranges."""

    pods: tuple[PeerPod, ...]
    ranges: tuple[ipaddress.IPv4Network, ...]

    def cidrs(self) -> list[str]:
        return sorted({f"{pod.ip}/32" for pod in self.pods} | {str(network) for network in self.ranges})

    def pods_for_named_ports(self, view: ClusterView) -> list[PeerPod]:
        """Pods a named port can be resolved on: those named, and those living inside an ipBlock."""
        inside = [pod for pod in view.pods if self.ranges and _in_ranges(pod.ip, self.ranges)]
        return list({(pod.namespace, pod.name): pod for pod in (*self.pods, *inside)}.values())


def _peers(peers: list[JSON] | None, policy_namespace: str, view: ClusterView) -> _Peers | None:
    if not peers:
        return None
    pods: list[PeerPod] = []
    ranges: list[ipaddress.IPv4Network] = []
    for peer in peers:
        if peer.get("ipBlock"):
            ranges.extend(ip_block_ranges(peer["ipBlock"]))
        else:
            pods.extend(_peer_pods(peer, policy_namespace, view))
    return _Peers(tuple(pods), tuple(ranges))


def _numeric_port(entry: Mapping[str, Any]) -> PortMatch | None:
    """A port entry without a name; None for a named one."""
    protocol = entry.get("protocol") or DEFAULT_PROTOCOL
    port = entry.get("port")
    if port is None:
        return PortMatch(protocol)
    if isinstance(port, str):
        return None
    end = entry.get("endPort")
    return PortMatch(protocol, port, end if isinstance(end, int) and end >= port else port)


def _resolve_named(entry: Mapping[str, Any], ports: Mapping[tuple[str, str], int]) -> PortMatch | None:
    protocol = entry.get("protocol") or DEFAULT_PROTOCOL
    number = ports.get((str(entry.get("port")), protocol))
    return None if number is None else PortMatch(protocol, number, number)


def _ingress_allows(rule: JSON, policy_namespace: str, pod: PeerPod, view: ClusterView) -> Iterator[Allow]:
    peers = _peers(rule.get("from"), policy_namespace, view)
    sources: list[str | None] = [None] if peers is None else list(peers.cidrs())
    entries = rule.get("ports") or []
    ports: list[PortMatch | None] = [None] if not entries else []
    for entry in entries:
        match = _numeric_port(entry)
        if match is None:
            match = _resolve_named(entry, pod.ports)  # the local pod is the destination
        if match is not None:
            ports.append(match)
    for source in sources:
        for port in ports:
            yield Allow(source, port)


def _egress_allows(rule: JSON, policy_namespace: str, view: ClusterView) -> Iterator[Allow]:
    peers = _peers(rule.get("to"), policy_namespace, view)
    destinations: list[str | None] = [None] if peers is None else list(peers.cidrs())
    entries = rule.get("ports") or []
    numeric: list[PortMatch | None] = [None] if not entries else []
    named: list[Mapping[str, Any]] = []
    for entry in entries:
        match = _numeric_port(entry)
        if match is None:
            named.append(entry)
        else:
            numeric.append(match)
    for destination in destinations:
        for port in numeric:
            yield Allow(destination, port)
    if named:
        # Each destination pod resolves the name itself: the same name may be different numbers.
        candidates = view.pods if peers is None else peers.pods_for_named_ports(view)
        for candidate in candidates:
            for entry in named:
                resolved = _resolve_named(entry, candidate.ports)
                if resolved is not None:
                    yield Allow(f"{candidate.ip}/32", resolved)


def _policy_name(policy: JSON) -> str:
    meta = policy.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def rules_for_pod(pod: JSON, policies: Iterable[JSON], view: ClusterView) -> PodRules:
    """The ingress and egress allow-lists of one (local) pod."""
    local = peer_pod(pod)
    if local is None:
        return PodRules(None, None)
    isolating: dict[str, list[str]] = {INGRESS: [], EGRESS: []}
    allows: dict[str, set[Allow]] = {INGRESS: set(), EGRESS: set()}
    for policy in policies:
        if not selects(policy, local.namespace, local.labels):
            continue
        spec = policy.get("spec") or {}
        namespace = (policy.get("metadata") or {}).get("namespace", "")
        types = policy_types(policy)
        if INGRESS in types:
            isolating[INGRESS].append(_policy_name(policy))
            for rule in spec.get("ingress") or []:
                allows[INGRESS].update(_ingress_allows(rule or {}, namespace, local, view))
        if EGRESS in types:
            isolating[EGRESS].append(_policy_name(policy))
            for rule in spec.get("egress") or []:
                allows[EGRESS].update(_egress_allows(rule or {}, namespace, view))

    def direction(name: str) -> DirectionRules | None:
        if not isolating[name]:
            return None
        return DirectionRules(tuple(sorted(isolating[name])), _simplify(allows[name]))

    return PodRules(direction(INGRESS), direction(EGRESS))


def _simplify(allows: set[Allow]) -> tuple[Allow, ...]:
    """Drop entries another entry already covers in full (an allow-all makes the rest moot)."""
    if Allow(None, None) in allows:
        return (Allow(None, None),)
    any_port = {allow.cidr for allow in allows if allow.port is None}
    any_address = {allow.port for allow in allows if allow.cidr is None}
    kept = {allow for allow in allows
            if allow.port is None or (allow.cidr not in any_port and (allow.cidr is None or allow.port not in any_address))}
    return tuple(sorted(kept, key=_sort_key))


def _sort_key(allow: Allow) -> tuple[str, str, int, int]:
    port = allow.port
    return (allow.cidr or "", port.protocol if port else "", (port.first or 0) if port else -1,
            (port.last or 0) if port else -1)
