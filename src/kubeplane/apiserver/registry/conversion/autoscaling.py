"""autoscaling/v2 HorizontalPodAutoscaler (the storage version) <-> autoscaling/v1.

v1 has room for one metric, the CPU utilization target. As upstream, the rest of a v2 object
travels through v1 in annotations, so an update made through v1 does not lose it: other metrics,
behavior, current metrics and conditions (``autoscaling.alpha.kubernetes.io/*``). The annotations
carry the autoscaling/v2 JSON of those fields (upstream writes the older alpha metric shape there).
"""

from __future__ import annotations

from typing import Any

import orjson

from kubeplane.apiserver.registry.conversion.conversion import JSON, Conversion

METRICS = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR = "autoscaling.alpha.kubernetes.io/behavior"
# v2's default target when an HPA names no metric (upstream's DefaultCPUUtilization).
DEFAULT_CPU_UTILIZATION = 80


def _is_cpu_utilization(metric: Any, section: str) -> bool:
    if not isinstance(metric, dict) or metric.get("type") != "Resource":
        return False
    resource = metric.get("resource") or {}
    value = resource.get(section) or {}
    if section == "target":
        return resource.get("name") == "cpu" and value.get("type") == "Utilization" \
            and "averageUtilization" in value
    return resource.get("name") == "cpu" and "averageUtilization" in value


def _cpu_metric(percent: int) -> JSON:
    return {"type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": percent}}}


def _annotate(meta: JSON, key: str, value: Any) -> None:
    if value:
        meta.setdefault("annotations", {})[key] = orjson.dumps(value).decode()


def v2_to_v1(obj: JSON) -> JSON:
    out = dict(obj)
    if "apiVersion" in obj:
        out["apiVersion"] = "autoscaling/v1"
    meta = out["metadata"] = dict(obj.get("metadata") or {})
    if "annotations" in meta:
        meta["annotations"] = dict(meta["annotations"])
    if "spec" in obj:
        spec = dict(obj["spec"])
        others = []
        for metric in spec.pop("metrics", None) or []:
            if _is_cpu_utilization(metric, "target") and "targetCPUUtilizationPercentage" not in spec:
                spec["targetCPUUtilizationPercentage"] = metric["resource"]["target"]["averageUtilization"]
            else:
                others.append(metric)
        _annotate(meta, METRICS, others)
        _annotate(meta, BEHAVIOR, spec.pop("behavior", None))
        out["spec"] = spec
    if "status" in obj:
        status = dict(obj["status"])
        others = []
        for metric in status.pop("currentMetrics", None) or []:
            if _is_cpu_utilization(metric, "current") and "currentCPUUtilizationPercentage" not in status:
                status["currentCPUUtilizationPercentage"] = metric["resource"]["current"]["averageUtilization"]
            else:
                others.append(metric)
        _annotate(meta, CURRENT_METRICS, others)
        _annotate(meta, CONDITIONS, status.pop("conditions", None))
        status.setdefault("currentReplicas", 0)
        status.setdefault("desiredReplicas", 0)
        out["status"] = status
    if meta.get("annotations") == {}:
        del meta["annotations"]
    return out


def _take(annotations: JSON, key: str) -> Any:
    text = annotations.pop(key, None)
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None  # a hand-edited annotation that is not JSON is dropped, not fatal


def v1_to_v2(obj: JSON) -> JSON:
    out = dict(obj)
    if "apiVersion" in obj:
        out["apiVersion"] = "autoscaling/v2"
    meta = out["metadata"] = dict(obj.get("metadata") or {})
    annotations = meta["annotations"] = dict(meta.get("annotations") or {})
    if "spec" in obj:
        spec = dict(obj["spec"])
        metrics: list[Any] = []
        percent = spec.pop("targetCPUUtilizationPercentage", None)
        if isinstance(percent, int):
            metrics.append(_cpu_metric(percent))
        metrics.extend(_take(annotations, METRICS) or [])
        spec["metrics"] = metrics or [_cpu_metric(DEFAULT_CPU_UTILIZATION)]
        behavior = _take(annotations, BEHAVIOR)
        if behavior:
            spec["behavior"] = behavior
        out["spec"] = spec
    if "status" in obj:
        status = dict(obj["status"])
        current: list[Any] = []
        percent = status.pop("currentCPUUtilizationPercentage", None)
        if isinstance(percent, int):
            current.append({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": percent}}})
        current.extend(_take(annotations, CURRENT_METRICS) or [])
        if current:
            status["currentMetrics"] = current
        conditions = _take(annotations, CONDITIONS)
        if conditions:
            status["conditions"] = conditions
        out["status"] = status
    else:
        for key in (CURRENT_METRICS, CONDITIONS):
            annotations.pop(key, None)
    if not annotations:
        del meta["annotations"]
    return out


HPA_V1 = Conversion("autoscaling", "v2", "horizontalpodautoscalers", to_served=v2_to_v1, to_storage=v1_to_v2)
