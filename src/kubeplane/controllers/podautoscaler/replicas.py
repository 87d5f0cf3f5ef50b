"""Upstream's replica calculator (``pkg/controller/podautoscaler/replica_calculator.go``) for
resource metrics: from per-pod usage and the pods themselves, how many replicas would bring the
metric to its target.

Usage is in milli-units (millicores for cpu, milli-bytes for memory) as upstream keeps it. Pods
being deleted or failed are ignored; pending pods, and for cpu pods not yet ready or still warming
up, are "unready"; pods without a sample are "missing". When the ratio says scale up, unready pods
count as using nothing; missing pods count as using their full request on a scale down and nothing
on a scale up, so neither can push the decision further than the ready pods alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kubeplane.controllers.resourcequota.quantity import parse_quantity
from kubeplane.controllers.timeutil import parse_time

JSON = dict[str, Any]

TOLERANCE = 0.1
CPU_INITIALIZATION_PERIOD = timedelta(minutes=5)
DELAY_OF_INITIAL_READINESS_STATUS = timedelta(seconds=30)


class MetricsError(Exception):
    """The metrics cannot give a replica count (the message is what status and events show)."""


@dataclass(frozen=True)
class PodSample:
    """One pod's usage in milli-units, the time it was measured and the window it covers."""

    value: int
    timestamp: datetime
    window: timedelta = timedelta(seconds=30)


@dataclass(frozen=True)
class PodGroups:
    ready: int = 0
    unready: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)
    ignored: set[str] = field(default_factory=set)


def _ready_condition(pod: JSON) -> JSON | None:
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return dict(condition)
    return None


def _cpu_unready(pod: JSON, sample: PodSample, now: datetime) -> bool:
    """A cpu sample is not trusted from a pod that is not ready, nor from one still in its
    initialization period whose sample window began before it became ready (startup spikes)."""
    condition = _ready_condition(pod)
    started = parse_time((pod.get("status") or {}).get("startTime"))
    if condition is None or started is None:
        return True
    transition = parse_time(condition.get("lastTransitionTime")) or started
    if started + CPU_INITIALIZATION_PERIOD > now:
        return condition.get("status") == "False" or sample.timestamp < transition + sample.window
    # Afterwards only a pod that has never been ready is left out.
    return condition.get("status") == "False" and started + DELAY_OF_INITIAL_READINESS_STATUS > transition


def group_pods(pods: list[JSON], metrics: Mapping[str, PodSample], resource: str, now: datetime) -> PodGroups:
    groups = PodGroups()
    ready = 0
    for pod in pods:
        name = pod["metadata"]["name"]
        phase = (pod.get("status") or {}).get("phase")
        if pod["metadata"].get("deletionTimestamp") or phase == "Failed":
            groups.ignored.add(name)
        elif phase == "Pending":
            groups.unready.add(name)
        elif name not in metrics:
            groups.missing.add(name)
        elif resource == "cpu" and _cpu_unready(pod, metrics[name], now):
            groups.unready.add(name)
        else:
            ready += 1
    return PodGroups(ready, groups.unready, groups.missing, groups.ignored)


def milli(quantity: str | int | float) -> int:
    """A quantity in milli-units, rounded up as upstream's MilliValue."""
    return math.ceil(parse_quantity(quantity).value * 1000)


def pod_requests(pods: list[JSON], resource: str, container: str = "") -> dict[str, int]:
    """Each pod's request of ``resource`` in milli-units (only ``container``'s, if named); a
    container without a request makes utilization meaningless, so that is an error."""
    requests: dict[str, int] = {}
    for pod in pods:
        total = 0
        for c in (pod.get("spec") or {}).get("containers") or ():
            if container and c.get("name") != container:
                continue
            request = ((c.get("resources") or {}).get("requests") or {}).get(resource)
            if request is None:
                raise MetricsError(f"missing request for {resource} in container {c.get('name')} "
                                   f"of Pod {pod['metadata']['name']}")
            total += milli(request)
        requests[pod["metadata"]["name"]] = total
    return requests


