"""Running a component's main coroutine: uvloop when available, SIGTERM/SIGINT set a stop event."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable


def run_until_signalled(main: Callable[[asyncio.Event], Awaitable[int | None]]) -> int:
    """Run ``main(stop)``; the first SIGTERM or SIGINT sets ``stop`` so it can shut down cleanly.
    Returns its exit code (0 when it returns None)."""
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    with contextlib.suppress(ImportError):
        import uvloop

        # Only this runner's loop is uvloop: installing uvloop's policy would also change the
        # loops other threads create (pyroute2 runs its own per thread and fails under uvloop).
        loop_factory = uvloop.new_event_loop

    async def runner() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await main(stop) or 0

    with asyncio.Runner(loop_factory=loop_factory) as run:
        return run.run(runner())
