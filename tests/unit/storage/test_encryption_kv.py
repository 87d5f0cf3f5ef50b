"""The encrypting KV under the real store rules: every storage behaviour holds, etcd holds only
ciphertext, and rotation re-encrypts on a no-op update."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kubeplane.storage.encryption import EncryptingKV, EncryptionConfig, TransformError
from kubeplane.storage.etcd3.store import KVStorage
from kubeplane.storage.interface import ADDED, DELETED, JSON, MODIFIED, Storage, WatchOptions
from kubeplane.storage.memory import MemoryKV
from kubeplane.storage.testing.conformance import ALL_CHECKS, pod
from kubeplane.storage.testing.harness import run_against_cacher


def encryption(resources: list[tuple[list[str], list[dict[str, Any]]]]) -> EncryptionConfig:
    return EncryptionConfig.parse({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
        "resources": [{"resources": names, "providers": providers} for names, providers in resources],
    })


def aes(kind: str, *keys: tuple[str, str]) -> dict[str, Any]:
    return {kind: {"keys": [{"name": n, "secret": s} for n, s in keys]}}


def new_secret() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def encrypting_store(memory: MemoryKV, config: EncryptionConfig, root: str, resource: str = "secrets") -> KVStorage:
    kv = EncryptingKV(memory, config)
    kv.register(root, "", resource)
    return KVStorage(kv)


async def raw_value(memory: MemoryKV, key: str) -> bytes:
    result = await memory.range(key, key + "\x00")
    return result.kvs[0].value


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
async def test_conformance_through_encryption(check: Callable[[Storage, str], Awaitable[None]]) -> None:
    prefix = f"/t-{uuid.uuid4().hex}/registry"
    config = encryption([(["*.*"], [aes("aesgcm", ("k", new_secret()))])])
    store = encrypting_store(MemoryKV(progress_interval=0.05), config, prefix + "/")
    try:
        await run_against_cacher(check, store, prefix)
    finally:
        await store.close()


async def test_values_in_the_kv_are_ciphertext_and_reads_decrypt() -> None:
    memory = MemoryKV(progress_interval=0.05)
    store = encrypting_store(memory, encryption([(["secrets"], [aes("aescbc", ("key1", new_secret()))])]),
                             "/registry/secrets/")
    watcher = await store.watch("/registry/secrets/", WatchOptions(resource_version="1"))
    events = aiter(watcher)
    created = await store.create("/registry/secrets/default/s1", pod("s1", password="hunter2"))
    stored = await raw_value(memory, "/registry/secrets/default/s1")
    assert stored.startswith(b"k8s:enc:aescbc:v1:key1:") and b"hunter2" not in stored
    got = await store.get("/registry/secrets/default/s1")
    assert got == created and got is not None and got["spec"]["password"] == "hunter2"

    async def change(current: JSON | None) -> JSON:
        assert current is not None
        return {**current, "spec": {"password": "swordfish"}}

    await store.guaranteed_update("/registry/secrets/default/s1", change)
    await store.delete("/registry/secrets/default/s1")
    seen = [await asyncio.wait_for(anext(events), 5) for _ in range(3)]
    assert [(e.type, e.object["spec"]["password"]) for e in seen] == [
        (ADDED, "hunter2"), (MODIFIED, "swordfish"), (DELETED, "swordfish")]
    await watcher.stop()
    await store.close()


async def test_other_resources_stay_plaintext() -> None:
    memory = MemoryKV()
    kv = EncryptingKV(memory, encryption([(["secrets"], [aes("aesgcm", ("k", new_secret()))])]))
    kv.register("/registry/secrets/", "", "secrets")
    kv.register("/registry/configmaps/", "", "configmaps")
    store = KVStorage(kv)
    await store.create("/registry/configmaps/default/c", pod("c"))
    await store.create("/registry/ranges/serviceips", {"range": "x"})  # no registered root at all
    assert (await raw_value(memory, "/registry/configmaps/default/c")).startswith(b"{")
    assert (await raw_value(memory, "/registry/ranges/serviceips")).startswith(b"{")


async def test_rotation_by_no_op_update() -> None:
    memory = MemoryKV()
    key, old, new = "/registry/secrets/default/s1", new_secret(), new_secret()
    plain = KVStorage(memory)
    await plain.create(key, pod("s1", password="from-before"))  # written before encryption existed

    async def unchanged(current: JSON | None) -> JSON:
        assert current is not None
        return current

    step1 = encrypting_store(memory, encryption([(["secrets"], [aes("aescbc", ("key1", old))])]),
                             "/registry/secrets/")
    assert (await step1.get(key) or {})["spec"]["password"] == "from-before"  # identity fallback
    await step1.guaranteed_update(key, unchanged)
    assert (await raw_value(memory, key)).startswith(b"k8s:enc:aescbc:v1:key1:")
    revision = (await memory.range(key, key + "\x00")).kvs[0].mod_revision
    await step1.guaranteed_update(key, unchanged)  # current key: a no-op update writes nothing
    assert (await memory.range(key, key + "\x00")).kvs[0].mod_revision == revision

    # Rotate: the new key first (it writes), the old one still reads; a no-op update moves the value.
    step2 = encrypting_store(memory, encryption([(["secrets"], [aes("aescbc", ("key2", new), ("key1", old))])]),
                             "/registry/secrets/")
    await step2.guaranteed_update(key, unchanged)
    assert (await raw_value(memory, key)).startswith(b"k8s:enc:aescbc:v1:key2:")

    # The old key removed: the value still reads.
    step3 = encrypting_store(memory, encryption([(["secrets"], [aes("aescbc", ("key2", new))])]),
                             "/registry/secrets/")
    assert (await step3.get(key) or {})["spec"]["password"] == "from-before"


async def test_encrypted_value_without_its_key_is_a_storage_error() -> None:
    memory = MemoryKV()
    key = "/registry/secrets/default/s1"
    await encrypting_store(memory, encryption([(["secrets"], [aes("aesgcm", ("k1", new_secret()))])]),
                           "/registry/secrets/").create(key, pod("s1"))
    with pytest.raises(TransformError, match=r"k8s:enc:aesgcm:v1:k1:"):
        await encrypting_store(memory, encryption([(["secrets"], [aes("aesgcm", ("k2", new_secret()))])]),
                               "/registry/secrets/").get(key)
    # Secrets dropped from the configuration: the identity reader refuses ciphertext rather than misparse it.
    with pytest.raises(TransformError, match="identity transformer tried to read encrypted data"):
        await encrypting_store(memory, encryption([(["configmaps"], [{"identity": {}}])]),
                               "/registry/secrets/").get(key)
