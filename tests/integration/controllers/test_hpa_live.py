"""The horizontal pod autoscaler against the real API server, with the test serving the resource
metrics API itself: a CRD for metrics.k8s.io/v1beta1 PodMetrics whose objects the test writes.
No kubelet: the test marks the Deployment's pods Running and Ready (long started, so cpu samples
count) and reports their cpu usage."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from controllers_livelib import eventually, running_controllers

from kubeplane.client import Client, NotFound, Resource
from kubeplane.client.resource import DEPLOYMENTS, EVENTS, NAMESPACES, PODS
from kubeplane.controllers.manager import REGISTRY, ControllerSpec
from kubeplane.controllers.podautoscaler import HORIZONTALPODAUTOSCALERS, HorizontalPodAutoscalerController
from kubeplane.controllers.podautoscaler.sources import POD_METRICS

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
CRDS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", namespaced=False,
                kind="CustomResourceDefinition")
STAMP = "%Y-%m-%dT%H:%M:%SZ"

PODMETRICS_CRD: JSON = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    # A *.k8s.io group is protected upstream: it needs the API-approval annotation.
    "metadata": {"name": "pods.metrics.k8s.io",
                 "annotations": {"api-approved.kubernetes.io": "https://github.com/kubernetes/kubernetes/pull/1"}},
    "spec": {
        "group": "metrics.k8s.io", "scope": "Namespaced",
        "names": {"plural": "pods", "singular": "podmetrics", "kind": "PodMetrics", "listKind": "PodMetricsList"},
        "versions": [{"name": "v1beta1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
            "type": "object", "properties": {
                "timestamp": {"type": "string"}, "window": {"type": "string"},
                "containers": {"type": "array", "items": {"type": "object", "properties": {
                    "name": {"type": "string"},
                    "usage": {"type": "object", "additionalProperties": {"x-kubernetes-int-or-string": True}}}}},
            }}}}],
    },
}


def controllers_registry(sync_period: float = 0.5) -> dict[str, ControllerSpec]:
    return {
        "deployment-controller": REGISTRY["deployment-controller"],
        "replicaset-controller": REGISTRY["replicaset-controller"],
        "horizontal-pod-autoscaler-controller": ControllerSpec(
            lambda ctx: HorizontalPodAutoscalerController(ctx, sync_period=sync_period)),
    }


@pytest.fixture
async def namespace(client: Client) -> AsyncIterator[str]:
    name = f"hpa-{uuid.uuid4().hex[:8]}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    await client.delete(NAMESPACES, name)


@pytest.fixture
async def metrics_api(client: Client) -> AsyncIterator[None]:
    """metrics.k8s.io/v1beta1 served (by a CRD) for the test's duration."""
    await client.create(CRDS, PODMETRICS_CRD)
    try:
        async def served() -> bool:
            try:
                await client.list(POD_METRICS, "default")
                return True
            except NotFound:
                return False
        await eventually(served, "PodMetrics served", timeout=30)
        yield
    finally:
        await client.delete(CRDS, "pods.metrics.k8s.io")

        async def gone() -> bool:
            try:
                await client.get(CRDS, "pods.metrics.k8s.io")
                return False
            except NotFound:
                return True
        await eventually(gone, "PodMetrics CRD deleted", timeout=30)


def deployment(name: str, replicas: int) -> JSON:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                         {"name": "web", "image": "registry.k8s.io/pause:3.9",
                          "resources": {"requests": {"cpu": "100m"}}}]}}}}


