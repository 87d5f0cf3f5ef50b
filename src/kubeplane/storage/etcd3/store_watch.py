"""The store's watcher: an optional initial state, then the KV watch's changes as WatchEvents."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from kubeplane.machinery import errors
from kubeplane.storage.etcd3.codec import bookmark, decode
from kubeplane.storage.etcd3.kv import CompactedError, KVEvent, KVWatch
from kubeplane.storage.etcd3.watch_filter import visible_event
from kubeplane.storage.interface import (
    ADDED,
    BOOKMARK,
    DELETED,
    ERROR,
    JSON,
    MODIFIED,
    Predicate,
    WatchEvent,
)

log = logging.getLogger(__name__)

INITIAL_EVENTS_END = {"k8s.io/initial-events-end": "true"}


def to_watch_event(event: KVEvent) -> WatchEvent:
    revision = event.kv.mod_revision
    # The previous object is stamped with the change's revision, as upstream does, so a DELETED
    # (or a selector-leave DELETED) carries the revision at which it happened.
    prev = decode(event.prev.value, revision) if event.prev is not None else None
    if event.deleted:
        return WatchEvent(DELETED, prev if prev is not None else bookmark(revision), prev)
    obj = decode(event.kv.value, revision)
    if event.kv.create_revision == revision:
        return WatchEvent(ADDED, obj, None)
    return WatchEvent(MODIFIED, obj, prev)


class StoreWatcher:
    def __init__(self, kv_watch: KVWatch, initial: list[JSON], initial_end_revision: int | None,
                 predicate: Predicate | None, allow_bookmarks: bool, resource_version: int) -> None:
        self._kv_watch = kv_watch
        self._initial = initial
        # When set (watch-list), the initial ADDED events end with an annotated bookmark.
        self._initial_end_revision = initial_end_revision
        self._predicate = predicate
        self._allow_bookmarks = allow_bookmarks
        self._resource_version = resource_version
        self._stopped = asyncio.Event()

    def __aiter__(self) -> AsyncIterator[WatchEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[WatchEvent]:
        try:
            for obj in self._initial:
                yield WatchEvent(ADDED, obj)
            self._initial = []
            if self._initial_end_revision is not None:
                yield WatchEvent(BOOKMARK, bookmark(self._initial_end_revision, INITIAL_EVENTS_END))
            async for event in self._changes():
                yield event
        finally:
            await self.stop()

    async def _changes(self) -> AsyncIterator[WatchEvent]:
        try:
            async for batch in self._kv_watch:
                if not batch.events:
                    if self._allow_bookmarks:
                        yield WatchEvent(BOOKMARK, bookmark(batch.revision))
                    continue
                for kv_event in batch.events:
                    visible = visible_event(to_watch_event(kv_event), self._predicate)
                    if visible is not None:
                        yield visible
        except CompactedError as e:
            message = f"too old resource version: {self._resource_version} ({e.compact_revision})"
            yield WatchEvent(ERROR, errors.resource_expired(message).to_status())
        except Exception as e:  # the stream broke: tell the client, which will re-watch
            if not self._stopped.is_set():
                log.info("etcd watch ended: %r", e)
                yield WatchEvent(ERROR, errors.internal(f"watch ended: {e}").to_status())

    async def request_progress(self) -> None:
        await self._kv_watch.request_progress()

    async def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        with contextlib.suppress(Exception):
            await self._kv_watch.close()
