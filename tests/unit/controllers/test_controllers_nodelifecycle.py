"""Node lifecycle: a node whose heartbeat stops goes Unknown, its pods not Ready, and it is tainted
unreachable (NoExecute, rate limited per zone; NoSchedule by condition); the taint eviction
deletes the pods that do not tolerate that, and those that do after tolerationSeconds."""

from __future__ import annotations

from typing import Any

from kubeplane.client.resource import LEASES, NODES, PODS
from kubeplane.controllers.nodelifecycle import NodeLifecycleController
from kubeplane.controllers.nodelifecycle.eviction import toleration_seconds
from kubeplane.controllers.nodelifecycle.zones import ZoneState
from kubeplane.controllers.timeutil import format_time

JSON = dict[str, Any]
MICRO = "%Y-%m-%dT%H:%M:%S.%fZ"


def node(name: str, clock: Any, zone: str = "a", **conditions: str) -> JSON:
    stamp = format_time(clock.wall())
    ready = {"type": "Ready", "status": conditions.pop("Ready", "True"), "lastHeartbeatTime": stamp,
             "lastTransitionTime": stamp, "reason": "KubeletReady"}
    others = [{"type": t, "status": s, "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}
              for t, s in conditions.items()]
    return {"apiVersion": "v1", "kind": "Node", "metadata": {
        "name": name, "labels": {"topology.kubernetes.io/zone": zone}}, "spec": {},
        "status": {"conditions": [ready, *others]}}


def lease(name: str, clock: Any) -> JSON:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": name, "renewTime": clock.wall().strftime(MICRO)}}


def pod(name: str, node_name: str, *tolerations: JSON) -> JSON:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns"},
            "spec": {"nodeName": node_name, "containers": [{"name": "c", "image": "i"}],
                     "tolerations": list(tolerations)},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}


def unreachable_for(seconds: int | None) -> JSON:
    toleration: JSON = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}
    if seconds is not None:
        toleration["tolerationSeconds"] = seconds
    return toleration


def renew(api: Any, name: str, clock: Any) -> None:
    api.put(LEASES, lease(name, clock))


def condition(obj: JSON, condition_type: str) -> JSON:
    return next(c for c in obj["status"]["conditions"] if c["type"] == condition_type)


def taint_keys(api: Any, name: str, effect: str) -> list[str]:
    found = next(n for n in api.all(NODES) if n["metadata"]["name"] == name)
    return sorted(t["key"] for t in found["spec"].get("taints") or () if t["effect"] == effect)


def feed(api: Any, ctx: Any) -> None:
    api.feed(ctx.informers, NODES, LEASES, PODS)


async def test_a_node_whose_lease_stops_goes_unknown_then_is_tainted(api: Any, ctx: Any, clock: Any) -> None:
    controller = NodeLifecycleController(ctx)
    for name in ("quiet", "alive"):
        api.put(NODES, node(name, clock))
        renew(api, name, clock)
    api.put(PODS, pod("p", "quiet"))
    api.put(PODS, pod("elsewhere", "alive"))
    feed(api, ctx)
    await controller.monitor_node_health()
    clock.step(30)
    renew(api, "alive", clock)
    feed(api, ctx)
    await controller.monitor_node_health()
    assert taint_keys(api, "quiet", "NoExecute") == []  # within the 40 s grace period

    clock.step(15)
    renew(api, "alive", clock)
    feed(api, ctx)
    await controller.monitor_node_health()
    quiet = next(n for n in api.all(NODES) if n["metadata"]["name"] == "quiet")
    for condition_type in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure"):
        assert condition(quiet, condition_type)["status"] == "Unknown"
    assert condition(quiet, "Ready")["message"] == "Kubelet stopped posting node status."
    assert condition(quiet, "MemoryPressure")["reason"] == "NodeStatusNeverUpdated"
    pods = {p["metadata"]["name"]: p for p in api.all(PODS)}
    assert condition(pods["p"], "Ready")["status"] == "False"  # MarkPodsNotReady, for the quiet node's pods
    assert condition(pods["elsewhere"], "Ready")["status"] == "True"  # only
    assert condition(next(n for n in api.all(NODES) if n["metadata"]["name"] == "alive"), "Ready")["status"] == "True"

    feed(api, ctx)
    await controller.sync("quiet")  # taint-nodes-by-condition
    feed(api, ctx)
    await controller.monitor_node_health()  # NoExecute, seen as Unknown now
    assert taint_keys(api, "quiet", "NoExecute") == ["node.kubernetes.io/unreachable"]
    assert taint_keys(api, "quiet", "NoSchedule") == ["node.kubernetes.io/unreachable"]
    assert taint_keys(api, "alive", "NoExecute") == []


