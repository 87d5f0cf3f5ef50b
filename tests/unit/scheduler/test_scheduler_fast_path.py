"""The cycle's fast path (every filter vectorised, first passing nodes taken at once, scores kept
as arrays) chooses what the per-node path chooses, also when preemption has nominated pods onto
some of the nodes it would take."""

from __future__ import annotations

import random
from typing import Any

from scheduler_testlib import FakeHandle, make_node, make_pod
from test_scheduler_vector import PerNodeAlgorithm, default_framework

from kubeplane.scheduler.algorithm import Algorithm
from kubeplane.scheduler.cache import Cache
from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.nodeinfo import PodInfo


def _placements(algorithm: Algorithm, nominated: dict[str, list[PodInfo]]) -> list[tuple[Any, ...]]:
    cache = Cache()
    for i in range(150):  # over 100 nodes: the adaptive cut-off and the round-robin start matter
        cache.add_node(make_node(f"n{i}", cpu="2", memory="8Gi"))
    handle = FakeHandle(nominated={name: list(pods) for name, pods in nominated.items()})
    fwk = default_framework(handle)
    placed: list[tuple[Any, ...]] = []
    for i in range(320):
        pod = make_pod(f"p{i}", cpu="900m", memory="200Mi")
        handle.current = cache.snapshot()
        try:
            result = algorithm.schedule(fwk, CycleState(), PodInfo(pod), handle.current)
        except Exception as err:  # the kind of failure is part of what must agree
            placed.append((type(err).__name__, str(err)))
            continue
        cache.assume(pod, result.node_name)
        placed.append((result.node_name, result.evaluated_nodes, result.feasible_nodes))
    return placed


def test_fast_path_places_pods_as_the_per_node_path_does() -> None:
    fast = _placements(Algorithm(rng=random.Random(7)), {})
    slow = _placements(PerNodeAlgorithm(rng=random.Random(7)), {})
    assert fast == slow
    assert any(p[0] == "FitError" for p in fast)  # 300 fit and 320 ask: the per-node fallback ran too


def test_nominated_pods_keep_their_room_on_the_fast_path() -> None:
    # A higher-priority pod nominated to n0..n9 takes all their CPU: nothing else may go there.
    blocker = PodInfo({**make_pod("preemptor", cpu="2"), "spec": {**make_pod("preemptor", cpu="2")["spec"],
                                                                   "priority": 1000}})
    nominated = {f"n{i}": [blocker] for i in range(10)}
    fast = _placements(Algorithm(rng=random.Random(7)), nominated)
    slow = _placements(PerNodeAlgorithm(rng=random.Random(7)), nominated)
    assert fast == slow
    assert not {f"n{i}" for i in range(10)} & {p[0] for p in fast}
