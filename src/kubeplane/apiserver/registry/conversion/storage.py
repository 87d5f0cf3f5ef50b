"""A storage decorator that serves the stored objects of one resource in another version."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable

from kubeplane.apiserver.registry.conversion.conversion import JSON, Conversion
from kubeplane.storage import interface as st


class _ConvertingWatcher:
    def __init__(self, inner: st.Watcher, convert: Callable[[JSON], JSON]) -> None:
        self._inner = inner
        self._convert = convert

    async def __aiter__(self) -> AsyncIterator[st.WatchEvent]:
        async for event in self._inner:
            if event.type in (st.BOOKMARK, st.ERROR):
                yield event
                continue
            prev = self._convert(event.prev_object) if event.prev_object is not None else None
            yield st.WatchEvent(event.type, self._convert(event.object), prev)

    async def stop(self) -> None:
        await self._inner.stop()


class ConvertingStorage:
    """Objects cross this layer in the served version above and the storage version below.

    ``default_storage`` applies the storage version's defaults to an object converted down, as
    upstream's decoder defaults what it reads from etcd, so every version sees the same object.
    Selectors given by callers are written against the served version: they are evaluated on the
    converted object (or converted projection, from the watch cache).
    """

    def __init__(self, inner: st.Storage, conversion: Conversion,
                 default_storage: Callable[[JSON], None] = lambda obj: None) -> None:
        self.inner = inner
        self.conversion = conversion
        self._default_storage = default_storage

    def _down(self, obj: JSON) -> JSON:
        stored = self.conversion.to_storage(obj)
        self._default_storage(stored)
        return stored

    def _up(self, obj: JSON) -> JSON:
        return self.conversion.to_served(obj)

    def _predicate(self, predicate: st.Predicate | None) -> st.Predicate | None:
        if predicate is None:
            return None
        to_served = self.conversion.to_served
        return lambda obj: predicate(to_served(obj))

    async def create(self, key: str, obj: JSON, ttl: int = 0) -> JSON:
        return self._up(await self.inner.create(key, self._down(obj), ttl))

    async def get(self, key: str, resource_version: str = "", ignore_not_found: bool = False) -> JSON | None:
        obj = await self.inner.get(key, resource_version, ignore_not_found)
        return None if obj is None else self._up(obj)

    async def get_list(self, prefix: str, opts: st.ListOptions) -> st.ListResult:
        result = await self.inner.get_list(prefix, dataclasses.replace(opts, predicate=self._predicate(opts.predicate)))
        return st.ListResult([self._up(obj) for obj in result.items], result.resource_version,
                             result.continue_token, result.remaining_item_count)

    async def guaranteed_update(self, key: str, update: st.UpdateFunc, preconditions: st.Preconditions | None = None,
                                ignore_not_found: bool = False) -> JSON:
        async def converted(current: JSON | None) -> JSON:
            return self._down(await update(None if current is None else self._up(current)))

        return self._up(await self.inner.guaranteed_update(key, converted, preconditions, ignore_not_found))

    async def delete(self, key: str, preconditions: st.Preconditions | None = None,
                     validate: Callable[[JSON], Awaitable[None]] | None = None) -> JSON:
        async def converted(obj: JSON) -> None:
            if validate is not None:
                await validate(self._up(obj))

        return self._up(await self.inner.delete(key, preconditions, converted if validate else None))

    async def watch(self, prefix: str, opts: st.WatchOptions) -> st.Watcher:
        inner_opts = dataclasses.replace(opts, predicate=self._predicate(opts.predicate))
        return _ConvertingWatcher(await self.inner.watch(prefix, inner_opts), self._up)

    async def current_revision(self) -> int:
        return await self.inner.current_revision()

    async def count(self, prefix: str) -> int:
        return await self.inner.count(prefix)

    async def close(self) -> None:
        """The inner storage belongs to the version that stores it; it closes it."""
