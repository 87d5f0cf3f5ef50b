"""The Endpoints, EndpointSlice, StatefulSet and DaemonSet controllers against the real API
server, run in this process. There is no kubelet or scheduler: the test writes pod status
(IPs, Running, Ready) through ``pods/status`` where a kubelet would."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from controllers_livelib import eventually, running_controllers

from kubeplane.client import Client, NotFound
from kubeplane.client.resource import (
    DAEMONSETS,
    ENDPOINTS,
    ENDPOINTSLICES,
    NODES,
    PODS,
    SERVICES,
    STATEFULSETS,
)
from kubeplane.controllers.daemonset import DaemonSetController
from kubeplane.controllers.endpoints import EndpointsController
from kubeplane.controllers.endpointslice import EndpointSliceController
from kubeplane.controllers.manager import ControllerSpec
from kubeplane.controllers.statefulset import StatefulSetController

pytestmark = pytest.mark.integration

JSON = dict[str, Any]

REGISTRY = {
    "endpoints-controller": ControllerSpec(EndpointsController, workers=5),
    "endpointslice-controller": ControllerSpec(EndpointSliceController, workers=5),
    "statefulset-controller": ControllerSpec(StatefulSetController, workers=5),
    "daemonset-controller": ControllerSpec(DaemonSetController, workers=2),
}


@pytest.fixture
async def controllers(apiserver: Any) -> AsyncIterator[None]:
    async with running_controllers(apiserver, list(REGISTRY), REGISTRY):
        yield


@pytest.fixture
async def nodes(client: Client) -> AsyncIterator[Callable[..., Awaitable[str]]]:
    """Creates Node objects with run-specific names; deletes them afterwards."""
    created: list[str] = []

    async def make(labels: dict[str, str]) -> str:
        name = f"n-{uuid.uuid4().hex[:10]}"
        await client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}})
        created.append(name)
        return name

    yield make
    for name in created:
        with contextlib.suppress(NotFound):
            await client.delete(NODES, name)


async def set_running(client: Client, namespace: str, name: str, ip: str, ready: bool) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    flag = "True" if ready else "False"
    status = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "conditions": [
        {"type": "Ready", "status": flag, "lastTransitionTime": now},
        {"type": "ContainersReady", "status": flag, "lastTransitionTime": now}]}
    await client.patch(PODS, name, {"status": status}, namespace, subresource="status")


def web_pod(name: str, node: str) -> JSON:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx", "ports": [
                {"name": "http", "containerPort": 8080}]}]}}


async def test_service_gets_endpoints_and_slices_by_readiness_and_named_port(
        client: Client, namespace: str, controllers: None, nodes: Any) -> None:
    node = await nodes({"topology.kubernetes.io/zone": "zone-a"})
    await client.create(SERVICES, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {
        "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}, namespace)
    await client.create(PODS, web_pod("ready", node), namespace)
    await client.create(PODS, web_pod("starting", node), namespace)
    await set_running(client, namespace, "ready", "198.18.1.10", ready=True)
    await set_running(client, namespace, "starting", "198.18.1.11", ready=False)

    async def endpoints() -> JSON | None:
        with contextlib.suppress(NotFound):
            found = await client.get(ENDPOINTS, "web", namespace)
            subsets = found.get("subsets") or []
            if subsets and subsets[0].get("addresses") and subsets[0].get("notReadyAddresses"):
                return found
        return None

    found = await eventually(endpoints, "Endpoints with a ready and a not-ready address")
    [subset] = found["subsets"]
    assert [(a["ip"], a["targetRef"]["name"], a["nodeName"]) for a in subset["addresses"]] == [
        ("198.18.1.10", "ready", node)]
    assert [a["ip"] for a in subset["notReadyAddresses"]] == ["198.18.1.11"]
    assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert "endpoints.kubernetes.io/last-change-trigger-time" in found["metadata"]["annotations"]

    async def slices() -> list[JSON]:
        items, _ = await client.list_all(ENDPOINTSLICES, namespace, label_selector="kubernetes.io/service-name=web")
        return items if items and len(items[0].get("endpoints") or ()) == 2 else []

    [slice_] = await eventually(slices, "an EndpointSlice with both pods")
    assert slice_["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
    assert slice_["metadata"]["ownerReferences"][0]["kind"] == "Service"
    assert slice_["addressType"] == "IPv4"
    assert slice_["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    conditions = {e["targetRef"]["name"]: (e["conditions"], e.get("zone")) for e in slice_["endpoints"]}
    assert conditions == {"ready": ({"ready": True, "serving": True, "terminating": False}, "zone-a"),
                          "starting": ({"ready": False, "serving": False, "terminating": False}, "zone-a")}


async def test_stateful_set_creates_ordered_pods(client: Client, namespace: str, controllers: None) -> None:
    await client.create(STATEFULSETS, {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
                                       "spec": {"replicas": 2, "serviceName": "db",
                                                "selector": {"matchLabels": {"app": "db"}},
                                                "template": {"metadata": {"labels": {"app": "db"}}, "spec": {
                                                    "containers": [{"name": "c", "image": "postgres"}]}}}},
                        namespace)

    async def pod_names() -> list[str]:
        items, _ = await client.list_all(PODS, namespace)
        return sorted(p["metadata"]["name"] for p in items)

    async def only_first() -> bool:
        return await pod_names() == ["db-0"]

    await eventually(only_first, "db-0")
    first = await client.get(PODS, "db-0", namespace)
    assert first["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "db-0"
    assert first["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "0"
    assert first["spec"]["hostname"] == "db-0" and first["spec"]["subdomain"] == "db"
    stored = await client.get(STATEFULSETS, "db", namespace)
    assert stored["status"]["replicas"] == 1
    assert first["metadata"]["labels"]["controller-revision-hash"] == stored["status"]["updateRevision"]
    assert await pod_names() == ["db-0"]  # OrderedReady: db-1 waits for db-0
    await set_running(client, namespace, "db-0", "198.18.2.10", ready=True)

    async def both() -> bool:
        return await pod_names() == ["db-0", "db-1"]

    await eventually(both, "db-1 after db-0 is Ready")
    await set_running(client, namespace, "db-1", "198.18.2.11", ready=True)

    async def settled() -> bool:
        status = (await client.get(STATEFULSETS, "db", namespace)).get("status") or {}
        return status.get("readyReplicas") == 2 and status.get("currentReplicas") == 2

    await eventually(settled, "status with two ready replicas")


async def test_daemon_set_puts_one_pinned_pod_on_each_matching_node(
        client: Client, namespace: str, controllers: None, nodes: Any) -> None:
    pool = f"pool-{uuid.uuid4().hex[:6]}"
    wanted = sorted([await nodes({"pool": pool}), await nodes({"pool": pool})])
    await nodes({"pool": "other"})
    await client.create(DAEMONSETS, {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
                                     "spec": {"selector": {"matchLabels": {"app": "agent"}},
                                              "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {
                                                  "nodeSelector": {"pool": pool},
                                                  "containers": [{"name": "c", "image": "agent"}]}}}}, namespace)

    async def pods() -> list[JSON]:
        items, _ = await client.list_all(PODS, namespace)
        return items if len(items) == 2 else []

    found = await eventually(pods, "two daemon pods")
    pinned = []
    for pod in found:
        terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
            "nodeSelectorTerms"]
        [term] = terms
        [field] = term["matchFields"]
        assert (field["key"], field["operator"]) == ("metadata.name", "In")
        pinned.extend(field["values"])
    assert sorted(pinned) == wanted

    async def counted() -> bool:
        status = (await client.get(DAEMONSETS, "agent", namespace)).get("status") or {}
        return status.get("desiredNumberScheduled") == 2 and status.get("currentNumberScheduled") == 2

    await eventually(counted, "DaemonSet status")
