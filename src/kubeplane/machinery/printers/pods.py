"""Pods: READY, STATUS (upstream's reason computation), RESTARTS, plus the wide columns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .cells import JSON, NONE, count, dig, items, name_of, text
from .columns import AGE, NAME, Doc, string
from .duration import Ages, is_zero, parse_timestamp
from .printer import Printer, Printers

# The reason the node lifecycle controller gives pods on a node that stopped reporting.
_NODE_LOST = "NodeLost"
_TERMINAL_PHASES = ("Succeeded", "Failed")

COLUMNS = (
    NAME,
    string("Ready", "The aggregate readiness state of this pod for accepting traffic."),
    string("Status", "The aggregate status of the containers in this pod."),
    string(
        "Restarts",
        "The number of times the containers in this pod have been restarted and when the last "
        "container in this pod has restarted.",
    ),
    AGE,
    string("IP", Doc("core.v1.PodStatus", "podIP"), wide=True),
    string("Node", Doc("core.v1.PodSpec", "nodeName"), wide=True),
    string("Nominated Node", Doc("core.v1.PodStatus", "nominatedNodeName"), wide=True),
    string("Readiness Gates", Doc("core.v1.PodSpec", "readinessGates"), wide=True),
)


@dataclass
class _Restarts:
    """Restart count and the latest time a counted container last terminated."""

    total: int = 0
    last: datetime | None = None

    def add(self, status: JSON) -> None:
        self.total += count(status, "restartCount")
        finished = parse_timestamp(dig(status, "lastState", "terminated", "finishedAt"))
        if finished is not None and (self.last is None or self.last < finished):
            self.last = finished


@dataclass
class _PodSummary:
    reason: str
    ready: int = 0
    restarts: _Restarts = field(default_factory=_Restarts)


def _condition_true(pod: JSON, condition_type: str) -> bool:
    for condition in items(pod, "status", "conditions"):
        if condition.get("type") == condition_type:
            return bool(condition.get("status") == "True")
    return False


def _has_ready_condition(pod: JSON) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in items(pod, "status", "conditions")
    )


def _terminated_reason(terminated: JSON, prefix: str) -> str:
    if text(terminated, "reason"):
        return prefix + text(terminated, "reason")
    if count(terminated, "signal"):
        return f"{prefix}Signal:{count(terminated, 'signal')}"
    return f"{prefix}ExitCode:{count(terminated, 'exitCode')}"


def _restartable_init_names(pod: JSON) -> set[str]:
    # Sidecars: init containers with restartPolicy Always keep running next to the app containers.
    return {
        text(c, "name") for c in items(pod, "spec", "initContainers") if c.get("restartPolicy") == "Always"
    }


def _scan_init_containers(pod: JSON, summary: _PodSummary, sidecar_restarts: _Restarts) -> bool:
    """Fold init container statuses into the summary; True while the pod is still initializing."""
    sidecars = _restartable_init_names(pod)
    total_init = len(items(pod, "spec", "initContainers"))
    for index, status in enumerate(items(pod, "status", "initContainerStatuses")):
        summary.restarts.add(status)
        is_sidecar = text(status, "name") in sidecars
        if is_sidecar:
            sidecar_restarts.add(status)
        terminated = dig(status, "state", "terminated")
        waiting_reason = text(status, "state", "waiting", "reason")
        if terminated is not None and count(terminated, "exitCode") == 0:
            continue
        if is_sidecar and status.get("started") is True:
            if status.get("ready"):
                summary.ready += 1
            continue
        if terminated is not None:
            summary.reason = _terminated_reason(terminated, "Init:")
        elif waiting_reason and waiting_reason != "PodInitializing":
            summary.reason = "Init:" + waiting_reason
        else:
            summary.reason = f"Init:{index}/{total_init}"
        return True
    return False


def _scan_containers(pod: JSON, summary: _PodSummary) -> None:
    has_running = False
    # Upstream walks the statuses backwards, so the first container's state wins the reason.
    for status in reversed(items(pod, "status", "containerStatuses")):
        summary.restarts.add(status)
        waiting_reason = text(status, "state", "waiting", "reason")
        terminated = dig(status, "state", "terminated")
        if waiting_reason:
            summary.reason = waiting_reason
        elif terminated is not None:
            summary.reason = _terminated_reason(terminated, "")
        elif status.get("ready") and dig(status, "state", "running") is not None:
            has_running = True
            summary.ready += 1
    if summary.reason == "Completed" and has_running:
        summary.reason = "Running" if _has_ready_condition(pod) else "NotReady"


def summarize(pod: JSON) -> _PodSummary:
    """Upstream's printPod status logic: the STATUS reason, ready containers and restarts."""
    phase = text(pod, "status", "phase")
    summary = _PodSummary(reason=text(pod, "status", "reason") or phase)
    for condition in items(pod, "status", "conditions"):
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "SchedulingGated":
            summary.reason = "SchedulingGated"

    sidecar_restarts = _Restarts()
    initializing = _scan_init_containers(pod, summary, sidecar_restarts)
    if not initializing or _condition_true(pod, "Initialized"):
        # Once initialized only sidecar restarts still count among the init containers'.
        summary.restarts = sidecar_restarts
        _scan_containers(pod, summary)

    deleting = pod.get("metadata", {}).get("deletionTimestamp") is not None
    if deleting and text(pod, "status", "reason") == _NODE_LOST:
        summary.reason = "Unknown"
    elif deleting and phase not in _TERMINAL_PHASES:
        summary.reason = "Terminating"
    return summary


def _readiness_gates(pod: JSON) -> str:
    gates = items(pod, "spec", "readinessGates")
    if not gates:
        return NONE
    conditions = items(pod, "status", "conditions")
    satisfied = 0
    for gate in gates:
        match = next((c for c in conditions if c.get("type") == gate.get("conditionType")), None)
        if match is not None and match.get("status") == "True":
            satisfied += 1
    return f"{satisfied}/{len(gates)}"


def _pod_ip(pod: JSON) -> str:
    ips = items(pod, "status", "podIPs")
    first = text(ips[0], "ip") if ips else text(pod, "status", "podIP")
    return first or NONE


def pod_cells(pod: JSON, ages: Ages) -> list[Any]:
    summary = summarize(pod)
    total = len(items(pod, "spec", "containers")) + len(_restartable_init_names(pod))
    restarts = str(summary.restarts.total)
    last = summary.restarts.last
    if summary.restarts.total and last is not None and not is_zero(last):
        restarts = f"{summary.restarts.total} ({Ages.between(last, ages.now)} ago)"
    return [
        name_of(pod),
        f"{summary.ready}/{total}",
        summary.reason,
        restarts,
        ages.of(pod),
        _pod_ip(pod),
        text(pod, "spec", "nodeName") or NONE,
        text(pod, "status", "nominatedNodeName") or NONE,
        _readiness_gates(pod),
    ]


def pod_conditions(pod: JSON) -> list[JSON]:
    phase = text(pod, "status", "phase")
    if phase == "Succeeded":
        message = "The pod has completed successfully."
    elif phase == "Failed":
        message = "The pod failed."
    else:
        return []
    return [{"type": "Completed", "status": "True", "reason": phase, "message": message}]


PRINTERS: Printers = {("", "pods"): Printer(COLUMNS, pod_cells, pod_conditions)}
