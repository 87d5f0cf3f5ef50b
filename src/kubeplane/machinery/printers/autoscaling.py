"""HorizontalPodAutoscalers (autoscaling/v2 shape; v1's CPU target is read as a v2 metric)."""

from __future__ import annotations

from typing import Any

from .cells import JSON, UNSET, count, dig, items, name_of, text
from .columns import AGE, NAME, Doc, string
from .duration import Ages
from .printer import Printer, Printers

_UNKNOWN = "<unknown>"
_SHOWN_METRICS = 2


def _quantity(value: object) -> str:
    return str(value) if value is not None else "0"


def _metrics(hpa: JSON) -> tuple[list[Any], list[Any]]:
    """Spec metrics and current statuses, converting autoscaling/v1's CPU utilization fields."""
    specs, statuses = items(hpa, "spec", "metrics"), items(hpa, "status", "currentMetrics")
    target_cpu = dig(hpa, "spec", "targetCPUUtilizationPercentage")
    if not specs and isinstance(target_cpu, int):
        specs = [
            {"type": "Resource", "resource": {"name": "cpu", "target": {"averageUtilization": target_cpu}}}
        ]
        current_cpu = dig(hpa, "status", "currentCPUUtilizationPercentage")
        if isinstance(current_cpu, int):
            statuses = [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "current": {"averageUtilization": current_cpu}},
                }
            ]
    return specs, statuses


def _source_metric(spec: JSON, status: JSON | None, source: str) -> str:
    """External and Object metrics: "current/target", "(avg)" when targeting an average value."""
    target = dig(spec, source, "target") or {}
    current_of = dig(status, source, "current") if status is not None else None
    if target.get("averageValue") is not None:
        current = _UNKNOWN
        if current_of is not None and current_of.get("averageValue") is not None:
            current = _quantity(current_of["averageValue"])
        return f"{current}/{_quantity(target['averageValue'])} (avg)"
    current = _quantity(current_of.get("value")) if current_of is not None else _UNKNOWN
    return f"{current}/{_quantity(target.get('value'))}"


def _resource_metric(spec: JSON, status: JSON | None, source: str) -> str:
    """Resource and ContainerResource metrics: "name: current/target", as values or utilization."""
    name = text(spec, source, "name")
    target = dig(spec, source, "target") or {}
    current_of = dig(status, source, "current") if status is not None else None
    if target.get("averageValue") is not None:
        current = _quantity(current_of.get("averageValue")) if current_of is not None else _UNKNOWN
        return f"{name}: {current}/{_quantity(target['averageValue'])}"
    current = _UNKNOWN
    if current_of is not None and current_of.get("averageUtilization") is not None:
        current = f"{current_of['averageUtilization']}%"
    wanted = target.get("averageUtilization")
    return f"{name}: {current}/{f'{wanted}%' if wanted is not None else '<auto>'}"


def format_hpa_metrics(hpa: JSON) -> str:
    specs, statuses = _metrics(hpa)
    if not specs:
        return "<none>"
    rendered = []
    for index, spec in enumerate(specs):
        metric_type = text(spec, "type")
        # Statuses line up with specs by position; a status of another type does not count.
        status = statuses[index] if index < len(statuses) else None
        source = {
            "External": "external",
            "Object": "object",
            "Pods": "pods",
            "Resource": "resource",
            "ContainerResource": "containerResource",
        }.get(metric_type)
        if status is not None and source is not None and dig(status, source) is None:
            status = None
        if metric_type in ("External", "Object"):
            rendered.append(_source_metric(spec, status, str(source)))
        elif metric_type == "Pods":
            current = (
                _quantity(dig(status, "pods", "current", "averageValue")) if status is not None else _UNKNOWN
            )
            rendered.append(f"{current}/{_quantity(dig(spec, 'pods', 'target', 'averageValue'))}")
        elif metric_type in ("Resource", "ContainerResource"):
            rendered.append(_resource_metric(spec, status, str(source)))
        else:
            rendered.append("<unknown type>")
    joined = ", ".join(rendered[:_SHOWN_METRICS])
    if len(rendered) > _SHOWN_METRICS:
        return f"{joined} + {len(rendered) - _SHOWN_METRICS} more..."
    return joined


def _hpa(obj: JSON, ages: Ages) -> list[Any]:
    min_replicas = dig(obj, "spec", "minReplicas")
    return [
        name_of(obj),
        f"{text(obj, 'spec', 'scaleTargetRef', 'kind')}/{text(obj, 'spec', 'scaleTargetRef', 'name')}",
        format_hpa_metrics(obj),
        str(min_replicas) if isinstance(min_replicas, int) else UNSET,
        count(obj, "spec", "maxReplicas"),
        count(obj, "status", "currentReplicas"),
        ages.of(obj),
    ]


PRINTERS: Printers = {
    ("autoscaling", "horizontalpodautoscalers"): Printer(
        (
            NAME,
            string("Reference", Doc("autoscaling.v2.HorizontalPodAutoscalerSpec", "scaleTargetRef")),
            string("Targets", Doc("autoscaling.v2.HorizontalPodAutoscalerSpec", "metrics")),
            string("MinPods", Doc("autoscaling.v2.HorizontalPodAutoscalerSpec", "minReplicas")),
            string("MaxPods", Doc("autoscaling.v2.HorizontalPodAutoscalerSpec", "maxReplicas")),
            string("Replicas", Doc("autoscaling.v2.HorizontalPodAutoscalerStatus", "currentReplicas")),
            AGE,
        ),
        _hpa,
    ),
}