def hpa(name: str, behavior: JSON | None = None) -> JSON:
    spec: JSON = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                  "minReplicas": 1, "maxReplicas": 4,
                  "metrics": [{"type": "Resource", "resource": {
                      "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}
    if behavior is not None:
        spec["behavior"] = behavior
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name},
            "spec": spec}


def condition(obj: JSON, kind: str) -> JSON:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if c.get("type") == kind:
            return dict(c)
    return {}


async def act_as_kubelet_and_metrics_server(client: Client, namespace: str, usage: dict[str, str]) -> None:
    """Keep every pod Running and Ready (started ten minutes ago) and its PodMetrics at usage["cpu"]."""
    long_ago = (datetime.now(UTC) - timedelta(minutes=10)).strftime(STAMP)
    while True:
        pods, _ = await client.list_all(PODS, namespace)
        for pod in pods:
            meta = pod["metadata"]
            if meta.get("deletionTimestamp"):
                continue
            if (pod.get("status") or {}).get("phase") != "Running":
                pod["status"] = {"phase": "Running", "startTime": long_ago, "conditions": [
                    {"type": "Ready", "status": "True", "lastTransitionTime": long_ago}]}
                with contextlib.suppress(Exception):
                    await client.update(PODS, pod, subresource="status")
            sample: JSON = {"apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
                      "metadata": {"name": meta["name"], "namespace": namespace, "labels": meta.get("labels") or {}},
                      "timestamp": datetime.now(UTC).strftime(STAMP), "window": "30s",
                      "containers": [{"name": "web", "usage": {"cpu": usage["cpu"]}}]}
            try:
                current = await client.get(POD_METRICS, meta["name"], namespace)
                await client.update(POD_METRICS, {**sample, "metadata": {**current["metadata"],
                                                                        "labels": sample["metadata"]["labels"]}})
            except NotFound:
                with contextlib.suppress(Exception):
                    await client.create(POD_METRICS, sample)
        await asyncio.sleep(0.3)


async def events_of(client: Client, namespace: str, name: str) -> list[JSON]:
    items, _ = await client.list_all(EVENTS, namespace)
    return [e for e in items if (e.get("involvedObject") or {}).get("name") == name
            and (e.get("involvedObject") or {}).get("kind") == "HorizontalPodAutoscaler"]


async def test_without_metrics_api_scaling_is_inactive(apiserver: Any, client: Client, namespace: str) -> None:
    await client.create(DEPLOYMENTS, deployment("web", 1), namespace)
    await client.create(HORIZONTALPODAUTOSCALERS, hpa("web"), namespace)
    async with running_controllers(apiserver, list(controllers_registry()), controllers_registry()):
        async def inactive() -> JSON:
            current = await client.get(HORIZONTALPODAUTOSCALERS, "web", namespace)
            active = condition(current, "ScalingActive")
            return current if active.get("reason") == "FailedGetResourceMetric" else {}
        got = await eventually(inactive, "ScalingActive False / FailedGetResourceMetric")

        async def warned() -> bool:
            # The recorder posts events in the background: wait for it rather than race it.
            return "FailedGetResourceMetric" in {e["reason"] for e in await events_of(client, namespace, "web")}
        await eventually(warned, "a FailedGetResourceMetric event")
    active = condition(got, "ScalingActive")
    assert active["status"] == "False"
    assert active["message"].startswith("the HPA was unable to compute the replica count: "
                                        "unable to get metrics for resource cpu")
    assert condition(got, "AbleToScale")["reason"] == "SucceededGetScale"
    assert got["status"]["currentReplicas"] == 1
    assert (await client.get(DEPLOYMENTS, "web", namespace))["spec"]["replicas"] == 1


async def test_scales_a_deployment_up_then_down(apiserver: Any, client: Client, namespace: str,
                                                metrics_api: None) -> None:
    usage = {"cpu": "200m"}  # 200% of the 100m request against a 50% target
    await client.create(DEPLOYMENTS, deployment("web", 1), namespace)
    behavior = {"scaleDown": {"stabilizationWindowSeconds": 1}}
    await client.create(HORIZONTALPODAUTOSCALERS, hpa("web", behavior), namespace)
    feeder = asyncio.create_task(act_as_kubelet_and_metrics_server(client, namespace, usage))
    try:
        async with running_controllers(apiserver, list(controllers_registry()), controllers_registry()):
            def replicas_are(n: int) -> Callable[[], Awaitable[bool]]:
                async def check() -> bool:
                    return bool((await client.get(DEPLOYMENTS, "web", namespace))["spec"]["replicas"] == n)
                return check
            await eventually(replicas_are(4), "scaled up to maxReplicas", timeout=60)

            async def active() -> JSON:
                # A sync can still catch a new pod before its first sample (a loaded machine makes
                # that likely): wait for one that read metrics for every pod.
                current = await client.get(HORIZONTALPODAUTOSCALERS, "web", namespace)
                return current if condition(current, "ScalingActive").get("reason") == "ValidMetricFound" else {}
            up = await eventually(active, "ScalingActive / ValidMetricFound after the scale-up")
            usage["cpu"] = "10m"  # 10%: a quarter of the pods would be enough
            await eventually(replicas_are(1), "scaled down to minReplicas", timeout=60)

            async def settled() -> JSON:
                current = await client.get(HORIZONTALPODAUTOSCALERS, "web", namespace)
                return current if current["status"].get("desiredReplicas") == 1 \
                    and current["status"].get("currentReplicas") == 1 else {}
            down = await eventually(settled, "status at one replica")

            async def rescaled() -> list[str]:
                events = await events_of(client, namespace, "web")
                messages = [e["message"] for e in events if e["reason"] == "SuccessfulRescale"]
                return messages if any(m.startswith("New size: 1;") for m in messages) else []
            messages = await eventually(rescaled, "both SuccessfulRescale events")
    finally:
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feeder
    assert condition(up, "ScalingActive")["reason"] == "ValidMetricFound"
    assert up["status"]["lastScaleTime"]
    # From 1 pod at 200% the default scale-up policies allow 4 pods at once; maxReplicas is 4.
    assert "New size: 4; reason: cpu resource utilization (percentage of request) above target" in messages
    assert "New size: 1; reason: All metrics below target" in messages
    metric = down["status"]["currentMetrics"][0]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    assert metric["resource"]["current"] == {"averageUtilization": 10, "averageValue": "10m"}
    assert condition(down, "AbleToScale")["status"] == "True"


def widget_crd(group: str) -> JSON:
    schema = {"type": "object", "properties": {
        "spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
        "status": {"type": "object", "properties": {"replicas": {"type": "integer"}, "selector": {"type": "string"}}}}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"widgets.{group}"},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": schema},
                                   "subresources": {"status": {}, "scale": {
                                       "specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
                                       "labelSelectorPath": ".status.selector"}}}]}}


