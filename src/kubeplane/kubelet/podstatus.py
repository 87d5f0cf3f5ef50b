"""A pod's status computed from what the runtime reports: phase, conditions, container statuses.

Pure: the worker turns CRI container statuses into ``ContainerRecord``s and passes the reasons a
container could not start; everything here is deterministic in those inputs and ``now``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubeplane.kubelet.qos import qos_class

JSON = dict[str, Any]

PENDING, RUNNING, SUCCEEDED, FAILED = "Pending", "Running", "Succeeded", "Failed"
TERMINAL_PHASES = (SUCCEEDED, FAILED)
KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
CONTAINER_ID_PREFIX = "containerd://"

CREATED, RUNNING_STATE, EXITED, UNKNOWN = "created", "running", "exited", "unknown"
# A container of a finished pod that is not (or no longer) in the runtime, in upstream's words.
STATUS_UNKNOWN_REASON = "ContainerStatusUnknown"
STATUS_UNKNOWN_MESSAGE = "The container could not be located when the pod was terminated"
STATUS_UNKNOWN_EXIT_CODE = 137
POD_FAILED = "PodFailed"  # the reason a failed pod is not Ready


@dataclass(frozen=True)
class ContainerRecord:
    """One runtime container of the pod (a container spec runs as several over restarts)."""

    id: str
    name: str
    attempt: int
    state: str  # CREATED, RUNNING_STATE, EXITED, UNKNOWN
    created_at: int = 0  # ns since the epoch, as CRI reports
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    image: str = ""
    image_ref: str = ""

    @property
    def container_id(self) -> str:
        return CONTAINER_ID_PREFIX + self.id


@dataclass(frozen=True)
class Waiting:
    reason: str
    message: str = ""


def rfc3339(ns_or_seconds: float, nanoseconds: bool = True) -> str:
    seconds = ns_or_seconds / 1e9 if nanoseconds else ns_or_seconds
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_sidecar(container: JSON) -> bool:
    return container.get("restartPolicy") == "Always"


def terminated_state(record: ContainerRecord) -> JSON:
    terminated: JSON = {"exitCode": record.exit_code,
                        "reason": record.reason or ("Completed" if record.exit_code == 0 else "Error"),
                        "startedAt": rfc3339(record.started_at) if record.started_at else None,
                        "finishedAt": rfc3339(record.finished_at) if record.finished_at else None,
                        "containerID": record.container_id}
    if record.message:
        terminated["message"] = record.message
    return {"terminated": {k: v for k, v in terminated.items() if v is not None}}


def should_restart(restart_policy: str, exit_code: int) -> bool:
    return restart_policy == "Always" or (restart_policy == "OnFailure" and exit_code != 0)


@dataclass
class PodView:
    """What the status is computed from."""

    pod: JSON
    records: dict[str, list[ContainerRecord]]  # container name -> newest first
    waiting: dict[str, Waiting]
    pod_ips: list[str]
    host_ip: str
    sandbox_ready: bool
    ready: Callable[[JSON, ContainerRecord], bool]  # is this running container ready
    terminating: bool = False
    # Has this running container started (its startup probe passed)? Without probes: once running.
    started: Callable[[JSON, ContainerRecord], bool] = lambda container, record: True

    def latest(self, name: str) -> ContainerRecord | None:
        records = self.records.get(name) or []
        return records[0] if records else None


def _container_status(view: PodView, container: JSON, default_reason: str) -> JSON:
    name = str(container["name"])
    records = view.records.get(name) or []
    latest = records[0] if records else None
    status: JSON = {"name": name, "image": container.get("image", ""), "imageID": "", "ready": False,
                    "restartCount": latest.attempt if latest else 0, "started": False,
                    "state": {"waiting": {"reason": default_reason}}, "lastState": {}}
    if latest is not None:
        status["imageID"] = latest.image_ref
        status["containerID"] = latest.container_id
        if latest.state == RUNNING_STATE:
            status["state"] = {"running": {"startedAt": rfc3339(latest.started_at)}}
            status["started"] = view.started(container, latest)
            status["ready"] = status["started"] and view.ready(container, latest)
        elif latest.state == EXITED:
            status["state"] = terminated_state(latest)
        if len(records) > 1 and records[1].state == EXITED:
            status["lastState"] = terminated_state(records[1])
    waiting = view.waiting.get(name)
    if waiting is not None and (latest is None or latest.state != RUNNING_STATE):
        if "terminated" in status["state"]:
            status["lastState"] = status["state"]  # the exit the container waits to recover from
        status["state"] = {"waiting": {"reason": waiting.reason, **({"message": waiting.message}
                                                                    if waiting.message else {})}}
    return status


def initialized(view: PodView) -> tuple[bool, list[str]]:
    """All regular init containers succeeded and all sidecars started; returns the incomplete ones."""
    pending = []
    for container in (view.pod.get("spec") or {}).get("initContainers") or []:
        records = view.records.get(container["name"]) or []
        if is_sidecar(container):
            done = any(r.state == RUNNING_STATE for r in records[:1]) or any(r.started_at for r in records)
        else:
            done = any(r.state == EXITED and r.exit_code == 0 for r in records)
        if not done:
            pending.append(str(container["name"]))
    return not pending, pending


def phase(view: PodView) -> str:
    spec = view.pod.get("spec") or {}
    policy = str(spec.get("restartPolicy") or "Always")
    done, _ = initialized(view)
    if not done:
        for container in spec.get("initContainers") or []:
            latest = view.latest(container["name"])
            if (not is_sidecar(container) and latest is not None and latest.state == EXITED
                    and latest.exit_code != 0 and policy == "Never"):
                return FAILED
        return PENDING
    running = waiting = stopped = succeeded = 0
    for container in spec.get("containers") or []:
        records = view.records.get(container["name"]) or []
        latest = records[0] if records else None
        if latest is not None and latest.state == RUNNING_STATE:
            running += 1
        elif latest is not None and latest.state == EXITED:
            stopped += 1
            succeeded += latest.exit_code == 0
        elif len(records) > 1:
            stopped += 1  # waiting to restart after an exit
        else:
            waiting += 1
    if waiting:
        return PENDING
    if running:
        return RUNNING
    if stopped and not view.terminating:
        if policy == "Always":
            return RUNNING  # all are restarting
        if policy == "OnFailure" and succeeded < stopped:
            return RUNNING
    return SUCCEEDED if stopped == succeeded else FAILED


def _condition(kind: str, ok: bool, previous: dict[str, JSON], now: str, reason: str = "",
               message: str = "") -> JSON:
    status = "True" if ok else "False"
    old = previous.get(kind)
    transition = old.get("lastTransitionTime") if old and old.get("status") == status else now
    condition: JSON = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": transition}
    if not ok and reason:
        condition["reason"] = reason
        if message:
            condition["message"] = message
    return condition


def compute_status(view: PodView, now: datetime) -> JSON:
    pod = view.pod
    spec = pod.get("spec") or {}
    current = pod.get("status") or {}
    now_text = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    previous = {c.get("type"): c for c in current.get("conditions") or []}
    init_done, incomplete = initialized(view)
    init_statuses = [_container_status(view, c, "PodInitializing") for c in spec.get("initContainers") or []]
    app_default = "ContainerCreating" if init_done else "PodInitializing"
    app_statuses = sorted((_container_status(view, c, app_default) for c in spec.get("containers") or []),
                          key=lambda s: s["name"])
    pod_phase = phase(view)
    unready = [s["name"] for s in app_statuses if not s["ready"]]
    unready += [s["name"] for c, s in zip(spec.get("initContainers") or [], init_statuses, strict=True)
                if is_sidecar(c) and not s["ready"]]
    completed = pod_phase == SUCCEEDED
    ready = not unready and pod_phase not in TERMINAL_PHASES
    ready_reason = "PodCompleted" if completed else "ContainersNotReady"
    ready_message = "" if completed else f"containers with unready status: [{' '.join(unready)}]"
    if pod_phase == FAILED:
        # As upstream: a failed pod is not ready whatever its containers still do (they may be
        # terminating).
        ready_reason, ready_message = POD_FAILED, ""
    conditions = [
        _condition("PodReadyToStartContainers", view.sandbox_ready, previous, now_text),
        _condition("Initialized", init_done, previous, now_text, "ContainersNotInitialized",
                   f"containers with incomplete status: [{' '.join(incomplete)}]"),
        _condition("Ready", ready, previous, now_text, ready_reason, ready_message),
        _condition("ContainersReady", ready, previous, now_text, ready_reason, ready_message),
        _condition("PodScheduled", True, previous, now_text),
    ]
    if completed:
        conditions[1]["reason"] = "PodCompleted"
    # Conditions other writers own (readiness gates, DisruptionTarget, ...) are kept as they are.
    conditions += [c for c in current.get("conditions") or [] if c.get("type") not in KUBELET_CONDITIONS]
    status: JSON = {
        "phase": pod_phase,
        "conditions": conditions,
        "hostIP": view.host_ip,
        "hostIPs": [{"ip": view.host_ip}] if view.host_ip else [],
        "startTime": current.get("startTime") or now_text,
        "containerStatuses": app_statuses,
        "qosClass": qos_class(pod),
    }
    if view.pod_ips:
        status["podIP"] = view.pod_ips[0]
        status["podIPs"] = [{"ip": ip} for ip in view.pod_ips]
    elif current.get("podIP"):
        status["podIP"], status["podIPs"] = current["podIP"], current.get("podIPs") or []
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    if spec.get("ephemeralContainers"):
        status["ephemeralContainerStatuses"] = [ephemeral_status(view, c) for c in spec["ephemeralContainers"]]
    return status


def ephemeral_status(view: PodView, container: JSON) -> JSON:
    """Ephemeral containers report state like the others but are never ready and never restart."""
    status = _container_status(view, container, "ContainerCreating")
    status["ready"] = False
    status["restartCount"] = 0
    return status


def _without_nulls(value: Any) -> Any:
    # The API server drops null fields when it stores an object; compare as it would store ours.
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def final_status(computed: JSON, current: JSON) -> JSON:
    """The status of a pod whose phase is already terminal in the API (it completed, or was
    evicted), computed once its containers stopped: the API's phase is kept (a terminal phase
    never changes) and, as upstream, no container of a finished pod is left waiting or running: one
    the runtime does not have is reported terminated with ``ContainerStatusUnknown`` (137)."""
    status = {**computed, "phase": current.get("phase") or computed["phase"]}
    if status["phase"] == FAILED:
        status["conditions"] = [{**{k: v for k, v in c.items() if k != "message"}, "status": "False",
                                 "reason": POD_FAILED} if c["type"] in ("Ready", "ContainersReady") else c
                                for c in computed["conditions"]]
    for key in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
        if key not in status:
            continue
        statuses = []
        for container in status[key]:
            if "terminated" not in container["state"]:
                container = {**container, "ready": False, "started": False, "state": {"terminated": {
                    "exitCode": STATUS_UNKNOWN_EXIT_CODE, "reason": STATUS_UNKNOWN_REASON,
                    "message": STATUS_UNKNOWN_MESSAGE}}}
            statuses.append(container)
        status[key] = statuses
    return status


def status_changed(current: JSON, computed: JSON) -> bool:
    return any(_without_nulls(current.get(key)) != _without_nulls(value) for key, value in computed.items())
