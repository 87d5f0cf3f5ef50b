"""Topology spread constraints as the plugin uses them: parsed, defaulted, and which nodes count."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubeplane.machinery import labels
from kubeplane.machinery.errors import StatusError
from kubeplane.machinery.nodeaffinity import required_node_affinity_matches
from kubeplane.machinery.taints import (
    NO_EXECUTE,
    NO_SCHEDULE,
    first_untolerated,
    node_taints,
    pod_tolerations,
)
from kubeplane.scheduler.framework.nodeinfo import NodeInfo, PodInfo

JSON = dict[str, Any]

DO_NOT_SCHEDULE, SCHEDULE_ANYWAY = "DoNotSchedule", "ScheduleAnyway"
HONOR, IGNORE = "Honor", "Ignore"
HOSTNAME_KEY = "kubernetes.io/hostname"
ZONE_KEY = "topology.kubernetes.io/zone"

# Upstream's system defaults: spread softly over hosts and zones.
SYSTEM_DEFAULT_CONSTRAINTS: tuple[JSON, ...] = (
    {"maxSkew": 3, "topologyKey": HOSTNAME_KEY, "whenUnsatisfiable": SCHEDULE_ANYWAY},
    {"maxSkew": 5, "topologyKey": ZONE_KEY, "whenUnsatisfiable": SCHEDULE_ANYWAY},
)


@dataclass(frozen=True)
class Constraint:
    max_skew: int
    topology_key: str
    selector: labels.LabelSelector
    min_domains: int
    honor_node_affinity: bool
    honor_node_taints: bool

    def counts(self, pod: JSON, namespace: str) -> bool:
        """Whether an existing pod counts towards this constraint (same namespace, selected, alive)."""
        metadata = pod.get("metadata") or {}
        return (metadata.get("namespace") == namespace and not metadata.get("deletionTimestamp")
                and self.selector.matches(metadata.get("labels") or {}))

    def node_eligible(self, pod: PodInfo, node: NodeInfo) -> bool:
        """Whether the node's domain is one the pod could go to (nodeAffinityPolicy/nodeTaintsPolicy)."""
        if self.honor_node_affinity and not required_node_affinity_matches(pod.pod, node.node):
            return False
        if self.honor_node_taints:
            untolerated = first_untolerated(node_taints(node.node), pod_tolerations(pod.pod),
                                            lambda t: t.get("effect") in (NO_SCHEDULE, NO_EXECUTE))
            if untolerated is not None:
                return False
        return True

    def matching_pods(self, node: NodeInfo, namespace: str) -> int:
        return sum(1 for existing in node.pods if self.counts(existing.pod, namespace))


def _selector(raw: JSON, pod: PodInfo) -> labels.LabelSelector:
    try:
        selector = labels.from_label_selector(raw.get("labelSelector"))
    except StatusError:
        return labels.NOTHING
    # matchLabelKeys: spread only among pods sharing the incoming pod's values for these keys.
    extra = [labels.Requirement(key, labels.IN, (pod.labels[key],))
             for key in raw.get("matchLabelKeys") or [] if key in pod.labels]
    if not extra or selector.nothing:
        return selector
    return labels.LabelSelector((*selector.requirements, *extra))


def parse(raw: JSON, pod: PodInfo, selector: labels.LabelSelector | None = None) -> Constraint:
    return Constraint(
        max_skew=int(raw.get("maxSkew") or 1),
        topology_key=raw.get("topologyKey", ""),
        selector=selector if selector is not None else _selector(raw, pod),
        min_domains=int(raw.get("minDomains") or 1),
        honor_node_affinity=(raw.get("nodeAffinityPolicy") or HONOR) == HONOR,
        honor_node_taints=(raw.get("nodeTaintsPolicy") or IGNORE) == HONOR,
    )


def pod_constraints(pod: PodInfo, when: str, defaults: tuple[JSON, ...],
                    owner_selectors: list[labels.LabelSelector]) -> tuple[list[Constraint], bool]:
    """The pod's constraints of one kind; (constraints, system_defaulted).

    A pod with its own constraints uses them; otherwise the defaults apply, selecting the pods
    of the same owners (Services, ReplicaSets, ...) — and none apply when nothing owns the pod.
    """
    own = pod.spec.get("topologySpreadConstraints") or []
    if own:
        return [parse(c, pod) for c in own if c.get("whenUnsatisfiable") == when], False
    if not owner_selectors:
        return [], True
    requirements = tuple(r for s in owner_selectors for r in s.requirements)
    merged = labels.LabelSelector(requirements)
    return [parse(c, pod, merged) for c in defaults if c.get("whenUnsatisfiable") == when], True


def has_all_keys(node: NodeInfo, constraints: list[Constraint]) -> bool:
    return all(c.topology_key in node.labels for c in constraints)
