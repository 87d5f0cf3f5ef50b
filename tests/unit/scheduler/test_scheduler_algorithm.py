"""A whole scheduling decision with the default profile, the FailedScheduling message, and config."""

import random

import pytest
from scheduler_testlib import FakeHandle, make_node, make_pod

from kubeplane.scheduler.algorithm import Algorithm, num_feasible_nodes_to_find
from kubeplane.scheduler.framework.config import ConfigError, Profile, parse_config
from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.fit_error import FitError
from kubeplane.scheduler.framework.nodeinfo import PodInfo, Snapshot
from kubeplane.scheduler.framework.runtime import Framework
from kubeplane.scheduler.plugins.registry import in_tree_registry

GPU_TAINT = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}


def decide(snapshot: Snapshot, pod: dict, profile: Profile | None = None) -> str:
    handle = FakeHandle(snapshot)
    fwk = Framework(profile or Profile(), in_tree_registry(), handle)
    return Algorithm(rng=random.Random(1)).schedule(fwk, CycleState(), PodInfo(pod), snapshot).node_name


def test_picks_the_least_allocated_feasible_node() -> None:
    nodes = [make_node("busy", cpu="4"), make_node("free", cpu="4"), make_node("gpu", cpu="64", taints=[GPU_TAINT])]
    snapshot = Snapshot.build(nodes, [make_pod("old", cpu="3", node_name="busy")])
    assert decide(snapshot, make_pod("p", cpu="500m")) == "free"


def test_fit_error_message_has_upstreams_shape() -> None:
    nodes = [make_node("small", cpu="1"), make_node("gpu1", taints=[GPU_TAINT]), make_node("gpu2", taints=[GPU_TAINT])]
    with pytest.raises(FitError) as caught:
        decide(Snapshot.build(nodes, []), make_pod("p", cpu="2"))
    assert str(caught.value) == \
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {dedicated: gpu}."


def test_fit_error_with_post_filter_message_and_no_nodes() -> None:
    from kubeplane.scheduler.framework.fit_error import Diagnosis
    from kubeplane.scheduler.framework.status import Status

    diagnosis = Diagnosis({"a": Status.unschedulable("Insufficient cpu", "Insufficient memory")},
                          post_filter_msg="preemption: 0/1 nodes are available: 1 No preemption victims found "
                                          "for incoming pod")
    assert str(FitError(1, diagnosis)) == ("0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. "
                                           "preemption: 0/1 nodes are available: 1 No preemption victims found for "
                                           "incoming pod.")
    assert str(FitError(0, Diagnosis())) == "no nodes available to schedule pods"


def test_node_name_and_selector_are_honoured() -> None:
    nodes = [make_node("a", labels={"zone": "a"}), make_node("b", labels={"zone": "b"})]
    snapshot = Snapshot.build(nodes, [])
    assert decide(snapshot, make_pod("p", nodeName="b")) == "b"
    assert decide(snapshot, make_pod("p", nodeSelector={"zone": "a"})) == "a"


def test_profile_weights_and_disabled_plugins() -> None:
    config = parse_config({
        "apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration",
        "percentageOfNodesToScore": 40,
        "profiles": [{"schedulerName": "packer", "plugins": {
            "score": {"disabled": [{"name": "*"}], "enabled": [{"name": "NodeResourcesFit", "weight": 5}]},
            "filter": {"disabled": [{"name": "TaintToleration"}]}},
            "pluginConfig": [{"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "MostAllocated"}}}]}],
        "leaderElection": {"leaseDuration": "20s", "renewDeadline": "15s", "retryPeriod": "3s"},
    })
    assert config.percentage_of_nodes_to_score == 40
    assert config.leader_election.lease_duration == 20.0
    profile = config.profiles[0]
    fwk = Framework(profile, in_tree_registry(), FakeHandle())
    assert [p.name for p in fwk.points["score"]] == ["NodeResourcesFit"]
    assert fwk.score_weights == {"NodeResourcesFit": 5}
    assert "TaintToleration" not in [p.name for p in fwk.points["filter"]]
    nodes = [make_node("busy", cpu="4"), make_node("free", cpu="4"), make_node("gpu", cpu="4", taints=[GPU_TAINT])]
    snapshot = Snapshot.build(nodes, [make_pod("old", cpu="3", node_name="busy")])
    assert decide(snapshot, make_pod("p", cpu="500m"), profile) == "busy"  # MostAllocated packs


def test_default_framework_has_upstreams_score_weights() -> None:
    fwk = Framework(Profile(), in_tree_registry(), FakeHandle())
    assert fwk.score_weights == {"TaintToleration": 3, "NodeAffinity": 2, "NodeResourcesFit": 1,
                                 "PodTopologySpread": 2, "InterPodAffinity": 2,
                                 "NodeResourcesBalancedAllocation": 1, "ImageLocality": 1}
    assert [p.name for p in fwk.points["filter"]] == [
        "NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodePorts", "NodeResourcesFit",
        "PodTopologySpread", "InterPodAffinity"]


def test_bad_configs_are_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown plugin"):
        Framework(parse_config({"profiles": [{"plugins": {"filter": {"enabled": [{"name": "Nope"}]}}}]}).profiles[0],
                  in_tree_registry(), FakeHandle())
    with pytest.raises(ConfigError, match="duplicate"):
        parse_config({"profiles": [{}, {}]})
    with pytest.raises(ConfigError, match="apiVersion"):
        parse_config({"apiVersion": "kubescheduler.config.k8s.io/v1beta1"})


def test_number_of_nodes_to_find() -> None:
    assert num_feasible_nodes_to_find(0, 50) == 50
    assert num_feasible_nodes_to_find(0, 1000) == 420  # 50% - 1000/125 = 42%
    assert num_feasible_nodes_to_find(10, 500) == 100  # never fewer than 100
    assert num_feasible_nodes_to_find(0, 10000) == 500  # never below 5%
