"""The replica calculator: upstream's semantics for Utilization and AverageValue targets, with
ready, unready, missing and ignored pods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kubeplane.controllers.podautoscaler.replicas import (
    MetricsError,
    PodSample,
    average_value_replicas,
    group_pods,
    utilization_replicas,
)
from kubeplane.controllers.podautoscaler.sources import samples_from

JSON = dict[str, Any]
NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
STAMP = "%Y-%m-%dT%H:%M:%SZ"


def pod(name: str, request: str = "1", ready: bool = True, phase: str = "Running",
        started: timedelta = timedelta(minutes=10), ready_since: timedelta | None = None,
        deleting: bool = False) -> JSON:
    start = NOW - started
    transition = NOW - (ready_since if ready_since is not None else started)
    meta: JSON = {"name": name}
    if deleting:
        meta["deletionTimestamp"] = NOW.strftime(STAMP)
    return {"metadata": meta,
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": request, "memory": request}}}]},
            "status": {"phase": phase, "startTime": start.strftime(STAMP), "conditions": [
                {"type": "Ready", "status": "True" if ready else "False",
                 "lastTransitionTime": transition.strftime(STAMP)}]}}


def samples(**values: int) -> dict[str, PodSample]:
    return {name: PodSample(v, NOW - timedelta(seconds=5)) for name, v in values.items()}


def test_scale_up_from_average_utilization() -> None:
    pods = [pod("a"), pod("b"), pod("c")]
    rec = utilization_replicas(3, 30, pods, samples(a=300, b=500, c=700), "cpu", NOW)
    assert (rec.replicas, rec.utilization, rec.average) == (5, 50, 500)


def test_scale_down() -> None:
    pods = [pod(n) for n in "abcde"]
    rec = utilization_replicas(5, 50, pods, samples(a=100, b=300, c=500, d=250, e=250), "cpu", NOW)
    assert (rec.replicas, rec.utilization) == (3, 28)


def test_within_tolerance_keeps_the_current_count() -> None:
    pods = [pod("a", "900m"), pod("b", "1"), pod("c", "1100m")]
    rec = utilization_replicas(3, 100, pods, samples(a=1010, b=1030, c=1020), "cpu", NOW)
    assert (rec.replicas, rec.utilization) == (3, 102)


def test_utilization_percentage_is_truncated_before_the_ratio() -> None:
    # 1099/1000 is 109.9%: truncated to 109, inside the 10% tolerance of 100.
    rec = utilization_replicas(1, 100, [pod("a")], samples(a=1099), "cpu", NOW)
    assert (rec.replicas, rec.utilization) == (1, 109)


def test_unready_pods_count_as_idle_on_scale_up() -> None:
    pods = [pod("a", ready=False), pod("b"), pod("c")]
    rec = utilization_replicas(3, 30, pods, samples(a=300, b=500, c=700), "cpu", NOW)
    # ready pods alone: 60% (ratio 2); with the unready one at 0: 40% of 3 pods -> 4
    assert (rec.replicas, rec.utilization) == (4, 60)


def test_unready_pods_are_left_out_of_a_scale_down() -> None:
    pods = [pod("a"), pod("b"), pod("c"), pod("d", ready=False), pod("e", ready=False)]
    rec = utilization_replicas(5, 50, pods, samples(a=100, b=300, c=500, d=250, e=250), "cpu", NOW)
    assert (rec.replicas, rec.utilization) == (2, 30)


def test_unready_pods_that_would_reverse_a_scale_up_keep_the_count() -> None:
    pods = [pod("a", ready=False), pod("b", ready=False), pod("c")]
    # c alone is at 120% of a 100% target, but with a and b idle the ratio falls below 1.
    rec = utilization_replicas(3, 100, pods, samples(a=0, b=0, c=1200), "cpu", NOW)
    assert rec.replicas == 3


def test_missing_pods_count_as_full_on_scale_down() -> None:
    pods = [pod("a"), pod("b"), pod("c"), pod("d")]
    # a, b at 10% of request (ratio 0.2); c, d missing count as 100% -> 55% of a 50% target: no change
    rec = utilization_replicas(4, 50, pods, samples(a=100, b=100), "cpu", NOW)
    assert rec.replicas == 4
    # with a 100% target: 55% of 4 pods -> 3
    assert utilization_replicas(4, 100, pods, samples(a=100, b=100), "cpu", NOW).replicas == 3


def test_missing_pods_count_as_idle_on_scale_up() -> None:
    pods = [pod("a"), pod("b"), pod("c")]
    # a, b at 100% of a 50% target (ready alone: 4 pods); c missing counts as 0 -> 66% -> 1.32 * 3 -> 4
    rec = utilization_replicas(3, 50, pods, samples(a=1000, b=1000), "cpu", NOW)
    assert (rec.replicas, rec.utilization) == (4, 100)
    # a missing pod can hold back a scale up: a at 120% of 100%, b and c missing -> 40%: no change
    assert utilization_replicas(3, 100, pods, samples(a=1200), "cpu", NOW).replicas == 3


def test_deleted_failed_and_pending_pods() -> None:
    pods = [pod("a"), pod("b", deleting=True), pod("c", phase="Failed"), pod("d", phase="Pending")]
    groups = group_pods(pods, samples(a=1, b=1, c=1, d=1), "cpu", NOW)
    assert groups.ready == 1
    assert groups.ignored == {"b", "c"}
    assert groups.unready == {"d"}


def test_cpu_initialization_period() -> None:
    fresh_sample = {"a": PodSample(500, NOW - timedelta(seconds=5), timedelta(seconds=30))}
    # started 2 minutes ago, ready 10 s ago: the sample window began before readiness -> unready
    young = pod("a", started=timedelta(minutes=2), ready_since=timedelta(seconds=10))
    assert group_pods([young], fresh_sample, "cpu", NOW).unready == {"a"}
    # ready for 2 minutes: the sample covers only ready time -> ready
    settled = pod("a", started=timedelta(minutes=3), ready_since=timedelta(minutes=2))
    assert group_pods([settled], fresh_sample, "cpu", NOW).ready == 1
    # memory samples are trusted from the start
    assert group_pods([young], fresh_sample, "memory", NOW).ready == 1


def test_past_initialization_an_unready_pod_that_was_ready_once_counts() -> None:
    sample = samples(a=500)
    never_ready = pod("a", ready=False, started=timedelta(minutes=10), ready_since=timedelta(minutes=10))
    assert group_pods([never_ready], sample, "cpu", NOW).unready == {"a"}
    became_unready = pod("a", ready=False, started=timedelta(minutes=10), ready_since=timedelta(minutes=1))
    assert group_pods([became_unready], sample, "cpu", NOW).ready == 1


def test_errors() -> None:
    with pytest.raises(MetricsError, match="no pods returned by selector"):
        utilization_replicas(1, 50, [], samples(a=1), "cpu", NOW)
    with pytest.raises(MetricsError, match="did not receive metrics for targeted pods"):
        utilization_replicas(1, 50, [pod("a", ready=False)], samples(a=1), "cpu", NOW)
    no_request = pod("a")
    no_request["spec"]["containers"][0]["resources"] = {}
    with pytest.raises(MetricsError, match="missing request for cpu in container c of Pod a"):
        utilization_replicas(1, 50, [no_request], samples(a=1), "cpu", NOW)


def test_average_value() -> None:
    pods = [pod("a"), pod("b"), pod("c")]
    # 4 GB average against 2 GB per pod (milli-units) -> 6
    gb = 10**9 * 1000
    rec = average_value_replicas(3, 2 * gb, pods, samples(a=4 * gb, b=4 * gb, c=4 * gb), "memory", NOW)
    assert (rec.replicas, rec.utilization, rec.average) == (6, None, 4 * gb)
    within = average_value_replicas(3, 2 * gb, pods, samples(a=2 * gb, b=2 * gb, c=2 * gb + gb // 10), "memory", NOW)
    assert within.replicas == 3


def test_average_value_missing_pods_on_scale_down() -> None:
    pods = [pod("a"), pod("b"), pod("c"), pod("d")]
    # a, b at 100 against 1000; c, d missing count as 1000 -> average 550 -> ceil(0.55 * 4) = 3
    assert average_value_replicas(4, 1000, pods, samples(a=100, b=100), "memory", NOW).replicas == 3


def test_samples_from_pod_metrics() -> None:
    items = [
        {"metadata": {"name": "a"}, "timestamp": "2026-01-01T12:00:00Z", "window": "1m0s",
         "containers": [{"name": "c", "usage": {"cpu": "250m", "memory": "1Mi"}},
                        {"name": "side", "usage": {"cpu": "50m", "memory": "1Mi"}}]},
        {"metadata": {"name": "b"}, "containers": [{"name": "c", "usage": {"memory": "1Mi"}}]},
    ]
    got = samples_from(items, "cpu")
    assert list(got) == ["a"]  # b has no cpu sample: missing, not zero
    assert got["a"].value == 300 and got["a"].window == timedelta(minutes=1)
    assert samples_from(items, "cpu", container="side")["a"].value == 50
    assert samples_from(items, "memory")["b"].value == 2**20 * 1000
