"""The DaemonSet controller against an in-memory API: node eligibility (selectors, taints and
the tolerations added to every daemon pod), pods pinned by node affinity, status, rolling
updates with maxUnavailable and maxSurge, OnDelete and ControllerRevisions."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplane.client.resource import CONTROLLERREVISIONS, DAEMONSETS, NODES, PODS
from kubeplane.controllers.daemonset import DaemonSetController
from kubeplane.controllers.daemonset.pods import target_node

JSON = dict[str, Any]


def daemon_set(**spec: Any) -> JSON:
    body: JSON = {"selector": {"matchLabels": {"app": "agent"}},
                  "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                  "template": {"metadata": {"labels": {"app": "agent"}},
                               "spec": {"nodeSelector": {"role": "worker"},
                                        "containers": [{"name": "c", "image": "agent:1"}]}},
                  "revisionHistoryLimit": 10}
    body.update(spec)
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "ns", "generation": 1}, "spec": body}


def node(name: str, role: str = "worker", taints: list[JSON] | None = None) -> JSON:
    return {"metadata": {"name": name, "labels": {"role": role}}, "spec": {"taints": taints or []}}


@pytest.fixture
def controller(ctx: Any) -> DaemonSetController:
    return DaemonSetController(ctx)


async def sync(api: Any, ctx: Any, controller: Any) -> None:
    api.feed(ctx.informers, DAEMONSETS, PODS, NODES, CONTROLLERREVISIONS)
    # The informer has seen the pods: what the controller expected has happened.
    controller.creations.forget("ns/agent")
    controller.deletions.forget("ns/agent")
    await controller.sync("ns/agent")


def pods_by_node(api: Any) -> dict[str, list[JSON]]:
    result: dict[str, list[JSON]] = {}
    for pod in api.all(PODS, "ns"):
        result.setdefault(target_node(pod) or "", []).append(pod)
    return result


def run_all(api: Any) -> None:
    """Play scheduler and kubelet: bind every pod to its node, Running and Ready."""
    for pod in api.all(PODS, "ns"):
        pod["spec"]["nodeName"] = target_node(pod)
        pod["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True",
                                                              "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
        api.objects[(PODS, "ns", pod["metadata"]["name"])] = pod


async def test_one_pinned_pod_per_eligible_node(api: Any, ctx: Any, controller: Any) -> None:
    api.put(DAEMONSETS, daemon_set())
    api.put(NODES, node("plain"))
    api.put(NODES, node("not-ready", taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]))
    api.put(NODES, node("cordoned", taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]))
    api.put(NODES, node("dedicated", taints=[{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]))
    api.put(NODES, node("control", role="control-plane"))
    await sync(api, ctx, controller)
    placed = pods_by_node(api)
    assert sorted(placed) == ["cordoned", "not-ready", "plain"]
    pod = placed["plain"][0]
    revision = api.all(CONTROLLERREVISIONS, "ns")[0]
    hash_value = revision["metadata"]["labels"]["controller-revision-hash"]
    assert revision["metadata"]["name"] == f"agent-{hash_value}"
    assert pod["metadata"]["generateName"] == "agent-"
    assert pod["metadata"]["labels"] == {"app": "agent", "controller-revision-hash": hash_value,
                                         "pod-template-generation": "1"}
    assert "nodeName" not in pod["spec"]  # the scheduler binds it
    assert pod["spec"]["affinity"] == {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["plain"]}]}]}}}
    tolerated = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
    assert tolerated == {("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
                         ("node.kubernetes.io/disk-pressure", "NoSchedule"),
                         ("node.kubernetes.io/memory-pressure", "NoSchedule"),
                         ("node.kubernetes.io/pid-pressure", "NoSchedule"),
                         ("node.kubernetes.io/unschedulable", "NoSchedule")}
    await sync(api, ctx, controller)
    assert api.count("create", "pods") == 3  # nothing more to do


async def test_status_counts_and_misscheduled_and_evicted_pods(api: Any, ctx: Any, controller: Any) -> None:
    api.put(DAEMONSETS, daemon_set())
    api.put(NODES, node("a"))
    api.put(NODES, node("b"))
    await sync(api, ctx, controller)
    run_all(api)
    # b now has an untolerated NoExecute taint; a new node c joins.
    api.put(NODES, node("b", taints=[{"key": "evict", "effect": "NoExecute"}]))
    api.put(NODES, node("c"))
    api.put(NODES, node("d", role="db"))
    stray = api.all(PODS, "ns")[0]
    stray.update(metadata={**stray["metadata"], "name": "stray", "uid": "u-stray"})
    stray["spec"]["nodeName"] = "d"
    api.put(PODS, stray)
    await sync(api, ctx, controller)
    status = (await api.get(DAEMONSETS, "agent", "ns"))["status"]
    assert status == {"desiredNumberScheduled": 2, "currentNumberScheduled": 1, "numberMisscheduled": 2,
                      "numberReady": 1, "numberAvailable": 1, "numberUnavailable": 1, "updatedNumberScheduled": 1,
                      "observedGeneration": 1}
    assert sorted(pods_by_node(api)) == ["a", "c"]  # b's and d's pods deleted, c's created


async def change_image(api: Any, image: str) -> None:
    current = await api.get(DAEMONSETS, "agent", "ns")
    current["spec"]["template"]["spec"]["containers"][0]["image"] = image
    await api.update(DAEMONSETS, current)


def images(api: Any) -> dict[str, list[str]]:
    return {n: sorted(p["spec"]["containers"][0]["image"] for p in pods) for n, pods in pods_by_node(api).items()}


async def test_rolling_update_replaces_max_unavailable_nodes_at_a_time(api: Any, ctx: Any, controller: Any) -> None:
    api.put(DAEMONSETS, daemon_set())
    for name in ("a", "b", "c"):
        api.put(NODES, node(name))
    await sync(api, ctx, controller)
    run_all(api)
    await change_image(api, "agent:2")
    await sync(api, ctx, controller)
    assert api.count("delete", "pods") == 1
    assert sorted(images(api)) == ["b", "c"]  # a's old pod went first
    await sync(api, ctx, controller)
    assert images(api)["a"] == ["agent:2"]
    assert api.count("delete", "pods") == 1  # the new pod on a is not available yet: wait
    run_all(api)
    await sync(api, ctx, controller)
    assert api.count("delete", "pods") == 2
    assert len(api.all(CONTROLLERREVISIONS, "ns")) == 2


async def test_max_surge_starts_the_new_pod_before_removing_the_old(api: Any, ctx: Any, controller: Any) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    api.put(DAEMONSETS, daemon_set(updateStrategy=strategy))
    for name in ("a", "b"):
        api.put(NODES, node(name))
    await sync(api, ctx, controller)
    run_all(api)
    await change_image(api, "agent:2")
    await sync(api, ctx, controller)
    assert images(api) == {"a": ["agent:1", "agent:2"], "b": ["agent:1"]}
    assert api.count("delete", "pods") == 0
    run_all(api)
    await sync(api, ctx, controller)
    assert images(api) == {"a": ["agent:2"], "b": ["agent:1", "agent:2"]}


async def test_on_delete_waits_for_someone_to_delete(api: Any, ctx: Any, controller: Any) -> None:
    api.put(DAEMONSETS, daemon_set(updateStrategy={"type": "OnDelete"}))
    for name in ("a", "b"):
        api.put(NODES, node(name))
    await sync(api, ctx, controller)
    run_all(api)
    await change_image(api, "agent:2")
    await sync(api, ctx, controller)
    assert api.count("delete", "pods") == 0
    await api.delete(PODS, pods_by_node(api)["a"][0]["metadata"]["name"], "ns")
    await sync(api, ctx, controller)
    assert images(api) == {"a": ["agent:2"], "b": ["agent:1"]}
    status = (await api.get(DAEMONSETS, "agent", "ns"))["status"]
    assert status["updatedNumberScheduled"] == 0  # counted from the cache before the create
    await sync(api, ctx, controller)
    assert (await api.get(DAEMONSETS, "agent", "ns"))["status"]["updatedNumberScheduled"] == 1
