"""Slow-start batches (upstream ``slowStartBatch``): call ``action`` ``count`` times in batches
of 1, 2, 4, ... run concurrently, stopping after the first batch with a failure, so a controller
whose creates all fail (quota, admission) sends a handful of requests instead of hundreds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

SLOW_START_INITIAL_BATCH_SIZE = 1


async def slow_start_batch(count: int, action: Callable[[], Awaitable[None]],
                           initial_batch_size: int = SLOW_START_INITIAL_BATCH_SIZE) -> tuple[int, Exception | None]:
    """Returns (how many calls succeeded, the first error); calls after a failed batch are skipped."""
    done = 0
    batch = min(count, initial_batch_size)
    while batch > 0:
        results = await asyncio.gather(*(action() for _ in range(batch)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        done += batch - len(errors)
        if errors:
            first = errors[0]
            if not isinstance(first, Exception):
                raise first  # cancellation and friends are not a failed create
            return done, first
        remaining = count - done
        batch = min(2 * batch, remaining)
    return done, None
