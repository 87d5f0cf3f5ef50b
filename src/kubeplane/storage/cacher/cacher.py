"""The watch cache for one resource prefix (e.g. ``/registry/pods/``), decorating a store.

One store watch feeds the current state and a ring buffer of recent events. The current state
keeps each object encoded (the bytes a list response is made of) beside a small projection holding
only what label and field selectors read, so a LIST is a filter plus a concatenation and a cached
object costs about its JSON size (upstream's cacher likewise keeps an object's labels and fields
beside it for filtering).
Writes and consistent or paginated reads go to the store; ``"0"``/``"N"`` reads and every watch
are served from memory. The cache follows the store's revision through events and progress
notifications (bookmarks), re-watches from its last revision when the store watch breaks, and
relists (terminating its watchers, who re-watch) when that revision has been compacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from kubeplane.storage.cacher.watcher import CacheWatcher
from kubeplane.storage.etcd3.codec import bookmark, resource_version_of
from kubeplane.storage.etcd3.keys import parse_resource_version
from kubeplane.storage.etcd3.store_watch import INITIAL_EVENTS_END
from kubeplane.storage.etcd3.watch_filter import visible_event
from kubeplane.storage.interface import (
    ADDED,
    BOOKMARK,
    DELETED,
    ERROR,
    JSON,
    MATCH_EXACT,
    MODIFIED,
    EncodedObject,
    KeyNotFoundError,
    ListOptions,
    ListResult,
    Preconditions,
    Predicate,
    ResourceExpiredError,
    Storage,
    TooLargeResourceVersionError,
    UpdateFunc,
    Watcher,
    WatchEvent,
    WatchOptions,
)

log = logging.getLogger(__name__)

# How long a read asking for "at least N" waits for the cache to catch up (upstream: 3 s).
FRESHNESS_WAIT = 3.0


def namespaced_key(prefix: str, obj: JSON) -> str:
    """Upstream's key layout: ``<prefix><namespace>/<name>``, or ``<prefix><name>`` if cluster-scoped."""
    metadata = obj.get("metadata", {})
    namespace = metadata.get("namespace")
    return f"{prefix}{namespace}/{metadata['name']}" if namespace else f"{prefix}{metadata['name']}"


