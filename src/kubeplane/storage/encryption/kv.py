"""A ``KV`` that encrypts values on the way into etcd and decrypts them on the way out.

It sits between the object store and ``EtcdKV``, so every path that moves stored bytes (reads,
compare-and-swap writes, the current value returned by a failed swap, watch events and their
previous values) goes through one place. Which provider chain applies depends on the resource a
key belongs to; storages announce their key roots with ``register``. ``kms`` providers call their
plugin, so every transform is awaited; ``health_checks`` gives the API server one check per plugin.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from kubeplane.storage.encryption.config import EncryptionConfig
from kubeplane.storage.encryption.transformers import ProviderChain, read_unencrypted
from kubeplane.storage.etcd3.kv import (
    KV,
    KeyValue,
    KVEvent,
    KVWatch,
    KVWatchBatch,
    RangeResult,
    WriteResult,
)


@dataclass(frozen=True, slots=True)
class StaleKeyValue(KeyValue):
    """A value decrypted by a provider that no longer writes (an old key, or plaintext from before
    encryption): the store rewrites it even when the object is unchanged, so a no-op update
    re-encrypts it with the current key (upstream's "stale" flag)."""

    stale: bool = True


class EncryptingKV:
    def __init__(self, inner: KV, config: EncryptionConfig) -> None:
        self.inner = inner
        self.config = config
        # Key root ("/registry/secrets/") -> its chain; None: the resource is stored in plaintext.
        self._roots: dict[str, ProviderChain | None] = {}

    def register(self, root: str, group: str, resource: str) -> None:
        """Keys under ``root`` (ending in ``/``) hold objects of group/resource."""
        if not root.endswith("/"):
            root += "/"
        self._roots[root] = self.config.chain_for(group, resource)

    def _chain(self, key: str) -> ProviderChain | None:
        # The longest registered root that prefixes the key: try each "/"-ended prefix, deepest first.
        end = key.rfind("/")
        while end > 0:
            root = key[:end + 1]
            if root in self._roots:
                return self._roots[root]
            end = key.rfind("/", 0, end)
        return None

    # --- values ----------------------------------------------------------------------------------
    async def _encrypt(self, key: str, value: bytes) -> bytes:
        chain = self._chain(key)
        return await chain.encrypt_async(value, key) if chain is not None else value

    async def _decrypt(self, kv: KeyValue) -> KeyValue:
        chain = self._chain(kv.key)
        if chain is None:
            read_unencrypted(kv.value, kv.key)
            return kv
        plain, stale = await chain.decrypt_async(kv.value, kv.key)
        if stale:
            return StaleKeyValue(kv.key, plain, kv.create_revision, kv.mod_revision)
        return KeyValue(kv.key, plain, kv.create_revision, kv.mod_revision)

    async def _decrypt_result(self, result: WriteResult) -> WriteResult:
        if result.current is None:
            return result
        return WriteResult(result.succeeded, result.revision, await self._decrypt(result.current))

    # --- health ----------------------------------------------------------------------------------
    def health_checks(self) -> dict[str, Callable[[], Awaitable[None]]]:
        """Upstream's ``kms-provider-<N>`` checks, N counting kms providers in configuration order."""
        return {f"kms-provider-{n}": envelope.check_health for n, envelope in enumerate(self.config.envelopes())}

    # --- KV --------------------------------------------------------------------------------------
    async def range(self, start: str, end: str, revision: int = 0, limit: int = 0) -> RangeResult:
        result = await self.inner.range(start, end, revision, limit)
        return RangeResult([await self._decrypt(kv) for kv in result.kvs], result.revision, result.count,
                           result.more)

    async def create(self, key: str, value: bytes, ttl: int = 0) -> WriteResult:
        return await self._decrypt_result(await self.inner.create(key, await self._encrypt(key, value), ttl))

    async def put_if(self, key: str, value: bytes, mod_revision: int) -> WriteResult:
        return await self._decrypt_result(await self.inner.put_if(key, await self._encrypt(key, value), mod_revision))

    async def delete_if(self, key: str, mod_revision: int) -> WriteResult:
        return await self._decrypt_result(await self.inner.delete_if(key, mod_revision))

    async def watch(self, start: str, end: str, start_revision: int, progress_notify: bool) -> KVWatch:
        return _DecryptingWatch(await self.inner.watch(start, end, start_revision, progress_notify), self)

    async def compact(self, revision: int) -> None:
        await self.inner.compact(revision)

    async def current_revision(self) -> int:
        return await self.inner.current_revision()

    async def close(self) -> None:
        for envelope in self.config.envelopes():
            await envelope.close()
        await self.inner.close()


class _DecryptingWatch:
    def __init__(self, inner: KVWatch, kv: EncryptingKV) -> None:
        self._inner = inner
        self._kv = kv

    def __aiter__(self) -> AsyncIterator[KVWatchBatch]:
        return self._batches()

    async def _batches(self) -> AsyncIterator[KVWatchBatch]:
        async for batch in self._inner:
            if not batch.events:
                yield batch
                continue
            yield KVWatchBatch([await self._event(e) for e in batch.events], batch.revision)

    async def _event(self, event: KVEvent) -> KVEvent:
        # A delete's kv carries no value: only the previous value needs decrypting.
        kv = event.kv if event.deleted else await self._kv._decrypt(event.kv)
        prev = await self._kv._decrypt(event.prev) if event.prev is not None else None
        return KVEvent(event.deleted, kv, prev)

    async def request_progress(self) -> None:
        await self._inner.request_progress()

    async def close(self) -> None:
        await self._inner.close()
