"""Deployment status and its conditions (upstream ``deploymentutil`` and ``progress.go``).

``Available`` says whether enough pods are available (replicas minus maxUnavailable).
``Progressing`` says how the rollout goes: ``NewReplicaSetCreated``/``FoundNewReplicaSet``/
``ReplicaSetUpdated`` while it moves, ``NewReplicaSetAvailable`` once complete, and
``ProgressDeadlineExceeded`` (status False) when nothing moved for progressDeadlineSeconds —
which ``kubectl rollout status`` reports as a failure.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from kubeplane.controllers.conditions import get_condition, new_condition, remove_condition, set_condition
from kubeplane.controllers.deployment.replicas import (
    desired_replicas,
    max_unavailable,
    spec_replicas_sum,
    status_sum,
)
from kubeplane.controllers.timeutil import parse_time

JSON = dict[str, Any]

AVAILABLE, PROGRESSING = "Available", "Progressing"
MIN_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
MIN_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"

NO_DEADLINE = 2**31 - 1  # math.MaxInt32: upstream's "no progress deadline"


def progress_deadline(deployment: JSON) -> int | None:
    seconds = (deployment.get("spec") or {}).get("progressDeadlineSeconds")
    return None if seconds is None or seconds == NO_DEADLINE else int(seconds)


def calculate_status(deployment: JSON, all_sets: list[JSON], new_rs: JSON | None, now: datetime) -> JSON:
    replicas = desired_replicas(deployment)
    available = status_sum(all_sets, "availableReplicas")
    current = dict(deployment.get("status") or {})
    status: JSON = {
        "observedGeneration": deployment["metadata"].get("generation", 0),
        "replicas": status_sum(all_sets, "replicas"),
        "updatedReplicas": int(((new_rs or {}).get("status") or {}).get("replicas") or 0),
        "readyReplicas": status_sum(all_sets, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": max(spec_replicas_sum(all_sets) - available, 0),
    }
    if current.get("collisionCount") is not None:
        status["collisionCount"] = current["collisionCount"]
    conditions = list(current.get("conditions") or ())
    if available >= replicas - max_unavailable(deployment):
        condition = new_condition(AVAILABLE, "True", MIN_REPLICAS_AVAILABLE, "Deployment has minimum availability.", now)
    else:
        condition = new_condition(AVAILABLE, "False", MIN_REPLICAS_UNAVAILABLE,
                                  "Deployment does not have minimum availability.", now)
    status["conditions"] = set_condition(conditions, condition, now)
    return status


def is_complete(deployment: JSON, status: JSON) -> bool:
    replicas = desired_replicas(deployment)
    return (status.get("updatedReplicas") == replicas and status.get("replicas") == replicas
            and status.get("availableReplicas") == replicas
            and int(status.get("observedGeneration") or 0) >= int(deployment["metadata"].get("generation") or 0))


def is_progressing(deployment: JSON, status: JSON) -> bool:
    """Any step forward since the status last written: more updated, fewer old, more ready or available."""
    old = deployment.get("status") or {}

    def get(s: JSON, field: str) -> int:
        return int(s.get(field) or 0)

    return (get(status, "updatedReplicas") > get(old, "updatedReplicas")
            or get(status, "replicas") - get(status, "updatedReplicas") < get(old, "replicas") - get(old, "updatedReplicas")
            or get(status, "readyReplicas") > get(old, "readyReplicas")
            or get(status, "availableReplicas") > get(old, "availableReplicas"))


def is_timed_out(deployment: JSON, status: JSON, now: datetime) -> bool:
    deadline = progress_deadline(deployment)
    condition = get_condition(status.get("conditions"), PROGRESSING)
    if deadline is None or condition is None or condition.get("reason") == NEW_RS_AVAILABLE:
        return False
    if condition.get("reason") == TIMED_OUT:
        return True
    since = parse_time(condition.get("lastUpdateTime"))
    return since is not None and since + timedelta(seconds=deadline) < now


def with_rollout_conditions(deployment: JSON, status: JSON, new_rs: JSON | None, now: datetime) -> JSON:
    """``status`` with Progressing brought up to date (upstream ``syncRolloutStatus``)."""
    conditions = list(status.get("conditions") or ())
    if progress_deadline(deployment) is None:
        return {**status, "conditions": remove_condition(conditions, PROGRESSING)}
    current = get_condition(conditions, PROGRESSING)
    already_complete = status.get("replicas") == status.get("updatedReplicas") and current is not None \
        and current.get("reason") == NEW_RS_AVAILABLE
    if already_complete:
        return status
    rs_name = new_rs["metadata"]["name"] if new_rs is not None else ""
    if is_complete(deployment, status):
        conditions = set_condition(conditions, new_condition(
            PROGRESSING, "True", NEW_RS_AVAILABLE, f'ReplicaSet "{rs_name}" has successfully progressed.', now), now)
    elif is_progressing(deployment, status):
        message = f'ReplicaSet "{rs_name}" is progressing.' if new_rs is not None else \
            f'Deployment "{deployment["metadata"]["name"]}" is progressing.'
        condition = new_condition(PROGRESSING, "True", RS_UPDATED, message, now)
        if current is not None and current.get("status") == "True":
            condition["lastTransitionTime"] = current.get("lastTransitionTime")
        # Progress refreshes lastUpdateTime even with reason and status unchanged, so replace.
        conditions = [*remove_condition(conditions, PROGRESSING), condition]
    elif is_timed_out(deployment, {**status, "conditions": conditions}, now):
        conditions = set_condition(conditions, new_condition(
            PROGRESSING, "False", TIMED_OUT, f'ReplicaSet "{rs_name}" has timed out progressing.', now), now)
    return {**status, "conditions": conditions}


def seconds_until_stuck_check(deployment: JSON, status: JSON, now: datetime) -> float | None:
    """When to look again to notice a rollout that stopped moving (None: no need)."""
    deadline = progress_deadline(deployment)
    condition = get_condition(status.get("conditions"), PROGRESSING)
    if deadline is None or condition is None:
        return None
    if is_complete(deployment, status) or condition.get("reason") == TIMED_OUT:
        return None
    since = parse_time(condition.get("lastUpdateTime"))
    if since is None:
        return None
    after = (since + timedelta(seconds=deadline) - now).total_seconds()
    return max(after, 0.0) if after >= 1 else 0.0


def paused_condition_change(deployment: JSON, now: datetime) -> list[JSON] | None:
    """New conditions when pause/resume must show in Progressing, else None."""
    if progress_deadline(deployment) is None:
        return None
    conditions = list((deployment.get("status") or {}).get("conditions") or ())
    current = get_condition(conditions, PROGRESSING)
    if current is not None and current.get("reason") == TIMED_OUT:
        return None
    paused = bool((deployment.get("spec") or {}).get("paused"))
    shown_paused = current is not None and current.get("reason") == PAUSED
    if paused and not shown_paused:
        condition = new_condition(PROGRESSING, "Unknown", PAUSED, "Deployment is paused", now)
    elif not paused and shown_paused:
        condition = new_condition(PROGRESSING, "Unknown", RESUMED, "Deployment is resumed", now)
    else:
        return None
    return set_condition(conditions, condition, now)
