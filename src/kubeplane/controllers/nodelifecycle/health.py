"""When a node was last heard from (upstream's ``nodeHealthData`` and ``tryUpdateNodeHealth``).

The controller never trusts the kubelet's clock: it records, on its own monotonic clock, when it
*saw* the Ready condition's heartbeat or the node's Lease renewal change. A node not heard from
for longer than the grace period gets every kubelet-owned condition set to Unknown.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kubeplane.controllers.conditions import get_condition
from kubeplane.controllers.timeutil import format_time, parse_time

JSON = dict[str, Any]

# The conditions the kubelet posts and the controller marks Unknown when it goes quiet.
KUBELET_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
STOPPED_REASON, STOPPED_MESSAGE = "NodeStatusUnknown", "Kubelet stopped posting node status."
NEVER_REASON, NEVER_MESSAGE = "NodeStatusNeverUpdated", "Kubelet never posted node status."


@dataclass
class NodeHealth:
    """What the controller last saw of one node: its Ready condition and lease renewal, and when
    (monotonic seconds) it saw them change."""

    ready: JSON | None
    probe_time: float
    renew_time: str | None = None


@dataclass
class HealthVerdict:
    observed_ready: JSON       # the Ready condition as the node posted it (before this pass)
    current_ready: JSON | None  # after this pass (Unknown if the node went quiet)
    updated_node: JSON | None  # the node with its conditions marked Unknown, to write; None if no change


def ready_of(node: JSON) -> JSON | None:
    return get_condition((node.get("status") or {}).get("conditions"), "Ready")


class HealthTracker:
    def __init__(self, grace_period: float, startup_grace_period: float) -> None:
        self.grace_period = grace_period
        self.startup_grace_period = startup_grace_period
        self._health: dict[str, NodeHealth] = {}

    def forget(self, name: str) -> None:
        self._health.pop(name, None)

    def reset_probes(self, now: float) -> None:
        """Treat every node as just heard from (upstream does this on leaving disruption mode)."""
        for health in self._health.values():
            health.probe_time = now

    def observe(self, node: JSON, lease: JSON | None, now: float, wall: datetime) -> HealthVerdict:
        name = node["metadata"]["name"]
        saved = self._health.get(name)
        current = ready_of(node)
        created = node["metadata"].get("creationTimestamp")
        if current is None:
            # Never posted: measured from the node's creation, with the longer startup grace.
            observed: JSON = {"type": "Ready", "status": "Unknown", "lastHeartbeatTime": created,
                              "lastTransitionTime": created}
            grace = self.startup_grace_period
            if saved is None:
                created_at = parse_time(created) or wall
                saved = NodeHealth(None, now - max(0.0, (wall - created_at).total_seconds()))
        else:
            observed = dict(current)
            grace = self.grace_period
            if saved is None or saved.ready is None:
                saved = NodeHealth(dict(current), now, saved.renew_time if saved else None)
            elif saved.ready.get("lastHeartbeatTime") != current.get("lastHeartbeatTime"):
                saved.ready, saved.probe_time = dict(current), now
        renew = ((lease or {}).get("spec") or {}).get("renewTime")
        if lease is not None and renew != saved.renew_time:
            saved.renew_time, saved.probe_time = renew, now
        self._health[name] = saved

        if now <= saved.probe_time + grace:
            return HealthVerdict(observed, current, None)
        updated = mark_unknown(node, wall)
        new_ready = ready_of(updated)
        if new_ready == current:
            return HealthVerdict(observed, current, None)
        return HealthVerdict(observed, new_ready, updated)


def mark_unknown(node: JSON, wall: datetime) -> JSON:
    """The node with every kubelet condition Unknown (a new object; unchanged ones kept as they are)."""
    node = copy.deepcopy(node)
    status = node.setdefault("status", {})
    conditions = status.setdefault("conditions", [])
    stamp = format_time(wall)
    for condition_type in KUBELET_CONDITIONS:
        condition = get_condition(conditions, condition_type)
        if condition is None:
            conditions.append({"type": condition_type, "status": "Unknown", "reason": NEVER_REASON,
                               "message": NEVER_MESSAGE, "lastHeartbeatTime": node["metadata"].get("creationTimestamp"),
                               "lastTransitionTime": stamp})
        elif condition.get("status") != "Unknown":
            condition.update(status="Unknown", reason=STOPPED_REASON, message=STOPPED_MESSAGE, lastTransitionTime=stamp)
    return node
