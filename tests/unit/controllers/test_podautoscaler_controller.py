"""The HPA controller's sync over the in-memory API: the target's scale subresource, usage from
PodMetrics, status (replicas, current metrics, conditions) and events, and the paths where it
must not scale."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from kubeplane.client import NotFound
from kubeplane.client.resource import DEPLOYMENTS, EVENTS, PODS
from kubeplane.controllers.podautoscaler import HORIZONTALPODAUTOSCALERS, HorizontalPodAutoscalerController
from kubeplane.controllers.podautoscaler.sources import POD_METRICS

JSON = dict[str, Any]
STAMP = "%Y-%m-%dT%H:%M:%SZ"


@pytest.fixture
def scale_api(api: Any) -> Any:
    """The fake API with deployments' ``/scale`` subresource and apps/v1 discovery."""
    plain_get, plain_update = api.get, api.update

    async def get(resource: Any, name: str, namespace: str | None = None, subresource: str | None = None,
                  **kw: Any) -> JSON:
        obj = await plain_get(resource, name, namespace, **kw)
        if subresource != "scale":
            return obj
        selector = ",".join(f"{k}={v}" for k, v in obj["spec"]["selector"]["matchLabels"].items())
        return {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": dict(obj["metadata"]),
                "spec": {"replicas": obj["spec"]["replicas"]},
                "status": {"replicas": obj["spec"]["replicas"], "selector": selector}}

    async def update(resource: Any, body: JSON, namespace: str | None = None, subresource: str | None = None,
                     **kw: Any) -> JSON:
        if subresource != "scale":
            return await plain_update(resource, body, namespace, subresource=subresource, **kw)
        current = await plain_get(resource, body["metadata"]["name"], body["metadata"]["namespace"])
        current["spec"]["replicas"] = body["spec"]["replicas"]
        return await plain_update(resource, current)

    api.get, api.update = get, update
    api.discovery["/apis/apps/v1"] = {"resources": [
        {"name": "deployments", "kind": "Deployment", "namespaced": True},
        {"name": "deployments/scale", "kind": "Scale", "namespaced": True}]}
    return api


def deployment(replicas: int) -> JSON:
    return {"metadata": {"name": "web", "namespace": "ns"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}}}


def hpa(metrics: list[JSON] | None = None, **spec: Any) -> JSON:
    return {"metadata": {"name": "web", "namespace": "ns"}, "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 1, "maxReplicas": 10,
        "metrics": metrics if metrics is not None else [cpu_utilization(50)], **spec}}


def cpu_utilization(target: int) -> JSON:
    return {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                      "averageUtilization": target}}}


def add_pods(api: Any, usage: list[str], request: str = "100m", resource: str = "cpu") -> None:
    long_ago = (api.clock.wall() - timedelta(minutes=10)).strftime(STAMP)
    for i, value in enumerate(usage):
        name = f"web-{i}"
        api.put(PODS, {"metadata": {"name": name, "namespace": "ns", "labels": {"app": "web"}},
                       "spec": {"containers": [{"name": "app", "resources": {"requests": {resource: request}}},
                                               {"name": "side", "resources": {"requests": {resource: request}}}]},
                       "status": {"phase": "Running", "startTime": long_ago, "conditions": [
                           {"type": "Ready", "status": "True", "lastTransitionTime": long_ago}]}})
        api.put(POD_METRICS, {"metadata": {"name": name, "namespace": "ns", "labels": {"app": "web"}},
                              "timestamp": api.clock.wall().strftime(STAMP), "window": "30s",
                              "containers": [{"name": "app", "usage": {resource: value}},
                                             {"name": "side", "usage": {resource: "0"}}]})


async def sync(api: Any, ctx: Any) -> tuple[JSON, list[tuple[str, str]]]:
    controller = HorizontalPodAutoscalerController(ctx)
    api.feed(ctx.informers, HORIZONTALPODAUTOSCALERS, PODS)
    await controller.sync("ns/web")
    await ctx.recorder(controller.component).flush()
    events = [(e["reason"], e["message"]) for e in api.all(EVENTS, "ns")]
    return await api.get(HORIZONTALPODAUTOSCALERS, "web", "ns"), events


def conditions(obj: JSON) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in obj["status"]["conditions"]}