async def test_a_node_back_to_ready_loses_its_taints(api: Any, ctx: Any, clock: Any) -> None:
    controller = NodeLifecycleController(ctx)
    api.put(NODES, node("alive", clock))
    flaky = node("flaky", clock, Ready="False")
    api.put(NODES, flaky)
    for name in ("alive", "flaky"):
        renew(api, name, clock)
    feed(api, ctx)
    await controller.monitor_node_health()
    assert taint_keys(api, "flaky", "NoExecute") == ["node.kubernetes.io/not-ready"]
    feed(api, ctx)
    await controller.sync("flaky")
    assert taint_keys(api, "flaky", "NoSchedule") == ["node.kubernetes.io/not-ready"]

    current = next(n for n in api.all(NODES) if n["metadata"]["name"] == "flaky")
    condition(current, "Ready")["status"] = "True"
    api.put(NODES, current)
    feed(api, ctx)
    await controller.monitor_node_health()
    feed(api, ctx)
    await controller.sync("flaky")
    assert taint_keys(api, "flaky", "NoExecute") == [] and taint_keys(api, "flaky", "NoSchedule") == []


async def test_conditions_and_unschedulable_become_no_schedule_taints_beside_others(
        api: Any, ctx: Any, clock: Any) -> None:
    controller = NodeLifecycleController(ctx)
    pressured = node("n", clock, MemoryPressure="True", DiskPressure="False")
    pressured["spec"] = {"unschedulable": True, "taints": [{"key": "user", "effect": "NoSchedule"}]}
    api.put(NODES, pressured)
    feed(api, ctx)
    await controller.sync("n")
    assert taint_keys(api, "n", "NoSchedule") == ["node.kubernetes.io/memory-pressure",
                                                  "node.kubernetes.io/unschedulable", "user"]


async def test_no_execute_tainting_is_rate_limited_per_zone(api: Any, ctx: Any, clock: Any) -> None:
    controller = NodeLifecycleController(ctx)
    names = [f"n{i}" for i in range(10)]
    for i, name in enumerate(names):
        api.put(NODES, node(name, clock, Ready="False" if i < 2 else "True"))
        renew(api, name, clock)
    feed(api, ctx)
    await controller.monitor_node_health()
    tainted = [n for n in names if taint_keys(api, n, "NoExecute")]
    assert len(tainted) == 1  # 0.1/s with burst 1
    clock.step(5)
    for name in names:
        renew(api, name, clock)
    feed(api, ctx)
    await controller.monitor_node_health()
    assert len([n for n in names if taint_keys(api, n, "NoExecute")]) == 1
    clock.step(5)
    for name in names:
        renew(api, name, clock)
    feed(api, ctx)
    await controller.monitor_node_health()
    assert [n for n in names if taint_keys(api, n, "NoExecute")] == ["n0", "n1"]


async def test_when_every_node_is_down_nothing_is_tainted(api: Any, ctx: Any, clock: Any) -> None:
    controller = NodeLifecycleController(ctx)
    for name in ("a", "b"):
        api.put(NODES, node(name, clock, Ready="False"))
    feed(api, ctx)
    await controller.monitor_node_health()
    assert controller.zone_states[next(iter(controller.zone_states))] is ZoneState.FULL_DISRUPTION
    assert taint_keys(api, "a", "NoExecute") == [] and taint_keys(api, "b", "NoExecute") == []


def test_toleration_seconds_take_the_shortest_matching_limit() -> None:
    unreachable = [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]
    assert toleration_seconds(unreachable, []) == 0
    assert toleration_seconds(unreachable, [unreachable_for(None)]) is None
    assert toleration_seconds(unreachable, [unreachable_for(300), {"operator": "Exists", "tolerationSeconds": 60}]) == 60
    assert toleration_seconds(unreachable, [unreachable_for(-5)]) == 0


async def test_taint_eviction_deletes_untolerating_pods_now_and_tolerating_ones_later(
        api: Any, ctx: Any, clock: Any) -> None:
    controller = NodeLifecycleController(ctx)
    eviction = controller.eviction
    tainted = node("n", clock, Ready="Unknown")
    tainted["spec"]["taints"] = [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]
    api.put(NODES, tainted)
    api.put(PODS, pod("plain", "n"))
    api.put(PODS, pod("patient", "n", unreachable_for(30)))
    api.put(PODS, pod("forever", "n", unreachable_for(None)))
    feed(api, ctx)
    for name in ("plain", "patient", "forever"):
        await eviction.sync(f"ns/{name}")
    assert sorted(p["metadata"]["name"] for p in api.all(PODS)) == ["forever", "patient"]
    assert ("patch", "pods", "plain") in api.writes  # the DisruptionTarget condition, before the delete
    assert eviction.queue.waiting() == 1

    clock.step(29)
    await eviction.sync("ns/patient")
    assert len(api.all(PODS)) == 2
    clock.step(1)
    await eviction.sync("ns/patient")
    assert [p["metadata"]["name"] for p in api.all(PODS)] == ["forever"]


async def test_eviction_is_cancelled_when_the_taint_goes(api: Any, ctx: Any, clock: Any) -> None:
    controller = NodeLifecycleController(ctx)
    eviction = controller.eviction
    tainted = node("n", clock, Ready="Unknown")
    tainted["spec"]["taints"] = [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]
    api.put(NODES, tainted)
    api.put(PODS, pod("patient", "n", unreachable_for(30)))
    feed(api, ctx)
    await eviction.sync("ns/patient")
    tainted = api.all(NODES)[0]
    tainted["spec"]["taints"] = []
    api.put(NODES, tainted)
    feed(api, ctx)
    clock.step(60)
    await eviction.sync("ns/patient")
    assert len(api.all(PODS)) == 1
