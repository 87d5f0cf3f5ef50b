"""Disruption: a PDB's status from its pods' readiness and their controllers' scale, for
minAvailable and maxUnavailable as integers and percentages; stale disruptedPods entries expire;
pods without a known controller make a percentage budget fail safe."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplane.client.resource import DEPLOYMENTS, PODS, REPLICASETS, STATEFULSETS
from kubeplane.controllers.disruption import PODDISRUPTIONBUDGETS, DisruptionController
from kubeplane.controllers.disruption.budget import scaled_value

JSON = dict[str, Any]


def pdb(**spec: Any) -> JSON:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "b", "namespace": "ns", "generation": 3},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}


def pod(name: str, ready: bool, owner: JSON | None = None) -> JSON:
    meta: JSON = {"name": name, "namespace": "ns", "labels": {"app": "web"}}
    if owner is not None:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner["kind"], "name": owner["metadata"]["name"],
                                    "uid": owner["metadata"]["uid"], "controller": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def workload(api: Any, resource: Any, kind: str, name: str, replicas: int, owner: JSON | None = None) -> JSON:
    meta: JSON = {"name": name, "namespace": "ns"}
    if owner is not None:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner["kind"], "name": owner["metadata"]["name"],
                                    "uid": owner["metadata"]["uid"], "controller": True}]
    stored: JSON = api.put(resource, {"kind": kind, "metadata": meta, "spec": {"replicas": replicas}})
    return stored


def status(api: Any) -> JSON:
    result: JSON = api.all(PODDISRUPTIONBUDGETS)[0]["status"]
    return result


def feed(api: Any, ctx: Any) -> None:
    api.feed(ctx.informers, PODDISRUPTIONBUDGETS, PODS, REPLICASETS, DEPLOYMENTS, STATEFULSETS)


def test_percentages_scale_up() -> None:
    assert scaled_value("50%", 5, round_up=True) == 3
    assert scaled_value("50%", 5, round_up=False) == 2
    assert scaled_value(4, 100, round_up=True) == 4


async def test_min_available_integer_counts_ready_pods(api: Any, ctx: Any) -> None:
    controller = DisruptionController(ctx)
    api.put(PODDISRUPTIONBUDGETS, pdb(minAvailable=2))
    for name, ready in (("a", True), ("b", True), ("c", True), ("d", False)):
        api.put(PODS, pod(name, ready))
    feed(api, ctx)
    await controller.sync("ns/b")
    got = status(api)
    assert {k: got[k] for k in ("currentHealthy", "desiredHealthy", "expectedPods", "disruptionsAllowed",
                                "observedGeneration")} == {"currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 4,
                                                           "disruptionsAllowed": 1, "observedGeneration": 3}
    allowed = got["conditions"][0]
    assert (allowed["type"], allowed["status"], allowed["reason"]) == ("DisruptionAllowed", "True", "SufficientPods")


async def test_max_unavailable_uses_the_deployment_scale_through_its_replicaset(api: Any, ctx: Any) -> None:
    controller = DisruptionController(ctx)
    deployment = workload(api, DEPLOYMENTS, "Deployment", "web", 4)
    replica_set = workload(api, REPLICASETS, "ReplicaSet", "web-1", 3, owner=deployment)
    api.put(PODDISRUPTIONBUDGETS, pdb(maxUnavailable="25%"))
    for name in ("a", "b", "c"):
        api.put(PODS, pod(name, True, replica_set))
    feed(api, ctx)
    await controller.sync("ns/b")
    got = status(api)
    assert (got["expectedPods"], got["desiredHealthy"], got["currentHealthy"], got["disruptionsAllowed"]) == (4, 3, 3, 0)
    assert got["conditions"][0]["reason"] == "InsufficientPods"


async def test_min_available_percent_over_a_statefulset(api: Any, ctx: Any) -> None:
    controller = DisruptionController(ctx)
    stateful = workload(api, STATEFULSETS, "StatefulSet", "db", 5)
    api.put(PODDISRUPTIONBUDGETS, pdb(minAvailable="50%"))
    for name in ("a", "b", "c", "d", "e"):
        api.put(PODS, pod(name, True, stateful))
    feed(api, ctx)
    await controller.sync("ns/b")
    assert (status(api)["desiredHealthy"], status(api)["disruptionsAllowed"]) == (3, 2)


async def test_unmanaged_pods_under_a_percentage_fail_safe(api: Any, ctx: Any) -> None:
    controller = DisruptionController(ctx)
    api.put(PODDISRUPTIONBUDGETS, pdb(maxUnavailable=1))
    orphan = pod("a", True)
    orphan["metadata"]["ownerReferences"] = [{"apiVersion": "example.com/v1", "kind": "Thing", "name": "t",
                                              "uid": "u", "controller": True}]
    api.put(PODS, orphan)
    feed(api, ctx)
    await controller.sync("ns/b")
    got = status(api)
    assert got["disruptionsAllowed"] == 0
    assert (got["conditions"][0]["status"], got["conditions"][0]["reason"]) == ("False", "SyncFailed")


@pytest.mark.parametrize("age_seconds, counted", [(30, False), (150, True)])
async def test_disrupted_pods_expire_after_two_minutes(api: Any, ctx: Any, clock: Any, age_seconds: int,
                                                       counted: bool) -> None:
    controller = DisruptionController(ctx)
    budget = pdb(minAvailable=1)
    evicted_at = clock.wall()
    budget["status"] = {"disruptedPods": {"a": evicted_at.strftime("%Y-%m-%dT%H:%M:%SZ")}}
    api.put(PODDISRUPTIONBUDGETS, budget)
    api.put(PODS, pod("a", True))
    api.put(PODS, pod("b", True))
    feed(api, ctx)
    clock.step(age_seconds)
    await controller.sync("ns/b")
    got = status(api)
    assert got["currentHealthy"] == (2 if counted else 1)
    assert ("disruptedPods" in got) is not counted
    assert controller.queue.waiting() == (0 if counted else 1)  # looked at again when the entry expires