def utilization_ratio(metrics: Mapping[str, int], requests: Mapping[str, int], target: int) -> tuple[float, int, int]:
    """(usage / target, utilization in whole percent of request, average raw usage), upstream's
    GetResourceUtilizationRatio: the percentage is truncated before the ratio is taken."""
    metrics_total = requests_total = entries = 0
    for name, value in metrics.items():
        if name in requests:
            metrics_total += value
            requests_total += requests[name]
            entries += 1
    if requests_total == 0:
        raise MetricsError("no metrics returned matched known pods")
    utilization = metrics_total * 100 // requests_total
    return utilization / target, utilization, metrics_total // entries


def usage_ratio(metrics: Mapping[str, int], target: int) -> tuple[float, int]:
    """(average usage / target, average usage): upstream's GetMetricUsageRatio."""
    average = sum(metrics.values()) // len(metrics)
    return average / target, average


@dataclass(frozen=True)
class Recommendation:
    replicas: int
    utilization: int | None  # whole percent of request, for Utilization targets
    average: int  # milli-units per pod


def _prepare(pods: list[JSON], samples: Mapping[str, PodSample], resource: str,
             now: datetime) -> tuple[PodGroups, dict[str, int]]:
    if not pods:
        raise MetricsError("no pods returned by selector while calculating replica count")
    groups = group_pods(pods, samples, resource, now)
    metrics = {name: s.value for name, s in samples.items()
               if name not in groups.ignored and name not in groups.unready}
    if not metrics:
        raise MetricsError("did not receive metrics for targeted pods (pods might be unready)")
    return groups, metrics


def _settle(current: int, ratio: float, new_ratio: float, counted: int) -> int:
    """The replica count after missing and unready pods were filled in: no change when the
    filled-in ratio is within tolerance or points the other way than the ready pods said."""
    if abs(1.0 - new_ratio) <= TOLERANCE or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current
    replicas = math.ceil(new_ratio * counted)
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current
    return replicas


def utilization_replicas(current: int, target_utilization: int, pods: list[JSON],
                         samples: Mapping[str, PodSample], resource: str, now: datetime,
                         container: str = "") -> Recommendation:
    """Replicas for a Utilization target (percent of the pods' requests)."""
    groups, metrics = _prepare(pods, samples, resource, now)
    requests = pod_requests(pods, resource, container)
    ratio, utilization, average = utilization_ratio(metrics, requests, target_utilization)
    scale_up_with_unready = bool(groups.unready) and ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if abs(1.0 - ratio) <= TOLERANCE:
            return Recommendation(current, utilization, average)
        return Recommendation(math.ceil(ratio * groups.ready), utilization, average)
    for name in groups.missing:
        if name in requests:
            metrics[name] = requests[name] if ratio < 1.0 else 0
    if scale_up_with_unready:
        for name in groups.unready:
            metrics[name] = 0
    new_ratio, _, _ = utilization_ratio(metrics, requests, target_utilization)
    return Recommendation(_settle(current, ratio, new_ratio, len(metrics)), utilization, average)


def average_value_replicas(current: int, target_milli: int, pods: list[JSON], samples: Mapping[str, PodSample],
                           resource: str, now: datetime) -> Recommendation:
    """Replicas for an AverageValue target (usage per pod, in milli-units)."""
    groups, metrics = _prepare(pods, samples, resource, now)
    ratio, average = usage_ratio(metrics, target_milli)
    scale_up_with_unready = bool(groups.unready) and ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if abs(1.0 - ratio) <= TOLERANCE:
            return Recommendation(current, None, average)
        return Recommendation(math.ceil(ratio * groups.ready), None, average)
    for name in groups.missing:
        metrics[name] = target_milli if ratio < 1.0 else 0
    if scale_up_with_unready:
        for name in groups.unready:
            metrics[name] = 0
    new_ratio, _ = usage_ratio(metrics, target_milli)
    return Recommendation(_settle(current, ratio, new_ratio, len(metrics)), None, average)
