"""The Endpoints controller against an in-memory API: addresses by readiness, ports by name,
hostnames, labels, the trigger-time and capacity annotations, and cleanup."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplane.client.resource import ENDPOINTS, PODS, SERVICES
from kubeplane.controllers.endpoints import EndpointsController
from kubeplane.controllers.endpoints.subsets import truncate

JSON = dict[str, Any]


def service(name: str = "web", **spec: Any) -> JSON:
    body: JSON = {"selector": {"app": "web"}, "clusterIP": "198.19.0.10", "ipFamilies": ["IPv4"],
                  "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "ns",
                                                                "labels": {"tier": "front"}}, "spec": body}


def pod(name: str, ip: str | None, ready: bool = True, port: int = 8080, **extra: Any) -> JSON:
    status: JSON = {"phase": extra.pop("phase", "Running"),
                    "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                    "lastTransitionTime": extra.pop("since", "2026-01-01T00:00:05Z")}]}
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    meta: JSON = {"name": name, "namespace": "ns", "labels": extra.pop("labels", {"app": "web"})}
    if extra.pop("terminating", False):
        meta["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    spec: JSON = {"nodeName": "n1", "containers": [{"name": "c", "ports": [
        {"name": "http", "containerPort": port, "protocol": "TCP"}]}], **extra}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


@pytest.fixture
def controller(ctx: Any) -> EndpointsController:
    return EndpointsController(ctx)


async def sync(api: Any, ctx: Any, controller: Any, key: str = "ns/web") -> None:
    api.feed(ctx.informers, SERVICES, PODS, ENDPOINTS)
    await controller.sync(key)


async def test_ready_and_not_ready_pods_with_a_named_target_port(api: Any, ctx: Any, controller: Any) -> None:
    svc = api.put(SERVICES, service())
    a = api.put(PODS, pod("a", "198.18.0.2"))
    api.put(PODS, pod("b", "198.18.0.3", ready=False, port=9090))
    api.put(PODS, pod("other", "198.18.0.4", labels={"app": "other"}))
    await sync(api, ctx, controller)
    endpoints = await api.get(ENDPOINTS, "web", "ns")
    assert endpoints["metadata"]["labels"] == {"tier": "front", "endpoints.kubernetes.io/managed-by":
                                               "endpoint-controller"}
    # The earliest change not yet published: the Service's creation, before the pods' readiness.
    trigger = "endpoints.kubernetes.io/last-change-trigger-time"
    assert endpoints["metadata"]["annotations"][trigger] == svc["metadata"]["creationTimestamp"]
    # Each pod names its own container port: two port sets, so two subsets.
    assert endpoints["subsets"] == [
        {"addresses": [{"ip": "198.18.0.2", "nodeName": "n1", "targetRef": {
            "kind": "Pod", "namespace": "ns", "name": "a", "uid": a["metadata"]["uid"]}}],
         "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]},
        {"notReadyAddresses": [{"ip": "198.18.0.3", "nodeName": "n1", "targetRef": {
            "kind": "Pod", "namespace": "ns", "name": "b", "uid": "uid-3"}}],
         "ports": [{"name": "http", "port": 9090, "protocol": "TCP"}]}]
    api.put(PODS, pod("b", "198.18.0.3", ready=True, port=9090, since="2026-01-01T00:10:00Z"))
    await sync(api, ctx, controller)
    endpoints = await api.get(ENDPOINTS, "web", "ns")
    assert "notReadyAddresses" not in endpoints["subsets"][1]
    assert endpoints["metadata"]["annotations"][trigger] == "2026-01-01T00:10:00Z"


async def test_same_ports_share_one_subset_and_unchanged_state_is_not_rewritten(
        api: Any, ctx: Any, controller: Any) -> None:
    api.put(SERVICES, service())
    api.put(PODS, pod("a", "198.18.0.2"))
    api.put(PODS, pod("b", "198.18.0.3", ready=False))
    await sync(api, ctx, controller)
    subsets = (await api.get(ENDPOINTS, "web", "ns"))["subsets"]
    assert len(subsets) == 1
    assert [a["ip"] for a in subsets[0]["addresses"]] == ["198.18.0.2"]
    assert [a["ip"] for a in subsets[0]["notReadyAddresses"]] == ["198.18.0.3"]
    await sync(api, ctx, controller)
    assert api.count("create", "endpoints") == 1 and api.count("update", "endpoints") == 0


async def test_excluded_pods_and_publish_not_ready(api: Any, ctx: Any, controller: Any) -> None:
    api.put(SERVICES, service(publishNotReadyAddresses=True))
    api.put(PODS, pod("no-ip", None))
    api.put(PODS, pod("done", "198.18.0.5", phase="Succeeded"))
    api.put(PODS, pod("going", "198.18.0.6", terminating=True))
    api.put(PODS, pod("unready", "198.18.0.7", ready=False))
    api.put(PODS, pod("no-port", "198.18.0.8", containers=[{"name": "c"}]))
    await sync(api, ctx, controller)
    subsets = (await api.get(ENDPOINTS, "web", "ns"))["subsets"]
    assert [[a["ip"] for a in s.get("addresses", [])] for s in subsets] == [["198.18.0.7"]]
    assert "notReadyAddresses" not in subsets[0]


async def test_headless_service_publishes_hostnames_and_is_labelled(api: Any, ctx: Any, controller: Any) -> None:
    api.put(SERVICES, service(clusterIP="None", ports=[{"name": "p", "port": 80, "targetPort": 8080,
                                                        "protocol": "TCP"}]))
    api.put(PODS, pod("web-0", "198.18.0.2", hostname="web-0", subdomain="web"))
    api.put(PODS, pod("stray", "198.18.0.3", hostname="stray", subdomain="elsewhere"))
    await sync(api, ctx, controller)
    endpoints = await api.get(ENDPOINTS, "web", "ns")
    assert endpoints["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
    hostnames = {a["ip"]: a.get("hostname") for a in endpoints["subsets"][0]["addresses"]}
    assert hostnames == {"198.18.0.2": "web-0", "198.18.0.3": None}


async def test_service_without_selector_is_left_alone_and_deleted_service_loses_endpoints(
        api: Any, ctx: Any, controller: Any) -> None:
    manual = service("manual")
    del manual["spec"]["selector"]
    api.put(SERVICES, manual)
    api.put(ENDPOINTS, {"metadata": {"name": "manual", "namespace": "ns"},
                        "subsets": [{"addresses": [{"ip": "198.18.9.9"}]}]})
    api.put(SERVICES, service())
    await sync(api, ctx, controller, "ns/manual")
    await sync(api, ctx, controller, "ns/web")
    assert (await api.get(ENDPOINTS, "manual", "ns"))["subsets"] == [{"addresses": [{"ip": "198.18.9.9"}]}]
    await api.delete(SERVICES, "web", "ns")
    await sync(api, ctx, controller, "ns/web")
    assert [e["metadata"]["name"] for e in api.all(ENDPOINTS)] == ["manual"]


def test_truncation_keeps_ready_addresses_first_and_in_proportion() -> None:
    def addresses(prefix: str, count: int) -> list[JSON]:
        return [{"ip": f"{prefix}.{i}"} for i in range(count)]

    subsets = [{"addresses": addresses("a", 6), "notReadyAddresses": addresses("an", 4), "ports": [{"port": 1}]},
               {"addresses": addresses("b", 2), "notReadyAddresses": addresses("bn", 4), "ports": [{"port": 2}]}]
    kept, truncated = truncate(subsets, capacity=10)
    assert truncated
    assert sum(len(s.get("addresses", [])) for s in kept) == 8  # every ready address
    assert sum(len(s.get("notReadyAddresses", [])) for s in kept) == 2
    kept, truncated = truncate(subsets, capacity=4)
    assert truncated and all("notReadyAddresses" not in s for s in kept)
    assert [len(s["addresses"]) for s in kept] == [3, 1]
    assert truncate(subsets, capacity=100) == (subsets, False)


async def test_over_capacity_is_annotated(api: Any, ctx: Any, controller: Any, monkeypatch: Any) -> None:
    import kubeplane.controllers.endpoints.controller as module

    monkeypatch.setattr(module, "truncate", lambda subsets: truncate(subsets, capacity=1))
    api.put(SERVICES, service())
    api.put(PODS, pod("a", "198.18.0.2"))
    api.put(PODS, pod("b", "198.18.0.3"))
    await sync(api, ctx, controller)
    endpoints = await api.get(ENDPOINTS, "web", "ns")
    assert endpoints["metadata"]["annotations"]["endpoints.kubernetes.io/over-capacity"] == "truncated"
    assert len(endpoints["subsets"][0]["addresses"]) == 1
