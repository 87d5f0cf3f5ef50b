"""Stabilization, scale rate policies and min/max limits, as upstream's HPA applies them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kubeplane.controllers.podautoscaler.behavior import (
    HPAHistory,
    ScaleEvent,
    TimestampedRecommendation,
    defaulted_behavior,
    limit_without_behavior,
    normalize,
    scale_down_limit,
    scale_up_limit,
)

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def test_defaults_fill_missing_fields_only() -> None:
    behavior = defaulted_behavior({"scaleDown": {"stabilizationWindowSeconds": 60}})
    assert behavior["scaleUp"] == {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}]}
    assert behavior["scaleDown"] == {"stabilizationWindowSeconds": 60, "selectPolicy": "Max", "policies": [
        {"type": "Percent", "value": 100, "periodSeconds": 15}]}


def test_default_scale_up_allows_the_larger_of_four_pods_and_doubling() -> None:
    rules = defaulted_behavior({})["scaleUp"]
    assert scale_up_limit(1, [], [], rules, NOW) == 5  # +4 pods beats doubling
    assert scale_up_limit(10, [], [], rules, NOW) == 20  # doubling beats +4


def test_select_policy_min_and_disabled() -> None:
    rules = {"selectPolicy": "Min", "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                                 {"type": "Percent", "value": 100, "periodSeconds": 15}]}
    assert scale_up_limit(10, [], [], rules, NOW) == 14
    assert scale_up_limit(10, [], [], {**rules, "selectPolicy": "Disabled"}, NOW) == 10
    down = {"selectPolicy": "Min", "policies": [{"type": "Pods", "value": 2, "periodSeconds": 60},
                                                {"type": "Percent", "value": 50, "periodSeconds": 60}]}
    assert scale_down_limit(10, [], [], down, NOW) == 8  # Min picks the smaller change
    assert scale_down_limit(10, [], [], {**down, "selectPolicy": "Max"}, NOW) == 5


def test_recent_scale_events_use_up_the_period_budget() -> None:
    rules = {"selectPolicy": "Max", "policies": [{"type": "Pods", "value": 4, "periodSeconds": 60}]}
    # 4 pods were added 30 s ago: the period started at 6, so 10 is the limit and nothing more is allowed.
    assert scale_up_limit(10, [ScaleEvent(4, ago(30))], [], rules, NOW) == 10
    # an event older than the period no longer counts
    assert scale_up_limit(10, [ScaleEvent(4, ago(90))], [], rules, NOW) == 14
    percent = {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}]}
    # scaled down by 2 within the period: it started at 12, half of that may go -> 6
    assert scale_down_limit(10, [], [ScaleEvent(2, ago(10))], percent, NOW) == 6


def test_scale_up_is_rate_limited_and_reported() -> None:
    behavior = defaulted_behavior({})
    result = normalize(HPAHistory.empty(), 1, 10, 1, 20, behavior, NOW)
    assert result.replicas == 5
    assert (result.limited, result.limited_reason) == (True, "ScaleUpLimit")
    assert result.limited_message == "the desired replica count is increasing faster than the maximum scale rate"
    assert result.able_reason == "ReadyForNewScale"


def test_max_and_min_replicas() -> None:
    behavior = defaulted_behavior({})
    up = normalize(HPAHistory.empty(), 3, 10, 1, 4, behavior, NOW)
    assert (up.replicas, up.limited_reason) == (4, "TooManyReplicas")
    down = normalize(HPAHistory.empty(), 3, 0, 2, 4, defaulted_behavior({"scaleDown": {
        "stabilizationWindowSeconds": 0}}), NOW)
    assert (down.replicas, down.limited_reason) == (2, "TooFewReplicas")
    assert down.limited_message == "the desired replica count is less than the minimum replica count"
    within = normalize(HPAHistory.empty(), 3, 4, 1, 10, behavior, NOW)
    assert (within.replicas, within.limited, within.limited_reason) == (4, False, "DesiredWithinRange")


def test_scale_down_stabilization_applies_the_highest_recent_recommendation() -> None:
    behavior = defaulted_behavior({"scaleDown": {"stabilizationWindowSeconds": 60}})
    history = HPAHistory([TimestampedRecommendation(8, ago(30)), TimestampedRecommendation(9, ago(120))], [], [])
    result = normalize(history, 10, 3, 1, 20, behavior, NOW)
    assert result.replicas == 8  # the 9 is outside the window
    assert result.able_reason == "ScaleDownStabilized"
    assert result.able_message == ("recent recommendations were higher than current one, "
                                   "applying the highest recent recommendation")
    # once the window has passed, the low recommendations win
    later = normalize(history, 8, 3, 1, 20, behavior, NOW + timedelta(seconds=61))
    assert later.replicas == 3


def test_scale_up_stabilization_applies_the_lowest_recent_recommendation() -> None:
    behavior = defaulted_behavior({"scaleUp": {"stabilizationWindowSeconds": 60}})
    history = HPAHistory([TimestampedRecommendation(4, ago(30))], [], [])
    result = normalize(history, 2, 8, 1, 20, behavior, NOW)
    assert (result.replicas, result.able_reason) == (4, "ScaleUpStabilized")


def test_recommendations_are_remembered_and_old_slots_reused() -> None:
    history = HPAHistory.empty()
    behavior = defaulted_behavior({"scaleDown": {"stabilizationWindowSeconds": 10}})
    normalize(history, 5, 5, 1, 10, behavior, ago(100))
    normalize(history, 5, 6, 1, 10, behavior, NOW)
    assert history.recommendations == [TimestampedRecommendation(6, NOW)]


def test_without_behavior_scale_up_at_most_doubles_with_at_least_four() -> None:
    assert limit_without_behavior(1, 10, 1, 20) == (
        4, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate")
    assert limit_without_behavior(5, 30, 1, 20)[0] == 10
    assert limit_without_behavior(5, 30, 1, 8)[:2] == (8, "TooManyReplicas")
    # without behavior the default 300 s downscale window holds a recent higher recommendation
    history = HPAHistory([TimestampedRecommendation(7, ago(200))], [], [])
    result = normalize(history, 7, 2, 1, 10, None, NOW)
    assert (result.replicas, result.able_reason) == (7, "ScaleDownStabilized")


def test_scale_events_are_recorded_and_pruned() -> None:
    behavior = defaulted_behavior({})
    history = HPAHistory.empty()
    history.record_scale(2, 6, ago(100), behavior)
    history.record_scale(6, 9, NOW, behavior)
    assert history.up_events == [ScaleEvent(3, NOW)]  # the first is past the 15 s period
    history.record_scale(9, 4, NOW, behavior)
    assert history.down_events == [ScaleEvent(5, NOW)]
