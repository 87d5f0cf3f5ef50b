"""DaemonSet rolling updates (upstream ``update.go``): which old pods to delete and on which
nodes to start new ones this sync.

Without surge, an old pod is deleted (and its replacement created by the next manage pass)
while fewer than ``maxUnavailable`` nodes are unavailable; old pods already unavailable are
replaced at once. With ``maxSurge`` the new pod starts beside the old one, on at most
``maxSurge`` nodes at a time, and the old pod goes once the new one is available.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubeplane.controllers.daemonset.pods import is_updated
from kubeplane.controllers.pods import is_pod_available

JSON = dict[str, Any]


def scaled_value(value: Any, total: int) -> int:
    """An int-or-percent against ``total``, rounding up as upstream does for both limits."""
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(value[:-1]) * total / 100)
    return int(value or 0)


def limits(ds: JSON, desired_scheduled: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable); never both zero (validation forbids it; we just stay safe)."""
    strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    surge = scaled_value(rolling.get("maxSurge", 0), desired_scheduled)
    unavailable = scaled_value(rolling.get("maxUnavailable", 1), desired_scheduled)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def allows_surge(ds: JSON) -> bool:
    strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
    if (strategy.get("type") or "RollingUpdate") != "RollingUpdate":
        return False
    surge = (strategy.get("rollingUpdate") or {}).get("maxSurge", 0)
    return surge not in (0, "0", "0%", None)


def split_by_revision(pods: list[JSON], hash_value: str) -> tuple[JSON | None, JSON | None, bool]:
    """(new pod, old pod, ok) among a node's live pods; not ok when there are two of either."""
    new_pod = old_pod = None
    for pod in pods:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        if is_updated(pod, hash_value):
            if new_pod is not None:
                return None, None, False
            new_pod = pod
        else:
            if old_pod is not None:
                return None, None, False
            old_pod = pod
    return new_pod, old_pod, True


@dataclass
class RollingPlan:
    delete: list[JSON] = field(default_factory=list)
    create_on: list[str] = field(default_factory=list)


def plan_rolling_update(ds: JSON, node_pods: dict[str, list[JSON]], hash_value: str, desired_scheduled: int,
                        now: datetime) -> RollingPlan:
    """``node_pods`` maps each node that should run the daemon to its pods."""
    max_surge, max_unavailable = limits(ds, desired_scheduled)
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)

    def available(pod: JSON) -> bool:
        return is_pod_available(pod, min_ready, now)

    result = RollingPlan()
    if max_surge == 0:
        unavailable = 0
        replace_now: list[JSON] = []
        candidates: list[JSON] = []
        for node in sorted(node_pods):
            new_pod, old_pod, ok = split_by_revision(node_pods[node], hash_value)
            if not ok or (new_pod is None) == (old_pod is None):
                unavailable += 1  # the manage pass creates or prunes here: count it as down
            elif new_pod is not None:
                unavailable += not available(new_pod)
            elif old_pod is not None and not available(old_pod):
                replace_now.append(old_pod)
                unavailable += 1
            elif old_pod is not None and unavailable < max_unavailable:
                candidates.append(old_pod)
        room = min(max(0, max_unavailable - unavailable), len(candidates))
        result.delete = replace_now + candidates[:room]
        return result
    surging = 0
    allowed: list[str] = []
    candidate_nodes: list[str] = []
    for node in sorted(node_pods):
        new_pod, old_pod, ok = split_by_revision(node_pods[node], hash_value)
        if not ok:
            surging += 1
        elif old_pod is None:
            continue  # nothing to replace; the manage pass creates a missing pod
        elif new_pod is None:
            if not available(old_pod):
                allowed.append(node)
            elif surging < max_surge:
                candidate_nodes.append(node)
        elif not available(new_pod):
            surging += 1  # a surge pod still coming up
        else:
            result.delete.append(old_pod)  # replaced: the old one may go
    room = min(max(0, max_surge - surging), len(candidate_nodes))
    result.create_on = allowed + candidate_nodes[:room]
    return result
