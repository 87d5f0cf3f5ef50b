"""The garbage collector and the Job, CronJob and TTL controllers against the real API server:
cascading (background), foreground and orphan deletes, and a Job run to completion. No kubelet:
the test marks pods Succeeded through pods/status, where a kubelet would."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import Any

import pytest
from controllers_livelib import eventually, running_controllers

from kubeplane.client import Client, NotFound, Resource
from kubeplane.client.resource import CONFIGMAPS, DEPLOYMENTS, JOBS, PODS, REPLICASETS

pytestmark = pytest.mark.integration

JSON = dict[str, Any]

RUNNING = ["deployment-controller", "replicaset-controller", "garbage-collector-controller", "job-controller",
           "cronjob-controller", "ttl-after-finished-controller"]


@pytest.fixture
async def controllers(apiserver: Any) -> AsyncIterator[None]:
    async with running_controllers(apiserver, RUNNING):
        yield


async def gone(client: Client, resource: Resource, name: str, namespace: str | None) -> bool:
    try:
        await client.get(resource, name, namespace)
    except NotFound:
        return True
    return False


async def names(client: Client, resource: Resource, namespace: str) -> list[str]:
    items, _ = await client.list_all(resource, namespace)
    return sorted(i["metadata"]["name"] for i in items)


def owner_ref(owner: JSON, api_version: str, kind: str, block: bool = True) -> JSON:
    return {"apiVersion": api_version, "kind": kind, "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": block}


def replica_set(name: str, replicas: int) -> JSON:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}


async def pods_of(client: Client, namespace: str, owner_uid: str) -> list[JSON]:
    items, _ = await client.list_all(PODS, namespace)
    return [p for p in items if any(r.get("uid") == owner_uid for r in p["metadata"].get("ownerReferences") or ())]


async def test_deleting_a_replicaset_in_the_background_removes_its_pods(
        client: Client, namespace: str, controllers: None) -> None:
    rs = await client.create(REPLICASETS, replica_set("bg", 3), namespace)
    await eventually(lambda: _has(pods_of(client, namespace, rs["metadata"]["uid"]), 3), "3 pods")
    await client.delete(REPLICASETS, "bg", namespace, propagation_policy="Background")
    await eventually(lambda: _has(pods_of(client, namespace, rs["metadata"]["uid"]), 0), "pods collected")


async def _has(pods: Awaitable[list[JSON]], count: int) -> bool:
    return len(await pods) == count


async def test_foreground_delete_of_a_deployment_waits_for_its_replicaset_and_pods(
        client: Client, namespace: str, controllers: None) -> None:
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "fg"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "fg"}},
                     "template": {"metadata": {"labels": {"app": "fg"}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    await client.create(DEPLOYMENTS, body, namespace)

    async def two_pods() -> bool:
        return len(await names(client, namespace=namespace, resource=PODS)) == 2

    await eventually(two_pods, "the deployment's pods")
    await client.delete(DEPLOYMENTS, "fg", namespace, propagation_policy="Foreground")
    marked = await client.get(DEPLOYMENTS, "fg", namespace)
    assert "foregroundDeletion" in marked["metadata"]["finalizers"]  # it waits for its dependents
    await eventually(lambda: gone(client, DEPLOYMENTS, "fg", namespace), "the deployment to go")
    assert await names(client, REPLICASETS, namespace) == []  # gone before their owner
    assert await names(client, PODS, namespace) == []


async def test_orphan_delete_keeps_dependents_without_the_reference(
        client: Client, namespace: str, controllers: None) -> None:
    owner = await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}},
                                namespace)
    for name in ("dep-a", "dep-b"):
        await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": name, "ownerReferences": [owner_ref(owner, "v1", "ConfigMap")]}}, namespace)
    await client.delete(CONFIGMAPS, "owner", namespace, propagation_policy="Orphan")
    await eventually(lambda: gone(client, CONFIGMAPS, "owner", namespace), "the owner to go")
    for name in ("dep-a", "dep-b"):
        dep = await client.get(CONFIGMAPS, name, namespace)
        assert not dep["metadata"].get("ownerReferences")


async def test_dependent_of_a_missing_owner_is_collected(client: Client, namespace: str, controllers: None) -> None:
    ghost = {"metadata": {"name": "never-existed", "uid": "6a1e2a0c-0000-4000-8000-000000000000"}}
    await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "stray", "ownerReferences": [owner_ref(ghost, "v1", "ConfigMap")]}}, namespace)
    await eventually(lambda: gone(client, CONFIGMAPS, "stray", namespace), "the stray dependent to go")


async def test_job_with_two_completions_completes_then_ttl_deletes_it(
        client: Client, namespace: str, controllers: None) -> None:
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "two"},
            "spec": {"completions": 2, "parallelism": 1,
                     "template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "c", "image": "busybox"}]}}}}
    job = await client.create(JOBS, body, namespace)
    uid = job["metadata"]["uid"]
    finished: set[str] = set()

    async def play_kubelet() -> bool:
        """Mark the running pod Succeeded; done once the Job says it is complete."""
        for pod in await pods_of(client, namespace, uid):
            name = pod["metadata"]["name"]
            assert "batch.kubernetes.io/job-tracking" in pod["metadata"].get("finalizers", ()) or name in finished, pod
            if name not in finished and (pod.get("status") or {}).get("phase") != "Succeeded":
                await client.patch(PODS, name, {"status": {"phase": "Succeeded"}}, namespace, subresource="status")
                finished.add(name)
        current = await client.get(JOBS, "two", namespace)
        conditions = {c["type"]: c["status"] for c in (current.get("status") or {}).get("conditions") or ()}
        return conditions.get("Complete") == "True" and current

    done = await eventually(play_kubelet, "the job to complete")
    assert done["status"]["succeeded"] == 2 and done["status"].get("active", 0) == 0
    assert done["status"]["completionTime"]
    assert len(finished) == 2  # one pod at a time (parallelism 1), two in all
    for pod in await pods_of(client, namespace, uid):
        assert "batch.kubernetes.io/job-tracking" not in (pod["metadata"].get("finalizers") or ())
        assert pod["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "two"
    # ttlSecondsAfterFinished set on the finished Job: the Job, then (foreground) its pods, go.
    await client.patch(JOBS, "two", {"spec": {"ttlSecondsAfterFinished": 0}}, namespace)
    await eventually(lambda: gone(client, JOBS, "two", namespace), "the TTL controller to delete the job")
    assert await pods_of(client, namespace, uid) == []
