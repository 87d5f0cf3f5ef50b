"""A sync loop rate limited as upstream's BoundedFrequencyRunner, and its informer wiring; shared
by kube-proxy's proxier and the NetworkPolicy agent.

A request runs a sync at once unless the last one started less than ``min_sync_period`` ago (then
it waits, and every request in the meantime rides along in that one sync); every ``sync_period``
a full sync runs even with nothing requested. Nothing runs before ``set_initialized`` (the caches
are filled), so a first sync never programs a partial view of the cluster. A failed sync makes
the next one full and is retried.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import math
import time

from kubeplane.client import SharedInformerFactory
from kubeplane.component.waiting import wait_event

log = logging.getLogger(__name__)

# The shortest wait before retrying a failed sync, even with a shorter min_sync_period.
MIN_RETRY_DELAY = 1.0


class BoundedFrequencySync(abc.ABC):
    """Subclasses write the rules in ``sync_rules``; callers use ``request_sync`` and ``run``."""

    def __init__(self, min_sync_period: float = 1.0, sync_period: float = 30.0) -> None:
        self.min_sync_period = min_sync_period
        self.sync_period = sync_period
        self.syncs = 0  # successful syncs, for tests and logs
        self._initialized = False
        self._need_full = True
        self._wake = asyncio.Event()
        self._last_start = -math.inf
        self._last_full = -math.inf

    @abc.abstractmethod
    async def sync_rules(self, full: bool) -> None:
        """Write the rules; ``full`` re-reads what exists first. Raises on failure."""

    def request_sync(self, *_: object) -> None:
        """Ask for a sync (informer handlers may pass the object, which is not needed)."""
        self._wake.set()

    def set_initialized(self) -> None:
        """Caches are filled: syncing now programs the whole cluster, not a partial view of it."""
        self._initialized = True
        self.request_sync()

    async def run(self) -> None:
        while True:
            if not self._initialized:
                await self._wake.wait()
                self._wake.clear()
                continue
            until_full = self._last_full + self.sync_period - time.monotonic()
            if until_full > 0:
                await wait_event(self._wake, until_full)
            wait = self._last_start + self.min_sync_period - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)  # requests arriving meanwhile join this sync
            self._wake.clear()
            if not await self.sync():
                await asyncio.sleep(max(self.min_sync_period, MIN_RETRY_DELAY))
                self._wake.set()

    async def sync(self) -> bool:
        """One sync now, full when one is due or the last failed; False when it failed."""
        started = time.monotonic()
        self._last_start = started
        full = self._need_full or started - self._last_full >= self.sync_period
        try:
            await self.sync_rules(full)
        except Exception as err:
            # Logged as the subclass's module, where the reader looks for its component's lines.
            logging.getLogger(type(self).__module__).error("sync failed (full=%s): %s", full, err)
            self._need_full = True
            return False
        self._need_full = False
        if full:
            self._last_full = started
        self.syncs += 1
        return True


async def run_with_informers(factory: SharedInformerFactory, loop: BoundedFrequencySync, stop: asyncio.Event,
                             name: str, synced_message: str, logger: logging.Logger = log) -> int:
    """Start the informers, start syncing once their caches are filled, and run until ``stop``
    (0) or until the loop crashes (1); the informers are shut down either way."""
    running = asyncio.get_running_loop()
    work = running.create_task(loop.run(), name=name)
    factory.start()
    try:
        waiting = running.create_task(factory.wait_for_cache_sync())
        stopper = running.create_task(stop.wait())
        await asyncio.wait({waiting, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if waiting.done():
            logger.info("%s", synced_message)
            loop.set_initialized()
            await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (waiting, stopper, work):
            task.cancel()
        await asyncio.gather(waiting, stopper, work, return_exceptions=True)
        if work.done() and not work.cancelled() and work.exception() is not None:
            logger.error("%s stopped: %r", name, work.exception())
            return 1
    finally:
        await factory.shutdown()
    return 0
