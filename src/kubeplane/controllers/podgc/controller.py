"""The pod garbage collector (upstream ``pkg/controller/podgc``): every ``period`` (20 s) it

* deletes the oldest terminated pods (evicted ones first) beyond ``--terminated-pod-gc-threshold``
  (12500; 0 or less turns this off);
* force-deletes terminating pods on nodes that are not Ready and carry the
  ``node.kubernetes.io/out-of-service`` taint;
* force-deletes pods bound to nodes that no longer exist — a node missing from the cache is a
  suspect first, and is confirmed gone by a GET only after a quarantine (40 s), so a pod bound
  to a node the cache has not seen yet survives;
* force-deletes terminating pods that were never scheduled.

A pod not yet in a terminal phase is first marked Failed, with a DisruptionTarget condition
saying why, so its owner (a Job, say) can account for it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kubeplane.client import NotFound
from kubeplane.client.resource import NODES, PODS
from kubeplane.controllers.controller import ControllerContext
from kubeplane.controllers.nodelifecycle.podstatus import DISRUPTION_TARGET, set_pod_condition
from kubeplane.controllers.pods import TERMINAL_PHASES
from kubeplane.machinery.taints import node_taints

log = logging.getLogger(__name__)

JSON = dict[str, Any]

OUT_OF_SERVICE_TAINT = "node.kubernetes.io/out-of-service"
ORPHAN_CONDITION: JSON = {"type": DISRUPTION_TARGET, "status": "True", "reason": "DeletionByPodGC",
                          "message": "PodGC: node no longer exists"}
OUT_OF_SERVICE_CONDITION: JSON = {"type": DISRUPTION_TARGET, "status": "True", "reason": "DeletionByPodGC",
                                  "message": "PodGC: node is out-of-service"}


def is_terminated(pod: JSON) -> bool:
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES


def is_terminating(pod: JSON) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def node_name(pod: JSON) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def eviction_then_age(pod: JSON) -> tuple[int, str, str]:
    """Upstream's byEvictionAndCreationTimestamp: evicted pods first, then oldest first."""
    evicted = (pod.get("status") or {}).get("reason") == "Evicted"
    meta = pod["metadata"]
    return (0 if evicted else 1, meta.get("creationTimestamp") or "", f"{meta.get('namespace')}/{meta['name']}")


def is_out_of_service(node: JSON) -> bool:
    ready = next((c for c in (node.get("status") or {}).get("conditions") or () if c.get("type") == "Ready"), None)
    not_ready = ready is None or ready.get("status") != "True"
    return not_ready and any(t.get("key") == OUT_OF_SERVICE_TAINT for t in node_taints(node))


class PodGCController:
    name = "pod-garbage-collector-controller"

    def __init__(self, ctx: ControllerContext, terminated_pod_gc_threshold: int = 12500, period: float = 20.0,
                 quarantine: float = 40.0) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.clock = ctx.clock
        self.threshold = terminated_pod_gc_threshold
        self.period = period
        self.quarantine = quarantine
        self.pods = ctx.informers.informer_for(PODS)
        self.nodes = ctx.informers.informer_for(NODES)
        self._suspects: dict[str, float] = {}  # node name -> when first missed from the cache

    async def run(self, workers: int) -> None:
        await asyncio.gather(self.pods.wait_for_sync(), self.nodes.wait_for_sync())
        while True:
            try:
                await self.gc()
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.warning("%s: pass failed: %s", self.name, err, exc_info=True)
            await self.clock.sleep(self.period)

    async def gc(self) -> None:
        pods = self.pods.list()
        if self.threshold > 0:
            await self.gc_terminated(pods)
        await self.gc_out_of_service(pods)
        await self.gc_orphaned(pods)
        await self.gc_unscheduled_terminating(pods)

    async def gc_terminated(self, pods: list[JSON]) -> None:
        terminated = [p for p in pods if is_terminated(p)]
        excess = len(terminated) - self.threshold
        if excess <= 0:
            return
        log.info("%s: garbage collecting %d terminated pods", self.name, excess)
        for pod in sorted(terminated, key=eviction_then_age)[:excess]:
            await self._delete(pod, None)

    async def gc_out_of_service(self, pods: list[JSON]) -> None:
        for pod in pods:
            if not is_terminating(pod) or not node_name(pod):
                continue
            node = self.nodes.get(node_name(pod))
            if node is not None and is_out_of_service(node):
                await self._delete(pod, OUT_OF_SERVICE_CONDITION)

    async def gc_orphaned(self, pods: list[JSON]) -> None:
        now = self.clock.now()
        bound = {node_name(p) for p in pods if node_name(p)}
        for name in bound:
            if self.nodes.get(name) is None:
                self._suspects.setdefault(name, now)
        gone: set[str] = set()
        for name, since in list(self._suspects.items()):
            if self.nodes.get(name) is not None or name not in bound:
                del self._suspects[name]
            elif now - since >= self.quarantine:
                del self._suspects[name]
                if await self._node_is_gone(name):
                    gone.add(name)
        for pod in pods:
            if node_name(pod) in gone:
                log.info("%s: deleting pod %s/%s of deleted node %s", self.name, pod["metadata"].get("namespace"),
                         pod["metadata"]["name"], node_name(pod))
                await self._delete(pod, ORPHAN_CONDITION)

    async def _node_is_gone(self, name: str) -> bool:
        try:
            await self.client.get(NODES, name)
        except NotFound:
            return True
        return False

    async def gc_unscheduled_terminating(self, pods: list[JSON]) -> None:
        for pod in pods:
            if is_terminating(pod) and not node_name(pod):
                await self._delete(pod, None)

    async def _delete(self, pod: JSON, condition: JSON | None) -> None:
        """Upstream's markFailedAndDeletePodWithCondition: a pod not yet terminal becomes Failed
        (with ``condition``), then is deleted without grace."""
        meta = pod["metadata"]
        try:
            if not is_terminated(pod):
                # From the informer's copy, guarded by its resourceVersion (a Conflict waits for the
                # next pass): pod-garbage-collector may not ``get`` pods, as upstream.
                if condition is not None:
                    await set_pod_condition(self.client, pod, condition, self.clock.wall(), phase="Failed")
                else:
                    await self.client.patch(PODS, meta["name"], {"status": {"phase": "Failed"}},
                                            meta.get("namespace"), subresource="status")
            await self.client.delete(PODS, meta["name"], meta.get("namespace"), grace_period_seconds=0)
        except NotFound:
            pass
        except Exception as err:  # one stubborn pod must not stop the pass
            log.warning("%s: deleting pod %s/%s failed: %s", self.name, meta.get("namespace"), meta["name"], err)
