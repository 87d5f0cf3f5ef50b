"""The StatefulSet controller against an in-memory API: ordered and parallel creation with
stable identities and claims, scale-down from the top, rolling updates with a partition,
OnDelete, ControllerRevisions, claim retention and status."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplane.client.resource import CONTROLLERREVISIONS, PERSISTENTVOLUMECLAIMS, PODS, STATEFULSETS
from kubeplane.controllers.statefulset import StatefulSetController

JSON = dict[str, Any]


def stateful_set(replicas: int = 3, **spec: Any) -> JSON:
    body: JSON = {"replicas": replicas, "serviceName": "web", "podManagementPolicy": "OrderedReady",
                  "selector": {"matchLabels": {"app": "web"}},
                  "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                  "template": {"metadata": {"labels": {"app": "web"}},
                               "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}},
                  "revisionHistoryLimit": 10}
    body.update(spec)
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "web", "namespace": "ns", "generation": 1}, "spec": body}


@pytest.fixture
def controller(ctx: Any) -> StatefulSetController:
    return StatefulSetController(ctx)


async def sync(api: Any, ctx: Any, controller: Any) -> None:
    api.feed(ctx.informers, STATEFULSETS, PODS, CONTROLLERREVISIONS, PERSISTENTVOLUMECLAIMS)
    await controller.sync("ns/web")


def names(api: Any) -> list[str]:
    return [p["metadata"]["name"] for p in api.all(PODS, "ns")]


def set_phase(api: Any, ready: bool = True, phase: str = "Running") -> None:
    """Play the kubelet: every pod Running (and Ready, unless told otherwise)."""
    for pod in api.all(PODS, "ns"):
        pod["status"] = {"phase": phase, "conditions": [
            {"type": "Ready", "status": "True" if ready else "False",
             "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
        api.objects[(PODS, "ns", pod["metadata"]["name"])] = pod


async def test_ordered_ready_creates_one_pod_at_a_time_with_identity_and_claims(
        api: Any, ctx: Any, controller: Any) -> None:
    claim = {"metadata": {"name": "data", "labels": {"disk": "ssd"}},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    api.put(STATEFULSETS, stateful_set(volumeClaimTemplates=[claim]))
    await sync(api, ctx, controller)
    assert names(api) == ["web-0"]
    pod = (await api.get(PODS, "web-0", "ns"))
    revision = api.all(CONTROLLERREVISIONS, "ns")[0]
    assert pod["metadata"]["labels"] == {"app": "web", "statefulset.kubernetes.io/pod-name": "web-0",
                                         "apps.kubernetes.io/pod-index": "0",
                                         "controller-revision-hash": revision["metadata"]["name"]}
    assert pod["spec"]["hostname"] == "web-0" and pod["spec"]["subdomain"] == "web"
    assert pod["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}}]
    pvc = await api.get(PERSISTENTVOLUMECLAIMS, "data-web-0", "ns")
    assert pvc["metadata"]["labels"] == {"disk": "ssd", "app": "web"}
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
    set_phase(api, ready=False)
    await sync(api, ctx, controller)
    assert names(api) == ["web-0"]  # web-0 is not Ready yet
    set_phase(api)
    await sync(api, ctx, controller)
    assert names(api) == ["web-0", "web-1"]
    status = (await api.get(STATEFULSETS, "web", "ns"))["status"]
    assert status["replicas"] == 2 and status["readyReplicas"] == 1 and status["availableReplicas"] == 1
    assert status["currentRevision"] == status["updateRevision"] == revision["metadata"]["name"]
    assert status["observedGeneration"] == 1 and status["collisionCount"] == 0


async def test_parallel_creates_every_pod_at_once_from_ordinals_start(api: Any, ctx: Any, controller: Any) -> None:
    api.put(STATEFULSETS, stateful_set(podManagementPolicy="Parallel", ordinals={"start": 5}))
    await sync(api, ctx, controller)
    assert names(api) == ["web-5", "web-6", "web-7"]
    assert (await api.get(PODS, "web-7", "ns"))["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "7"


async def ready_set(api: Any, ctx: Any, controller: Any, replicas: int = 3, **spec: Any) -> None:
    api.put(STATEFULSETS, stateful_set(replicas=replicas, podManagementPolicy="Parallel", **spec))
    await sync(api, ctx, controller)
    set_phase(api)
    await sync(api, ctx, controller)


async def test_scale_down_removes_the_highest_ordinal_first(api: Any, ctx: Any, controller: Any) -> None:
    await ready_set(api, ctx, controller)
    current = await api.get(STATEFULSETS, "web", "ns")
    current["spec"]["replicas"] = 1
    current["spec"]["podManagementPolicy"] = "OrderedReady"
    await api.update(STATEFULSETS, current)
    await sync(api, ctx, controller)
    assert names(api) == ["web-0", "web-1"]
    await sync(api, ctx, controller)
    assert names(api) == ["web-0"]


async def test_rolling_update_goes_down_from_the_top_and_stops_at_the_partition(
        api: Any, ctx: Any, controller: Any) -> None:
    await ready_set(api, ctx, controller)
    first = api.all(CONTROLLERREVISIONS, "ns")[0]["metadata"]["name"]
    current = await api.get(STATEFULSETS, "web", "ns")
    current["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    current["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = 1
    await api.update(STATEFULSETS, current)
    await sync(api, ctx, controller)
    revisions = {r["metadata"]["name"]: r["revision"] for r in api.all(CONTROLLERREVISIONS, "ns")}
    second = next(name for name in revisions if name != first)
    assert revisions == {first: 1, second: 2}
    assert names(api) == ["web-0", "web-1"]  # web-2 deleted first
    await sync(api, ctx, controller)  # recreated at the update revision
    assert (await api.get(PODS, "web-2", "ns"))["spec"]["containers"][0]["image"] == "nginx:2"
    set_phase(api)
    await sync(api, ctx, controller)
    assert names(api) == ["web-0", "web-2"]  # then web-1
    await sync(api, ctx, controller)
    set_phase(api)
    await sync(api, ctx, controller)
    images = {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in api.all(PODS, "ns")}
    assert images == {"web-0": "nginx:1", "web-1": "nginx:2", "web-2": "nginx:2"}  # web-0 is below the partition
    status = (await api.get(STATEFULSETS, "web", "ns"))["status"]
    assert (status["currentRevision"], status["updateRevision"]) == (first, second)
    assert status["updatedReplicas"] == 2 and status["currentReplicas"] == 1


async def test_on_delete_only_replaces_pods_someone_deleted(api: Any, ctx: Any, controller: Any) -> None:
    await ready_set(api, ctx, controller, updateStrategy={"type": "OnDelete"})
    current = await api.get(STATEFULSETS, "web", "ns")
    current["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    await api.update(STATEFULSETS, current)
    await sync(api, ctx, controller)
    assert api.count("delete", "pods") == 0
    await api.delete(PODS, "web-1", "ns")
    await sync(api, ctx, controller)
    assert (await api.get(PODS, "web-1", "ns"))["spec"]["containers"][0]["image"] == "nginx:2"
    assert (await api.get(PODS, "web-0", "ns"))["spec"]["containers"][0]["image"] == "nginx:1"


async def test_claim_retention_policy_sets_owner_references(api: Any, ctx: Any, controller: Any) -> None:
    claim = {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}
    policy = {"whenDeleted": "Delete", "whenScaled": "Delete"}
    await ready_set(api, ctx, controller, replicas=2, volumeClaimTemplates=[claim],
                    persistentVolumeClaimRetentionPolicy=policy)
    set_uid = (await api.get(STATEFULSETS, "web", "ns"))["metadata"]["uid"]
    refs = (await api.get(PERSISTENTVOLUMECLAIMS, "data-web-1", "ns"))["metadata"]["ownerReferences"]
    assert [(r["kind"], r["uid"]) for r in refs] == [("StatefulSet", set_uid)]
    current = await api.get(STATEFULSETS, "web", "ns")
    current["spec"]["replicas"] = 1
    await api.update(STATEFULSETS, current)
    pod_uid = (await api.get(PODS, "web-1", "ns"))["metadata"]["uid"]
    await sync(api, ctx, controller)
    # Scaled away: the condemned pod owns its claim now (deleted with it), the set no longer does.
    refs = (await api.get(PERSISTENTVOLUMECLAIMS, "data-web-1", "ns"))["metadata"]["ownerReferences"]
    assert [(r["kind"], r["uid"]) for r in refs] == [("Pod", pod_uid)]
    assert names(api) == ["web-0"]


async def test_min_ready_seconds_holds_the_next_pod(api: Any, ctx: Any, controller: Any, clock: Any) -> None:
    api.put(STATEFULSETS, stateful_set(replicas=2, minReadySeconds=30))
    await sync(api, ctx, controller)
    for pod in api.all(PODS, "ns"):
        pod["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True",
                                                              "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
        api.objects[(PODS, "ns", pod["metadata"]["name"])] = pod
    await sync(api, ctx, controller)
    assert names(api) == ["web-0"]
    assert (await api.get(STATEFULSETS, "web", "ns"))["status"]["availableReplicas"] == 0
    await clock.advance(31)
    await sync(api, ctx, controller)
    assert names(api) == ["web-0", "web-1"]


async def test_history_is_trimmed_and_an_old_template_reuses_its_revision(
        api: Any, ctx: Any, controller: Any) -> None:
    api.put(STATEFULSETS, stateful_set(replicas=0, revisionHistoryLimit=1))
    for image in ("nginx:2", "nginx:3", "nginx:1"):
        await sync(api, ctx, controller)
        current = await api.get(STATEFULSETS, "web", "ns")
        current["spec"]["template"]["spec"]["containers"][0]["image"] = image
        await api.update(STATEFULSETS, current)
    await sync(api, ctx, controller)
    revisions = api.all(CONTROLLERREVISIONS, "ns")
    # nginx:1 came back: its revision would have been reused, but it had been trimmed, so it is
    # new as revision 4; one old revision (nginx:3, the newest non-live) is kept.
    by_image = {r["data"]["spec"]["template"]["spec"]["containers"][0]["image"]: r["revision"] for r in revisions}
    assert by_image == {"nginx:3": 3, "nginx:1": 4}
    status = (await api.get(STATEFULSETS, "web", "ns"))["status"]
    assert status["updateRevision"] == next(r["metadata"]["name"] for r in revisions if r["revision"] == 4)


async def test_returning_to_a_kept_template_renumbers_its_revision(api: Any, ctx: Any, controller: Any) -> None:
    api.put(STATEFULSETS, stateful_set(replicas=0))
    for image in ("nginx:2", "nginx:1"):
        await sync(api, ctx, controller)
        current = await api.get(STATEFULSETS, "web", "ns")
        current["spec"]["template"]["spec"]["containers"][0]["image"] = image
        await api.update(STATEFULSETS, current)
    await sync(api, ctx, controller)
    revisions = api.all(CONTROLLERREVISIONS, "ns")
    by_image = {r["data"]["spec"]["template"]["spec"]["containers"][0]["image"]: r["revision"] for r in revisions}
    assert by_image == {"nginx:2": 2, "nginx:1": 3}  # no third object: nginx:1's revision is reused
