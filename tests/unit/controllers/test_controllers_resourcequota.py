"""Resource quota: status.hard mirrors spec.hard, status.used sums what the namespace's objects
count (pods, compute requests and limits, services by type, PVC storage, object counts), within
the quota's scopes; quantities print in upstream's canonical form."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplane.client.resource import CONFIGMAPS, PERSISTENTVOLUMECLAIMS, PODS, SECRETS, SERVICES
from kubeplane.controllers.resourcequota import RESOURCEQUOTAS, ResourceQuotaController
from kubeplane.controllers.resourcequota.controller import REPLICATIONCONTROLLERS
from kubeplane.controllers.resourcequota.quantity import parse_quantity

JSON = dict[str, Any]

WATCHED = (RESOURCEQUOTAS, PODS, SERVICES, PERSISTENTVOLUMECLAIMS, CONFIGMAPS, SECRETS, REPLICATIONCONTROLLERS)


@pytest.mark.parametrize("text, canonical", [("1000m", "1"), ("1500m", "1500m"), ("0.5", "500m"), ("2000", "2k"),
                                             ("1024Mi", "1Gi"), ("1536Mi", "1536Mi"), ("100Ki", "100Ki"),
                                             ("512", "512"), ("1e3", "1k"), ("1.5Gi", "1536Mi")])
def test_quantities_print_canonically(text: str, canonical: str) -> None:
    assert str(parse_quantity(text)) == canonical


def test_a_sum_keeps_the_first_terms_format() -> None:
    assert str(parse_quantity("1Gi") + parse_quantity("512Mi")) == "1536Mi"
    assert str(parse_quantity("250m") + parse_quantity("750m")) == "1"


def quota(hard: JSON, **spec: Any) -> JSON:
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q", "namespace": "ns"},
            "spec": {"hard": hard, **spec}}


def pod(name: str, requests: JSON | None = None, limits: JSON | None = None, phase: str = "Running",
        deadline: int | None = None, priority_class: str | None = None, init: JSON | None = None) -> JSON:
    resources: JSON = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    spec: JSON = {"containers": [{"name": "c", "image": "i", "resources": resources}]}
    if init:
        spec["initContainers"] = [{"name": "init", "image": "i", "resources": {"requests": init}}]
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    if priority_class:
        spec["priorityClassName"] = priority_class
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns"}, "spec": spec,
            "status": {"phase": phase}}


async def used_after_sync(api: Any, ctx: Any) -> JSON:
    controller = ResourceQuotaController(ctx)
    api.feed(ctx.informers, *WATCHED)
    await controller.sync("ns/q")
    result: JSON = api.all(RESOURCEQUOTAS)[0]["status"]
    return result


async def test_pods_and_compute_are_summed(api: Any, ctx: Any) -> None:
    api.put(RESOURCEQUOTAS, quota({"pods": "10", "count/pods": "10", "requests.cpu": "4000m", "limits.memory": "8Gi",
                                   "requests.memory": "4Gi", "cpu": "4"}))
    api.put(PODS, pod("a", {"cpu": "250m", "memory": "1Gi"}, {"memory": "2Gi"}))
    api.put(PODS, pod("b", {"cpu": "750m", "memory": "512Mi"}, init={"cpu": "2", "memory": "64Mi"}))
    api.put(PODS, pod("done", {"cpu": "1"}, phase="Succeeded"))
    status = await used_after_sync(api, ctx)
    assert status["hard"]["requests.cpu"] == "4"
    assert status["used"] == {"pods": "2", "count/pods": "3", "requests.cpu": "2250m", "cpu": "2250m",
                              "requests.memory": "1536Mi", "limits.memory": "2Gi"}


async def test_services_pvcs_and_object_counts(api: Any, ctx: Any) -> None:
    api.put(RESOURCEQUOTAS, quota({"services": "5", "services.loadbalancers": "1", "services.nodeports": "5",
                                   "configmaps": "5", "count/secrets": "5", "persistentvolumeclaims": "2",
                                   "requests.storage": "10Gi", "fast.storageclass.storage.k8s.io/requests.storage": "5Gi",
                                   "count/widgets.example.com": "3"}))
    two_ports = [{"port": 80}, {"port": 443}]
    api.put(SERVICES, {"metadata": {"name": "lb", "namespace": "ns"}, "spec": {"type": "LoadBalancer", "ports": two_ports}})
    api.put(SERVICES, {"metadata": {"name": "np", "namespace": "ns"}, "spec": {"type": "NodePort", "ports": [{"port": 1}]}})
    api.put(SERVICES, {"metadata": {"name": "ip", "namespace": "ns"}, "spec": {"ports": two_ports}})
    api.put(CONFIGMAPS, {"metadata": {"name": "c", "namespace": "ns"}})
    api.put(CONFIGMAPS, {"metadata": {"name": "elsewhere", "namespace": "other"}})
    for name, size, storage_class in (("p1", "1Gi", "fast"), ("p2", "2Gi", None)):
        spec: JSON = {"resources": {"requests": {"storage": size}}}
        if storage_class:
            spec["storageClassName"] = storage_class
        api.put(PERSISTENTVOLUMECLAIMS, {"metadata": {"name": name, "namespace": "ns"}, "spec": spec})
    status = await used_after_sync(api, ctx)
    assert status["used"] == {"services": "3", "services.loadbalancers": "1", "services.nodeports": "3",
                              "configmaps": "1", "count/secrets": "0", "persistentvolumeclaims": "2",
                              "requests.storage": "3Gi", "fast.storageclass.storage.k8s.io/requests.storage": "1Gi",
                              "count/widgets.example.com": "0"}  # no such group is served: nothing counted


async def test_scopes_select_pods(api: Any, ctx: Any) -> None:
    api.put(RESOURCEQUOTAS, quota({"pods": "10", "configmaps": "3"}, scopes=["NotTerminating", "NotBestEffort"],
                                  scopeSelector={"matchExpressions": [
                                      {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}))
    api.put(PODS, pod("counted", {"cpu": "1"}, priority_class="high"))
    api.put(PODS, pod("best-effort", priority_class="high"))
    api.put(PODS, pod("terminating", {"cpu": "1"}, deadline=30, priority_class="high"))
    api.put(PODS, pod("low", {"cpu": "1"}, priority_class="low"))
    api.put(CONFIGMAPS, {"metadata": {"name": "c", "namespace": "ns"}})
    status = await used_after_sync(api, ctx)
    assert status["used"] == {"pods": "1", "configmaps": "0"}

