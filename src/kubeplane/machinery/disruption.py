"""PodDisruptionBudget status helpers shared by the API server's eviction subresource and the
disruption controller (upstream keeps them in ``k8s.io/component-helpers/apps/poddisruptionbudget``
for the same reason)."""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]

DISRUPTION_ALLOWED = "DisruptionAllowed"
SUFFICIENT_PODS, INSUFFICIENT_PODS, SYNC_FAILED = "SufficientPods", "InsufficientPods", "SyncFailed"


def allowed_condition(current: list[JSON], allowed: int, generation: int, stamp: str,
                      reason: str | None = None, message: str = "") -> list[JSON]:
    """The conditions with DisruptionAllowed set for ``allowed`` disruptions (meta.SetStatusCondition:
    the transition time, ``stamp`` when it changes, moves only when the status does)."""
    status = "True" if allowed > 0 else "False"
    reason = reason or (SUFFICIENT_PODS if allowed > 0 else INSUFFICIENT_PODS)
    previous = next((c for c in current if c.get("type") == DISRUPTION_ALLOWED), None)
    transition = previous.get("lastTransitionTime") if previous and previous.get("status") == status else stamp
    condition = {"type": DISRUPTION_ALLOWED, "status": status, "observedGeneration": generation,
                 "lastTransitionTime": transition, "reason": reason, "message": message}
    return [c for c in current if c.get("type") != DISRUPTION_ALLOWED] + [condition]
