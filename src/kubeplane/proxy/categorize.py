"""Which endpoints each traffic policy may use on this node (upstream's ``CategorizeEndpoints``).

* Cluster policy: ready endpoints (narrowed to this zone's hints when topology applies); if none is
  ready, serving-and-terminating ones, so connections drain gracefully instead of failing.
* Local policy: this node's ready endpoints, else this node's serving-and-terminating ones.
* ``has_any`` says whether the Service has a usable endpoint anywhere, which decides between
  REJECT (nothing anywhere) and DROP (nothing for this node's policy).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kubeplane.proxy.model import Endpoint, ServicePort


@dataclass(frozen=True)
class Categorized:
    cluster: tuple[Endpoint, ...]
    local: tuple[Endpoint, ...]
    reachable: tuple[Endpoint, ...]  # the union: each gets a KUBE-SEP chain
    has_any: bool


def _select(endpoints: Sequence[Endpoint], keep: Callable[[Endpoint], bool]) -> tuple[Endpoint, ...]:
    return tuple(endpoint for endpoint in endpoints if keep(endpoint))


def can_use_topology(endpoints: Sequence[Endpoint], port: ServicePort, zone: str) -> bool:
    """Hints are honoured only when asked for, when this node has a zone, when every ready
    endpoint carries hints (a half-hinted slice means the controller gave up) and one is ours."""
    if not port.topology_aware or not zone:
        return False
    found = False
    for endpoint in endpoints:
        if not endpoint.ready:
            continue
        if not endpoint.zone_hints:
            return False
        found = found or zone in endpoint.zone_hints
    return found


def categorize(endpoints: Sequence[Endpoint], port: ServicePort, node_name: str, zone: str) -> Categorized:
    cluster: tuple[Endpoint, ...] = ()
    local: tuple[Endpoint, ...] = ()
    has_any = False
    if port.uses_cluster_endpoints:
        topology = can_use_topology(endpoints, port, zone)
        cluster = _select(endpoints, lambda ep: ep.ready and (not topology or zone in ep.zone_hints))
        if not cluster:
            cluster = _select(endpoints, lambda ep: ep.serving and ep.terminating)
        has_any = bool(cluster)
    if not port.uses_local_endpoints:
        return Categorized(cluster, (), cluster, has_any)

    def on_node(ep: Endpoint) -> bool:
        return ep.node_name == node_name

    has_any = has_any or any(ep.ready or (ep.serving and ep.terminating) for ep in endpoints)
    local = _select(endpoints, lambda ep: on_node(ep) and ep.ready)
    if not local:
        local = _select(endpoints, lambda ep: on_node(ep) and ep.serving and ep.terminating)
    if not port.uses_cluster_endpoints:
        return Categorized((), local, local, has_any)
    union = {str(ep): ep for ep in (*cluster, *local)}
    reachable = tuple(sorted(union.values(), key=Endpoint.sort_key))
    return Categorized(cluster, local, reachable, has_any)
