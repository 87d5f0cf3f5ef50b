"""The controllers against the real API server: Deployments roll out, scale and roll back (with
kubectl's rollout commands), namespaces empty and go, and new namespaces get their default
ServiceAccount and kube-root-ca.crt. There is no kubelet: the test marks pods Running and Ready
where a kubelet would."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from controllers_livelib import eventually, running_controllers

from kubeplane.client import Client, NotFound
from kubeplane.client.resource import (
    CONFIGMAPS,
    DEPLOYMENTS,
    NAMESPACES,
    PODS,
    REPLICASETS,
    REPLICATIONCONTROLLERS,
    SERVICEACCOUNTS,
)
from kubeplane.controllers.manager import enabled_controllers

pytestmark = pytest.mark.integration

JSON = dict[str, Any]


@pytest.fixture
async def controllers(apiserver: Any) -> AsyncIterator[None]:
    """Every controller, in this process, on the session's API server (no leader election)."""
    async with running_controllers(apiserver, enabled_controllers(["*"]), root_ca=apiserver.pki.ca_cert.read_bytes()):
        yield


async def active_pods(client: Client, namespace: str) -> list[JSON]:
    items, _ = await client.list_all(PODS, namespace)
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


async def play_kubelet(client: Client, namespace: str) -> None:
    """Mark every pod Running and Ready, as a kubelet would once its containers start."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for pod in await active_pods(client, namespace):
        if (pod.get("status") or {}).get("phase") == "Running":
            continue
        status = {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": now},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": now}]}
        with contextlib.suppress(NotFound):
            await client.patch(PODS, pod["metadata"]["name"], {"status": status}, namespace, subresource="status")


@contextlib.asynccontextmanager
async def kubelet(client: Client, namespace: str) -> AsyncIterator[None]:
    async def forever() -> None:
        while True:
            await play_kubelet(client, namespace)
            await asyncio.sleep(0.1)

    task = asyncio.create_task(forever())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def deployment(name: str, replicas: int, image: str = "nginx:1", **strategy: Any) -> JSON:
    spec: JSON = {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                  "template": {"metadata": {"labels": {"app": name}},
                               "spec": {"containers": [{"name": "web", "image": image}]}}}
    if strategy:
        spec["strategy"] = strategy
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}


async def rolled_out(client: Client, namespace: str, name: str, replicas: int, image: str) -> bool:
    d = await client.get(DEPLOYMENTS, name, namespace)
    status = d.get("status") or {}
    if status.get("observedGeneration", 0) < d["metadata"]["generation"]:
        return False
    if not (status.get("updatedReplicas") == status.get("availableReplicas") == status.get("replicas") == replicas):
        return False
    pods = await active_pods(client, namespace)
    return len(pods) == replicas and all(p["spec"]["containers"][0]["image"] == image for p in pods)


async def test_deployment_of_three_reaches_three_ready_pods_owned_through_a_replicaset(
        client: Client, namespace: str, controllers: None) -> None:
    await client.create(DEPLOYMENTS, deployment("web", 3), namespace)
    async with kubelet(client, namespace):
        await eventually(lambda: rolled_out(client, namespace, "web", 3, "nginx:1"), "3 available pods")
    sets, _ = await client.list_all(REPLICASETS, namespace)
    assert len(sets) == 1
    rs = sets[0]
    template_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{template_hash}"
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": template_hash}
    for pod in await active_pods(client, namespace):
        assert pod["metadata"]["generateName"] == f"{rs['metadata']['name']}-"
        assert pod["metadata"]["ownerReferences"] == [{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs["metadata"]["name"],
            "uid": rs["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
    d = await client.get(DEPLOYMENTS, "web", namespace)
    conditions = {c["type"]: c for c in d["status"]["conditions"]}
    assert conditions["Available"]["status"] == "True"
    assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"


async def test_scaling_up_and_down(client: Client, namespace: str, controllers: None, apiserver: Any) -> None:
    await client.create(DEPLOYMENTS, deployment("scaled", 2), namespace)
    async with kubelet(client, namespace):
        await eventually(lambda: rolled_out(client, namespace, "scaled", 2, "nginx:1"), "2 pods")
        await asyncio.to_thread(apiserver.kubectl, "-n", namespace, "scale", "deployment/scaled", "--replicas=5")
        await eventually(lambda: rolled_out(client, namespace, "scaled", 5, "nginx:1"), "5 pods")
        await client.patch(DEPLOYMENTS, "scaled", {"spec": {"replicas": 1}}, namespace)
        await eventually(lambda: rolled_out(client, namespace, "scaled", 1, "nginx:1"), "1 pod")


async def test_image_change_rolls_over_within_max_surge(client: Client, namespace: str, controllers: None) -> None:
    body = deployment("roll", 4, type="RollingUpdate", rollingUpdate={"maxSurge": 1, "maxUnavailable": 0})
    await client.create(DEPLOYMENTS, body, namespace)
    async with kubelet(client, namespace):
        await eventually(lambda: rolled_out(client, namespace, "roll", 4, "nginx:1"), "first rollout")
        await client.patch(DEPLOYMENTS, "roll", {"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:2"}]}}}}, namespace, patch_type="strategic")
        most = 0

        async def done_counting() -> bool:
            nonlocal most
            most = max(most, len(await active_pods(client, namespace)))
            return await rolled_out(client, namespace, "roll", 4, "nginx:2")

        await eventually(done_counting, "second rollout")
    assert most <= 5  # replicas + maxSurge
    sets, _ = await client.list_all(REPLICASETS, namespace)
    by_revision = {rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: rs for rs in sets}
    assert set(by_revision) == {"1", "2"}
    assert by_revision["1"]["spec"]["replicas"] == 0 and by_revision["2"]["spec"]["replicas"] == 4


async def test_kubectl_rollout_status_history_and_undo(client: Client, namespace: str, controllers: None,
                                                       apiserver: Any) -> None:
    def kubectl(*args: str) -> str:
        return str(apiserver.kubectl("-n", namespace, *args).stdout)

    await client.create(DEPLOYMENTS, deployment("app", 2), namespace)
    async with kubelet(client, namespace):
        out = await asyncio.to_thread(kubectl, "rollout", "status", "deployment/app", "--timeout=60s")
        assert 'deployment "app" successfully rolled out' in out
        await asyncio.to_thread(kubectl, "set", "image", "deployment/app", "web=nginx:2")
        out = await asyncio.to_thread(kubectl, "rollout", "status", "deployment/app", "--timeout=60s")
        assert "successfully rolled out" in out
        history = await asyncio.to_thread(kubectl, "rollout", "history", "deployment/app")
        revisions = [line.split()[0] for line in history.splitlines()[2:] if line.strip()]
        assert revisions == ["1", "2"]
        revision_one = await asyncio.to_thread(kubectl, "rollout", "history", "deployment/app", "--revision=1")
        assert "nginx:1" in revision_one
        out = await asyncio.to_thread(kubectl, "rollout", "undo", "deployment/app")
        assert "rolled back" in out
        await eventually(lambda: rolled_out(client, namespace, "app", 2, "nginx:1"), "rollback to nginx:1")
        history = await asyncio.to_thread(kubectl, "rollout", "history", "deployment/app")
        revisions = [line.split()[0] for line in history.splitlines()[2:] if line.strip()]
        assert revisions == ["2", "3"]  # revision 1 came back as 3
    d = json.loads(await asyncio.to_thread(kubectl, "get", "deployment/app", "-o", "json"))
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"


async def test_deleting_a_namespace_removes_its_objects_and_then_the_namespace(
        client: Client, controllers: None) -> None:
    name = f"doomed-{uuid.uuid4().hex[:8]}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                                     "data": {"k": "v"}}, name)
    await client.create(DEPLOYMENTS, deployment("d", 2), name)
    await eventually(lambda: active_pods(client, name), "pods of the deployment")
    await client.delete(NAMESPACES, name)

    async def gone() -> bool:
        try:
            await client.get(NAMESPACES, name)
        except NotFound:
            return True
        return False

    await eventually(gone, "namespace deleted")
    with pytest.raises(NotFound):
        await client.get(CONFIGMAPS, "c", name)


async def test_new_namespace_gets_default_service_account_and_root_ca(
        client: Client, namespace: str, controllers: None, apiserver: Any) -> None:
    async def published() -> JSON | None:
        try:
            await client.get(SERVICEACCOUNTS, "default", namespace)
            return await client.get(CONFIGMAPS, "kube-root-ca.crt", namespace)
        except NotFound:
            return None

    configmap = await eventually(published, "default SA and kube-root-ca.crt")
    assert configmap["data"] == {"ca.crt": apiserver.pki.ca_cert.read_text()}
    # Deleted or edited, both come back.
    await client.delete(SERVICEACCOUNTS, "default", namespace)
    await client.patch(CONFIGMAPS, "kube-root-ca.crt", {"data": {"ca.crt": "tampered"}}, namespace)

    async def restored() -> bool:
        ca = await published()
        return ca is not None and ca["data"] == {"ca.crt": apiserver.pki.ca_cert.read_text()}

    await eventually(restored, "SA and CA restored")


async def test_controller_manager_process_takes_the_lease_and_runs_controllers(
        client: Client, namespace: str, apiserver: Any, tmp_path: Any) -> None:
    import subprocess
    import sys

    from kubeplane.client.resource import LEASES

    log = tmp_path / "kcm.log"
    argv = [sys.executable, "-m", "kubeplane.controllers.app", f"--kubeconfig={apiserver.kubeconfig}",
            "--controllers=*,-namespace", f"--root-ca-file={apiserver.pki.ca_cert}", f"--log-file={log}"]
    with log.open("ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        async def holder() -> str:
            try:
                lease = await client.get(LEASES, "kube-controller-manager", "kube-system")
            except NotFound:
                return ""
            return str(lease["spec"].get("holderIdentity") or "")

        assert process.poll() is None, log.read_text()
        await eventually(holder, "the controller manager to hold its Lease")
        await client.create(DEPLOYMENTS, deployment("proc", 2), namespace)
        await eventually(lambda: active_pods(client, namespace), "pods from the process's controllers")
    finally:
        process.terminate()
        process.wait(15)
    assert process.returncode == 0, log.read_text()[-3000:]
    assert await holder() == ""  # released on a clean stop


async def test_replication_controller_keeps_its_pods(client: Client, namespace: str, controllers: None,
                                                     apiserver: Any) -> None:
    """A v1 ReplicationController (label-map selector) gets its pods, owned by it, and scales."""
    rc = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "legacy"},
          "spec": {"replicas": 3, "selector": {"app": "legacy"}, "template": {
              "metadata": {"labels": {"app": "legacy"}},
              "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}}}
    await client.create(REPLICATIONCONTROLLERS, rc, namespace)

    async def owned(count: int) -> bool:
        pods = [p for p in await active_pods(client, namespace)
                if any(r.get("kind") == "ReplicationController" and r.get("name") == "legacy" and r.get("controller")
                       for r in p["metadata"].get("ownerReferences") or ())]
        return len(pods) == count

    async def status_replicas(count: int) -> bool:
        current = await client.get(REPLICATIONCONTROLLERS, "legacy", namespace)
        return (current.get("status") or {}).get("replicas") == count

    await eventually(lambda: owned(3), "3 pods owned by the ReplicationController")
    await eventually(lambda: status_replicas(3), "status.replicas 3")
    await asyncio.to_thread(apiserver.kubectl, "-n", namespace, "scale", "rc/legacy", "--replicas=1")
    await eventually(lambda: owned(1), "1 pod after scaling down")
    await eventually(lambda: status_replicas(1), "status.replicas 1")
