"""Leader election logic with a fake clock and an in-memory lock (the real Lease is an integration test)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from kubeplane.client.clock import FakeClock
from kubeplane.client.errors import AlreadyExists, Conflict, NotFound
from kubeplane.client.leaderelection import LeaderCallbacks, LeaderElectionConfig, LeaderElector
from kubeplane.client.leaselock import LeaderElectionRecord, record_from_lease_spec, record_to_lease_spec

CONFIG = LeaderElectionConfig(lease_duration=15, renew_deadline=10, retry_period=2, release_on_cancel=False)


@dataclass
class SharedLease:
    record: LeaderElectionRecord | None = None
    version: int = 0


@dataclass
class MemoryLock:
    lease: SharedLease
    identity: str
    unreachable: bool = False
    _seen: int = -1

    async def get(self) -> tuple[LeaderElectionRecord, bytes]:
        self._check()
        if self.lease.record is None:
            raise NotFound(404, "NotFound", "lease not found")
        self._seen = self.lease.version
        return self.lease.record, str(self.lease.version).encode()

    async def create(self, record: LeaderElectionRecord) -> None:
        self._check()
        if self.lease.record is not None:
            raise AlreadyExists(409, "AlreadyExists", "exists")
        self._write(record)

    async def update(self, record: LeaderElectionRecord) -> None:
        self._check()
        if self._seen != self.lease.version:
            raise Conflict(409, "Conflict", "the object has been modified")
        self._write(record)

    def describe(self) -> str:
        return "memory"

    def _check(self) -> None:
        if self.unreachable:
            raise ConnectionRefusedError("API server unreachable")

    def _write(self, record: LeaderElectionRecord) -> None:
        self.lease.version += 1
        self.lease.record = record
        self._seen = self.lease.version


@dataclass
class Candidate:
    elector: LeaderElector
    lock: MemoryLock
    task: asyncio.Task[None]
    log: list[str] = field(default_factory=list)


def candidate(lease: SharedLease, clock: FakeClock, name: str,
              config: LeaderElectionConfig = CONFIG) -> Candidate:
    log: list[str] = []

    async def lead() -> None:
        log.append("started")
        try:
            await asyncio.Event().wait()
        finally:
            log.append("work cancelled")

    lock = MemoryLock(lease, name)
    elector = LeaderElector(lock, LeaderCallbacks(lead, lambda: log.append("stopped"),
                                                  lambda who: log.append(f"leader {who}")), config, clock)
    task = asyncio.get_running_loop().create_task(elector.run())
    return Candidate(elector, lock, task, log)


async def advance(clock: FakeClock, seconds: float, *candidates: Candidate) -> None:
    """Move time in small steps, checking at every step that no two candidates lead."""
    for _ in range(int(seconds * 4)):
        await clock.advance(0.25)
        assert sum(c.elector.is_leader() for c in candidates) <= 1


async def stop(*candidates: Candidate) -> None:
    for c in candidates:
        c.task.cancel()
    await asyncio.gather(*(c.task for c in candidates), return_exceptions=True)


async def test_first_candidate_creates_the_lease_and_leads() -> None:
    clock, lease = FakeClock(), SharedLease()
    a = candidate(lease, clock, "a")
    await advance(clock, 1, a)
    assert a.elector.is_leader() and a.log == ["leader a", "started"]
    assert lease.record is not None
    assert lease.record.holder_identity == "a" and lease.record.lease_duration_seconds == 15
    assert lease.record.leader_transitions == 0
    first_renew = lease.record.renew_time
    await advance(clock, 5, a)
    assert lease.record.renew_time is not None and first_renew is not None
    assert lease.record.renew_time > first_renew
    assert lease.record.acquire_time == first_renew  # kept across renewals
    await stop(a)


async def test_killed_leader_is_replaced_only_after_the_lease_expires() -> None:
    clock, lease = FakeClock(), SharedLease()
    a = candidate(lease, clock, "a")
    await advance(clock, 1, a)
    b = candidate(lease, clock, "b")
    await advance(clock, 30, a, b)
    assert a.elector.is_leader() and not b.elector.is_leader()
    assert b.elector.leader() == "a" and b.log == ["leader a"]

    await stop(a)  # a crash: no release (release_on_cancel=False)
    await advance(clock, CONFIG.lease_duration - CONFIG.retry_period - 0.5, b)
    assert not b.elector.is_leader()
    await advance(clock, CONFIG.retry_period + 0.5 + 2 * 2 * 2.2, b)
    assert b.elector.is_leader() and "started" in b.log
    assert lease.record is not None and lease.record.holder_identity == "b"
    assert lease.record.leader_transitions == 1
    await stop(b)


async def test_leader_that_cannot_renew_steps_down_before_anyone_takes_over() -> None:
    clock, lease = FakeClock(), SharedLease()
    a = candidate(lease, clock, "a")
    await advance(clock, 1, a)
    b = candidate(lease, clock, "b")
    await advance(clock, 5, a, b)
    a.lock.unreachable = True
    await advance(clock, CONFIG.renew_deadline + CONFIG.retry_period + 0.5, a, b)
    assert not a.elector.is_leader()
    assert a.log[-2:] == ["work cancelled", "stopped"]
    assert a.task.done()
    await advance(clock, CONFIG.lease_duration, a, b)
    assert b.elector.is_leader()
    await stop(b)


async def test_release_on_cancel_lets_a_successor_in_at_once() -> None:
    config = LeaderElectionConfig(lease_duration=15, renew_deadline=10, retry_period=2, release_on_cancel=True)
    clock, lease = FakeClock(), SharedLease()
    a = candidate(lease, clock, "a", config)
    await advance(clock, 1, a)
    b = candidate(lease, clock, "b", config)
    await advance(clock, 3, a, b)
    await stop(a)
    assert lease.record is not None
    assert lease.record.holder_identity == "" and lease.record.lease_duration_seconds == 1
    assert a.log[-1] == "stopped"
    await advance(clock, 2 * 2.2 + 1.5, b)
    assert b.elector.is_leader()
    await stop(b)


def test_config_checks_durations_like_upstream() -> None:
    with pytest.raises(ValueError):
        LeaderElectionConfig(lease_duration=10, renew_deadline=10)
    with pytest.raises(ValueError):
        LeaderElectionConfig(lease_duration=15, renew_deadline=2, retry_period=2)


def test_lease_spec_round_trips_micro_time() -> None:
    record = LeaderElectionRecord("me", 15, None, None, 3)
    clock = FakeClock()
    record = record.with_(acquire_time=clock.wall(), renew_time=clock.wall())
    spec = record_to_lease_spec(record)
    assert spec["renewTime"] == "2026-01-01T00:00:00.000000Z"
    assert spec["leaseTransitions"] == 3 and spec["holderIdentity"] == "me"
    assert record_from_lease_spec(spec) == record


async def test_release_retries_when_a_cut_off_renewal_lands_first() -> None:
    config = LeaderElectionConfig(lease_duration=15, renew_deadline=10, retry_period=2, release_on_cancel=True)
    clock, lease = FakeClock(), SharedLease()
    a = candidate(lease, clock, "a", config)
    await advance(clock, 1, a)
    # What a renewal sent just before the cancel looks like: the Lease changed behind a's back.
    assert lease.record is not None
    lease.record = lease.record.with_(renew_time=clock.wall())
    lease.version += 1
    await stop(a)
    assert lease.record.holder_identity == ""
