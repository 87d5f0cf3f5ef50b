"""Leader election on a real Lease: one leader at a time, and a takeover after the leader dies."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubeplane.client.leaderelection import LeaderCallbacks, LeaderElectionConfig, LeaderElector
from kubeplane.client.leaselock import LeaseLock, parse_micro_time
from kubeplane.client.resource import LEASES
from kubeplane.client.rest import Client

pytestmark = pytest.mark.integration

# Short durations keep the test quick; the ratios are upstream's (15 / 10 / 2).
CRASH = LeaderElectionConfig(lease_duration=3, renew_deadline=2, retry_period=0.4, release_on_cancel=False)
CLEAN = LeaderElectionConfig(lease_duration=3, renew_deadline=2, retry_period=0.4, release_on_cancel=True)


class Candidate:
    def __init__(self, client: Client, namespace: str, identity: str, config: LeaderElectionConfig) -> None:
        self.started = asyncio.Event()
        self.elector = LeaderElector(LeaseLock(client, namespace, "controller", identity),
                                     LeaderCallbacks(self._lead), config)
        self.task = asyncio.create_task(self.elector.run())

    async def _lead(self) -> None:
        self.started.set()
        await asyncio.Event().wait()

    async def kill(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def watch_for_two_leaders(candidates: list[Candidate], violations: list[str]) -> None:
    while True:
        leaders = [c.elector.identity for c in candidates if c.elector.is_leader()]
        if len(leaders) > 1:
            violations.append(",".join(leaders))
        await asyncio.sleep(0.02)


async def run_takeover(client: Client, namespace: str, config: LeaderElectionConfig) -> dict[str, Any]:
    a = Candidate(client, namespace, "a", config)
    await asyncio.wait_for(a.started.wait(), 10)
    b = Candidate(client, namespace, "b", config)
    violations: list[str] = []
    monitor = asyncio.create_task(watch_for_two_leaders([a, b], violations))
    try:
        await asyncio.sleep(2 * config.lease_duration)  # b keeps trying; a keeps renewing
        assert a.elector.is_leader() and not b.elector.is_leader() and b.elector.leader() == "a"
        await a.kill()
        await asyncio.wait_for(b.started.wait(), 4 * config.lease_duration)
        assert violations == []
        lease: dict[str, Any] = await client.get(LEASES, "controller", namespace)
        return lease
    finally:
        monitor.cancel()
        await b.kill()
        await a.kill()


async def test_dead_leader_is_replaced_after_the_lease_expires(client: Client, namespace: str) -> None:
    lease = await run_takeover(client, namespace, CRASH)
    spec = lease["spec"]
    assert spec["holderIdentity"] == "b" and spec["leaseDurationSeconds"] == 3
    assert spec["leaseTransitions"] == 1
    acquire, renew = parse_micro_time(spec["acquireTime"]), parse_micro_time(spec["renewTime"])
    assert acquire is not None and renew is not None and renew >= acquire


async def test_clean_stop_releases_the_lease(client: Client, namespace: str) -> None:
    lease = await run_takeover(client, namespace, CLEAN)
    assert lease["spec"]["holderIdentity"] == "b"
    assert lease["spec"]["leaseTransitions"] == 1
    # b was killed cleanly at the end of run_takeover: the Lease is released for whoever comes next.
    released = await client.get(LEASES, "controller", namespace)
    assert released["spec"]["holderIdentity"] == "" and released["spec"]["leaseDurationSeconds"] == 1
