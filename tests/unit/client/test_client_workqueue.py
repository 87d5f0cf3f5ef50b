"""Work queue semantics (dedup, never two workers, requeue at done), delays and rate limiters."""

from __future__ import annotations

import asyncio

import pytest

from kubeplane.client.clock import FakeClock, settle_tasks
from kubeplane.client.ratelimiter import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    default_controller_rate_limiter,
)
from kubeplane.client.workqueue import DelayingQueue, RateLimitingQueue, ShutDown, WorkQueue


async def test_adds_are_deduplicated_while_queued() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for item in ("a", "b", "a", "a"):
        queue.add(item)
    assert len(queue) == 2
    assert [await queue.get(), await queue.get()] == ["a", "b"]


async def test_item_in_processing_is_not_handed_out_again_until_done() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    item = await queue.get()
    queue.add("a")  # re-added while a worker holds it
    assert len(queue) == 0 and queue.is_processing("a")
    second_worker = asyncio.create_task(queue.get())
    await settle_tasks()
    assert not second_worker.done()
    queue.done(item)
    assert await asyncio.wait_for(second_worker, 1) == "a"


async def test_done_without_readd_does_not_requeue() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    queue.done(await queue.get())
    assert len(queue) == 0


async def test_shutdown_drains_then_stops_workers() -> None:
    queue: WorkQueue[str] = WorkQueue()
    idle = asyncio.create_task(queue.get())
    await settle_tasks()
    queue.add("a")
    assert await asyncio.wait_for(idle, 1) == "a"
    queue.add("b")
    queue.shutdown()
    queue.add("c")  # ignored after shutdown
    assert await queue.get() == "b"
    with pytest.raises(ShutDown):
        await queue.get()


async def test_add_after_waits_for_the_clock() -> None:
    clock = FakeClock()
    queue: DelayingQueue[str] = DelayingQueue(clock)
    queue.add_after("late", 10)
    queue.add_after("early", 2)
    queue.add_after("late", 5)  # an earlier time wins
    await settle_tasks()
    assert len(queue) == 0 and queue.waiting() == 2
    await clock.advance(2)
    assert len(queue) == 1 and await queue.get() == "early"
    await clock.advance(2.9)
    assert len(queue) == 0
    await clock.advance(0.1)
    assert await queue.get() == "late"
    assert queue.waiting() == 0
    queue.shutdown()


async def test_add_after_with_no_delay_adds_now() -> None:
    queue: DelayingQueue[str] = DelayingQueue(FakeClock())
    queue.add_after("now", 0)
    assert len(queue) == 1


async def test_rate_limited_requeue_backs_off_and_forget_resets() -> None:
    clock = FakeClock()
    queue: RateLimitingQueue[str] = RateLimitingQueue(ItemExponentialFailureRateLimiter(1, 100), clock)
    queue.add_rate_limited("x")  # 1s
    await clock.advance(1)
    queue.done(await queue.get())
    queue.add_rate_limited("x")  # 2s
    await clock.advance(1.5)
    assert len(queue) == 0
    await clock.advance(0.5)
    assert len(queue) == 1
    assert queue.num_requeues("x") == 2
    queue.forget("x")
    assert queue.num_requeues("x") == 0
    queue.shutdown()


def test_exponential_limiter_doubles_up_to_the_cap() -> None:
    limiter = ItemExponentialFailureRateLimiter(0.005, 1000)
    delays = [limiter.when("a") for _ in range(20)]
    assert delays[:4] == [0.005, 0.01, 0.02, 0.04]
    assert delays[-1] == 1000
    assert limiter.when("b") == 0.005  # per item
    for _ in range(2000):
        limiter.when("c")  # no overflow however long it fails
    assert limiter.when("c") == 1000


def test_bucket_allows_burst_then_spaces_by_qps() -> None:
    clock = FakeClock()
    bucket = BucketRateLimiter(qps=10, burst=100, clock=clock)
    assert all(bucket.when(i) == 0 for i in range(100))
    assert bucket.when("101") == pytest.approx(0.1)
    assert bucket.when("102") == pytest.approx(0.2)
    clock.step(10)  # refills to the burst, not beyond
    assert bucket.when("x") == 0


def test_default_limiter_takes_the_slower_of_both() -> None:
    clock = FakeClock()
    limiter = default_controller_rate_limiter(clock)
    assert limiter.when("first") == 0.005
    for i in range(200):
        limiter.when(i)  # exhaust the shared bucket
    assert limiter.when("first") > 1  # the bucket's debt dominates the item's 10 ms
    limiter.forget("first")
    assert limiter.num_requeues("first") == 0
