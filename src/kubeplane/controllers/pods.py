"""Pod facts the workload controllers agree on: active, ready, available (upstream podutil)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from kubeplane.controllers.timeutil import parse_time

JSON = dict[str, Any]

TERMINAL_PHASES = ("Succeeded", "Failed")


def ready_condition(pod: JSON) -> JSON | None:
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return dict(condition)
    return None


def is_pod_ready(pod: JSON) -> bool:
    condition = ready_condition(pod)
    return condition is not None and condition.get("status") == "True"


def is_pod_active(pod: JSON) -> bool:
    """Counts toward replicas: not finished and not being deleted."""
    return ((pod.get("status") or {}).get("phase") not in TERMINAL_PHASES
            and not (pod.get("metadata") or {}).get("deletionTimestamp"))


def is_pod_available(pod: JSON, min_ready_seconds: int, now: datetime) -> bool:
    """Ready for at least ``min_ready_seconds`` (measured from the Ready condition's transition)."""
    if not is_pod_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = parse_time((ready_condition(pod) or {}).get("lastTransitionTime"))
    return since is not None and since + timedelta(seconds=min_ready_seconds) <= now
