"""The vectorised filter/score path and the incremental snapshot give the same answers as the
per-node path and a snapshot built from scratch, over randomly varied clusters and pods."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from scheduler_testlib import FakeHandle, make_node, make_pod

from kubeplane.scheduler.algorithm import Algorithm
from kubeplane.scheduler.cache import Cache
from kubeplane.scheduler.framework.config import SchedulerConfig, parse_config
from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.nodeinfo import NodeInfo, PodInfo, Snapshot
from kubeplane.scheduler.framework.runtime import Framework
from kubeplane.scheduler.framework.vector import NodeArrays
from kubeplane.scheduler.plugins.registry import in_tree_registry

JSON = dict[str, Any]

TAINTS = [
    [],
    [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}],
    [{"key": "spot", "value": "true", "effect": "PreferNoSchedule"}],
    [{"key": "spot", "value": "true", "effect": "PreferNoSchedule"},
     {"key": "old", "value": "", "effect": "PreferNoSchedule"}],
    [{"key": "evict", "value": "", "effect": "NoExecute"}],
]
TOLERATIONS = [
    [],
    [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}],
    [{"key": "spot", "operator": "Exists"}],
    [{"operator": "Exists"}],
    [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}],
]


def random_node(rng: random.Random, i: int) -> JSON:
    images = [{"names": ["registry.k8s.io/big:1"], "sizeBytes": 500 * 1024 * 1024}] if rng.random() < 0.2 else []
    return make_node(f"n{i}", cpu=rng.choice(["1", "2", "4", "0"]), memory=rng.choice(["1Gi", "8Gi", "0"]),
                     pods=rng.choice([2, 5, 110]), taints=rng.choice(TAINTS), unschedulable=rng.random() < 0.1,
                     images=images)


def random_pod(rng: random.Random, i: int, node_name: str = "") -> JSON:
    extra: JSON = {}
    if rng.random() < 0.1:
        extra["nodeName"] = f"n{rng.randrange(20)}"
    pod = make_pod(f"p{i}", cpu=rng.choice([None, "100m", "900m", "3"]), memory=rng.choice([None, "200Mi", "3Gi"]),
                   node_name=node_name, image=rng.choice(["busybox", "registry.k8s.io/big:1"]),
                   tolerations=rng.choice(TOLERATIONS), **extra)
    if rng.random() < 0.05:
        pod["spec"]["containers"][0].setdefault("resources", {}).setdefault("requests", {})["example.com/gpu"] = "1"
    return pod


def random_cluster(rng: random.Random, size: int) -> tuple[list[JSON], list[JSON]]:
    nodes = [random_node(rng, i) for i in range(size)]
    pods = [random_pod(rng, 1000 + i, node_name=f"n{rng.randrange(size)}") for i in range(size * 2)]
    return nodes, pods


def default_framework(handle: FakeHandle) -> Framework:
    return Framework(SchedulerConfig().profiles[0], in_tree_registry(), handle)


@pytest.mark.parametrize("seed", range(8))
def test_vector_filters_agree_with_per_node_filters(seed: int) -> None:
    rng = random.Random(seed)
    snapshot = Snapshot.build(*random_cluster(rng, 20))
    handle = FakeHandle(snapshot)
    fwk = default_framework(handle)
    for i in range(30):
        pod = PodInfo(random_pod(rng, i))
        state = CycleState()
        _, status = fwk.run_pre_filter(state, pod)
        assert status.ok
        passes, per_node = fwk.run_filter_vector(state, pod, snapshot.arrays)
        for row, node in enumerate(snapshot.node_infos):
            expected = fwk.run_filter(state, pod, node).ok
            got = bool(passes[row]) and fwk.run_filter_plugins(state, pod, node, per_node).ok
            assert got == expected, (pod.key, node.name)


@pytest.mark.parametrize("seed", range(8))
def test_vector_scores_agree_with_per_node_scores(seed: int) -> None:
    rng = random.Random(100 + seed)
    snapshot = Snapshot.build(*random_cluster(rng, 20))
    handle = FakeHandle(snapshot)
    fwk = default_framework(handle)
    for i in range(30):
        pod = PodInfo(random_pod(rng, i))
        rows = np.asarray(sorted(rng.sample(range(20), 12)), dtype=np.int64)
        nodes = [snapshot.node_infos[row] for row in rows]
        state = CycleState()
        fwk.run_pre_filter(state, pod)
        assert fwk.run_pre_score(state, pod, nodes).ok
        per_node, status = fwk.run_score(state, pod, nodes)
        assert status.ok
        vectorised, status = fwk.run_score(state, pod, nodes, snapshot.arrays, rows)
        assert status.ok
        assert [(s.name, s.score) for s in vectorised] == [(s.name, s.score) for s in per_node]


def test_scoring_strategies_and_weights_from_a_custom_profile_agree() -> None:
    config = parse_config({"profiles": [{"schedulerName": "most", "pluginConfig": [
        {"name": "NodeResourcesFit", "args": {"scoringStrategy": {
            "type": "MostAllocated", "resources": [{"name": "cpu", "weight": 3}, {"name": "memory", "weight": 1}]}}}]}]})
    rng = random.Random(7)
    snapshot = Snapshot.build(*random_cluster(rng, 20))
    handle = FakeHandle(snapshot)
    fwk = Framework(config.profiles[0], in_tree_registry(), handle)
    rows = np.arange(20, dtype=np.int64)
    for i in range(20):
        pod = PodInfo(random_pod(rng, i))
        state = CycleState()
        fwk.run_pre_filter(state, pod)
        fwk.run_pre_score(state, pod, snapshot.node_infos)
        per_node, _ = fwk.run_score(state, pod, snapshot.node_infos)
        vectorised, _ = fwk.run_score(state, pod, snapshot.node_infos, snapshot.arrays, rows)
        assert [s.score for s in vectorised] == [s.score for s in per_node]


class PerNodeAlgorithm(Algorithm):
    """The algorithm with the vectorised search turned off."""

    def _find_nodes_vectorised(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_the_algorithm_places_pods_as_the_per_node_path_does() -> None:
    rng = random.Random(3)
    nodes = [make_node(f"n{i}", cpu=rng.choice(["2", "4"]), memory="8Gi", taints=rng.choice(TAINTS[:3]))
             for i in range(150)]  # more than 100 nodes: the adaptive cut-off and round-robin start matter
    pods = [random_pod(rng, i) for i in range(120)]
    placements: list[list[tuple[Any, ...]]] = []
    for algorithm in (Algorithm(rng=random.Random(1)), PerNodeAlgorithm(rng=random.Random(1))):
        cache = Cache()
        for node in nodes:
            cache.add_node(node)
        handle = FakeHandle()
        fwk = default_framework(handle)
        placed: list[tuple[Any, ...]] = []
        for pod in pods:
            handle.current = cache.snapshot()
            try:
                result = algorithm.schedule(fwk, CycleState(), PodInfo(pod), handle.current)
            except Exception as err:  # the kind of failure is part of what must agree
                placed.append((type(err).__name__, str(err)))
                continue
            cache.assume(pod, result.node_name)
            placed.append((result.node_name, result.evaluated_nodes, result.feasible_nodes))
        placements.append(placed)
    assert placements[0] == placements[1]
    assert any(p[0] == "FitError" for p in placements[0])  # some pods fit nowhere: the fallback ran too


def _rows(arrays: NodeArrays) -> list[tuple[Any, ...]]:
    columns = [value for value in vars(arrays).values() if isinstance(value, np.ndarray)]
    return [tuple(int(column[row]) for column in columns) for row in range(arrays.size)]


def _view(infos: list[NodeInfo]) -> list[tuple[Any, ...]]:
    return [(i.name, sorted(p.key for p in i.pods), i.requested, i.non_zero_requested, sorted(map(str, i.used_ports)),
             i.num_affinity_pods, i.num_required_anti_affinity_pods, sorted(i.images)) for i in infos]


def test_incremental_snapshot_matches_a_fresh_one() -> None:
    rng = random.Random(11)
    nodes, pods = random_cluster(rng, 15)
    cache = Cache()
    for node in nodes:
        cache.add_node(node)
    snapshot = cache.snapshot()
    snapshot.arrays  # noqa: B018 - built now, so later snapshots must keep it current row by row
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "x"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    for step, pod in enumerate(pods):
        if step % 3 == 0:
            pod["spec"]["affinity"] = anti
        action = rng.random()
        if action < 0.5:
            cache.add_pod(pod)
        elif action < 0.8:
            cache.assume(pod, f"n{rng.randrange(15)}")
        elif action < 0.9:
            cache.remove_pod(pods[rng.randrange(step + 1)])
        else:
            node = dict(nodes[rng.randrange(15)])
            node["status"] = {**node["status"], "images": [{"names": [f"img{step}"], "sizeBytes": 10}]}
            cache.update_node(node)
        snapshot = cache.snapshot()
        fresh = Snapshot(info.clone() for info in cache._infos.values())
        assert _view(snapshot.node_infos) == _view(fresh.node_infos)
        assert _rows(snapshot.arrays) == _rows(NodeArrays(fresh.node_infos))
        assert [i.name for i in snapshot.have_pods_with_required_anti_affinity] == \
            [i.name for i in fresh.node_infos if i.pods_with_required_anti_affinity]
        assert all(a is snapshot.by_name[a.name] for a in snapshot.have_pods_with_affinity)
