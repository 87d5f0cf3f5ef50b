"""Setting one condition (and perhaps the phase) on a pod's status, as upstream's
``UpdatePodCondition`` + ``PatchPodStatus``: an unchanged condition is not written, a changed
status moves lastTransitionTime. Shared by the taint eviction and the pod garbage collector."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kubeplane.client import Client
from kubeplane.client.resource import PODS
from kubeplane.controllers.conditions import get_condition
from kubeplane.controllers.timeutil import format_time

JSON = dict[str, Any]

DISRUPTION_TARGET = "DisruptionTarget"


def with_condition(conditions: list[JSON], condition: JSON, now: datetime) -> list[JSON] | None:
    """``conditions`` with ``condition`` set, or None if that changes nothing."""
    current = get_condition(conditions, condition["type"])
    new = {"lastProbeTime": None, **condition}
    if current is not None:
        if all(current.get(k) == new.get(k) for k in ("status", "reason", "message")):
            return None
        new["lastTransitionTime"] = current.get("lastTransitionTime") \
            if current.get("status") == new["status"] else format_time(now)
    else:
        new["lastTransitionTime"] = format_time(now)
    return [new if c.get("type") == condition["type"] else c for c in conditions] if current is not None \
        else [*conditions, new]


async def set_pod_condition(client: Client, pod: JSON, condition: JSON, now: datetime,
                            phase: str | None = None) -> JSON:
    """Write ``condition`` (and ``phase``) onto the pod's status through ``pods/status``, guarded by
    the resourceVersion of ``pod`` (a Conflict means: decide again on a fresh copy)."""
    status = pod.get("status") or {}
    conditions = with_condition(list(status.get("conditions") or []), condition, now)
    patch_status: JSON = {}
    if conditions is not None:
        patch_status["conditions"] = conditions
    if phase is not None and status.get("phase") != phase:
        patch_status["phase"] = phase
    if not patch_status:
        return pod
    meta = pod["metadata"]
    patch = {"metadata": {"resourceVersion": meta.get("resourceVersion")}, "status": patch_status}
    updated: JSON = await client.patch(PODS, meta["name"], patch, meta.get("namespace"), subresource="status")
    return updated
