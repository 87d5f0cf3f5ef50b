"""The numbers of a rollout (upstream ``deploymentutil``): surge and unavailability budgets and
how many replicas the new ReplicaSet may have."""

from __future__ import annotations

import math
from typing import Any

JSON = dict[str, Any]

DEFAULT_MAX_SURGE = "25%"
DEFAULT_MAX_UNAVAILABLE = "25%"


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """An IntOrString against ``total``: ``"25%"`` of 10 is 3 rounding up, 2 rounding down."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = value.strip()
    if not text.endswith("%"):
        return int(text)
    percent = int(text[:-1])
    exact = percent * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def desired_replicas(obj: JSON) -> int:
    replicas = (obj.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def is_rolling_update(deployment: JSON) -> bool:
    strategy = (deployment.get("spec") or {}).get("strategy") or {}
    return strategy.get("type", "RollingUpdate") == "RollingUpdate"


def fenceposts(deployment: JSON) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as numbers; surge rounds up, unavailable down, and both being
    zero would freeze the rollout, so unavailable becomes 1 then (upstream ``ResolveFenceposts``)."""
    if not is_rolling_update(deployment):
        return 0, 0
    rolling = ((deployment.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    replicas = desired_replicas(deployment)
    surge = scaled_value(rolling.get("maxSurge", DEFAULT_MAX_SURGE), replicas, round_up=True)
    unavailable = scaled_value(rolling.get("maxUnavailable", DEFAULT_MAX_UNAVAILABLE), replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(deployment: JSON) -> int:
    return fenceposts(deployment)[0]


def max_unavailable(deployment: JSON) -> int:
    """Never more than the replicas themselves (upstream ``MaxUnavailable``)."""
    if not is_rolling_update(deployment) or desired_replicas(deployment) == 0:
        return 0
    return min(fenceposts(deployment)[1], desired_replicas(deployment))


def spec_replicas_sum(sets: list[JSON]) -> int:
    return sum(desired_replicas(rs) for rs in sets)


def status_sum(sets: list[JSON], field: str) -> int:
    return sum(int((rs.get("status") or {}).get(field) or 0) for rs in sets)


def new_rs_new_replicas(deployment: JSON, all_sets: list[JSON], new_rs: JSON | None) -> int:
    """How big the new ReplicaSet may be now: up to the surge budget when rolling, all at once
    when recreating."""
    replicas = desired_replicas(deployment)
    if not is_rolling_update(deployment):
        return replicas
    current_new = desired_replicas(new_rs) if new_rs is not None else 0
    max_total = replicas + max_surge(deployment)
    current_total = spec_replicas_sum(all_sets)
    if current_total >= max_total:
        return current_new
    scale_up = min(max_total - current_total, replicas - current_new)
    return current_new + scale_up
