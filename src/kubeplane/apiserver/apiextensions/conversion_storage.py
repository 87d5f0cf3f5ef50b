"""Serving one custom resource version over the CRD's storage when conversion needs a webhook.

Like ``registry.conversion.ConvertingStorage`` but the conversion is asynchronous and may fail:
objects go down to the storage version before every write and up to the served version after
every read. A LIST converts its items in one ConversionReview; a watch converts per event (the
object and its previous state together). Objects already in the target version are not sent,
so the storage version's own handler only converts objects stored under an older version.

Label and field selectors are evaluated on the stored objects (upstream's cache filters what it
holds, in the storage version): a webhook may change only labels and annotations, and a
predicate cannot wait for a webhook call.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from kubeplane.machinery import errors
from kubeplane.storage import interface as st

from .conversion_webhook import ConversionFailed, WebhookConverter

log = logging.getLogger(__name__)
JSON = dict[str, Any]


class WebhookConversion:
    """Converting one served version to and from the storage version through a webhook."""

    def __init__(self, converter: WebhookConverter, served_api_version: str, storage_api_version: str) -> None:
        self.converter = converter
        self.served_api_version = served_api_version
        self.storage_api_version = storage_api_version

    async def _convert(self, objects: list[JSON], api_version: str) -> list[JSON]:
        # Watch-cache projections carry no apiVersion: nothing version-specific in them.
        whole = [i for i, obj in enumerate(objects) if "apiVersion" in obj]
        if not whole:
            return objects
        try:
            converted = await self.converter.convert([objects[i] for i in whole], api_version)
        except ConversionFailed as exc:
            raise exc.to_status_error() from exc
        out = list(objects)
        for i, obj in zip(whole, converted, strict=True):
            out[i] = obj
        return out

    async def up(self, obj: JSON) -> JSON:
        return (await self._convert([obj], self.served_api_version))[0]

    async def up_all(self, objects: list[JSON]) -> list[JSON]:
        return await self._convert(objects, self.served_api_version)

    async def down(self, obj: JSON) -> JSON:
        return (await self._convert([obj], self.storage_api_version))[0]


class _ConvertingWatcher:
    def __init__(self, inner: st.Watcher, conversion: WebhookConversion) -> None:
        self._inner = inner
        self._conversion = conversion

    async def __aiter__(self) -> AsyncIterator[st.WatchEvent]:
        async for event in self._inner:
            if event.type in (st.BOOKMARK, st.ERROR):
                yield event
                continue
            batch = [event.object] if event.prev_object is None else [event.object, event.prev_object]
            try:
                converted = await self._conversion.up_all(batch)
            except errors.StatusError as exc:
                # As upstream's watch encoder: the stream cannot go on without this event.
                log.warning("ending a watch: %s", exc.message)
                yield st.WatchEvent(st.ERROR, exc.to_status())
                return
            yield st.WatchEvent(event.type, converted[0], converted[1] if len(converted) > 1 else None)

    async def stop(self) -> None:
        await self._inner.stop()


class WebhookConvertingStorage:
    """Objects cross this layer in the served version above and the storage version below."""

    def __init__(self, inner: st.Storage, conversion: WebhookConversion) -> None:
        self.inner = inner
        self.conversion = conversion

    async def create(self, key: str, obj: JSON, ttl: int = 0) -> JSON:
        stored = await self.conversion.down(obj)
        return await self.conversion.up(await self.inner.create(key, stored, ttl))

    async def get(self, key: str, resource_version: str = "", ignore_not_found: bool = False) -> JSON | None:
        obj = await self.inner.get(key, resource_version, ignore_not_found)
        return None if obj is None else await self.conversion.up(obj)

    async def get_list(self, prefix: str, opts: st.ListOptions) -> st.ListResult:
        result = await self.inner.get_list(prefix, opts)
        items = await self.conversion.up_all(result.items)
        return st.ListResult(items, result.resource_version, result.continue_token, result.remaining_item_count)

    async def guaranteed_update(self, key: str, update: st.UpdateFunc, preconditions: st.Preconditions | None = None,
                                ignore_not_found: bool = False) -> JSON:
        async def converted(current: JSON | None) -> JSON:
            served = None if current is None else await self.conversion.up(current)
            return await self.conversion.down(await update(served))

        stored = await self.inner.guaranteed_update(key, converted, preconditions, ignore_not_found)
        return await self.conversion.up(stored)

    async def delete(self, key: str, preconditions: st.Preconditions | None = None,
                     validate: Callable[[JSON], Awaitable[None]] | None = None) -> JSON:
        async def converted(obj: JSON) -> None:
            if validate is not None:
                await validate(await self.conversion.up(obj))

        deleted = await self.inner.delete(key, preconditions, converted if validate else None)
        try:
            return await self.conversion.up(deleted)
        except errors.StatusError:
            # The object is gone already; answering with it as stored beats failing a done delete.
            return deleted

    async def watch(self, prefix: str, opts: st.WatchOptions) -> st.Watcher:
        return _ConvertingWatcher(await self.inner.watch(prefix, opts), self.conversion)

    async def current_revision(self) -> int:
        return await self.inner.current_revision()

    async def count(self, prefix: str) -> int:
        return await self.inner.count(prefix)

    async def close(self) -> None:
        """The inner storage is the CRD's; ``CustomResourceServing`` closes it."""


__all__ = ["WebhookConversion", "WebhookConvertingStorage"]
