"""From a metric's recommendation to the replica count the HPA sets: stabilization over recent
recommendations, then the scale rate limits and min/max replicas (upstream's
``normalizeDesiredReplicas`` and ``normalizeDesiredReplicasWithBehaviors``).

The controller keeps, per HPA, the recent recommendations and scale events this module reads;
both live in memory only, as upstream's do (a restarted controller starts afresh).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

JSON = dict[str, Any]

DEFAULT_DOWNSCALE_STABILIZATION = 300
MAX_INT32 = 2**31 - 1
MIN_INT32 = -(2**31)
# Without spec.behavior: never more than double (at least +4) per sync, upstream's guard against
# bogus cpu samples.
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0


@dataclass(frozen=True)
class TimestampedRecommendation:
    replicas: int
    timestamp: datetime


@dataclass(frozen=True)
class ScaleEvent:
    change: int
    timestamp: datetime
    outdated: bool = False


@dataclass(frozen=True)
class Normalized:
    """The replica count to set, and what AbleToScale and ScalingLimited say about it."""

    replicas: int
    able_reason: str
    able_message: str
    limited: bool
    limited_reason: str
    limited_message: str


def default_scale_up() -> JSON:
    return {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
            "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                         {"type": "Percent", "value": 100, "periodSeconds": 15}]}


def default_scale_down(stabilization: int = DEFAULT_DOWNSCALE_STABILIZATION) -> JSON:
    return {"stabilizationWindowSeconds": stabilization, "selectPolicy": "Max",
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


def defaulted_behavior(behavior: JSON, downscale_stabilization: int = DEFAULT_DOWNSCALE_STABILIZATION) -> JSON:
    """spec.behavior with every missing field set as upstream's defaulting sets it."""
    result = {}
    for direction, defaults in (("scaleUp", default_scale_up()),
                                ("scaleDown", default_scale_down(downscale_stabilization))):
        given = behavior.get(direction) or {}
        rules = {**defaults, **{k: v for k, v in given.items() if v is not None}}
        result[direction] = rules
    return result


# -- stabilization ------------------------------------------------------------------------------


STABLE = ("ReadyForNewScale", "recommended size matches current size")
UP_STABILIZED = ("ScaleUpStabilized", "recent recommendations were lower than current one, "
                 "applying the lowest recent recommendation")
DOWN_STABILIZED = ("ScaleDownStabilized", "recent recommendations were higher than current one, "
                   "applying the highest recent recommendation")


def record_recommendation(recommendations: list[TimestampedRecommendation], replicas: int, now: datetime,
                          longest_window: timedelta) -> None:
    """Append this sync's recommendation, reusing a slot older than every window."""
    for i, rec in enumerate(recommendations):
        if rec.timestamp < now - longest_window:
            recommendations[i] = TimestampedRecommendation(replicas, now)
            return
    recommendations.append(TimestampedRecommendation(replicas, now))


def stabilize(recommendations: list[TimestampedRecommendation], current: int, desired: int, now: datetime,
              up_window: int, down_window: int) -> tuple[int, str, str]:
    """Scale up only as far as the lowest recommendation of the up window, down only as far as
    the highest of the down window (both windows include this recommendation)."""
    up = desired
    down = desired
    for rec in recommendations:
        if rec.timestamp > now - timedelta(seconds=up_window):
            up = min(up, rec.replicas)
        if rec.timestamp > now - timedelta(seconds=down_window):
            down = max(down, rec.replicas)
    recommendation = current
    if recommendation < up:
        recommendation = up
    if recommendation > down:
        recommendation = down
    record_recommendation(recommendations, desired, now, timedelta(seconds=max(up_window, down_window)))
    if recommendation == desired:
        return recommendation, *STABLE
    if recommendation < desired:
        return recommendation, *UP_STABILIZED
    return recommendation, *DOWN_STABILIZED


# -- rate limits ----------------------------------------------------------------------------------


def _changes_in_period(events: list[ScaleEvent], period: int, now: datetime) -> int:
    cutoff = now - timedelta(seconds=period)
    return sum(e.change for e in events if not e.outdated and e.timestamp > cutoff)


def scale_up_limit(current: int, up_events: list[ScaleEvent], down_events: list[ScaleEvent], rules: JSON,
                   now: datetime) -> int:
    if rules.get("selectPolicy") == "Disabled":
        return current
    select_min = rules.get("selectPolicy") == "Min"
    result = MAX_INT32 if select_min else MIN_INT32
    for policy in rules.get("policies") or ():
        period = int(policy.get("periodSeconds", 15))
        start = current - _changes_in_period(up_events, period, now) + _changes_in_period(down_events, period, now)
        value = int(policy.get("value", 0))
        proposed = start + value if policy.get("type") == "Pods" else math.ceil(start * (1 + value / 100))
        result = min(result, proposed) if select_min else max(result, proposed)
    return result


