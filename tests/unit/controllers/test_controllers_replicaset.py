"""The ReplicaSet controller's sync against an in-memory API: creates, expectations, slow start,
delete ranking, adoption and status."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplane.client.resource import PODS, REPLICASETS
from kubeplane.controllers.replicaset import ReplicaSetController
from kubeplane.controllers.replicaset.controller import pod_from_template
from kubeplane.controllers.replicaset.ranking import POD_DELETION_COST, pods_to_delete

JSON = dict[str, Any]


def replica_set(name: str = "web", replicas: int = 3, min_ready: int = 0) -> JSON:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": "ns", "generation": 2},
            "spec": {"replicas": replicas, "minReadySeconds": min_ready, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}, "annotations": {"a": "b"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def ready(pod: JSON, since: str = "2026-01-01T00:00:00Z", node: str = "n1") -> JSON:
    pod["spec"]["nodeName"] = node
    pod["status"] = {"phase": "Running",
                     "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": since}]}
    return pod


@pytest.fixture
def controller(ctx: Any) -> ReplicaSetController:
    return ReplicaSetController(ctx)


async def test_creates_missing_pods_owned_by_the_replica_set(api: Any, ctx: Any, controller: Any) -> None:
    rs = api.put(REPLICASETS, replica_set(replicas=3))
    api.feed(ctx.informers, REPLICASETS, PODS)
    await controller.sync("ns/web")
    pods = api.all(PODS, "ns")
    assert len(pods) == 3
    for pod in pods:
        assert pod["metadata"]["generateName"] == "web-"
        assert pod["metadata"]["labels"] == {"app": "web"}
        assert pod["metadata"]["annotations"] == {"a": "b"}
        assert pod["metadata"]["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                                                       "uid": rs["metadata"]["uid"], "controller": True,
                                                       "blockOwnerDeletion": True}]
    status = api.all(REPLICASETS)[0]["status"]
    assert status["replicas"] == 0  # the cache had not seen the new pods yet
    assert status["observedGeneration"] == 2


async def test_expectations_stop_a_second_create_until_the_cache_catches_up(api: Any, ctx: Any,
                                                                             controller: Any) -> None:
    api.put(REPLICASETS, replica_set(replicas=2))
    api.feed(ctx.informers, REPLICASETS, PODS)
    await controller.sync("ns/web")
    await controller.sync("ns/web")  # the informer has not reported the two pods yet
    assert api.count("create", "pods") == 2
    for pod in api.all(PODS):
        controller.pods.indexer.upsert(pod)
        controller._pod_added(pod)  # observes the creates
    await controller.sync("ns/web")
    assert api.count("create", "pods") == 2
    assert api.all(REPLICASETS)[0]["status"]["replicas"] == 2


async def test_creates_go_in_slow_start_batches_and_stop_at_the_first_failing_batch(
        api: Any, ctx: Any, controller: Any) -> None:
    api.put(REPLICASETS, replica_set(replicas=10))
    api.feed(ctx.informers, REPLICASETS, PODS)
    api.create_limit["pods"] = 4  # batches 1, 2 succeed, the batch of 4 fails after one success
    with pytest.raises(Exception, match="injected"):
        await controller.sync("ns/web")
    assert len(api.all(PODS)) == 4
    # 1 + 2 + 4 attempted, 3 never tried: only the 4 pods that exist are still expected.
    assert controller.expectations._by_controller["ns/web"].adds == 4
    status = api.all(REPLICASETS)[0]["status"]
    assert status["conditions"][0]["type"] == "ReplicaFailure"
    assert status["conditions"][0]["reason"] == "FailedCreate"


async def test_scale_down_deletes_the_cheapest_pods(api: Any, ctx: Any, controller: Any) -> None:
    rs = api.put(REPLICASETS, replica_set(replicas=1))
    keep = ready(pod_from_template(rs, REPLICASETS))
    api.put(PODS, keep)
    pending = api.put(PODS, pod_from_template(rs, REPLICASETS))
    api.feed(ctx.informers, REPLICASETS, PODS)
    await controller.sync("ns/web")
    remaining = api.all(PODS)
    assert [p["metadata"]["name"] for p in remaining] != [pending["metadata"]["name"]]
    assert len(remaining) == 1 and remaining[0]["status"]["phase"] == "Running"


def test_delete_ranking_orders_as_upstream() -> None:
    rs = replica_set()

    def pod(name: str, **changes: Any) -> JSON:
        p = pod_from_template({**rs, "metadata": {**rs["metadata"], "uid": "u"}}, REPLICASETS)
        p["metadata"]["name"] = name
        p["metadata"]["creationTimestamp"] = changes.pop("created", "2026-01-01T00:00:00Z")
        if changes.pop("ready", False):
            ready(p, since=changes.pop("since", "2026-01-01T00:00:00Z"), node=changes.pop("node", "n1"))
        elif "node" in changes:
            p["spec"]["nodeName"] = changes.pop("node")
            p["status"] = {"phase": changes.pop("phase", "Pending")}
        if "cost" in changes:
            p["metadata"]["annotations"] = {POD_DELETION_COST: str(changes.pop("cost"))}
        return p

    unscheduled = pod("unscheduled")
    pending = pod("pending", node="n1")
    not_ready = pod("not-ready", node="n1", phase="Running")
    ready_cheap = pod("ready-cheap", ready=True, cost=-5, node="n2")
    ready_old = pod("ready-old", ready=True, since="2026-01-01T00:00:00Z", node="n3")
    ready_new = pod("ready-new", ready=True, since="2026-01-01T01:00:00Z", node="n4")
    pods = [ready_old, ready_new, ready_cheap, not_ready, pending, unscheduled]
    order = [p["metadata"]["name"] for p in pods_to_delete(pods, pods, len(pods) - 1)]
    assert order == ["unscheduled", "pending", "not-ready", "ready-cheap", "ready-new"]
    # Among equals, a pod sharing its node with more of the workload goes first.
    crowded = pod("crowded", ready=True, node="n1")
    alone = pod("alone", ready=True, node="n9")
    neighbours = [pod(f"x{i}", ready=True, node="n1") for i in range(2)]
    assert pods_to_delete([alone, crowded], [alone, crowded, *neighbours], 1)[0]["metadata"]["name"] == "crowded"


async def test_adopts_matching_orphans_and_counts_them(api: Any, ctx: Any, controller: Any) -> None:
    api.put(REPLICASETS, replica_set(replicas=1))
    orphan = api.put(PODS, ready({"metadata": {"name": "orphan", "namespace": "ns", "labels": {"app": "web"}},
                                  "spec": {"containers": []}}))
    api.put(PODS, {"metadata": {"name": "stranger", "namespace": "ns", "labels": {"app": "other"}}, "spec": {}})
    api.feed(ctx.informers, REPLICASETS, PODS)
    await controller.sync("ns/web")
    adopted = await api.get(PODS, "orphan", "ns")
    assert adopted["metadata"]["ownerReferences"][0]["name"] == "web"
    assert adopted["metadata"]["uid"] == orphan["metadata"]["uid"]
    assert api.count("create", "pods") == 0
    status = api.all(REPLICASETS)[0]["status"]
    assert status["replicas"] == status["readyReplicas"] == status["availableReplicas"] == 1
    assert status["fullyLabeledReplicas"] == 1


async def test_available_waits_for_min_ready_seconds(api: Any, ctx: Any, controller: Any, clock: Any) -> None:
    rs = api.put(REPLICASETS, replica_set(replicas=1, min_ready=30))
    api.put(PODS, ready(pod_from_template(rs, REPLICASETS), since="2026-01-01T00:00:00Z"))
    api.feed(ctx.informers, REPLICASETS, PODS)
    await controller.sync("ns/web")
    status = api.all(REPLICASETS)[0]["status"]
    assert status["readyReplicas"] == 1 and status["availableReplicas"] == 0
    assert controller.queue.waiting() == 1  # looks again once the pod may count as available
    clock.step(31)
    api.feed(ctx.informers, REPLICASETS)
    await controller.sync("ns/web")
    assert api.all(REPLICASETS)[0]["status"]["availableReplicas"] == 1