async def test_scales_up_on_cpu_utilization_within_the_scale_up_limit(scale_api: Any, ctx: Any) -> None:
    scale_api.put(DEPLOYMENTS, deployment(2))
    scale_api.put(HORIZONTALPODAUTOSCALERS, hpa())
    add_pods(scale_api, ["150m", "150m"], request="50m")  # two containers of 50m: 150% of 100m
    stored, events = await sync(scale_api, ctx)
    # 150% against 50% asks for 6; without spec.behavior at most max(2 * 2, 4) = 4 in one step
    assert (await scale_api.get(DEPLOYMENTS, "web", "ns"))["spec"]["replicas"] == 4
    status = stored["status"]
    assert (status["currentReplicas"], status["desiredReplicas"]) == (2, 4)
    assert status["lastScaleTime"]
    assert status["currentMetrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "current": {"averageUtilization": 150, "averageValue": "150m"}}}]
    assert conditions(stored) == {"AbleToScale": ("True", "SucceededRescale"),
                                  "ScalingActive": ("True", "ValidMetricFound"),
                                  "ScalingLimited": ("True", "ScaleUpLimit")}
    assert events == [("SuccessfulRescale",
                       "New size: 4; reason: cpu resource utilization (percentage of request) above target")]


async def test_within_tolerance_nothing_is_written_to_the_target(scale_api: Any, ctx: Any) -> None:
    scale_api.put(DEPLOYMENTS, deployment(2))
    scale_api.put(HORIZONTALPODAUTOSCALERS, hpa())
    add_pods(scale_api, ["52m", "52m"], request="50m")
    stored, events = await sync(scale_api, ctx)
    assert scale_api.count("update", "deployments") == 0
    assert (stored["status"]["desiredReplicas"], events) == (2, [])
    assert conditions(stored)["AbleToScale"] == ("True", "ReadyForNewScale")
    assert conditions(stored)["ScalingLimited"] == ("False", "DesiredWithinRange")
    assert "lastScaleTime" not in stored["status"]


async def test_container_resource_average_value(scale_api: Any, ctx: Any) -> None:
    scale_api.put(DEPLOYMENTS, deployment(4))
    metric = {"type": "ContainerResource", "containerResource": {
        "name": "memory", "container": "app", "target": {"type": "AverageValue", "averageValue": "100Mi"}}}
    scale_api.put(HORIZONTALPODAUTOSCALERS, hpa([metric], behavior={"scaleDown": {"stabilizationWindowSeconds": 0}}))
    add_pods(scale_api, ["20Mi"] * 4, request="64Mi", resource="memory")
    stored, events = await sync(scale_api, ctx)
    assert (await scale_api.get(DEPLOYMENTS, "web", "ns"))["spec"]["replicas"] == 1
    assert stored["status"]["currentMetrics"] == [{"type": "ContainerResource", "containerResource": {
        "name": "memory", "container": "app", "current": {"averageValue": "20971520"}}}]
    assert events == [("SuccessfulRescale", "New size: 1; reason: All metrics below target")]


async def test_without_the_metrics_api_scaling_is_inactive(scale_api: Any, ctx: Any) -> None:
    plain_list_all = scale_api.list_all

    async def list_all(resource: Any, *args: Any, **kw: Any) -> Any:
        if resource == POD_METRICS:
            raise NotFound(404, "NotFound", "the server could not find the requested resource", {})
        return await plain_list_all(resource, *args, **kw)

    scale_api.list_all = list_all
    scale_api.put(DEPLOYMENTS, deployment(3))
    scale_api.put(HORIZONTALPODAUTOSCALERS, hpa())
    add_pods(scale_api, ["100m"] * 3)
    stored, events = await sync(scale_api, ctx)
    assert scale_api.count("update", "deployments") == 0
    assert conditions(stored)["ScalingActive"] == ("False", "FailedGetResourceMetric")
    assert stored["status"]["currentReplicas"] == 3
    messages = dict(events)
    assert set(messages) == {"FailedGetResourceMetric", "FailedComputeMetricsReplicas"}
    assert messages["FailedGetResourceMetric"].startswith("unable to get metrics for resource cpu: unable to fetch")


async def test_a_target_at_zero_replicas_disables_scaling(scale_api: Any, ctx: Any) -> None:
    scale_api.put(DEPLOYMENTS, deployment(0))
    scale_api.put(HORIZONTALPODAUTOSCALERS, hpa())
    stored, events = await sync(scale_api, ctx)
    assert conditions(stored)["ScalingActive"] == ("False", "ScalingDisabled")
    assert (stored["status"]["desiredReplicas"], events) == (0, [])
    assert scale_api.count("update", "deployments") == 0


async def test_a_missing_target_cannot_be_scaled(scale_api: Any, ctx: Any) -> None:
    scale_api.put(HORIZONTALPODAUTOSCALERS, hpa())
    stored, events = await sync(scale_api, ctx)
    assert conditions(stored)["AbleToScale"] == ("False", "FailedGetScale")
    assert [reason for reason, _ in events] == ["FailedGetScale"]


async def test_below_min_replicas_scales_to_min_without_metrics(scale_api: Any, ctx: Any) -> None:
    scale_api.put(DEPLOYMENTS, deployment(1))
    scale_api.put(HORIZONTALPODAUTOSCALERS, hpa(minReplicas=3))
    stored, events = await sync(scale_api, ctx)
    assert (await scale_api.get(DEPLOYMENTS, "web", "ns"))["spec"]["replicas"] == 3
    assert stored["status"]["desiredReplicas"] == 3
    assert events == [("SuccessfulRescale", "New size: 3; reason: Current number of replicas below Spec.MinReplicas")]


async def test_an_invalid_metric_does_not_block_a_scale_up_but_blocks_a_scale_down(scale_api: Any, ctx: Any) -> None:
    pods_metric = {"type": "Pods", "pods": {"metric": {"name": "qps"},
                                            "target": {"type": "AverageValue", "averageValue": "1"}}}
    scale_api.put(DEPLOYMENTS, deployment(2))
    scale_api.put(HORIZONTALPODAUTOSCALERS, hpa([cpu_utilization(50), pods_metric]))
    add_pods(scale_api, ["300m", "300m"])  # 150% of the pods' 200m against 50%
    stored, _ = await sync(scale_api, ctx)
    assert (await scale_api.get(DEPLOYMENTS, "web", "ns"))["spec"]["replicas"] == 4
    assert [m["type"] for m in stored["status"]["currentMetrics"]] == ["Resource"]

    scale_api.put(DEPLOYMENTS, deployment(4))
    for i in range(2):
        scale_api.put(POD_METRICS, {**await scale_api.get(POD_METRICS, f"web-{i}", "ns"), "containers": [
            {"name": "app", "usage": {"cpu": "1m"}}, {"name": "side", "usage": {"cpu": "0"}}]})
    stored, _ = await sync(scale_api, ctx)
    assert (await scale_api.get(DEPLOYMENTS, "web", "ns"))["spec"]["replicas"] == 4
    assert conditions(stored)["ScalingActive"] == ("False", "FailedGetPodsMetric")
