"""The EndpointSlice controller against an in-memory API: slice contents (conditions, ports by
name, zone, ownership, labels), slicing at 100, minimal updates, the placeholder slice, and
waiting for the informer to catch up with its own writes."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplane.client.resource import ENDPOINTSLICES, NODES, PODS, SERVICES
from kubeplane.controllers.endpointslice import EndpointSliceController
from kubeplane.controllers.endpointslice.controller import MissingNodes

JSON = dict[str, Any]


def service(**spec: Any) -> JSON:
    body: JSON = {"selector": {"app": "web"}, "clusterIP": "198.19.0.10", "ipFamilies": ["IPv4"],
                  "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "ns",
                                                                "labels": {"tier": "front"}}, "spec": body}


def pod(name: str, ip: str, ready: bool = True, node: str = "n1", terminating: bool = False) -> JSON:
    meta: JSON = {"name": name, "namespace": "ns", "labels": {"app": "web"}}
    if terminating:
        meta["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"nodeName": node, "containers": [{"name": "c", "ports": [
                {"name": "http", "containerPort": 8080, "protocol": "TCP"}]}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "conditions": [
                {"type": "Ready", "status": "True" if ready else "False",
                 "lastTransitionTime": "2026-01-01T00:00:05Z"}]}}


@pytest.fixture
def controller(ctx: Any, api: Any) -> EndpointSliceController:
    api.put(NODES, {"metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "zone-a"}}})
    return EndpointSliceController(ctx)


async def sync(api: Any, ctx: Any, controller: Any) -> None:
    api.feed(ctx.informers, SERVICES, PODS, NODES, ENDPOINTSLICES)
    await controller.sync("ns/web")


def by_pod(slices: list[JSON]) -> dict[str, JSON]:
    return {e["targetRef"]["name"]: e for s in slices for e in s["endpoints"]}


async def test_slice_lists_ready_not_ready_and_terminating_endpoints(api: Any, ctx: Any, controller: Any) -> None:
    svc = api.put(SERVICES, service())
    api.put(PODS, pod("a", "198.18.0.2"))
    api.put(PODS, pod("b", "198.18.0.3", ready=False))
    api.put(PODS, pod("c", "198.18.0.4", terminating=True))
    await sync(api, ctx, controller)
    [slice_] = api.all(ENDPOINTSLICES, "ns")
    meta = slice_["metadata"]
    assert meta["generateName"] == "web-"
    assert meta["labels"] == {"tier": "front", "kubernetes.io/service-name": "web",
                              "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}
    assert meta["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                        "uid": svc["metadata"]["uid"], "controller": True,
                                        "blockOwnerDeletion": True}]
    assert "endpoints.kubernetes.io/last-change-trigger-time" in meta["annotations"]
    assert slice_["addressType"] == "IPv4"
    assert slice_["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    endpoints = by_pod([slice_])
    assert endpoints["a"]["conditions"] == {"ready": True, "serving": True, "terminating": False}
    assert endpoints["b"]["conditions"] == {"ready": False, "serving": False, "terminating": False}
    assert endpoints["c"]["conditions"] == {"ready": False, "serving": True, "terminating": True}
    assert endpoints["a"]["addresses"] == ["198.18.0.2"]
    assert endpoints["a"]["nodeName"] == "n1" and endpoints["a"]["zone"] == "zone-a"
    assert endpoints["a"]["targetRef"]["kind"] == "Pod"


async def test_slices_hold_at_most_100_and_a_change_rewrites_one_slice(api: Any, ctx: Any, controller: Any) -> None:
    api.put(SERVICES, service())
    for i in range(250):
        api.put(PODS, pod(f"p{i:03d}", f"198.18.{i // 200}.{i % 200 + 1}"))
    await sync(api, ctx, controller)
    slices = api.all(ENDPOINTSLICES, "ns")
    assert sorted(len(s["endpoints"]) for s in slices) == [50, 100, 100]
    assert len(by_pod(slices)) == 250
    writes = len(api.writes)
    api.put(PODS, pod("p007", "198.18.0.8", ready=False))  # one endpoint changes
    await sync(api, ctx, controller)
    assert [w for w in api.writes[writes:] if w[1] == "endpointslices"] == [
        ("update", "endpointslices", next(s["metadata"]["name"] for s in slices if "p007" in by_pod([s])))]
    await sync(api, ctx, controller)  # nothing changed: nothing written
    assert api.count("update", "endpointslices") == 1


async def test_new_endpoints_fill_an_existing_slice_before_a_new_one(api: Any, ctx: Any, controller: Any) -> None:
    api.put(SERVICES, service())
    api.put(PODS, pod("a", "198.18.0.2"))
    await sync(api, ctx, controller)
    api.put(PODS, pod("b", "198.18.0.3"))
    await sync(api, ctx, controller)
    [slice_] = api.all(ENDPOINTSLICES, "ns")
    assert set(by_pod([slice_])) == {"a", "b"}
    assert api.count("create", "endpointslices") == 1


async def test_no_endpoints_keeps_one_placeholder_slice(api: Any, ctx: Any, controller: Any) -> None:
    api.put(SERVICES, service())
    api.put(PODS, pod("a", "198.18.0.2"))
    await sync(api, ctx, controller)
    await api.delete(PODS, "a", "ns")
    await sync(api, ctx, controller)
    [slice_] = api.all(ENDPOINTSLICES, "ns")
    assert slice_["endpoints"] == [] and slice_["ports"] == []  # the old slice, emptied: no delete + create
    assert api.count("delete", "endpointslices") == 0


async def test_pod_on_unknown_node_is_left_out_and_retried(api: Any, ctx: Any, controller: Any) -> None:
    api.put(SERVICES, service())
    api.put(PODS, pod("a", "198.18.0.2"))
    api.put(PODS, pod("lost", "198.18.0.3", node="ghost"))
    with pytest.raises(MissingNodes):
        await sync(api, ctx, controller)
    assert set(by_pod(api.all(ENDPOINTSLICES, "ns"))) == {"a"}


async def test_waits_for_the_cache_to_see_its_own_writes(api: Any, ctx: Any, controller: Any) -> None:
    api.put(SERVICES, service())
    api.put(PODS, pod("a", "198.18.0.2"))
    await sync(api, ctx, controller)
    api.feed(ctx.informers, PODS)  # an event arrives; the slice informer has not caught up
    ctx.informers.informer_for(ENDPOINTSLICES).indexer.replace([])
    await controller.sync("ns/web")
    assert api.count("create", "endpointslices") == 1  # no duplicate slice
    await sync(api, ctx, controller)
    assert len(api.all(ENDPOINTSLICES, "ns")) == 1
