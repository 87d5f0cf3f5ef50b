"""The horizontal pod autoscaler (upstream ``pkg/controller/podautoscaler``, autoscaling/v2).

Every HPA is looked at when it changes and then once per sync period (15 s, upstream's
``--horizontal-pod-autoscaler-sync-period``): read the target's ``/scale``, compute a replica
count per metric from the resource metrics API (the largest wins), stabilize and rate-limit it,
write the new scale if it differs, then write status (current/desired replicas, current metrics,
lastScaleTime, the AbleToScale/ScalingActive/ScalingLimited conditions) and events.

Only Resource and ContainerResource metrics are computed (what the resource metrics API can
answer); Pods, Object and External metrics need the custom/external metrics APIs, which nothing
here serves, and are reported as invalid metrics.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

from kubeplane.client import ApiError, EventHandlers, Resource, split_key
from kubeplane.client.resource import PODS
from kubeplane.controllers.conditions import set_condition
from kubeplane.controllers.controller import ControllerContext, ResourceController, unwrap_tombstone
from kubeplane.controllers.podautoscaler.behavior import (
    DEFAULT_DOWNSCALE_STABILIZATION,
    HPAHistory,
    defaulted_behavior,
    normalize,
)
from kubeplane.controllers.podautoscaler.replicas import (
    MetricsError,
    Recommendation,
    average_value_replicas,
    milli,
    utilization_replicas,
)
from kubeplane.controllers.podautoscaler.sources import ScaleTargetError, ScaleTargets, fetch_samples
from kubeplane.controllers.resourcequota.quantity import canonical
from kubeplane.controllers.status_writer import write_status
from kubeplane.controllers.timeutil import format_time
from kubeplane.machinery.labels import parse_selector

log = logging.getLogger(__name__)

JSON = dict[str, Any]

HORIZONTALPODAUTOSCALERS = Resource("autoscaling", "v2", "horizontalpodautoscalers", kind="HorizontalPodAutoscaler")
DEFAULT_SYNC_PERIOD = 15.0
NORMAL, WARNING = "Normal", "Warning"


@dataclass
class MetricResult:
    replicas: int
    name: str  # how the rescale reason names the metric
    status: JSON  # the currentMetrics entry


class InvalidMetric(Exception):
    """One metric could not be computed: ``reason`` is the condition reason and event reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def milli_quantity(value: int) -> str:
    return canonical(Fraction(value, 1000), binary=False)


