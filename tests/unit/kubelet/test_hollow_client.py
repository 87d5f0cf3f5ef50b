"""The hollow fleet's shared clients hand out request turns by priority: Lease renewals first,
events last, first come first served among equals."""

from __future__ import annotations

import asyncio

import pytest

from kubeplane.kubelet.hollow.client import EVENTS, HEARTBEAT, NORMAL, PriorityTurns, priority_of, resource_of


@pytest.mark.parametrize(("path", "resource", "priority"), [
    ("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-1", "leases", HEARTBEAT),
    ("/api/v1/namespaces/default/events", "events", EVENTS),
    ("/api/v1/namespaces/default/events/pod-1.1872", "events", EVENTS),
    ("/apis/events.k8s.io/v1/namespaces/default/events", "events", EVENTS),
    ("/api/v1/namespaces/default/pods/events/status", "pods", NORMAL),  # a pod named "events"
    ("/api/v1/nodes/node-1/status", "nodes", NORMAL),
    ("/api/v1/namespaces/leases/pods", "pods", NORMAL),  # a namespace named "leases"
    ("/version", "", NORMAL),
])
def test_priority_comes_from_the_resource(path: str, resource: str, priority: int) -> None:
    assert resource_of(path) == resource
    assert priority_of("PUT", path) == priority


async def test_freed_turns_go_to_leases_then_others_then_events() -> None:
    turns = PriorityTurns(1)
    await turns.acquire(NORMAL)  # the only turn is taken
    order: list[str] = []

    async def wait(name: str, priority: int) -> None:
        await turns.acquire(priority)
        order.append(name)
        turns.release()

    tasks = [asyncio.create_task(wait(name, priority)) for name, priority in
             (("event", EVENTS), ("status-1", NORMAL), ("lease", HEARTBEAT), ("status-2", NORMAL))]
    await asyncio.sleep(0)
    assert turns.waiting == {HEARTBEAT: 1, NORMAL: 2, EVENTS: 1}
    turns.release()
    await asyncio.gather(*tasks)
    assert order == ["lease", "status-1", "status-2", "event"]
    assert turns.waiting == {HEARTBEAT: 0, NORMAL: 0, EVENTS: 0}


async def test_a_cancelled_waiter_does_not_lose_a_turn() -> None:
    turns = PriorityTurns(1)
    await turns.acquire(NORMAL)
    cancelled = asyncio.create_task(turns.acquire(HEARTBEAT))
    later = asyncio.create_task(turns.acquire(EVENTS))
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.gather(cancelled, return_exceptions=True)
    turns.release()
    await asyncio.wait_for(later, 5)  # the freed turn skipped the cancelled waiter
    turns.release()
    await asyncio.wait_for(turns.acquire(NORMAL), 5)  # and nothing was lost or doubled
    assert turns._free == 0 and not turns._queue  # exactly the one turn, now held
