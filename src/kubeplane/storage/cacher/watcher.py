"""One client's watch on the cache: initial events, then a bounded queue fed by the cacher.

A watcher that falls ``queue_size`` events behind is terminated (its iteration ends after what it
already has) so one slow client never blocks the fan-out to the others; the client re-watches
from its last resourceVersion, as with upstream's cacher."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from kubeplane.storage.etcd3.watch_filter import visible_event
from kubeplane.storage.interface import BOOKMARK, Predicate, WatchEvent


class CacheWatcher:
    def __init__(self, initial: list[WatchEvent], predicate: Predicate | None, allow_bookmarks: bool,
                 queue_size: int, on_stop: Callable[[CacheWatcher], None], after: int = 0) -> None:
        """``after``: a watch from a resourceVersion the cache has not reached yet sees only what
        comes after it."""
        self._initial = initial
        self._after = after
        self._predicate = predicate
        self.allow_bookmarks = allow_bookmarks
        self._queue: asyncio.Queue[WatchEvent | None] = asyncio.Queue(maxsize=queue_size)
        self._on_stop = on_stop
        self._terminated = False

    def offer(self, event: WatchEvent) -> None:
        """Called by the cacher for every change (and bookmark); never blocks."""
        if self._terminated:
            return
        if self._after:
            revision = int(event.object.get("metadata", {}).get("resourceVersion") or 0)
            if revision < self._after or (revision == self._after and event.type != BOOKMARK):
                return  # a bookmark at the watch's own version may go: it says "nothing newer yet"
            self._after = 0  # revisions only grow: everything from here on is newer
        visible = visible_event(event, self._predicate)
        if visible is None:
            return
        try:
            self._queue.put_nowait(visible)
        except asyncio.QueueFull:
            self.terminate()

    def terminate(self) -> None:
        if self._terminated:
            return
        self._terminated = True
        self._on_stop(self)
        if not self._queue.full():
            self._queue.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[WatchEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[WatchEvent]:
        try:
            for event in self._initial:
                yield event
            self._initial = []
            while True:
                if self._terminated and self._queue.empty():
                    return
                queued = await self._queue.get()
                if queued is None:
                    return
                yield queued
        finally:
            self.terminate()

    async def stop(self) -> None:
        self.terminate()
