"""Job conditions and what they mean (upstream ``pkg/controller/job/util``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kubeplane.controllers.conditions import get_condition
from kubeplane.controllers.timeutil import format_time, parse_time

JSON = dict[str, Any]

COMPLETE, FAILED = "Complete", "Failed"
SUCCESS_CRITERIA_MET, FAILURE_TARGET = "SuccessCriteriaMet", "FailureTarget"
SUSPENDED = "Suspended"


def condition_true(job: JSON, condition_type: str) -> bool:
    condition = get_condition((job.get("status") or {}).get("conditions"), condition_type)
    return condition is not None and condition.get("status") == "True"


def is_finished(job: JSON) -> bool:
    return condition_true(job, COMPLETE) or condition_true(job, FAILED)


def finish_time(job: JSON) -> datetime | None:
    """When the Job finished: completionTime, else the terminal condition's transition."""
    status = job.get("status") or {}
    if status.get("completionTime"):
        return parse_time(status["completionTime"])
    for condition_type in (COMPLETE, FAILED):
        condition = get_condition(status.get("conditions"), condition_type)
        if condition is not None and condition.get("status") == "True":
            return parse_time(condition.get("lastTransitionTime"))
    return None


def job_condition(condition_type: str, status: str, reason: str, message: str, now: datetime) -> JSON:
    """Job conditions carry lastProbeTime, not lastUpdateTime."""
    stamp = format_time(now)
    return {"type": condition_type, "status": status, "lastProbeTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message}


def with_condition(conditions: list[JSON], condition: JSON) -> list[JSON]:
    """Set a condition: unchanged status keeps the old one (and its transition time)."""
    current = get_condition(conditions, condition["type"])
    if current is not None and current.get("status") == condition["status"] \
            and current.get("reason") == condition.get("reason"):
        return conditions
    return [*(c for c in conditions if c.get("type") != condition["type"]), condition]
