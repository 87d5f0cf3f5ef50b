"""Running a component's main coroutine: uvloop when available, SIGTERM/SIGINT set a stop event."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable


def run_until_signalled(main: Callable[[asyncio.Event], Awaitable[int | None]]) -> int:
    """Run ``main(stop)``; the first SIGTERM or SIGINT sets ``stop`` so it can shut down cleanly.
    Returns its exit code (0 when it returns None)."""
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()

    async def runner() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await main(stop) or 0

    return asyncio.run(runner())