def scale_down_limit(current: int, up_events: list[ScaleEvent], down_events: list[ScaleEvent], rules: JSON,
                     now: datetime) -> int:
    if rules.get("selectPolicy") == "Disabled":
        return current
    select_min = rules.get("selectPolicy") == "Min"
    result = MIN_INT32 if select_min else MAX_INT32
    for policy in rules.get("policies") or ():
        period = int(policy.get("periodSeconds", 15))
        start = current - _changes_in_period(up_events, period, now) + _changes_in_period(down_events, period, now)
        value = int(policy.get("value", 0))
        proposed = start - value if policy.get("type") == "Pods" else math.floor(start * (1 - value / 100))
        result = max(result, proposed) if select_min else min(result, proposed)
    return result


def limit_with_behavior(current: int, desired: int, min_replicas: int, max_replicas: int, behavior: JSON,
                        up_events: list[ScaleEvent], down_events: list[ScaleEvent],
                        now: datetime) -> tuple[int, str, str]:
    """Upstream's convertDesiredReplicasWithBehaviorRate."""
    if desired > current:
        limit = scale_up_limit(current, up_events, down_events, behavior["scaleUp"], now)
        limit = max(limit, current)
        if max_replicas > limit:
            reason, message = "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
        else:
            limit = max_replicas
            reason, message = "TooManyReplicas", "the desired replica count is more than the maximum replica count"
        if desired > limit:
            return limit, reason, message
    elif desired < current:
        limit = scale_down_limit(current, up_events, down_events, behavior["scaleDown"], now)
        limit = min(limit, current)
        if min_replicas < limit:
            reason, message = "ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate"
        else:
            limit = min_replicas
            reason, message = "TooFewReplicas", "the desired replica count is less than the minimum replica count"
        if desired < limit:
            return limit, reason, message
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


def limit_without_behavior(current: int, desired: int, min_replicas: int, max_replicas: int) -> tuple[int, str, str]:
    """Upstream's convertDesiredReplicasWithRules (no spec.behavior)."""
    up_limit = int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))
    if max_replicas > up_limit:
        maximum = up_limit
        reason, message = "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
    else:
        maximum = max_replicas
        reason, message = "TooManyReplicas", "the desired replica count is more than the maximum replica count"
    if desired < min_replicas:
        return min_replicas, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
    if desired > maximum:
        return maximum, reason, message
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


@dataclass
class HPAHistory:
    """What one HPA's syncs remember: recent recommendations and scale events."""

    recommendations: list[TimestampedRecommendation]
    up_events: list[ScaleEvent]
    down_events: list[ScaleEvent]

    @classmethod
    def empty(cls) -> HPAHistory:
        return cls([], [], [])

    def record_scale(self, previous: int, new: int, now: datetime, behavior: JSON | None) -> None:
        """Note a rescale, dropping events older than the longest policy period of its direction."""
        if behavior is None:
            return
        up = new > previous
        events = self.up_events if up else self.down_events
        rules = behavior["scaleUp" if up else "scaleDown"]
        longest = max((int(p.get("periodSeconds", 15)) for p in rules.get("policies") or ()), default=0)
        events[:] = [e for e in events if e.timestamp > now - timedelta(seconds=longest)]
        events.append(ScaleEvent(abs(new - previous), now))


def normalize(history: HPAHistory, current: int, desired: int, min_replicas: int, max_replicas: int,
              behavior: JSON | None, now: datetime,
              downscale_stabilization: int = DEFAULT_DOWNSCALE_STABILIZATION) -> Normalized:
    """The replica count after stabilization and limits, with the conditions' reasons."""
    if behavior is None:
        # Upstream's older rule: the highest recommendation of the downscale window, whatever current is.
        window = timedelta(seconds=downscale_stabilization)
        stabilized = max([desired, *(r.replicas for r in history.recommendations if r.timestamp > now - window)])
        record_recommendation(history.recommendations, desired, now, window)
        able_reason, able_message = DOWN_STABILIZED if stabilized != desired else STABLE
        limited, reason, message = limit_without_behavior(current, stabilized, min_replicas, max_replicas)
    else:
        up_window = int(behavior["scaleUp"].get("stabilizationWindowSeconds") or 0)
        down_window = int(behavior["scaleDown"].get("stabilizationWindowSeconds") or 0)
        stabilized, able_reason, able_message = stabilize(history.recommendations, current, desired, now,
                                                          up_window, down_window)
        limited, reason, message = limit_with_behavior(current, stabilized, min_replicas, max_replicas, behavior,
                                                       history.up_events, history.down_events, now)
    return Normalized(limited, able_reason, able_message, limited != stabilized, reason, message)
