"""wait_event: set, timed out, and a cancellation that arrives as the event is set is not lost."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

import pytest

from kubeplane.component.waiting import wait_event


async def test_returns_true_once_set_and_false_on_timeout() -> None:
    event = asyncio.Event()
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await wait_event(event, 5.0)
    assert not await wait_event(asyncio.Event(), 0.01)


async def _cancelled_as_the_event_is_set(wait: Callable[[asyncio.Event], Awaitable[object]]) -> bool:
    """Whether a task looping on ``wait`` ends when cancelled in the same loop pass as its event is set."""
    event = asyncio.Event()
    passes = 0

    async def loop_forever() -> None:
        nonlocal passes
        while True:
            await wait(event)
            event.clear()
            passes += 1

    task = asyncio.create_task(loop_forever())
    await asyncio.sleep(0)  # the task now waits on the event
    event.set()
    task.cancel()
    await asyncio.wait([task], timeout=0.5)
    ended = task.done()
    if not ended:
        task.cancel()
        await asyncio.wait([task])
    return ended


async def test_a_cancellation_racing_the_event_is_not_lost() -> None:
    assert await _cancelled_as_the_event_is_set(lambda event: wait_event(event, 60.0))


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="the race wait_event avoids exists in asyncio.wait_for before 3.12 only")
async def test_asyncio_wait_for_loses_that_cancellation_here() -> None:
    # Shows the test above can fail: the same race through asyncio.wait_for swallows the cancel.
    assert not await _cancelled_as_the_event_is_set(lambda event: asyncio.wait_for(event.wait(), 60.0))
