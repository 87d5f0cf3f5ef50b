"""ReplicaSet status from the pods it owns (upstream ``calculateStatus``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kubeplane.controllers.conditions import remove_condition, set_condition
from kubeplane.controllers.pods import is_pod_available, is_pod_ready
from kubeplane.machinery.labels import selector_from_set

JSON = dict[str, Any]

REPLICA_FAILURE = "ReplicaFailure"


def calculate_status(rs: JSON, pods: list[JSON], now: datetime, failure: tuple[str, str] | None) -> JSON:
    """``pods`` are the active pods the ReplicaSet owns; ``failure`` is (reason, message) of a
    create/delete that failed this sync, which sets the ReplicaFailure condition."""
    spec = rs.get("spec") or {}
    template_labels = selector_from_set(((spec.get("template") or {}).get("metadata") or {}).get("labels"))
    min_ready = int(spec.get("minReadySeconds") or 0)
    status = dict(rs.get("status") or {})
    status.update({
        "replicas": len(pods),
        "fullyLabeledReplicas": sum(1 for p in pods if template_labels.matches(p["metadata"].get("labels"))),
        "readyReplicas": sum(1 for p in pods if is_pod_ready(p)),
        "availableReplicas": sum(1 for p in pods if is_pod_available(p, min_ready, now)),
        "observedGeneration": rs["metadata"].get("generation", 0),
    })
    conditions = list(status.get("conditions") or ())
    if failure is not None:
        reason, message = failure
        conditions = set_condition(conditions, {"type": REPLICA_FAILURE, "status": "True", "reason": reason,
                                                "message": message}, now)
    else:
        conditions = remove_condition(conditions, REPLICA_FAILURE)
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)
    return status
