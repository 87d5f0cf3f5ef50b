"""The taints the node lifecycle controller owns: NoSchedule taints mirroring node conditions
(taint-nodes-by-condition) and the NoExecute not-ready/unreachable pair that drives eviction."""

from __future__ import annotations

from typing import Any

from kubeplane.machinery.taints import NO_EXECUTE, NO_SCHEDULE, node_taints

JSON = dict[str, Any]

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
PID_PRESSURE = "node.kubernetes.io/pid-pressure"
NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"

NOT_READY_NO_EXECUTE: JSON = {"key": NOT_READY, "effect": NO_EXECUTE}
UNREACHABLE_NO_EXECUTE: JSON = {"key": UNREACHABLE, "effect": NO_EXECUTE}

# Upstream's nodeConditionToTaintKeyStatusMap: which condition status means which taint.
CONDITION_TAINTS: dict[str, dict[str, str]] = {
    "Ready": {"False": NOT_READY, "Unknown": UNREACHABLE},
    "MemoryPressure": {"True": MEMORY_PRESSURE},
    "DiskPressure": {"True": DISK_PRESSURE},
    "NetworkUnavailable": {"True": NETWORK_UNAVAILABLE},
    "PIDPressure": {"True": PID_PRESSURE},
}
CONDITION_TAINT_KEYS = frozenset({UNSCHEDULABLE, *(k for m in CONDITION_TAINTS.values() for k in m.values())})


def same_taint(a: JSON, b: JSON) -> bool:
    """Upstream's ``MatchTaint``: key and effect identify a taint (value and time do not)."""
    return a.get("key") == b.get("key") and a.get("effect") == b.get("effect")


def has_taint(node: JSON, template: JSON) -> bool:
    return any(same_taint(t, template) for t in node_taints(node))


def condition_no_schedule_taints(node: JSON) -> list[JSON]:
    """The NoSchedule taints the node's conditions (and spec.unschedulable) call for."""
    wanted = []
    for condition in (node.get("status") or {}).get("conditions") or ():
        key = CONDITION_TAINTS.get(condition.get("type", ""), {}).get(condition.get("status", ""))
        if key:
            wanted.append({"key": key, "effect": NO_SCHEDULE})
    if (node.get("spec") or {}).get("unschedulable"):
        wanted.append({"key": UNSCHEDULABLE, "effect": NO_SCHEDULE})
    return wanted


def desired_no_schedule(node: JSON) -> list[JSON] | None:
    """The node's taint list with the condition taints brought up to date, or None if unchanged.
    Taints of other keys or effects, set by users or other components, are kept as they are."""
    current = node_taints(node)
    wanted = condition_no_schedule_taints(node)
    owned = [t for t in current if t.get("effect") == NO_SCHEDULE and t.get("key") in CONDITION_TAINT_KEYS]
    if sorted(t["key"] for t in owned) == sorted(t["key"] for t in wanted):
        return None
    kept = [t for t in current if not (t.get("effect") == NO_SCHEDULE and t.get("key") in CONDITION_TAINT_KEYS)]
    return kept + wanted


def swap_taints(node: JSON, add: list[JSON], remove: list[JSON], time_added: str) -> list[JSON] | None:
    """The node's taints with ``remove`` gone and ``add`` present (NoExecute ones stamped with
    ``time_added``), or None if that is what the node has already."""
    current = node_taints(node)
    kept = [t for t in current if not any(same_taint(t, r) for r in remove)]
    for taint in add:
        if not any(same_taint(t, taint) for t in kept):
            stamped = dict(taint)
            if stamped.get("effect") == NO_EXECUTE:
                stamped["timeAdded"] = time_added
            kept.append(stamped)
    return None if kept == current else kept
