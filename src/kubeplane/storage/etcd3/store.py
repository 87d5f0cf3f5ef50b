"""The Kubernetes storage rules (create/get/list/update/delete/watch) over a revisioned ``KV``.

``Etcd3Storage`` is this over ``EtcdKV``; the memory backend is this over ``MemoryKV``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson

from kubeplane.storage.etcd3.codec import decode, encode
from kubeplane.storage.etcd3.continue_token import LATEST, decode_continue, encode_continue
from kubeplane.storage.etcd3.keys import key_range, parse_resource_version
from kubeplane.storage.etcd3.kv import KV, CompactedError, KeyValue, RangeResult
from kubeplane.storage.etcd3.preconditions import check_preconditions
from kubeplane.storage.etcd3.store_watch import StoreWatcher
from kubeplane.storage.interface import (
    JSON,
    MATCH_EXACT,
    KeyExistsError,
    KeyNotFoundError,
    ListOptions,
    ListResult,
    Preconditions,
    ResourceExpiredError,
    TooLargeResourceVersionError,
    UpdateFunc,
    WatchOptions,
)

CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - objects "
    "that were created, modified, or deleted between the time the first chunk was returned and now may show "
    "up in the list."
)
LIST_EXPIRED = "The resourceVersion for the provided list is too old."
# Upper bound of one range when a selector makes us read more than ``limit`` keys (as upstream).
MAX_FETCH = 10000


def _stale(kv: KeyValue) -> bool:
    """True when the value was read through an encryption provider or key other than the one that
    writes now (``storage.encryption``): an unchanged object is still rewritten, which re-encrypts
    it with the current key, so rotation works by a no-op update as upstream."""
    return bool(getattr(kv, "stale", False))


class KVStorage:
    def __init__(self, kv: KV) -> None:
        self.kv = kv

    # --- single objects --------------------------------------------------------------------------
    async def _read(self, key: str) -> tuple[KeyValue | None, int]:
        result = await self.kv.range(key, key + "\x00")
        return (result.kvs[0] if result.kvs else None), result.revision

    async def create(self, key: str, obj: JSON, ttl: int = 0) -> JSON:
        data = encode(obj)
        result = await self.kv.create(key, data, ttl)
        if not result.succeeded:
            raise KeyExistsError(key)
        return decode(data, result.revision)

    async def get(self, key: str, resource_version: str = "", ignore_not_found: bool = False) -> JSON | None:
        minimum = parse_resource_version(resource_version)
        kv, revision = await self._read(key)
        if revision < minimum:
            raise TooLargeResourceVersionError(key, minimum, revision)
        if kv is None:
            if ignore_not_found:
                return None
            raise KeyNotFoundError(key)
        return decode(kv.value, kv.mod_revision)

    async def guaranteed_update(self, key: str, update: UpdateFunc, preconditions: Preconditions | None = None,
                                ignore_not_found: bool = False) -> JSON:
        kv, _ = await self._read(key)
        while True:
            current = decode(kv.value, kv.mod_revision) if kv is not None else None
            if current is None:
                if not ignore_not_found:
                    raise KeyNotFoundError(key)
            else:
                check_preconditions(key, preconditions, current)
            # ``update`` gets its own decoded copy: whatever it mutates, kv.value stays the truth.
            new = await update(current)
            data = encode(new)
            if kv is None:
                result = await self.kv.create(key, data)
            elif not _stale(kv) and (data == kv.value or orjson.loads(data) == orjson.loads(kv.value)):
                return decode(kv.value, kv.mod_revision)
            else:
                result = await self.kv.put_if(key, data, kv.mod_revision)
            if result.succeeded:
                return decode(data, result.revision)
            kv = result.current  # someone else wrote first: retry against their version

    async def delete(self, key: str, preconditions: Preconditions | None = None,
                     validate: Callable[[JSON], Awaitable[None]] | None = None) -> JSON:
        kv, _ = await self._read(key)
        while True:
            if kv is None:
                raise KeyNotFoundError(key)
            current = decode(kv.value, kv.mod_revision)
            check_preconditions(key, preconditions, current)
            if validate is not None:
                await validate(current)
            result = await self.kv.delete_if(key, kv.mod_revision)
            if result.succeeded:
                return decode(kv.value, result.revision)
            kv = result.current

    # --- lists -----------------------------------------------------------------------------------
    async def get_list(self, prefix: str, opts: ListOptions) -> ListResult:
        start, end = key_range(prefix)
        revision = 0
        minimum = 0
        if opts.continue_token:
            start, revision = decode_continue(opts.continue_token, prefix)
        elif opts.resource_version_match == MATCH_EXACT:
            revision = parse_resource_version(opts.resource_version)
        else:
            minimum = parse_resource_version(opts.resource_version)
        limit, predicate = opts.limit, opts.predicate
        fetch = limit
        items: list[JSON] = []
        while True:
            page = await self._range(prefix, start, end, revision, fetch, bool(opts.continue_token))
            if not revision:
                revision = page.revision
                if revision < minimum:
                    raise TooLargeResourceVersionError(prefix, minimum, revision)
            has_more = page.more
            last_key = ""
            for kv in page.kvs:
                if limit and len(items) >= limit:
                    has_more = True
                    break
                last_key = kv.key
                obj = decode(kv.value, kv.mod_revision)
                if predicate is None or predicate(obj):
                    items.append(obj)
            if not has_more or not limit or len(items) >= limit:
                break
            # A selector filtered some out: read further, in growing chunks, until the page is full.
            fetch = min(fetch * 2, MAX_FETCH)
            start = last_key + "\x00"
        if not has_more or not limit:
            return ListResult(items, revision)
        token = encode_continue(last_key + "\x00", prefix, revision)
        remaining = page.count - len(items) if predicate is None else None
        return ListResult(items, revision, token, remaining)

    async def _range(self, prefix: str, start: str, end: str, revision: int, limit: int,
                     continuing: bool) -> RangeResult:
        try:
            return await self.kv.range(start, end, revision, limit)
        except CompactedError as e:
            if not continuing:
                raise ResourceExpiredError(prefix, LIST_EXPIRED) from e
            # As upstream's handleCompactedErrorForPaging: a token for the rest of the list at the
            # latest revision, for a client that accepts an inconsistent result.
            raise ResourceExpiredError(prefix, CONTINUE_EXPIRED, encode_continue(start, prefix, LATEST)) from e

    async def count(self, prefix: str) -> int:
        start, end = key_range(prefix)
        return (await self.kv.range(start, end, 0, 1)).count

    async def current_revision(self) -> int:
        return await self.kv.current_revision()

    # --- watch -----------------------------------------------------------------------------------
    async def watch(self, prefix: str, opts: WatchOptions) -> StoreWatcher:
        start, end = key_range(prefix)
        requested = parse_resource_version(opts.resource_version)
        send_initial = opts.send_initial_events is True or (
            opts.send_initial_events is None and requested == 0)
        initial: list[JSON] = []
        if send_initial:
            snapshot = await self.kv.range(start, end)
            if snapshot.revision < requested:
                raise TooLargeResourceVersionError(prefix, requested, snapshot.revision)
            revision = snapshot.revision
            for kv in snapshot.kvs:
                obj = decode(kv.value, kv.mod_revision)
                if opts.predicate is None or opts.predicate(obj):
                    initial.append(obj)
        else:
            revision = requested or await self.kv.current_revision()
        try:
            kv_watch = await self.kv.watch(start, end, revision + 1, progress_notify=opts.allow_bookmarks)
        except CompactedError as e:
            raise ResourceExpiredError(prefix, f"too old resource version: {revision} ({e.compact_revision})") from e
        initial_end = revision if opts.send_initial_events is True and opts.allow_bookmarks else None
        return StoreWatcher(kv_watch, initial, initial_end, opts.predicate, opts.allow_bookmarks, revision)

    # --- maintenance -----------------------------------------------------------------------------
    async def compact(self, revision: int) -> None:
        await self.kv.compact(revision)

    async def close(self) -> None:
        await self.kv.close()
