from __future__ import annotations

import asyncio

from kubeplane.storage.cacher import Cacher
from kubeplane.storage.interface import WatchOptions
from kubeplane.storage.memory import MemoryStorage
from kubeplane.storage.testing.conformance import pod, rv


async def test_slow_watcher_is_terminated_without_blocking_others() -> None:
    store = MemoryStorage()
    cacher = Cacher(store, "/registry/pods/", queue_size=5)
    await cacher.start()
    try:
        start = str(await store.current_revision())
        slow = await cacher.watch("/registry/pods/", WatchOptions(resource_version=start))
        fast = await cacher.watch("/registry/pods/", WatchOptions(resource_version=start))
        fast_events = aiter(fast)
        last = None
        for i in range(20):
            last = await store.create(f"/registry/pods/default/p{i}", pod(f"p{i}"))
            async with asyncio.timeout(5):
                event = await anext(fast_events)
            assert event.object["metadata"]["name"] == f"p{i}"
        assert last is not None and rv(event.object) == rv(last)
        # The slow watcher got what fitted in its queue, then its iteration ended.
        received = [e.object["metadata"]["name"] async for e in slow]
        assert received == [f"p{i}" for i in range(5)]
        await fast.stop()
    finally:
        await cacher.close()
        await store.close()
