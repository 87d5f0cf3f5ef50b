"""Service IP and NodePort bitmaps: no double allocation, release, and leak repair."""

from __future__ import annotations

import asyncio

import pytest

from kubeplane.apiserver.registry.allocator import (
    AlreadyAllocatedError,
    NodePortAllocator,
    OutOfRangeError,
    RangeFullError,
    ServiceIPAllocator,
)
from kubeplane.storage.memory import MemoryStorage


async def test_concurrent_allocations_never_collide_and_release_frees() -> None:
    ips = ServiceIPAllocator(MemoryStorage(), "/ranges/serviceips", "198.19.0.0/28")
    got = await asyncio.gather(*(ips.allocate() for _ in range(14)))
    assert len(set(got)) == 14  # every usable address of a /28, none twice
    with pytest.raises(RangeFullError):
        await ips.allocate()
    await ips.release(got[0])
    assert await ips.allocate() == got[0]


async def test_specific_addresses_and_ports_are_checked() -> None:
    storage = MemoryStorage()
    ips = ServiceIPAllocator(storage, "/ranges/serviceips", "198.19.0.0/16")
    assert await ips.allocate("198.19.0.1") == "198.19.0.1"
    with pytest.raises(AlreadyAllocatedError):
        await ips.allocate("198.19.0.1")
    with pytest.raises(OutOfRangeError):
        await ips.allocate("10.0.0.1")
    ports = NodePortAllocator(storage, "/ranges/nodeports", 30000, 2768)
    assert await ports.allocate(30080) == 30080
    with pytest.raises(AlreadyAllocatedError):
        await ports.allocate(30080)
    with pytest.raises(OutOfRangeError):
        await ports.allocate(80)


async def test_repair_frees_a_leak_only_on_the_second_pass() -> None:
    ips = ServiceIPAllocator(MemoryStorage(), "/ranges/serviceips", "198.19.0.0/24")
    used = await ips.allocate()
    leaked = await ips.allocate()  # allocated, but its Service never got written
    in_use = {ips.offset(used)}
    assert await ips.range.repair(in_use) == set()  # maybe a create in flight: keep it
    assert await ips.range.repair(in_use) == {ips.offset(leaked)}
    assert await ips.allocate(leaked) == leaked  # free again
    with pytest.raises(AlreadyAllocatedError):
        await ips.allocate(used)