class HorizontalPodAutoscalerController(ResourceController):
    name = "horizontal-pod-autoscaler-controller"
    component = "horizontal-pod-autoscaler"

    def __init__(self, ctx: ControllerContext, sync_period: float = DEFAULT_SYNC_PERIOD,
                 downscale_stabilization: int = DEFAULT_DOWNSCALE_STABILIZATION) -> None:
        super().__init__(ctx)
        self.sync_period = sync_period
        self.downscale_stabilization = downscale_stabilization
        self.hpas = self.informer(HORIZONTALPODAUTOSCALERS, EventHandlers(
            on_add=self.enqueue, on_update=self._hpa_updated, on_delete=self._hpa_deleted))
        self.pods = self.informer(PODS)
        self.targets = ScaleTargets(self.client)
        self.histories: dict[str, HPAHistory] = {}

    def _hpa_updated(self, old: JSON, new: JSON) -> None:
        # Our own status writes must not bring the next sync forward; spec changes do.
        if old["metadata"].get("generation") != new["metadata"].get("generation"):
            self.enqueue(new)

    def _hpa_deleted(self, obj: Any) -> None:
        hpa = unwrap_tombstone(obj)
        self.histories.pop(f"{hpa['metadata'].get('namespace')}/{hpa['metadata']['name']}", None)

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        hpa = self.hpas.get(name, namespace)
        if hpa is None:
            self.histories.pop(key, None)
            return
        try:
            await self._reconcile(key, hpa)
        finally:
            # Level-driven on a fixed period, whatever happened (upstream's fixed-interval requeue).
            self.queue.add_after(key, self.sync_period)

    async def _reconcile(self, key: str, hpa: JSON) -> None:
        now = self.clock.wall()
        spec = hpa.get("spec") or {}
        status = dict(hpa.get("status") or {})
        conditions: list[JSON] = list(status.get("conditions") or [])

        def condition(kind: str, value: bool, reason: str, message: str) -> None:
            nonlocal conditions
            conditions = set_condition(conditions, {"type": kind, "status": "True" if value else "False",
                                                    "reason": reason, "message": message}, now)

        async def save(current: int, desired: int, metrics: list[JSON] | None, rescaled: bool) -> None:
            new_status: JSON = {**status, "currentReplicas": current, "desiredReplicas": desired,
                                "conditions": [_without_update_time(c) for c in conditions]}
            if metrics is not None:
                new_status["currentMetrics"] = metrics or None
            if new_status.get("currentMetrics") is None:
                new_status.pop("currentMetrics", None)
            if hpa["metadata"].get("generation") is not None:
                new_status["observedGeneration"] = hpa["metadata"]["generation"]
            if rescaled:
                new_status["lastScaleTime"] = format_time(now)
            await write_status(self.client, HORIZONTALPODAUTOSCALERS, hpa, new_status)

        ref = spec.get("scaleTargetRef") or {}
        namespace = hpa["metadata"]["namespace"]
        try:
            target, scale = await self.targets.get_scale(namespace, ref)
        except (ApiError, ScaleTargetError) as err:
            message = f"the HPA controller was unable to get the target's current scale: {err}"
            condition("AbleToScale", False, "FailedGetScale", message)
            self.recorder.event(hpa, WARNING, "FailedGetScale", str(err))
            await save(int(status.get("currentReplicas") or 0), int(status.get("desiredReplicas") or 0), None, False)
            return
        condition("AbleToScale", True, "SucceededGetScale",
                  "the HPA controller was able to get the target's current scale")
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        min_replicas = int(spec.get("minReplicas") or 1)
        max_replicas = int(spec.get("maxReplicas") or 0)
        behavior = defaulted_behavior(spec["behavior"], self.downscale_stabilization) \
            if spec.get("behavior") else None
        history = self.histories.setdefault(key, HPAHistory.empty())
        metric_statuses: list[JSON] | None = None
        reason = ""
        if current == 0 and min_replicas != 0:
            desired = 0
            condition("ScalingActive", False, "ScalingDisabled",
                      "scaling is disabled since the replica count of the target is zero")
        elif current > max_replicas:
            reason, desired = "Current number of replicas above Spec.MaxReplicas", max_replicas
        elif current < min_replicas:
            reason, desired = "Current number of replicas below Spec.MinReplicas", min_replicas
        else:
            try:
                proposal, metric_name, metric_statuses = await self._replicas_for_metrics(hpa, scale, current, now)
            except InvalidMetric as err:
                condition("ScalingActive", False, err.reason, f"the HPA was unable to compute the replica count: "
                          f"{err.message}")
                self.recorder.event(hpa, WARNING, err.reason, err.message)
                self.recorder.event(hpa, WARNING, "FailedComputeMetricsReplicas",
                                    f"failed to compute desired number of replicas based on listed metrics for "
                                    f"{ref.get('kind')}/{namespace}/{ref.get('name')}: {err.message}")
                await save(current, int(status.get("desiredReplicas") or current), [], False)
                return
            condition("ScalingActive", True, "ValidMetricFound",
                      f"the HPA was able to successfully calculate a replica count from {metric_name}")
            result = normalize(history, current, proposal, min_replicas, max_replicas, behavior, now,
                               self.downscale_stabilization)
            condition("AbleToScale", True, result.able_reason, result.able_message)
            condition("ScalingLimited", result.limited, result.limited_reason, result.limited_message)
            desired = result.replicas
            if desired > current:
                reason = f"{metric_name} above target"
            elif desired < current:
                reason = "All metrics below target"
        rescale = desired != current
        if rescale:
            try:
                await self.targets.set_replicas(target, scale, desired)
            except ApiError as err:
                condition("AbleToScale", False, "FailedUpdateScale",
                          f"the HPA controller was unable to update the target scale: {err}")
                self.recorder.event(hpa, WARNING, "FailedRescale",
                                    f"New size: {desired}; reason: {reason}; error: {err}")
                await save(current, int(status.get("desiredReplicas") or current), metric_statuses, False)
                raise
            condition("AbleToScale", True, "SucceededRescale",
                      f"the HPA controller was able to update the target scale to {desired}")
            self.recorder.event(hpa, NORMAL, "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
            history.record_scale(current, desired, now, behavior)
            log.info("%s: scaled %s from %d to %d (%s)", self.name, key, current, desired, reason)
        await save(current, desired, metric_statuses, rescale)

    async def _replicas_for_metrics(self, hpa: JSON, scale: JSON, current: int,
                                    now: datetime) -> tuple[int, str, list[JSON]]:
        """The largest replica count any metric asks for, its metric's name and every metric's
        current value. If every metric failed, or some failed and the rest would scale down, the
        first failure is raised (upstream: never act on partial information downwards)."""
        selector = str((scale.get("status") or {}).get("selector") or "")
        if not selector:
            raise InvalidMetric("SelectorRequired", "selector is required")
        try:
            parsed = parse_selector(selector)
        except Exception as err:
            raise InvalidMetric("InvalidSelector", f"couldn't convert selector into a corresponding internal "
                                f"selector object: {err}") from err
        namespace = hpa["metadata"]["namespace"]
        pods = [p for p in self.pods.list(namespace) if parsed.matches(p["metadata"].get("labels") or {})]
        best: MetricResult | None = None
        statuses: list[JSON] = []
        first_error: InvalidMetric | None = None
        metrics = (hpa.get("spec") or {}).get("metrics") or []
        for spec in metrics:
            try:
                result = await self._replicas_for_metric(spec, namespace, selector, pods, current, now)
            except InvalidMetric as err:
                first_error = first_error or err
                statuses.append({"type": ""})
                continue
            statuses.append(result.status)
            if best is None or result.replicas > best.replicas:
                best = result
        statuses = [s for s in statuses if s.get("type")]
        if first_error is not None and (best is None or best.replicas < current):
            raise first_error
        if best is None:
            raise InvalidMetric("FailedGetResourceMetric", "no metrics to compute a replica count from")
        return best.replicas, best.name, statuses

    async def _replicas_for_metric(self, spec: JSON, namespace: str, selector: str, pods: list[JSON],
                                   current: int, now: datetime) -> MetricResult:
        kind = spec.get("type")
        if kind == "Resource":
            source, container, failed = spec.get("resource") or {}, "", "FailedGetResourceMetric"
        elif kind == "ContainerResource":
            source = spec.get("containerResource") or {}
            container, failed = str(source.get("container") or ""), "FailedGetContainerResourceMetric"
        else:
            raise InvalidMetric(f"FailedGet{kind}Metric",
                                f"unable to get {kind} metric: no custom or external metrics API is served")
        resource = str(source.get("name") or "")
        target = source.get("target") or {}
        try:
            samples = await fetch_samples(self.client, namespace, selector, resource, container)
            if target.get("averageUtilization") is not None:
                rec: Recommendation = utilization_replicas(current, int(target["averageUtilization"]), pods,
                                                           samples, resource, now, container)
            elif target.get("averageValue") is not None:
                rec = average_value_replicas(current, milli(target["averageValue"]), pods, samples, resource, now)
            else:
                raise MetricsError("invalid resource metric source: neither a utilization target nor a value "
                                   "target was set")
        except MetricsError as err:
            raise InvalidMetric(failed, str(err)) from err
        current_value: JSON = {"averageValue": milli_quantity(rec.average)}
        if rec.utilization is not None:
            current_value["averageUtilization"] = rec.utilization
        inner: JSON = {"name": resource, "current": current_value}
        if container:
            inner["container"] = container
        scope = " container" if container else ""
        if rec.utilization is not None:
            name = f"{resource}{scope} resource utilization (percentage of request)"
        else:
            name = f"{resource}{scope} resource"
        field = "containerResource" if container else "resource"
        return MetricResult(rec.replicas, name, {"type": kind, field: inner})


def _without_update_time(condition: JSON) -> JSON:
    # HPA conditions carry lastTransitionTime only (no lastUpdateTime in autoscaling/v2).
    return {k: v for k, v in condition.items() if k != "lastUpdateTime"}
