"""NodeResourcesFit (filter reasons, scoring strategies) and NodeResourcesBalancedAllocation."""

import pytest
from scheduler_testlib import filter_results, make_node, make_pod, score_results

from kubeplane.scheduler.framework.nodeinfo import Snapshot
from kubeplane.scheduler.framework.status import Code
from kubeplane.scheduler.plugins.noderesources.balanced_allocation import BalancedAllocation
from kubeplane.scheduler.plugins.noderesources.fit import NodeResourcesFit


def test_fit_reports_every_insufficient_resource() -> None:
    existing = make_pod("old", cpu="1500m", memory="1Gi", node_name="small")
    snapshot = Snapshot.build([make_node("small", cpu="2", memory="4Gi"), make_node("big", cpu="8", memory="16Gi")],
                              [existing])
    results = filter_results(NodeResourcesFit({}), make_pod("p", cpu="1", memory="4Gi"), snapshot)
    assert results["small"].code == Code.UNSCHEDULABLE
    assert results["small"].reasons == ["Insufficient cpu", "Insufficient memory"]
    assert results["big"].ok


def test_fit_counts_pods_and_extended_resources() -> None:
    snapshot = Snapshot.build([make_node("full", pods=1), make_node("gpu", **{"nvidia.com/gpu": "1"})],
                              [make_pod("old", node_name="full")])
    pod = make_pod("p")
    pod["spec"]["containers"][0]["resources"] = {"requests": {"nvidia.com/gpu": "2"}}
    results = filter_results(NodeResourcesFit({}), pod, snapshot)
    assert results["full"].reasons == ["Too many pods", "Insufficient nvidia.com/gpu"]
    assert results["gpu"].reasons == ["Insufficient nvidia.com/gpu"]
    ignoring = NodeResourcesFit({"ignoredResourceGroups": ["nvidia.com"]})
    assert filter_results(ignoring, pod, snapshot)["gpu"].ok


def test_best_effort_pod_fits_anywhere_with_room_for_a_pod() -> None:
    snapshot = Snapshot.build([make_node("tiny", cpu="0", memory="0")], [])
    assert filter_results(NodeResourcesFit({}), make_pod("p"), snapshot)["tiny"].ok


@pytest.mark.parametrize(("strategy", "expected"), [
    ({"type": "LeastAllocated"}, {"roomy": 75, "tight": 62}),
    ({"type": "MostAllocated"}, {"roomy": 25, "tight": 37}),
    # A falling line from (0%, 10) to (100%, 0) behaves like LeastAllocated, rounded half up.
    ({"type": "RequestedToCapacityRatio",
      "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 10}, {"utilization": 100, "score": 0}]}},
     {"roomy": 75, "tight": 63}),
    ({"type": "LeastAllocated", "resources": [{"name": "cpu", "weight": 3}, {"name": "memory", "weight": 1}]},
     {"roomy": 75, "tight": 56}),
])
def test_scoring_strategies(strategy: dict, expected: dict) -> None:
    snapshot = Snapshot.build([make_node("roomy", cpu="4", memory="8Gi"), make_node("tight", cpu="2", memory="8Gi")],
                              [])
    plugin = NodeResourcesFit({"scoringStrategy": strategy})
    assert score_results(plugin, make_pod("p", cpu="1", memory="2Gi"), snapshot) == expected


def test_scoring_counts_existing_pods_with_non_zero_defaults() -> None:
    # A best-effort pod on "busy" still counts as 100m / 200Mi, so "idle" scores higher.
    snapshot = Snapshot.build([make_node("busy"), make_node("idle")], [make_pod("old", node_name="busy")])
    scores = score_results(NodeResourcesFit({}), make_pod("p"), snapshot)
    assert scores["idle"] > scores["busy"]


def test_balanced_allocation() -> None:
    snapshot = Snapshot.build([make_node("n", cpu="4", memory="8Gi"), make_node("even", cpu="4", memory="4Gi")], [])
    scores = score_results(BalancedAllocation({}), make_pod("p", cpu="1", memory="1Gi"), snapshot)
    # n: cpu 25%, memory 12.5% -> std 6.25% -> 93; even: 25% and 25% -> 100.
    assert scores == {"n": 93, "even": 100}
    assert score_results(BalancedAllocation({}), make_pod("p"), snapshot) == {}  # best effort: skipped
