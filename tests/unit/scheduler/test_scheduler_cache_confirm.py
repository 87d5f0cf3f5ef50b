"""The informer's copy of an assumed pod confirms it without re-cloning its node, unless the pod
changed in a way the scheduler counts."""

from __future__ import annotations

import copy

from scheduler_testlib import make_node, make_pod

from kubeplane.scheduler.cache import Cache
from kubeplane.scheduler.framework.nodeinfo import Snapshot


def _bound(pod: dict, node: str) -> dict:
    """What the binding's watch event carries: the pod as the API server now has it."""
    server = copy.deepcopy(pod)
    server["spec"]["nodeName"] = node
    server["metadata"]["resourceVersion"] = "42"
    server["status"] = {"conditions": [{"type": "PodScheduled", "status": "True"}]}
    return server


def _cache_with_assumed(pod: dict) -> tuple[Cache, Snapshot]:
    cache = Cache()
    cache.add_node(make_node("n1"))
    cache.add_node(make_node("n2"))
    cache.snapshot().arrays  # noqa: B018 - the rows must stay right from here on
    cache.assume(pod, "n1")
    return cache, cache.snapshot()


def test_confirming_an_unchanged_pod_keeps_the_node_and_swaps_the_object() -> None:
    pod = make_pod("p", cpu="500m", labels={"app": "a"})
    cache, snapshot = _cache_with_assumed(pod)
    node_before = snapshot.get("n1")
    server = _bound(pod, "n1")
    cache.add_pod(server)
    after = cache.snapshot()
    assert not cache.is_assumed(pod)
    assert after.get("n1") is node_before  # no clone: nothing the scheduler counts changed
    assert after.by_name["n1"].pods[0].pod is server
    assert int(after.arrays.req_cpu[0]) == 500
    assert pod["spec"].get("nodeName") is None  # assuming did not touch the informer's object


def test_a_pod_that_changed_or_moved_is_placed_again() -> None:
    for change in ("labels", "node", "deleting"):
        pod = make_pod("p", cpu="500m", labels={"app": "a"})
        cache, snapshot = _cache_with_assumed(pod)
        node_before = snapshot.get("n1")
        server = _bound(pod, "n2" if change == "node" else "n1")
        if change == "labels":
            server["metadata"]["labels"] = {"app": "b"}
        if change == "deleting":
            server["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        cache.add_pod(server)
        after = cache.snapshot()
        fresh = Snapshot(info.clone() for info in cache._infos.values())
        where = "n2" if change == "node" else "n1"
        assert [p.pod for p in after.by_name[where].pods] == [server], change
        assert after.get("n1") is not node_before, change  # re-cloned: the pod left it or changed
        assert after.arrays.req_cpu.tolist() == fresh.arrays.req_cpu.tolist(), change
        assert after.arrays.domains("kubernetes.io/hostname")[1] == ["n1", "n2"]
