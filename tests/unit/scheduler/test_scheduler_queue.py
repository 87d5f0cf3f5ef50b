"""The scheduling queue with an injected clock: ordering, backoff, unschedulable pods and events."""

import asyncio

import pytest
from scheduler_testlib import make_pod

from kubeplane.client import FakeClock
from kubeplane.scheduler.framework.nodeinfo import PodInfo
from kubeplane.scheduler.plugins.queuesort import PrioritySort
from kubeplane.scheduler.plugins.schedulinggates import SchedulingGates
from kubeplane.scheduler.queue import scheduling_queue as q
from kubeplane.scheduler.queue.scheduling_queue import SchedulingQueue


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(clock: FakeClock) -> SchedulingQueue:
    gates = SchedulingGates()
    return SchedulingQueue(PrioritySort().less, lambda pod: gates.pre_enqueue(pod).with_plugin(gates.name), clock)


async def fail_once(queue: SchedulingQueue, name: str) -> None:
    """Pop ``name`` and hand it back as unschedulable, as a failed attempt does."""
    qpi = await queue.pop()
    assert qpi.pod_info.key == f"default/{name}"
    queue.add_unschedulable(qpi, queue.scheduling_cycle)


async def test_higher_priority_first_then_oldest(queue: SchedulingQueue, clock: FakeClock) -> None:
    queue.add(make_pod("old-low", priority=0))
    clock.step(1)
    queue.add(make_pod("new-low", priority=0))
    queue.add(make_pod("high", priority=100))
    order = [(await queue.pop()).pod_info.key for _ in range(3)]
    assert order == ["default/high", "default/old-low", "default/new-low"]


async def test_unschedulable_pod_waits_for_an_event_then_backs_off(queue: SchedulingQueue, clock: FakeClock) -> None:
    queue.add(make_pod("p"))
    await fail_once(queue, "p")
    assert queue.pending_keys()["unschedulable"] == ["default/p"]
    queue.move_all_to_active_or_backoff(q.NODE_ADD)
    assert queue.pending_keys()["backoff"] == ["default/p"]  # first retry waits 1 s
    clock.step(0.5)
    queue.flush_backoff_completed()
    assert queue.pending_keys()["backoff"] == ["default/p"]
    clock.step(0.5)
    queue.flush_backoff_completed()
    assert queue.pending_keys()["active"] == ["default/p"]


async def test_event_during_the_attempt_sends_the_pod_to_backoff(queue: SchedulingQueue) -> None:
    queue.add(make_pod("p"))
    qpi = await queue.pop()
    queue.move_all_to_active_or_backoff(q.NODE_UPDATE)  # while p was being scheduled
    queue.add_unschedulable(qpi, queue.scheduling_cycle)
    assert queue.pending_keys()["backoff"] == ["default/p"]


async def test_unschedulable_pods_are_flushed_after_five_minutes(queue: SchedulingQueue, clock: FakeClock) -> None:
    queue.add(make_pod("p"))
    await fail_once(queue, "p")
    clock.step(299)
    queue.flush_unschedulable_left_over()
    assert queue.pending_keys()["unschedulable"] == ["default/p"]
    clock.step(1)
    queue.flush_unschedulable_left_over()
    assert queue.pending_keys()["active"] == ["default/p"]


async def test_backoff_doubles_up_to_the_maximum(queue: SchedulingQueue) -> None:
    qpi = q.QueuedPodInfo(PodInfo(make_pod("p")))
    durations = []
    for attempts in range(1, 7):
        qpi.attempts = attempts
        durations.append(queue.backoff_duration(qpi))
    assert durations == [1, 2, 4, 8, 10, 10]


async def test_gated_pods_wait_until_their_gates_are_removed(queue: SchedulingQueue) -> None:
    gated = make_pod("p", schedulingGates=[{"name": "wait"}])
    queue.add(gated)
    assert queue.pending_keys()["unschedulable"] == ["default/p"]
    queue.move_all_to_active_or_backoff(q.NODE_ADD)
    assert queue.pending_keys()["unschedulable"] == ["default/p"]  # cluster events do not lift gates
    queue.update(make_pod("p"))
    assert queue.pending_keys()["active"] == ["default/p"]


async def test_pod_updated_while_unschedulable_is_retried(queue: SchedulingQueue, clock: FakeClock) -> None:
    queue.add(make_pod("p"))
    await fail_once(queue, "p")
    clock.step(2)
    queue.update(make_pod("p", tolerations=[{"operator": "Exists"}]))
    assert queue.pending_keys()["active"] == ["default/p"]
    assert (await queue.pop()).pod["spec"]["tolerations"] == [{"operator": "Exists"}]


async def test_deleted_pods_leave_every_queue(queue: SchedulingQueue) -> None:
    queue.add(make_pod("a"))
    queue.add(make_pod("b"))
    await fail_once(queue, "a")
    queue.delete(make_pod("a"))
    queue.delete(make_pod("b"))
    assert queue.pending_keys() == {"active": [], "backoff": [], "unschedulable": []}


async def test_pop_waits_for_a_pod_and_close_ends_it(queue: SchedulingQueue) -> None:
    waiter = asyncio.ensure_future(queue.pop())
    await asyncio.sleep(0)
    assert not waiter.done()
    queue.add(make_pod("p"))
    assert (await waiter).pod_info.key == "default/p"
    closed = asyncio.ensure_future(queue.pop())
    await asyncio.sleep(0)
    queue.close()
    with pytest.raises(q.QueueClosed):
        await closed


async def test_run_flushes_backoff_on_the_clock(queue: SchedulingQueue, clock: FakeClock) -> None:
    queue.add(make_pod("p"))
    await fail_once(queue, "p")
    queue.move_all_to_active_or_backoff(q.NODE_ADD)
    runner = asyncio.ensure_future(queue.run())
    await clock.advance(0)
    await clock.advance(1)
    assert queue.pending_keys()["active"] == ["default/p"]
    queue.close()
    await clock.advance(1)
    await runner
