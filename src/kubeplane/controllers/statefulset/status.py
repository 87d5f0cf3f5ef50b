"""StatefulSet status from its pods (upstream ``computeReplicaStatus`` and
``completeRollingUpdate``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kubeplane.controllers.history import CONTROLLER_REVISION_HASH
from kubeplane.controllers.pods import is_pod_available, is_pod_ready

JSON = dict[str, Any]


def is_created(pod: JSON) -> bool:
    return bool((pod.get("status") or {}).get("phase"))


def is_terminating(pod: JSON) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def is_running_and_ready(pod: JSON) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and is_pod_ready(pod)


def is_running_and_available(pod: JSON, min_ready_seconds: int, now: datetime) -> bool:
    return is_running_and_ready(pod) and is_pod_available(pod, min_ready_seconds, now)


def is_healthy(pod: JSON, min_ready_seconds: int, now: datetime) -> bool:
    return is_running_and_available(pod, min_ready_seconds, now) and not is_terminating(pod)


def pod_revision(pod: JSON) -> str:
    return str((pod["metadata"].get("labels") or {}).get(CONTROLLER_REVISION_HASH, ""))


def compute_status(set_: JSON, pods: list[JSON], current_revision: str, update_revision: str,
                   collision_count: int, now: datetime, created: list[JSON] | None = None) -> JSON:
    """``pods`` as the cache saw them at the start of the sync; ``created`` the pods this sync
    created (counted as existing even before the API server's status reaches the cache)."""
    spec = set_.get("spec") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    status = {k: v for k, v in (set_.get("status") or {}).items() if k == "conditions"}
    counts = {"replicas": 0, "readyReplicas": 0, "availableReplicas": 0, "currentReplicas": 0,
              "updatedReplicas": 0}
    fresh = {p["metadata"]["name"] for p in created or ()}
    # A pod this sync created counts as existing even before the API server's status reaches us.
    counted = [(p, is_created(p)) for p in pods if p["metadata"]["name"] not in fresh]
    counted += [(p, True) for p in created or ()]
    for pod, exists in counted:
        if exists:
            counts["replicas"] += 1
        if is_running_and_ready(pod):
            counts["readyReplicas"] += 1
            if is_running_and_available(pod, min_ready, now):
                counts["availableReplicas"] += 1
        if exists and not is_terminating(pod):
            revision = pod_revision(pod)
            counts["currentReplicas"] += revision == current_revision
            counts["updatedReplicas"] += revision == update_revision
    status.update(counts)
    status.update({"observedGeneration": set_["metadata"].get("generation", 0), "currentRevision": current_revision,
                   "updateRevision": update_revision, "collisionCount": collision_count})
    rolling = ((spec.get("updateStrategy") or {}).get("type") or "RollingUpdate") == "RollingUpdate"
    if rolling and status["updatedReplicas"] == status["replicas"] == status["readyReplicas"]:
        # The rollout is complete: the update revision becomes the current one.
        status["currentReplicas"] = status["updatedReplicas"]
        status["currentRevision"] = update_revision
    return status
