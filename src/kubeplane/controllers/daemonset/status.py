"""DaemonSet status (upstream ``updateDaemonSetStatus``): counted over the nodes that should
run the daemon, looking at each node's oldest daemon pod."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kubeplane.controllers.daemonset.pods import by_age, is_updated
from kubeplane.controllers.pods import is_pod_available, is_pod_ready

JSON = dict[str, Any]


def compute_status(ds: JSON, should_run: dict[str, bool], node_pods: dict[str, list[JSON]], hash_value: str,
                   collision_count: int, now: datetime) -> JSON:
    """``should_run`` maps every node to whether the daemon belongs there."""
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    desired = current = misscheduled = ready = available = updated = 0
    for node, wanted in should_run.items():
        pods = by_age(node_pods.get(node) or [])
        if not wanted:
            misscheduled += bool(pods)
            continue
        desired += 1
        if not pods:
            continue
        current += 1
        oldest = pods[0]
        if is_pod_ready(oldest):
            ready += 1
            available += is_pod_available(oldest, min_ready, now)
        updated += is_updated(oldest, hash_value)
    status = {k: v for k, v in (ds.get("status") or {}).items() if k == "conditions"}
    status.update({"desiredNumberScheduled": desired, "currentNumberScheduled": current,
                   "numberMisscheduled": misscheduled, "numberReady": ready, "updatedNumberScheduled": updated,
                   "observedGeneration": ds["metadata"].get("generation", 0)})
    if available:
        status["numberAvailable"] = available
    if desired - available:
        status["numberUnavailable"] = desired - available
    if collision_count:
        status["collisionCount"] = collision_count
    return status
