"""Injectable clocks: the real one, and a fake that tests step by hand so nothing ever sleeps.

Queues, rate limiters and leader election read time and wait only through a ``Clock``.
``now()`` is monotonic seconds (for durations); ``wall()`` is the UTC wall time written into
objects (Lease ``renewTime``, Event timestamps).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...

    def wall(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """Time moves only when a test calls ``step``; sleepers whose deadline passed then wake."""

    def __init__(self, start: float = 1000.0, wall_start: datetime | None = None) -> None:
        self._now = start
        self._start = start
        self._wall_start = wall_start or datetime(2026, 1, 1, tzinfo=UTC)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    def wall(self) -> datetime:
        return self._wall_start + timedelta(seconds=self._now - self._start)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), future))
        await future

    def has_sleepers(self) -> bool:
        return any(not f.done() for _, _, f in self._sleepers)

    def step(self, seconds: float) -> None:
        self._now += seconds
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    async def advance(self, seconds: float, settle: int = 20) -> None:
        """Step, then let woken tasks run until they block again."""
        self.step(seconds)
        await settle_tasks(settle)


async def settle_tasks(rounds: int = 20) -> None:
    """Yield to the event loop a few times so ready tasks run to their next real wait."""
    for _ in range(rounds):
        await asyncio.sleep(0)
