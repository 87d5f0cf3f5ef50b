"""An in-process ``KV`` with etcd's revision semantics: one global revision counter, per-key
create/mod revisions, a history of changes for watches, and compaction."""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import AsyncIterator

from kubeplane.storage.etcd3.kv import (
    CompactedError,
    KeyValue,
    KVEvent,
    KVWatchBatch,
    RangeResult,
    WriteResult,
)
from kubeplane.storage.interface import MAX_REQUEST_BYTES, RequestTooLargeError


class MemoryKV:
    def __init__(self, progress_interval: float = 0.2) -> None:
        self._revision = 1  # etcd starts at revision 1 with an empty store
        self._compacted = 0
        self._live: dict[str, KeyValue] = {}
        self._history: list[KVEvent] = []  # ordered by revision; one event per revision
        self._watches: set[MemoryWatch] = set()
        self._progress_interval = progress_interval

    # --- reads -----------------------------------------------------------------------------------
    def _state_at(self, revision: int) -> dict[str, KeyValue]:
        """The live keys at ``revision``, rebuilt by undoing later history."""
        state = dict(self._live)
        for event in reversed(self._history):
            if event.kv.mod_revision <= revision:
                break
            if event.prev is None:
                state.pop(event.kv.key, None)
            else:
                state[event.kv.key] = event.prev
        return state

    async def range(self, start: str, end: str, revision: int = 0, limit: int = 0) -> RangeResult:
        if revision and revision < self._compacted:
            raise CompactedError(self._compacted, revision)
        at = revision or self._revision
        state = self._live if at == self._revision else self._state_at(at)
        keys = sorted(k for k in state if start <= k < end)
        selected = keys[:limit] if limit else keys
        return RangeResult([state[k] for k in selected], at, len(keys), len(selected) < len(keys))

    async def current_revision(self) -> int:
        return self._revision

    # --- writes ----------------------------------------------------------------------------------
    def _commit(self, key: str, value: bytes | None) -> int:
        self._revision += 1
        prev = self._live.get(key)
        if value is None:
            assert prev is not None
            del self._live[key]
            event = KVEvent(True, KeyValue(key, b"", prev.create_revision, self._revision), prev)
        else:
            created = prev.create_revision if prev else self._revision
            kv = KeyValue(key, value, created, self._revision)
            self._live[key] = kv
            event = KVEvent(False, kv, prev)
        self._history.append(event)
        for watch in list(self._watches):
            watch.offer(event)
        return self._revision

    @staticmethod
    def _check_size(key: str, value: bytes) -> None:
        if len(value) > MAX_REQUEST_BYTES:
            raise RequestTooLargeError(key, "etcdserver: request is too large")

    async def create(self, key: str, value: bytes, ttl: int = 0) -> WriteResult:
        # TTLs are not modelled: unit tests never wait for an expiry.
        self._check_size(key, value)
        current = self._live.get(key)
        if current is not None:
            return WriteResult(False, self._revision, current)
        return WriteResult(True, self._commit(key, value))

    async def put_if(self, key: str, value: bytes, mod_revision: int) -> WriteResult:
        self._check_size(key, value)
        current = self._live.get(key)
        if current is None or current.mod_revision != mod_revision:
            return WriteResult(False, self._revision, current)
        return WriteResult(True, self._commit(key, value))

    async def delete_if(self, key: str, mod_revision: int) -> WriteResult:
        current = self._live.get(key)
        if current is None or current.mod_revision != mod_revision:
            return WriteResult(False, self._revision, current)
        return WriteResult(True, self._commit(key, None))

    async def compact(self, revision: int) -> None:
        revision = min(revision, self._revision)
        if revision <= self._compacted:
            return
        self._compacted = revision
        # etcd keeps the compaction revision itself readable and watchable.
        cut = bisect.bisect_left([e.kv.mod_revision for e in self._history], revision)
        del self._history[:cut]

    # --- watch -----------------------------------------------------------------------------------
    async def watch(self, start: str, end: str, start_revision: int, progress_notify: bool) -> MemoryWatch:
        if start_revision and start_revision < self._compacted:
            raise CompactedError(self._compacted, start_revision)
        watch = MemoryWatch(self, start, end, progress_notify)
        from_revision = start_revision or self._revision + 1
        for event in self._history:
            if event.kv.mod_revision >= from_revision:
                watch.offer(event)
        self._watches.add(watch)
        return watch

    def _forget(self, watch: MemoryWatch) -> None:
        self._watches.discard(watch)

    async def close(self) -> None:
        for watch in list(self._watches):
            await watch.close()


class MemoryWatch:
    def __init__(self, kv: MemoryKV, start: str, end: str, progress_notify: bool) -> None:
        self._kv = kv
        self._start, self._end = start, end
        self._progress_notify = progress_notify
        self._queue: asyncio.Queue[KVWatchBatch | None] = asyncio.Queue()

    def offer(self, event: KVEvent) -> None:
        if self._start <= event.kv.key < self._end:
            self._queue.put_nowait(KVWatchBatch([event], event.kv.mod_revision))

    async def request_progress(self) -> None:
        self._queue.put_nowait(KVWatchBatch([], self._kv._revision))

    def __aiter__(self) -> AsyncIterator[KVWatchBatch]:
        return self._batches()

    async def _batches(self) -> AsyncIterator[KVWatchBatch]:
        timeout = self._kv._progress_interval if self._progress_notify else None
        while True:
            try:
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation.
                async with asyncio.timeout(timeout):
                    batch = await self._queue.get()
            except TimeoutError:
                # Like etcd's progress notifications: tell an idle watcher how far the store got.
                yield KVWatchBatch([], self._kv._revision)
                continue
            if batch is None:
                return
            yield batch

    async def close(self) -> None:
        self._kv._forget(self)
        self._queue.put_nowait(None)
