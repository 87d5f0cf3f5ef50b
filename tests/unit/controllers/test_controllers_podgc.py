"""Pod GC: terminated pods over the threshold (evicted, then oldest first), pods of nodes that are
gone (only after the quarantine and a confirming GET), terminating pods never scheduled, and
terminating pods on out-of-service nodes; pods not yet terminal are marked Failed first."""

from __future__ import annotations

from typing import Any

from kubeplane.client.resource import NODES, PODS
from kubeplane.controllers.podgc import PodGCController

JSON = dict[str, Any]


def pod(name: str, node: str = "", phase: str = "Running", created: str = "2026-01-01T00:00:00Z",
        deleting: bool = False, reason: str | None = None) -> JSON:
    meta: JSON = {"name": name, "namespace": "ns", "creationTimestamp": created}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    status: JSON = {"phase": phase}
    if reason:
        status["reason"] = reason
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]}, "status": status}


def node(name: str, ready: str = "True", out_of_service: bool = False) -> JSON:
    taints = [{"key": "node.kubernetes.io/out-of-service", "effect": "NoExecute"}] if out_of_service else []
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": {"taints": taints},
            "status": {"conditions": [{"type": "Ready", "status": ready}]}}


def names(api: Any) -> list[str]:
    return sorted(p["metadata"]["name"] for p in api.all(PODS))


async def test_terminated_pods_over_the_threshold_go_evicted_then_oldest_first(api: Any, ctx: Any) -> None:
    gc = PodGCController(ctx, terminated_pod_gc_threshold=2)
    api.put(NODES, node("n"))
    api.put(PODS, pod("old", "n", "Succeeded", created="2026-01-01T00:00:01Z"))
    api.put(PODS, pod("newer", "n", "Failed", created="2026-01-01T00:00:05Z"))
    api.put(PODS, pod("evicted", "n", "Failed", created="2026-01-01T00:00:09Z", reason="Evicted"))
    api.put(PODS, pod("newest", "n", "Succeeded", created="2026-01-01T00:00:10Z"))
    api.put(PODS, pod("running", "n"))
    api.feed(ctx.informers, PODS, NODES)
    await gc.gc()
    assert names(api) == ["newer", "newest", "running"]


async def test_pods_of_a_deleted_node_go_after_the_quarantine(api: Any, ctx: Any, clock: Any) -> None:
    gc = PodGCController(ctx)
    api.put(PODS, pod("orphan", "gone"))
    api.put(PODS, pod("young", "late"))  # its node reaches the cache within the quarantine
    api.feed(ctx.informers, PODS, NODES)
    await gc.gc()
    assert names(api) == ["orphan", "young"]
    api.put(NODES, node("late"))
    clock.step(40)
    await gc.gc()  # the node cache is stale, but the GET finds "late"
    assert names(api) == ["young"]
    assert ("patch", "pods", "orphan") in api.writes  # Failed + DisruptionTarget, then deleted


async def test_orphan_condition_and_phase_are_set_before_deletion(api: Any, ctx: Any, clock: Any) -> None:
    gc = PodGCController(ctx)
    api.put(PODS, pod("orphan", "gone"))
    api.feed(ctx.informers, PODS, NODES)
    seen: list[JSON] = []
    original = api.delete

    async def remember(resource: Any, name: str, namespace: Any = None, **kwargs: Any) -> Any:
        seen.append({**api.all(PODS)[0], "grace": kwargs.get("grace_period_seconds")})
        return await original(resource, name, namespace, **kwargs)

    api.delete = remember
    await gc.gc()
    clock.step(40)
    await gc.gc()
    assert seen[0]["status"]["phase"] == "Failed" and seen[0]["grace"] == 0
    target = next(c for c in seen[0]["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert (target["reason"], target["message"]) == ("DeletionByPodGC", "PodGC: node no longer exists")


async def test_terminating_unscheduled_and_out_of_service_pods_are_forced(api: Any, ctx: Any) -> None:
    gc = PodGCController(ctx)
    api.put(NODES, node("down", ready="False", out_of_service=True))
    api.put(NODES, node("up"))
    api.put(PODS, pod("unscheduled", deleting=True))
    api.put(PODS, pod("stuck", "down", deleting=True))
    api.put(PODS, pod("graceful", "up", deleting=True))
    api.put(PODS, pod("pending"))
    api.feed(ctx.informers, PODS, NODES)
    await gc.gc()
    assert names(api) == ["graceful", "pending"]
