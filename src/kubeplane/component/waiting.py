"""Waiting for an ``asyncio.Event`` with a time limit, without losing a cancellation."""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Whether ``event`` is set within ``timeout`` seconds.

    Not ``asyncio.wait_for``: before Python 3.12 it returns normally when the wait finishes in the
    same loop pass as the waiting task is cancelled, so the cancellation is lost (CPython
    gh-86296) and a loop that waits this way may never stop. ``asyncio.timeout`` tells its own
    cancellation from anybody else's and passes the latter on."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True
