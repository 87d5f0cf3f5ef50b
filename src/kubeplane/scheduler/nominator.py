"""Which pending pods have a node nominated for them (upstream's PodNominator).

Preemption evicts pods to make room for a pod on one node and records that node in the pod's
``status.nominatedNodeName``. Until the pod is bound, other pods of lower priority must not take
that room, so filtering counts nominated pods on their node (see
``Framework.run_filter_with_nominated_pods``). The nominator is fed both by the scheduler's own
preemption decisions (at once) and by the informer (nominations written by another replica or
before a restart).
"""

from __future__ import annotations

from typing import Any

from kubeplane.scheduler.framework.nodeinfo import PodInfo, pod_key

JSON = dict[str, Any]


def nominated_node_of(pod: JSON) -> str:
    return str((pod.get("status") or {}).get("nominatedNodeName") or "")


class Nominator:
    def __init__(self) -> None:
        self._node_of: dict[str, str] = {}  # pod key -> nominated node
        self._by_node: dict[str, dict[str, PodInfo]] = {}

    def add(self, pod: PodInfo, node_name: str = "") -> None:
        """Nominate ``node_name`` (default: the pod's own status) for the pod; '' removes it."""
        self.delete(pod.key)
        node_name = node_name or nominated_node_of(pod.pod)
        if not node_name:
            return
        self._node_of[pod.key] = node_name
        self._by_node.setdefault(node_name, {})[pod.key] = pod

    def update(self, pod: JSON) -> None:
        """The informer's copy of an unassigned pod. A status without a nomination does not drop
        one made here: the status write may still be in flight. Nominations end by ``delete``
        (the pod is bound, deleted, or preemption gave up on the node)."""
        key = pod_key(pod)
        node_name = nominated_node_of(pod) or self._node_of.get(key, "")
        if node_name:
            self.add(PodInfo(pod), node_name)

    def delete(self, key: str) -> None:
        node_name = self._node_of.pop(key, None)
        if node_name is None:
            return
        pods = self._by_node.get(node_name, {})
        pods.pop(key, None)
        if not pods:
            self._by_node.pop(node_name, None)

    def node_of(self, key: str) -> str:
        return self._node_of.get(key, "")

    def has_nominated_pods(self) -> bool:
        return bool(self._by_node)

    def pods_for_node(self, node_name: str) -> list[PodInfo]:
        pods = self._by_node.get(node_name)
        return list(pods.values()) if pods else []
