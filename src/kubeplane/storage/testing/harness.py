"""Running the conformance checks against a cacher: the cache for ``<prefix>/pods/`` over a store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from kubeplane.storage.cacher import Cacher
from kubeplane.storage.interface import Storage
from kubeplane.storage.testing import conformance

Check = Callable[[Storage, str], Awaitable[None]]


async def run_against_cacher(check: Check, store: Storage, prefix: str) -> None:
    # The cache keeps more history than etcd after a compaction; a tiny buffer lets the
    # too-old check see the cacher's own 410.
    capacity = 1 if check is conformance.check_watch_too_old else 1000
    cacher = Cacher(store, f"{prefix}/pods/", capacity=capacity, bookmark_interval=0.2)
    await cacher.start()
    try:
        await check(cacher, prefix)
    finally:
        await cacher.close()
