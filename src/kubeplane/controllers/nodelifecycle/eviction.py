"""Taint-based eviction (upstream ``pkg/controller/tainteviction``, the "taint manager").

A pod on a node with NoExecute taints is deleted at once when some taint is not tolerated, and
after the shortest ``tolerationSeconds`` of the tolerations in use otherwise (never when none of
them has a limit). The clock starts when the controller first sees the pod under those taints,
as upstream's; a node losing its NoExecute taints cancels the pending evictions of its pods.
Before deleting, the pod gets the DisruptionTarget condition, so its owner can tell why it went.
"""

from __future__ import annotations

import logging
from typing import Any

from kubeplane.client import Conflict, EventHandlers, NotFound, meta_namespace_key, split_key
from kubeplane.client.resource import NODES, PODS
from kubeplane.controllers.controller import (
    ControllerContext,
    ResourceController,
    is_resync,
    unwrap_tombstone,
)
from kubeplane.controllers.nodelifecycle.podindex import index_pods_by_node, pods_on
from kubeplane.controllers.nodelifecycle.podstatus import DISRUPTION_TARGET, set_pod_condition
from kubeplane.machinery.taints import NO_EXECUTE, node_taints, pod_tolerations, tolerates

log = logging.getLogger(__name__)

JSON = dict[str, Any]

NORMAL = "Normal"
EVICTION_REASON = "TaintManagerEviction"
EVICTION_CONDITION: JSON = {"type": DISRUPTION_TARGET, "status": "True", "reason": "DeletionByTaintManager",
                            "message": "Taint manager: deleting due to NoExecute taint"}


def no_execute_taints(node: JSON) -> list[JSON]:
    return [t for t in node_taints(node) if t.get("effect") == NO_EXECUTE]


def toleration_seconds(taints: list[JSON], tolerations: list[JSON]) -> float | None:
    """How long the pod may stay: 0 if a taint is not tolerated, None for ever (upstream's
    ``GetMatchingTolerations`` + ``getMinTolerationTime``)."""
    used: list[JSON] = []
    for taint in taints:
        matching = [t for t in tolerations if tolerates(t, taint)]
        if not matching:
            return 0.0
        used.extend(matching)
    limits = [t["tolerationSeconds"] for t in used if t.get("tolerationSeconds") is not None]
    if not limits:
        return None
    return float(max(0, min(int(s) for s in limits)))


class TaintEvictionController(ResourceController):
    """Keys are pods; a node change enqueues the pods bound to it."""

    name = "taint-eviction-controller"
    component = "taint-eviction-controller"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.pods = self.informer(PODS, EventHandlers(on_add=self._pod_changed,
                                                      on_update=lambda old, new: self._pod_changed(new),
                                                      on_delete=self._pod_deleted))
        index_pods_by_node(self.pods)
        self.nodes = self.informer(NODES, EventHandlers(on_add=self._node_changed, on_update=self._node_updated,
                                                        on_delete=lambda obj: self._node_changed(unwrap_tombstone(obj))))
        # When each pod was first seen under the NoExecute taints it tolerates (monotonic seconds).
        self._since: dict[str, float] = {}

    def _pod_changed(self, pod: JSON) -> None:
        if (pod.get("spec") or {}).get("nodeName"):
            self.enqueue(pod)

    def _pod_deleted(self, obj: Any) -> None:
        self._since.pop(meta_namespace_key(unwrap_tombstone(obj)), None)

    def _node_updated(self, old: JSON, new: JSON) -> None:
        if not is_resync(old, new) and no_execute_taints(old) != no_execute_taints(new):
            self._node_changed(new)

    def _node_changed(self, node: JSON) -> None:
        for pod in pods_on(self.pods, node["metadata"]["name"]):
            self.enqueue(pod)

    def _cancel(self, key: str, pod: JSON | None) -> None:
        if self._since.pop(key, None) is not None and pod is not None:
            self.recorder.event(pod, NORMAL, EVICTION_REASON, f"Cancelling deletion of Pod {key}")

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        pod = self.pods.get(name, namespace)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            self._since.pop(key, None)
            return
        node = self.nodes.get((pod.get("spec") or {}).get("nodeName") or "")
        taints = no_execute_taints(node) if node is not None else []
        if not taints:
            self._cancel(key, pod)
            return
        allowed = toleration_seconds(taints, pod_tolerations(pod))
        if allowed is None:
            self._cancel(key, pod)
            return
        now = self.clock.now()
        since = self._since.setdefault(key, now)
        remaining = since + allowed - now
        if remaining > 0:
            self.queue.add_after(key, remaining)
            return
        await self._evict(key, namespace, name)

    async def _evict(self, key: str, namespace: str | None, name: str) -> None:
        try:
            fresh = await self.client.get(PODS, name, namespace)
            log.info("%s: deleting pod %s for NoExecute taints", self.name, key)
            self.recorder.event(fresh, NORMAL, EVICTION_REASON, f"Marking for deletion Pod {key}")
            await set_pod_condition(self.client, fresh, EVICTION_CONDITION, self.clock.wall())
            await self.client.delete(PODS, name, namespace)
        except NotFound:
            pass
        except Conflict:
            self.queue.add(key)  # changed under us: decide again on the new state
            return
        self._since.pop(key, None)
