"""Work queues with client-go ``util/workqueue`` semantics, for controllers.

* An item is queued at most once however often it is added (the *dirty* set).
* An item is never handed to two workers: while it is being processed (between ``get`` and
  ``done``) adds only mark it dirty, and ``done`` queues it again.
* ``add_after`` delays an add (the delaying queue); ``add_rate_limited`` delays it by what the
  rate limiter says, and ``forget`` resets the item's backoff once it succeeded.

Time comes from an injectable ``Clock`` so tests drive the delays with a ``FakeClock``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections import deque
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

from kubeplane.client.clock import Clock, RealClock
from kubeplane.client.ratelimiter import RateLimiter, default_controller_rate_limiter

T = TypeVar("T", bound=Hashable)


class ShutDown(Exception):
    """``get`` on a queue that is shut down and empty: the worker should exit."""


class WorkQueue(Generic[T]):
    def __init__(self) -> None:
        self._queue: deque[T] = deque()
        self._dirty: set[T] = set()
        self._processing: set[T] = set()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._shutting_down = False

    def add(self, item: T) -> None:
        if self._shutting_down or item in self._dirty:
            return
        self._dirty.add(item)
        if item in self._processing:
            return  # queued again by done()
        self._queue.append(item)
        self._wake_one()

    async def get(self) -> T:
        """The next item to process; the caller must call ``done(item)`` when finished."""
        while not self._queue:
            if self._shutting_down:
                raise ShutDown
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
        item = self._queue.popleft()
        self._processing.add(item)
        self._dirty.discard(item)
        return item

    def done(self, item: T) -> None:
        self._processing.discard(item)
        if item in self._dirty:
            self._queue.append(item)
            self._wake_one()

    def __len__(self) -> int:
        return len(self._queue)

    def is_processing(self, item: T) -> bool:
        return item in self._processing

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def shutdown(self) -> None:
        """Stop accepting adds; workers drain what is queued, then ``get`` raises ``ShutDown``."""
        self._shutting_down = True
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


class DelayingQueue(WorkQueue[T]):
    def __init__(self, clock: Clock | None = None) -> None:
        super().__init__()
        self.clock = clock or RealClock()
        self._waiting: list[tuple[float, int, T]] = []
        self._ready_at: dict[T, float] = {}  # an item waits once, at its earliest time
        self._order = itertools.count()
        self._changed = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None

    def add_after(self, item: T, delay: float) -> None:
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(item)
            return
        ready_at = self.clock.now() + delay
        if item in self._ready_at and self._ready_at[item] <= ready_at:
            return
        self._ready_at[item] = ready_at
        heapq.heappush(self._waiting, (ready_at, next(self._order), item))
        self._changed.set()
        if self._loop_task is None:
            self._loop_task = asyncio.get_running_loop().create_task(self._release_when_ready())

    def waiting(self) -> int:
        return len(self._ready_at)

    def shutdown(self) -> None:
        super().shutdown()
        if self._loop_task is not None:
            self._loop_task.cancel()

    def _release_ready(self) -> float | None:
        """Add every item whose time has come; return how long until the next one, if any."""
        now = self.clock.now()
        while self._waiting:
            ready_at, _, item = self._waiting[0]
            if self._ready_at.get(item) != ready_at:
                heapq.heappop(self._waiting)  # superseded by an earlier add_after
                continue
            if ready_at > now:
                return ready_at - now
            heapq.heappop(self._waiting)
            del self._ready_at[item]
            self.add(item)
        return None

    async def _release_when_ready(self) -> None:
        while not self._shutting_down:
            self._changed.clear()
            wait = self._release_ready()
            waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._changed.wait())]
            if wait is not None:
                waits.append(asyncio.ensure_future(self.clock.sleep(wait)))
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pending in waits:
                    pending.cancel()


class RateLimitingQueue(DelayingQueue[T]):
    def __init__(self, rate_limiter: RateLimiter | None = None, clock: Clock | None = None) -> None:
        super().__init__(clock)
        self.rate_limiter = rate_limiter or default_controller_rate_limiter(self.clock)

    def add_rate_limited(self, item: T) -> None:
        self.add_after(item, self.rate_limiter.when(item))

    def forget(self, item: T) -> None:
        self.rate_limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return self.rate_limiter.num_requeues(item)
