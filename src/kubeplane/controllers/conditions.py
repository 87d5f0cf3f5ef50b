"""Status conditions as upstream's workload controllers keep them: setting a condition whose
status and reason are unchanged keeps it as it is; a new status resets lastTransitionTime."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kubeplane.controllers.timeutil import format_time

JSON = dict[str, Any]


def get_condition(conditions: list[JSON] | None, condition_type: str) -> JSON | None:
    for condition in conditions or ():
        if condition.get("type") == condition_type:
            return condition
    return None


def new_condition(condition_type: str, status: str, reason: str, message: str, now: datetime) -> JSON:
    stamp = format_time(now)
    return {"type": condition_type, "status": status, "lastUpdateTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message}


def set_condition(conditions: list[JSON], condition: JSON, now: datetime) -> list[JSON]:
    """``conditions`` with ``condition`` set (a new list; time fields filled in when missing)."""
    condition = dict(condition)
    condition.setdefault("lastTransitionTime", format_time(now))
    current = get_condition(conditions, condition["type"])
    if current is not None and current.get("status") == condition["status"] \
            and current.get("reason") == condition.get("reason"):
        return list(conditions)
    if current is not None and current.get("status") == condition["status"]:
        condition["lastTransitionTime"] = current.get("lastTransitionTime")
    return [*remove_condition(conditions, condition["type"]), condition]


def remove_condition(conditions: list[JSON], condition_type: str) -> list[JSON]:
    return [c for c in conditions if c.get("type") != condition_type]
