"""Node lifecycle, disruption, resource quota and CSR signing against the real API server. No
kubelet: the test renews one node's Lease (the other's goes stale) and sets pod status itself."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from controllers_livelib import eventually, running_controllers
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubeplane.client import AlreadyExists, Client, NotFound
from kubeplane.client.resource import CONFIGMAPS, LEASES, NAMESPACES, NODES, PODS
from kubeplane.controllers.certificates import CERTIFICATESIGNINGREQUESTS, ClusterSigner, CSRSigningController
from kubeplane.controllers.disruption import PODDISRUPTIONBUDGETS, DisruptionController
from kubeplane.controllers.manager import ControllerSpec
from kubeplane.controllers.nodelifecycle import NodeLifecycleController
from kubeplane.controllers.resourcequota import RESOURCEQUOTAS, ResourceQuotaController

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
MICRO = "%Y-%m-%dT%H:%M:%S.%fZ"


def now(fmt: str = "%Y-%m-%dT%H:%M:%SZ") -> str:
    return datetime.now(UTC).strftime(fmt)


@pytest.fixture
async def controllers(apiserver: Any) -> AsyncIterator[None]:
    signer = ClusterSigner.from_pem(apiserver.pki.ca_cert.read_bytes(), apiserver.pki.ca_key.read_bytes())
    registry = {
        # A short grace period and monitor period, so a stale Lease shows within seconds.
        "node-lifecycle-controller": ControllerSpec(
            lambda ctx: NodeLifecycleController(ctx, monitor_period=0.5, grace_period=3.0)),
        "disruption-controller": ControllerSpec(DisruptionController),
        "resourcequota-controller": ControllerSpec(ResourceQuotaController),
        "certificatesigningrequest-signing-controller": ControllerSpec(lambda ctx: CSRSigningController(ctx, signer)),
    }
    async with running_controllers(apiserver, list(registry), registry):
        yield


@pytest.fixture
async def node_pair(client: Client) -> AsyncIterator[tuple[str, str]]:
    """Two nodes in a zone of their own (so other tests' nodes do not sway the zone's state): one
    whose Lease the test keeps renewing, one whose Lease stops at once."""
    with contextlib.suppress(AlreadyExists):
        await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                         "metadata": {"name": "kube-node-lease"}})
    run = uuid.uuid4().hex[:8]
    alive, stale = f"alive-{run}", f"stale-{run}"
    for name in (alive, stale):
        await client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": name, "labels": {"topology.kubernetes.io/zone": f"zone-{run}"}}})
        await client.patch(NODES, name, {"status": {"conditions": [
            {"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": now(),
             "lastTransitionTime": now()}]}}, subresource="status")
        await client.create(LEASES, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                     "metadata": {"name": name, "namespace": "kube-node-lease"},
                                     "spec": {"holderIdentity": name, "leaseDurationSeconds": 40,
                                              "renewTime": now(MICRO)}}, "kube-node-lease")

    async def renew_forever() -> None:
        while True:
            await asyncio.sleep(0.5)
            await client.patch(LEASES, alive, {"spec": {"renewTime": now(MICRO)}}, "kube-node-lease")

    renewer = asyncio.create_task(renew_forever())
    try:
        yield alive, stale
    finally:
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer
        for name in (alive, stale):
            with contextlib.suppress(NotFound):
                await client.delete(LEASES, name, "kube-node-lease")
            with contextlib.suppress(NotFound):
                await client.delete(NODES, name)


def pod(name: str, node: str | None = None, labels: JSON | None = None, cpu: str | None = None,
        tolerations: list[JSON] | None = None) -> JSON:
    container: JSON = {"name": "c", "image": "busybox"}
    if cpu:
        container["resources"] = {"requests": {"cpu": cpu}}
    spec: JSON = {"containers": [container], "tolerations": tolerations or []}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}}, "spec": spec}


async def set_ready(client: Client, namespace: str, name: str) -> None:
    await client.patch(PODS, name, {"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": now()}]}}, namespace, subresource="status")


async def test_a_stale_node_is_tainted_and_its_pod_evicted_after_toleration_seconds(
        client: Client, namespace: str, controllers: None, node_pair: tuple[str, str]) -> None:
    alive, stale = node_pair
    tolerate_briefly = [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                         "tolerationSeconds": 1}]
    await client.create(PODS, pod("doomed", stale, tolerations=tolerate_briefly), namespace)
    await client.create(PODS, pod("safe", alive, tolerations=tolerate_briefly), namespace)

    async def unreachable_taints() -> list[str] | None:
        node = await client.get(NODES, stale)
        taints = sorted(f"{t['key']}:{t['effect']}" for t in (node.get("spec") or {}).get("taints") or ())
        return taints if "node.kubernetes.io/unreachable:NoExecute" in taints else None

    taints = await eventually(unreachable_taints, "the stale node's NoExecute taint", timeout=20)
    assert taints == ["node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule"]

    async def evicted() -> JSON | None:
        found = await client.get(PODS, "doomed", namespace)
        return found if found["metadata"].get("deletionTimestamp") else None

    doomed = await eventually(evicted, "the pod's eviction", timeout=20)
    target = [c for c in doomed["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    assert target and target[0]["reason"] == "DeletionByTaintManager"
    node = await client.get(NODES, stale)
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["message"]) == ("Unknown", "Kubelet stopped posting node status.")
    assert not (await client.get(PODS, "safe", namespace))["metadata"].get("deletionTimestamp")
    assert not ((await client.get(NODES, alive)).get("spec") or {}).get("taints")


async def test_budget_status_and_quota_usage_are_computed(client: Client, namespace: str, controllers: None) -> None:
    await client.create(RESOURCEQUOTAS, {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
                                         "spec": {"hard": {"pods": "5", "requests.cpu": "2", "configmaps": "10"}}},
                        namespace)
    await client.create(PODDISRUPTIONBUDGETS, {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                                               "metadata": {"name": "b"},
                                               "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "w"}}}},
                        namespace)
    for name in ("w1", "w2"):
        await client.create(PODS, pod(name, labels={"app": "w"}, cpu="250m"), namespace)
        await set_ready(client, namespace, name)
    await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, namespace)

    async def budget() -> JSON | None:
        status = (await client.get(PODDISRUPTIONBUDGETS, "b", namespace)).get("status") or {}
        return status if status.get("currentHealthy") == 2 else None

    status = await eventually(budget, "the budget's status", timeout=20)
    assert (status["desiredHealthy"], status["expectedPods"], status["disruptionsAllowed"]) == (1, 2, 1)
    assert status["conditions"][0]["reason"] == "SufficientPods"

    configmaps, _ = await client.list_all(CONFIGMAPS, namespace)

    async def used() -> JSON | None:
        status = (await client.get(RESOURCEQUOTAS, "q", namespace)).get("status") or {}
        wanted = {"pods": "2", "requests.cpu": "500m", "configmaps": str(len(configmaps))}
        return status if status.get("used") == wanted else None

    status = await eventually(used, "the quota's usage", timeout=20)
    assert status["hard"] == {"pods": "5", "requests.cpu": "2", "configmaps": "10"}


async def test_an_approved_csr_gets_a_certificate_from_the_cluster_ca(
        client: Client, apiserver: Any, controllers: None) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    request = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "devs"), x509.NameAttribute(NameOID.COMMON_NAME, "alice")])
    ).sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    name = f"alice-{uuid.uuid4().hex[:8]}"
    await client.create(CERTIFICATESIGNINGREQUESTS, {
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": name},
        "spec": {"request": base64.b64encode(request).decode(), "signerName": "kubernetes.io/kube-apiserver-client",
                 "usages": ["digital signature", "client auth"], "expirationSeconds": 3600}})
    try:
        csr = await client.get(CERTIFICATESIGNINGREQUESTS, name)
        csr["status"] = {"conditions": [{"type": "Approved", "status": "True", "reason": "Test",
                                         "message": "approved by the test", "lastUpdateTime": now()}]}
        await client.update(CERTIFICATESIGNINGREQUESTS, csr, subresource="approval")

        async def certificate() -> str | None:
            found = await client.get(CERTIFICATESIGNINGREQUESTS, name)
            return (found.get("status") or {}).get("certificate")

        encoded = await eventually(certificate, "the signed certificate", timeout=20)
        cert = x509.load_pem_x509_certificate(base64.b64decode(encoded))
        ca = x509.load_pem_x509_certificate(apiserver.pki.ca_cert.read_bytes())
        cert.verify_directly_issued_by(ca)
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
        assert cert.public_key() == key.public_key()
    finally:
        with contextlib.suppress(NotFound):
            await client.delete(CERTIFICATESIGNINGREQUESTS, name)
