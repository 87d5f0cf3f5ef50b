"""Informers: a local cache of one resource kept current by list + watch (client-go ``tools/cache``).

The reflector loop lists (paginated, a consistent read), then watches from the list's
resourceVersion with bookmarks so the version it resumes from stays recent. When the server
says the version is gone (HTTP 410 Expired at the start, or an ``ERROR`` event in the stream)
it relists, and objects that vanished meanwhile are reported as deletes carrying a
``DeletedFinalStateUnknown`` tombstone. Other failures back off and re-watch from the last
version seen. Every ``resync_period`` the handlers get ``on_update(obj, obj)`` for every cached
object, so level-driven controllers revisit everything now and then.

Handlers run on the informer's task, in order, and must only enqueue work (a key into a work
queue): a handler that blocks or raises would hold up (or be cut off from) every other handler.
Exceptions are logged and swallowed for that reason.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubeplane.client.backoff import Backoff
from kubeplane.client.clock import Clock, RealClock
from kubeplane.client.errors import Gone, error_from_status
from kubeplane.client.indexer import (
    NAMESPACE_INDEX,
    DeletedFinalStateUnknown,
    Indexer,
    IndexFunc,
    index_by_namespace,
)
from kubeplane.client.resource import Resource
from kubeplane.client.rest import ADDED, BOOKMARK, DELETED, ERROR, MODIFIED, Client, WatchEvent

log = logging.getLogger(__name__)

JSON = dict[str, Any]

# Upstream's reflector asks for watches lasting a random time in [5 min, 10 min) so that many
# informers do not reconnect together.
MIN_WATCH_TIMEOUT = 300


@dataclass
class EventHandlers:
    """Callbacks for cache changes; each must only enqueue (see the module docstring)."""

    on_add: Callable[[JSON], None] | None = None
    on_update: Callable[[JSON, JSON], None] | None = None
    on_delete: Callable[[JSON | DeletedFinalStateUnknown], None] | None = None


def _resource_version(obj: JSON) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


class Informer:
    def __init__(self, client: Client, resource: Resource, namespace: str | None = None,
                 label_selector: str | None = None, field_selector: str | None = None,
                 resync_period: float = 0.0, indexers: dict[str, IndexFunc] | None = None,
                 page_size: int = 500, clock: Clock | None = None,
                 watch_timeout: int = MIN_WATCH_TIMEOUT) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync_period = resync_period
        self.page_size = page_size
        self.clock = clock or RealClock()
        self.watch_timeout = watch_timeout
        self.indexer = Indexer({NAMESPACE_INDEX: index_by_namespace, **(indexers or {})})
        self.last_sync_resource_version = ""
        self.relists = 0  # how many lists ran (the first included): observable for tests and metrics
        self._handlers: list[EventHandlers] = []
        self._synced = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # -- the cache, read-only for callers ------------------------------------------------------

    def get(self, name: str, namespace: str | None = None) -> JSON | None:
        return self.indexer.get(f"{namespace}/{name}" if namespace else name)

    def list(self, namespace: str | None = None) -> list[JSON]:
        return self.indexer.by_index(NAMESPACE_INDEX, namespace) if namespace else self.indexer.list()

    def by_index(self, index_name: str, value: str) -> builtins.list[JSON]:
        return self.indexer.by_index(index_name, value)

    # -- handlers and lifecycle -----------------------------------------------------------------

    def add_event_handler(self, handlers: EventHandlers) -> None:
        """Register handlers; a late registration first gets an add for every cached object."""
        self._handlers.append(handlers)
        if handlers.on_add is not None:
            for obj in self.indexer.list():
                self._call(handlers.on_add, obj)

    def add_indexers(self, indexers: dict[str, IndexFunc]) -> None:
        self.indexer.add_indexers(indexers)

    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_for_sync(self) -> None:
        await self._synced.wait()

    def start(self) -> None:
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self.run(), name=f"informer {self.resource}"))
        if self.resync_period > 0:
            self._tasks.append(loop.create_task(self._resync_forever(), name=f"resync {self.resource}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def run(self) -> None:
        backoff = Backoff(initial=0.8, maximum=30.0, jitter=1.0)
        # Started again after stop(): resume the watch from the last version seen (a 410 then
        # brings the cache up to date by relisting) instead of listing everything again.
        must_list = not self.last_sync_resource_version
        while True:
            try:
                if must_list:
                    await self._list_and_replace()
                    must_list = False
                await self._watch()
                backoff.reset()
                continue  # the server ended the watch (its timeout): resume from the last version
            except Gone as err:
                log.info("informer %s: %s; relisting", self.resource, err)
                must_list = True
                continue
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.warning("informer %s: %r; retrying", self.resource, err)
            await self.clock.sleep(backoff.next_delay())

    # -- reflector ------------------------------------------------------------------------------

    async def _list_and_replace(self) -> None:
        items, resource_version = await self.client.list_all(
            self.resource, self.namespace, self.label_selector, self.field_selector, self.page_size)
        self.relists += 1
        previous = self.indexer.snapshot()
        self.indexer.replace(items)
        for obj in items:
            old = previous.pop(self.indexer.key_func(obj), None)
            if old is None:
                self._dispatch_add(obj)
            else:
                self._dispatch_update(old, obj)
        for key, gone in previous.items():
            # The DELETED event fell into the gap the relist covers: tell handlers it is gone,
            # with the last state we knew marked as possibly stale.
            self._dispatch_delete(DeletedFinalStateUnknown(key, gone))
        self.last_sync_resource_version = resource_version
        self._synced.set()

    async def _watch(self) -> None:
        timeout = random.randint(self.watch_timeout, 2 * self.watch_timeout)
        events = self.client.watch(self.resource, self.namespace, self.last_sync_resource_version,
                                   self.label_selector, self.field_selector, allow_bookmarks=True,
                                   timeout_seconds=timeout)
        # aclosing: when the informer stops (or _apply raises) the HTTP stream closes now, not
        # whenever the abandoned generator is collected.
        async with contextlib.aclosing(events):
            async for event in events:
                self._apply(event)

    def _apply(self, event: WatchEvent) -> None:
        obj = event.object
        if event.type == ERROR:
            # Expired (410) and any other error in the stream: the stream cannot be trusted to
            # resume, so start over from a fresh list (raised as Gone to take the relist path).
            error = error_from_status(int(obj.get("code") or 0), obj)
            raise error if isinstance(error, Gone) else Gone(410, error.reason, f"watch error: {error}", obj)
        if event.type in (ADDED, MODIFIED):
            old = self.indexer.upsert(obj)
            if old is None:
                self._dispatch_add(obj)
            else:
                self._dispatch_update(old, obj)
        elif event.type == DELETED:
            self.indexer.delete(self.indexer.key_func(obj))
            self._dispatch_delete(obj)
        elif event.type != BOOKMARK:
            log.warning("informer %s: unknown watch event type %r", self.resource, event.type)
            return
        resource_version = _resource_version(obj)
        if resource_version:
            self.last_sync_resource_version = resource_version

    async def _resync_forever(self) -> None:
        while True:
            await self.clock.sleep(self.resync_period)
            if self.has_synced():
                self.resync()

    def resync(self) -> None:
        """Send every cached object to the update handlers (old and new are the same object)."""
        for obj in self.indexer.list():
            self._dispatch_update(obj, obj)

    # -- dispatch -------------------------------------------------------------------------------

    def _dispatch_add(self, obj: JSON) -> None:
        for handlers in self._handlers:
            if handlers.on_add is not None:
                self._call(handlers.on_add, obj)

    def _dispatch_update(self, old: JSON, new: JSON) -> None:
        for handlers in self._handlers:
            if handlers.on_update is not None:
                self._call(handlers.on_update, old, new)

    def _dispatch_delete(self, obj: JSON | DeletedFinalStateUnknown) -> None:
        for handlers in self._handlers:
            if handlers.on_delete is not None:
                self._call(handlers.on_delete, obj)

    def _call(self, handler: Callable[..., None], *args: Any) -> None:
        try:
            handler(*args)
        except Exception:
            log.exception("informer %s: event handler failed", self.resource)


class SharedInformerFactory:
    """One informer per (resource, namespace, selectors), shared by every controller that asks."""

    def __init__(self, client: Client, resync_period: float = 0.0, namespace: str | None = None,
                 clock: Clock | None = None) -> None:
        self.client = client
        self.resync_period = resync_period
        self.namespace = namespace
        self.clock = clock
        self._informers: dict[tuple[Resource, str | None, str | None, str | None], Informer] = {}

    def informer_for(self, resource: Resource, label_selector: str | None = None,
                     field_selector: str | None = None) -> Informer:
        key = (resource, self.namespace, label_selector, field_selector)
        informer = self._informers.get(key)
        if informer is None:
            informer = Informer(self.client, resource, self.namespace, label_selector, field_selector,
                                self.resync_period, clock=self.clock)
            self._informers[key] = informer
        return informer

    def start(self) -> None:
        """Start every informer asked for so far (calling again starts the ones added since)."""
        for informer in self._informers.values():
            informer.start()

    async def wait_for_cache_sync(self) -> None:
        await asyncio.gather(*(informer.wait_for_sync() for informer in self._informers.values()))

    async def shutdown(self) -> None:
        await asyncio.gather(*(informer.stop() for informer in self._informers.values()))
