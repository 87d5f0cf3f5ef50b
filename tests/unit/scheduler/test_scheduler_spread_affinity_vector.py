"""PodTopologySpread's and InterPodAffinity's vector forms (domain columns, the pod label index)
give the same counts and verdicts as walking every node, over randomly varied clusters and pods,
and the columns stay right while the cache updates the snapshot in place."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import numpy as np
import pytest
from scheduler_testlib import FakeHandle, make_node, make_pod

from kubeplane.machinery import labels
from kubeplane.scheduler.cache import Cache
from kubeplane.scheduler.framework.config import SchedulerConfig
from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.interface import NodeScore
from kubeplane.scheduler.framework.nodeinfo import NodeInfo, PodInfo, Snapshot
from kubeplane.scheduler.framework.runtime import Framework
from kubeplane.scheduler.framework.status import Code
from kubeplane.scheduler.plugins.interpodaffinity.plugin import FilterState as AffinityState
from kubeplane.scheduler.plugins.interpodaffinity.plugin import InterPodAffinity
from kubeplane.scheduler.plugins.podtopologyspread.constraints import (
    DO_NOT_SCHEDULE,
    has_all_keys,
    pod_constraints,
)
from kubeplane.scheduler.plugins.podtopologyspread.counting import domain_matches
from kubeplane.scheduler.plugins.registry import in_tree_registry

JSON = dict[str, Any]

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"
RACK = "rack"  # a key only some nodes carry
GROUPS = ["g0", "g1", "g2"]
TAINTS = [[], [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]]


def random_selector(rng: random.Random) -> JSON:
    choice = rng.random()
    if choice < 0.6:
        return {"matchLabels": {"group": rng.choice(GROUPS)}}
    if choice < 0.8:  # no single-value requirement: every row with pods is a candidate
        return {"matchExpressions": [{"key": "group", "operator": "NotIn", "values": [rng.choice(GROUPS)]}]}
    if choice < 0.9:
        return {"matchExpressions": [{"key": "group", "operator": "In", "values": GROUPS[:2]}]}
    return {}


def random_constraint(rng: random.Random) -> JSON:
    raw: JSON = {"maxSkew": rng.choice([1, 1, 2]), "topologyKey": rng.choice([ZONE, HOST, RACK]),
                 "whenUnsatisfiable": DO_NOT_SCHEDULE, "labelSelector": random_selector(rng)}
    if rng.random() < 0.2:
        raw["minDomains"] = rng.choice([2, 5])
    if rng.random() < 0.3:
        raw["nodeTaintsPolicy"] = "Honor"
    if rng.random() < 0.2:
        raw["nodeAffinityPolicy"] = "Ignore"
    if rng.random() < 0.2:
        raw["matchLabelKeys"] = ["tier"]
    return raw


def random_term(rng: random.Random) -> JSON:
    return {"labelSelector": random_selector(rng), "topologyKey": rng.choice([ZONE, HOST, RACK])}


def random_pod(rng: random.Random, i: int, node_name: str = "") -> JSON:
    labels = {"group": rng.choice(GROUPS), "tier": rng.choice(["a", "b"])}
    spec: JSON = {}
    affinity: JSON = {}
    if rng.random() < 0.4:
        affinity["podAntiAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": [random_term(rng)]}
    if rng.random() < 0.2:
        affinity["podAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": [random_term(rng)]}
    if rng.random() < 0.3:
        kind = rng.choice(["podAffinity", "podAntiAffinity"])
        affinity.setdefault(kind, {})["preferredDuringSchedulingIgnoredDuringExecution"] = [
            {"weight": rng.randrange(1, 100), "podAffinityTerm": random_term(rng)}]
    if affinity:
        spec["affinity"] = affinity
    if not node_name and rng.random() < 0.6:
        spec["topologySpreadConstraints"] = [random_constraint(rng) for _ in range(rng.choice([1, 2]))]
    if rng.random() < 0.15:
        spec["nodeSelector"] = {ZONE: rng.choice(["a", "b"])}
    if rng.random() < 0.2:
        spec["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
    pod = make_pod(f"p{i}", cpu="100m", node_name=node_name, labels=labels, **spec)
    if node_name and rng.random() < 0.05:
        pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    if rng.random() < 0.1:
        pod["metadata"]["namespace"] = "other"
    return pod


def random_node(rng: random.Random, i: int) -> JSON:
    labels = {ZONE: rng.choice(["a", "b", "c"])}
    if rng.random() < 0.7:
        labels[RACK] = f"r{rng.randrange(4)}"
    if rng.random() < 0.05:
        del labels[ZONE]
    return make_node(f"n{i}", labels=labels, taints=rng.choice(TAINTS))


def random_cluster(rng: random.Random, size: int) -> tuple[list[JSON], list[JSON]]:
    nodes = [random_node(rng, i) for i in range(size)]
    pods = [random_pod(rng, 1000 + i, node_name=f"n{rng.randrange(size)}") for i in range(size * 2)]
    return nodes, pods


def spread_matches_by_walking(snapshot: Snapshot, pod: PodInfo) -> dict[tuple[str, str], int]:
    """Upstream's PreFilter: every node, every constraint (the plugin's code before columns)."""
    constraints, _ = pod_constraints(pod, DO_NOT_SCHEDULE, (), [])
    matches: dict[tuple[str, str], int] = {}
    for node in snapshot.node_infos:
        if not has_all_keys(node, constraints):
            continue
        for constraint in constraints:
            if constraint.node_eligible(pod, node):
                pair = (constraint.topology_key, node.labels[constraint.topology_key])
                matches[pair] = matches.get(pair, 0) + constraint.matching_pods(node, pod.namespace)
    return matches


def affinity_counts_by_walking(plugin: InterPodAffinity, snapshot: Snapshot, pod: PodInfo) -> AffinityState:
    counts = AffinityState()
    for node in snapshot.node_infos:
        for existing in node.pods:
            plugin._count_existing_anti_affinity(counts, pod, existing, node, 1)
            plugin._count_incoming_terms(counts, pod, existing, node, 1)
    return counts


def positive(counter: Counter[tuple[str, str]]) -> dict[tuple[str, str], int]:
    return {pair: count for pair, count in counter.items() if count}


@pytest.mark.parametrize("seed", range(10))
def test_prefilter_counts_agree_with_walking_every_node(seed: int) -> None:
    rng = random.Random(seed)
    snapshot = Snapshot.build(*random_cluster(rng, 25))
    handle = FakeHandle(snapshot)
    plugin = InterPodAffinity({}, handle)
    for i in range(40):
        pod = PodInfo(random_pod(rng, i))
        constraints, _ = pod_constraints(pod, DO_NOT_SCHEDULE, (), [])
        if constraints:
            assert domain_matches(snapshot, pod, constraints) == spread_matches_by_walking(snapshot, pod)
        state = CycleState()
        plugin.pre_filter(state, pod)
        got: AffinityState = state.read("PreFilterInterPodAffinity")
        want = affinity_counts_by_walking(plugin, snapshot, pod)
        assert positive(got.existing_anti_affinity) == positive(want.existing_anti_affinity)
        if pod.affinity.required_affinity or pod.affinity.required_anti_affinity:
            assert positive(got.affinity) == positive(want.affinity)
            assert positive(got.anti_affinity) == positive(want.anti_affinity)


@pytest.mark.parametrize("seed", range(10))
def test_spread_and_affinity_vector_filters_agree_with_per_node_filters(seed: int) -> None:
    rng = random.Random(50 + seed)
    snapshot = Snapshot.build(*random_cluster(rng, 25))
    fwk = Framework(SchedulerConfig().profiles[0], in_tree_registry(), FakeHandle(snapshot))
    vectorised = {"PodTopologySpread", "InterPodAffinity"}
    checked = Counter[str]()
    for i in range(40):
        pod = PodInfo(random_pod(rng, i))
        state = CycleState()
        _, status = fwk.run_pre_filter(state, pod)
        if not status.ok:
            continue
        passes, per_node = fwk.run_filter_vector(state, pod, snapshot.arrays)
        assert not vectorised & {plugin.name for plugin in per_node}
        for row, node in enumerate(snapshot.node_infos):
            expected = fwk.run_filter(state, pod, node)
            assert (bool(passes[row]) and fwk.run_filter_plugins(state, pod, node, per_node).ok) == expected.ok, \
                (pod.key, node.name, expected.message())
            checked[expected.plugin or "ok"] += 1
    # The random pods exercised both plugins' rejections, not only nodes that pass everything.
    assert checked["PodTopologySpread"] and checked["InterPodAffinity"]


@pytest.mark.parametrize("seed", range(6))
def test_affinity_vector_scores_agree_with_per_node_scores(seed: int) -> None:
    rng = random.Random(200 + seed)
    snapshot = Snapshot.build(*random_cluster(rng, 25))
    plugin = InterPodAffinity({}, FakeHandle(snapshot))
    scored = 0
    for i in range(40):
        pod = PodInfo(random_pod(rng, i))
        rows = np.asarray(sorted(rng.sample(range(25), 15)), dtype=np.int64)
        nodes = [snapshot.node_infos[row] for row in rows]
        state = CycleState()
        if plugin.pre_score(state, pod, nodes).code == Code.SKIP:
            continue
        per_node = [NodeScore(node.name, plugin.score(state, pod, node)[0]) for node in nodes]
        plugin.normalize_score(state, pod, per_node)
        assert plugin.score_vector(state, pod, snapshot.arrays, rows).tolist() == [s.score for s in per_node]
        scored += any(s.score for s in per_node)
    assert scored  # some pods had scores that differ between nodes


def _domains_view(snapshot: Snapshot, key: str) -> list[str | None]:
    column, values = snapshot.arrays.domains(key)
    return [values[int(i)] if i >= 0 else None for i in column]


def test_domain_columns_and_pod_label_index_follow_the_cache() -> None:
    rng = random.Random(5)
    nodes, pods = random_cluster(rng, 15)
    cache = Cache()
    for node in nodes:
        cache.add_node(node)
    snapshot = cache.snapshot()
    group = labels.from_label_selector({"matchLabels": {"group": "g1"}})
    _domains_view(snapshot, RACK)  # built now: later snapshots must keep them current
    list(snapshot.arrays.rows_with_pods_matching(group))
    for step, pod in enumerate(pods):
        action = rng.random()
        if action < 0.5:
            cache.add_pod(pod)
        elif action < 0.8:
            cache.assume(pod, f"n{rng.randrange(15)}")
        elif action < 0.9:
            cache.remove_pod(pods[rng.randrange(step + 1)])
        else:
            node = dict(nodes[rng.randrange(15)])
            node["metadata"] = {**node["metadata"], "labels": {**node["metadata"]["labels"], RACK: f"r{step}"}}
            cache.update_node(node)
        snapshot = cache.snapshot()
        fresh = Snapshot(info.clone() for info in cache._infos.values())
        assert _domains_view(snapshot, RACK) == _domains_view(fresh, RACK)
        want = [row for row, info in enumerate(fresh.node_infos) if any(group.matches(p.labels) for p in info.pods)]
        got = list(snapshot.arrays.rows_with_pods_matching(group))
        assert set(want) <= set(got)
        assert got == [row for row, info in enumerate(snapshot.node_infos) if _has_group(info, "g1")]
        for probe in ({"group": "g1"}, {"group": "g2", "tier": "a"}):
            assert snapshot.arrays.rows_with_anti_affinity_against(probe) == \
                fresh.arrays.rows_with_anti_affinity_against(probe)


def _has_group(info: NodeInfo, group: str) -> bool:
    return any(p.labels.get("group") == group for p in info.pods)


def test_spread_minimum_follows_pods_added_and_removed_after_filtering() -> None:
    group = {"group": "g0"}
    spread = [{"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": DO_NOT_SCHEDULE,
               "labelSelector": {"matchLabels": group}}]
    nodes = [make_node("a", labels={ZONE: "a"}), make_node("b", labels={ZONE: "b"})]
    snapshot = Snapshot.build(nodes, [make_pod("on-a", node_name="a", labels=group)])
    fwk = Framework(SchedulerConfig().profiles[0], in_tree_registry(), FakeHandle(snapshot))
    pod = PodInfo(make_pod("new", labels=group, topologySpreadConstraints=spread))
    state = CycleState()
    fwk.run_pre_filter(state, pod)
    verdicts = lambda: [fwk.run_filter(state, pod, node).ok for node in snapshot.node_infos]  # noqa: E731
    assert verdicts() == [False, True]  # zone a already holds one more than the empty zone b
    nominated = PodInfo(make_pod("nominated", node_name="b", labels=group))
    fwk.run_pre_filter_extension_add_pod(state, pod, nominated, snapshot.node_infos[1])
    assert verdicts() == [True, True]  # both zones at one: the minimum moved
    fwk.run_pre_filter_extension_remove_pod(state, pod, nominated, snapshot.node_infos[1])
    assert verdicts() == [False, True]
