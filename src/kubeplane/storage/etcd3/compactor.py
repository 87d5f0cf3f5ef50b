"""Background compaction, as kube-apiserver does: every ``interval`` compact to the revision seen
one interval earlier, so at least ``interval`` of history stays available to watches and
continue tokens."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from kubeplane.storage.etcd3.kv import KV

log = logging.getLogger(__name__)

DEFAULT_COMPACTION_INTERVAL = 300.0


class Compactor:
    def __init__(self, kv: KV, interval: float = DEFAULT_COMPACTION_INTERVAL) -> None:
        self._kv = kv
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="etcd-compactor")

    async def _run(self) -> None:
        previous = 0
        while True:
            await asyncio.sleep(self._interval)
            try:
                current = await self._kv.current_revision()
                if previous:
                    await self._kv.compact(previous)
                    log.info("compacted etcd to revision %d", previous)
                previous = current
            except Exception as e:  # etcd briefly away: try again next tick
                log.warning("etcd compaction failed: %r", e)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