def compact(obj: JSON) -> JSON:
    """Keep ``metadata.managedFields`` of a buffered event's object as encoded JSON (an orjson
    Fragment): the cache only ever writes managed fields out, and as dicts they double an object's
    footprint. Responses are encoded with orjson, which copies fragments verbatim."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        managed = meta.get("managedFields")
        if isinstance(managed, list):
            meta["managedFields"] = orjson.Fragment(orjson.dumps(managed))
    return obj


def _whole(obj: JSON) -> JSON:
    return obj


@dataclass(slots=True)
class _Entry:
    """A cached object: encoded, plus the projection selectors are evaluated on."""

    encoded: EncodedObject
    selectable: JSON


@dataclass(slots=True)
class _Buffered:
    """A past change, kept as cache entries (shared with the current state while they are current)
    rather than as event objects, so a long history costs encoded bytes, not object graphs."""

    revision: int
    type: str
    current: _Entry
    previous: _Entry | None

    def replay(self, predicate: Predicate | None) -> WatchEvent | None:
        """The event a watcher with ``predicate`` sees for this change, decided on the projections."""
        previous = self.previous
        probe = visible_event(WatchEvent(self.type, self.current.selectable,
                                         previous.selectable if previous else None), predicate)
        if probe is None:
            return None
        before = previous.encoded.decode() if previous is not None else None
        if before is not None:
            # As from the store: the previous state is stamped with the change's revision.
            before["metadata"]["resourceVersion"] = str(self.revision)
        if probe.type == DELETED and self.type == MODIFIED and before is not None:
            return WatchEvent(DELETED, before, before)  # moved out of the selector
        return WatchEvent(probe.type, self.current.encoded.decode(), before)


class Cacher:
    def __init__(self, store: Storage, prefix: str, capacity: int = 1000, bookmark_interval: float = 60.0,
                 queue_size: int = 1000, key_func: Callable[[str, JSON], str] = namespaced_key,
                 projection: Callable[[JSON], JSON] | None = None) -> None:
        """``projection`` returns the part of an object that list predicates read (None: the
        whole object); see ``machinery.fields.selectable_projection``."""
        self.store = store
        self.prefix = prefix
        self._key_func = key_func
        self._projection = projection or _whole
        self._bookmark_interval = bookmark_interval
        self._queue_size = queue_size
        self._objects: dict[str, _Entry] = {}
        self._events: deque[_Buffered] = deque(maxlen=capacity)
        self._revision = 0
        self._oldest = 0  # watches from any revision >= this can be replayed from the buffer
        self._watchers: set[CacheWatcher] = set()
        self._progressed = asyncio.Condition()
        self._ready = asyncio.Event()
        self._source: Any = None  # the store watcher currently feeding the cache
        self._tasks: list[asyncio.Task[None]] = []

    # --- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._reflect(), name=f"cacher {self.prefix}"),
                       loop.create_task(self._send_bookmarks(), name=f"cacher bookmarks {self.prefix}")]
        await self._ready.wait()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for watcher in list(self._watchers):
            watcher.terminate()

    # --- feeding the cache -----------------------------------------------------------------------
    async def _reflect(self) -> None:
        relist = True
        while True:
            try:
                if relist:
                    opts = WatchOptions(resource_version="", send_initial_events=True, allow_bookmarks=True)
                else:
                    opts = WatchOptions(resource_version=str(self._revision), allow_bookmarks=True)
                source = await self.store.watch(self.prefix, opts)
                self._source = source
                try:
                    relist = await self._consume(source, relist)
                finally:
                    self._source = None
                    await source.stop()
            except ResourceExpiredError:
                relist = True
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("watch cache %s: store watch failed: %r", self.prefix, e)
            await asyncio.sleep(0.2)  # do not spin against a store that is away

    async def _consume(self, source: Watcher, listing: bool) -> bool:
        """Apply the store watch's events; return whether the next watch must relist."""
        staged: dict[str, _Entry] = {}
        async for event in source:
            if listing:
                if event.type == ADDED:
                    staged[self._key_func(self.prefix, event.object)] = self._entry(event.object)
                    continue
                if event.type == BOOKMARK and event.object["metadata"].get("annotations") == INITIAL_EVENTS_END:
                    self._replace(staged, resource_version_of(event.object))
                    listing = False
                    continue
            if event.type == ERROR:
                return event.object.get("code") == 410
            if event.type == BOOKMARK:
                await self._advance(resource_version_of(event.object))
            else:
                self._apply(event)
                await self._advance(resource_version_of(event.object))
        return False

    def _entry(self, obj: JSON) -> _Entry:
        return _Entry(EncodedObject.encode(obj), self._projection(obj))

    def _replace(self, objects: dict[str, _Entry], revision: int) -> None:
        # Watchers cannot be told which changes they missed across a relist: end them so they
        # re-watch (and get 410 and relist themselves if their revision is gone).
        for watcher in list(self._watchers):
            watcher.terminate()
        self._objects = objects
        self._events.clear()
        self._revision = self._oldest = revision
        self._ready.set()

    def _apply(self, event: WatchEvent) -> None:
        compact(event.object)
        key = self._key_func(self.prefix, event.object)
        entry = self._entry(event.object)
        previous = self._objects.get(key)
        if previous is None and event.prev_object is not None:
            previous = self._entry(event.prev_object)
        if event.type == DELETED:
            self._objects.pop(key, None)
        else:
            self._objects[key] = entry
        revision = resource_version_of(event.object)
        if len(self._events) == self._events.maxlen:
            self._oldest = self._events[0].revision
        self._events.append(_Buffered(revision, event.type, entry, previous if event.type != ADDED else None))
        for watcher in list(self._watchers):
            watcher.offer(event)

    async def _advance(self, revision: int) -> None:
        if revision > self._revision:
            self._revision = revision
        async with self._progressed:
            self._progressed.notify_all()

    async def _send_bookmarks(self) -> None:
        while True:
            await asyncio.sleep(self._bookmark_interval)
            if self._ready.is_set():
                event = WatchEvent(BOOKMARK, bookmark(self._revision))
                for watcher in list(self._watchers):
                    if watcher.allow_bookmarks:
                        watcher.offer(event)

    async def _wait_for(self, revision: int, key: str) -> None:
        """Wait (up to FRESHNESS_WAIT) until the cache has seen ``revision``."""
        await self._ready.wait()
        if self._revision >= revision:
            return
        source = self._source
        if source is not None and hasattr(source, "request_progress"):
            await source.request_progress()
        try:
            async with asyncio.timeout(FRESHNESS_WAIT), self._progressed:
                await self._progressed.wait_for(lambda: self._revision >= revision)
        except TimeoutError:
            raise TooLargeResourceVersionError(key, revision, self._revision) from None

    def _owns(self, key: str) -> bool:
        return key.startswith(self.prefix)

    # --- reads -----------------------------------------------------------------------------------
    async def get(self, key: str, resource_version: str = "", ignore_not_found: bool = False) -> JSON | None:
        if resource_version == "" or not self._owns(key):
            return await self.store.get(key, resource_version, ignore_not_found)
        requested = parse_resource_version(resource_version)
        await self._wait_for(requested, key)
        entry = self._objects.get(key)
        if entry is None and requested > 0:
            # etcd before 3.4.25 may send a progress notification ahead of events still queued for
            # this watch, so "the cache reached N" can precede the event that wrote the key at N.
            # A miss is therefore confirmed against the store, whose current state is >= N.
            return await self.store.get(key, "", ignore_not_found)
        if entry is None:
            if not ignore_not_found:
                raise KeyNotFoundError(key)
            return None
        return entry.encoded.decode()

    async def get_list(self, prefix: str, opts: ListOptions) -> ListResult:
        rv = opts.resource_version
        delegate = (not prefix.startswith(self.prefix) or rv == "" or opts.continue_token
                    or opts.resource_version_match == MATCH_EXACT or (opts.limit and rv != "0"))
        if delegate:
            return await self.store.get_list(prefix, opts)
        await self._wait_for(parse_resource_version(rv), prefix)
        # As upstream, a list from the cache ignores ``limit``: it returns everything at once.
        entries = [self._objects[key] for key in sorted(self._objects) if key.startswith(prefix)]
        predicate = opts.predicate
        if predicate is not None:
            entries = [entry for entry in entries if predicate(entry.selectable)]
        return ListResult(None, self._revision, encoded=[entry.encoded for entry in entries])

    async def watch(self, prefix: str, opts: WatchOptions) -> Watcher:
        if not prefix.startswith(self.prefix):
            return await self.store.watch(prefix, opts)
        requested = parse_resource_version(opts.resource_version)
        if 0 < requested < self._oldest and opts.send_initial_events is not True:
            # Older than the cache's window (e.g. a watch carried over an API server restart):
            # the store still has that history unless it was compacted, so serve the watch from it
            # rather than sending the client back to relist; the store raises 410 if it is gone.
            return await self.store.watch(prefix, opts)
        send_initial = opts.send_initial_events is True or (opts.send_initial_events is None and requested == 0)
        predicate = self._scoped(opts.predicate, prefix)
        if not send_initial and requested > self._revision and requested > await self.store.current_revision():
            # A resourceVersion not reached yet (not merely one this cache is catching up to):
            # upstream waits only for watch-lists; a plain watch is established at once and sees
            # the changes after that version. No await from here on: whatever the cache applied
            # while the store was asked is replayed, the rest is offered.
            replay = (b.replay(predicate) for b in self._events if b.revision > requested)
            watcher = CacheWatcher([event for event in replay if event is not None], predicate, opts.allow_bookmarks,
                                   self._queue_size, self._watchers.discard, after=requested)
            self._watchers.add(watcher)
            return watcher
        if opts.resource_version == "":
            # A consistent start: wait until the cache holds at least the store's current revision.
            await self._wait_for(await self.store.current_revision(), prefix)
        else:
            await self._wait_for(requested, prefix)

        # No await from here on: the snapshot and the registration see the same revision.
        initial: list[WatchEvent] = []
        if send_initial:
            initial = [WatchEvent(ADDED, entry.encoded.decode()) for key, entry in sorted(self._objects.items())
                       if predicate is None or predicate(entry.selectable)]
            if opts.send_initial_events is True and opts.allow_bookmarks:
                initial.append(WatchEvent(BOOKMARK, bookmark(self._revision, INITIAL_EVENTS_END)))
        else:
            start = requested or self._revision
            if start < self._oldest:
                raise ResourceExpiredError(prefix, f"too old resource version: {start} ({self._oldest})")
            replay = (b.replay(predicate) for b in self._events if b.revision > start)
            initial = [event for event in replay if event is not None]
        watcher = CacheWatcher(initial, predicate, opts.allow_bookmarks, self._queue_size, self._watchers.discard)
        self._watchers.add(watcher)
        return watcher

    def _scoped(self, predicate: Predicate | None, prefix: str) -> Predicate | None:
        """The watcher's filter: its predicate, plus its sub-prefix (e.g. one namespace). It runs on
        whole objects and on projections alike: both carry the name and namespace."""
        if prefix == self.prefix:
            return predicate

        def in_prefix(obj: JSON) -> bool:
            return self._key_func(self.prefix, obj).startswith(prefix) and (predicate is None or predicate(obj))
        return in_prefix

    # --- pass-through ----------------------------------------------------------------------------
    async def create(self, key: str, obj: JSON, ttl: int = 0) -> JSON:
        return await self.store.create(key, obj, ttl)

    async def guaranteed_update(self, key: str, update: UpdateFunc, preconditions: Preconditions | None = None,
                                ignore_not_found: bool = False) -> JSON:
        return await self.store.guaranteed_update(key, update, preconditions, ignore_not_found)

    async def delete(self, key: str, preconditions: Preconditions | None = None,
                     validate: Callable[[JSON], Awaitable[None]] | None = None) -> JSON:
        return await self.store.delete(key, preconditions, validate)

    async def current_revision(self) -> int:
        return await self.store.current_revision()

    async def count(self, prefix: str) -> int:
        return await self.store.count(prefix)

    async def compact(self, revision: int) -> None:
        compact = getattr(self.store, "compact", None)
        if compact is not None:
            await compact(revision)

