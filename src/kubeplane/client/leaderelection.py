"""Leader election on a Lease, as client-go ``tools/leaderelection`` does it.

A candidate reads the Lease every ``retry_period`` (jittered). It takes the Lease when nobody
holds it or when the holder has not renewed it for ``lease_duration`` *as observed on this
candidate's own clock* (the time it last saw the record change), so clock skew between
machines does not matter. The leader renews every ``retry_period``; if it cannot renew within
``renew_deadline`` it stops leading (its work is cancelled) before anyone else can take over,
because ``renew_deadline < lease_duration``. On a clean stop (the ``run`` task cancelled) the
leader releases the Lease (empty holder, 1 s duration) so a successor need not wait.

One deviation from upstream: ``on_stopped_leading`` runs only if this candidate did lead
(upstream also calls it when the run ends before ever leading).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from kubeplane.client.clock import Clock, RealClock
from kubeplane.client.errors import ApiError, Conflict, NotFound
from kubeplane.client.leaselock import LeaderElectionRecord, ResourceLock

log = logging.getLogger(__name__)

JITTER_FACTOR = 1.2  # upstream's: each retry waits retry_period * (1 + U[0, 1.2))
RELEASE_ATTEMPTS = 3


@dataclass
class LeaderCallbacks:
    on_started_leading: Callable[[], Coroutine[Any, Any, None]]
    """Runs as a task while leading; cancelled when leadership is lost or released."""
    on_stopped_leading: Callable[[], None] | None = None
    on_new_leader: Callable[[str], None] | None = None


@dataclass(frozen=True)
class LeaderElectionConfig:
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    release_on_cancel: bool = True

    def __post_init__(self) -> None:
        if self.lease_duration <= self.renew_deadline:
            raise ValueError("lease_duration must be greater than renew_deadline")
        if self.renew_deadline <= JITTER_FACTOR * self.retry_period:
            raise ValueError("renew_deadline must be greater than retry_period * 1.2")
        if self.retry_period <= 0:
            raise ValueError("retry_period must be positive")


class LeaderElector:
    def __init__(self, lock: ResourceLock, callbacks: LeaderCallbacks,
                 config: LeaderElectionConfig | None = None, clock: Clock | None = None) -> None:
        self.lock = lock
        self.callbacks = callbacks
        self.config = config or LeaderElectionConfig()
        self.clock = clock or RealClock()
        self._observed: LeaderElectionRecord | None = None
        self._observed_raw: bytes | None = None
        self._observed_time = 0.0
        self._reported_leader = ""
        self._leading = False

    @property
    def identity(self) -> str:
        return self.lock.identity

    def is_leader(self) -> bool:
        """True from winning the Lease until this candidate stops leading."""
        return self._leading

    def leader(self) -> str:
        """The holder this candidate last observed ('' when none)."""
        return self._observed.holder_identity if self._observed else ""

    async def run(self) -> None:
        """Campaign, lead until the lease is lost, then return; cancel to stop (and release)."""
        await self._acquire()
        self._leading = True
        work = asyncio.get_running_loop().create_task(self.callbacks.on_started_leading())
        try:
            await self._renew_until_lost()
        finally:
            self._leading = False
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
            if self.config.release_on_cancel:
                await asyncio.shield(self._release())
            if self.callbacks.on_stopped_leading is not None:
                self.callbacks.on_stopped_leading()

    async def _acquire(self) -> None:
        while True:
            if await self._attempt():
                log.info("%s: acquired lease %s", self.identity, self.lock.describe())
                return
            await self.clock.sleep(self.config.retry_period * (1 + random.uniform(0, JITTER_FACTOR)))

    async def _renew_until_lost(self) -> None:
        while True:
            deadline = self.clock.now() + self.config.renew_deadline
            while not await self._attempt():
                if self.clock.now() >= deadline:
                    log.warning("%s: failed to renew lease %s within %ss", self.identity,
                                self.lock.describe(), self.config.renew_deadline)
                    return
                await self.clock.sleep(self.config.retry_period)
            await self.clock.sleep(self.config.retry_period)

    async def _attempt(self) -> bool:
        try:
            async with asyncio.timeout(self.config.renew_deadline):
                acquired = await self.try_acquire_or_renew()
        except (ApiError, OSError, TimeoutError) as err:
            log.info("%s: lease %s: %s", self.identity, self.lock.describe(), err)
            acquired = False
        self._report_transition()
        return acquired

    async def try_acquire_or_renew(self) -> bool:
        now = self.clock.now()
        wall = self.clock.wall()
        desired = LeaderElectionRecord(self.identity, int(self.config.lease_duration), wall, wall)
        try:
            current, raw = await self.lock.get()
        except NotFound:
            await self.lock.create(desired)
            self._observe(desired, None, now)
            return True

        if raw != self._observed_raw:
            self._observe(current, raw, now)
        held_by_other = current.holder_identity not in ("", self.identity)
        if held_by_other and self._observed_time + current.lease_duration_seconds > now:
            return False

        if current.holder_identity == self.identity:
            desired = desired.with_(acquire_time=current.acquire_time,
                                    leader_transitions=current.leader_transitions)
        else:
            desired = desired.with_(leader_transitions=current.leader_transitions + 1)
        await self.lock.update(desired)
        self._observe(desired, None, now)
        return True

    async def _release(self) -> None:
        if self._observed is None or self._observed.holder_identity != self.identity:
            return
        # A renewal cut off by the cancellation may still land on the server after we re-read
        # the Lease, so a Conflict here is expected now and then: read again and retry.
        for _ in range(RELEASE_ATTEMPTS):
            try:
                current, _ = await self.lock.get()
                if current.holder_identity != self.identity:
                    return
                wall = self.clock.wall()
                released = LeaderElectionRecord("", 1, wall, wall, current.leader_transitions)
                await self.lock.update(released)
                self._observe(released, None, self.clock.now())
                return
            except Conflict:
                continue
            except (ApiError, OSError) as err:
                log.warning("%s: failed to release lease %s: %s", self.identity, self.lock.describe(), err)
                return
        log.warning("%s: lease %s kept changing; not released", self.identity, self.lock.describe())

    def _observe(self, record: LeaderElectionRecord, raw: bytes | None, now: float) -> None:
        self._observed = record
        self._observed_raw = raw
        self._observed_time = now

    def _report_transition(self) -> None:
        leader = self.leader()
        if leader and leader != self._reported_leader:
            self._reported_leader = leader
            if self.callbacks.on_new_leader is not None:
                self.callbacks.on_new_leader(leader)