async def test_custom_resource_above_max_replicas_is_scaled_to_max(apiserver: Any, client: Client,
                                                                   namespace: str) -> None:
    """The target is found through discovery (a CRD with a scale subresource); a count above
    maxReplicas is brought down without any metric."""
    group = f"t{uuid.uuid4().hex[:8]}.example.com"
    widgets = Resource(group, "v1", "widgets", kind="Widget")
    await client.create(CRDS, widget_crd(group))
    try:
        async def served() -> bool:
            try:
                await client.list(widgets, namespace)
                return True
            except NotFound:
                return False
        await eventually(served, "widgets served", timeout=30)
        await client.create(widgets, {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w"},
                                      "spec": {"replicas": 5}}, namespace)
        body = hpa("w")
        body["spec"]["scaleTargetRef"] = {"apiVersion": f"{group}/v1", "kind": "Widget", "name": "w"}
        body["spec"]["maxReplicas"] = 3
        await client.create(HORIZONTALPODAUTOSCALERS, body, namespace)
        async with running_controllers(apiserver, list(controllers_registry()), controllers_registry()):
            async def scaled() -> bool:
                return bool((await client.get(widgets, "w", namespace))["spec"]["replicas"] == 3)
            await eventually(scaled, "the widget scaled to maxReplicas")

            async def reported() -> JSON:
                current = await client.get(HORIZONTALPODAUTOSCALERS, "w", namespace)
                return current if (current.get("status") or {}).get("desiredReplicas") == 3 else {}
            status = (await eventually(reported, "HPA status"))["status"]
        assert status["lastScaleTime"]
        messages = [e["message"] for e in await events_of(client, namespace, "w") if e["reason"] == "SuccessfulRescale"]
        assert messages == ["New size: 3; reason: Current number of replicas above Spec.MaxReplicas"]
    finally:
        await client.delete(CRDS, f"widgets.{group}")
