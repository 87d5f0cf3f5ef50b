"""KMS v2 envelope encryption against the real local plugin served over gRPC on a unix socket:
the stored format, DEK reuse and caching, key rotation and a plugin that goes away."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kubeplane.kms import keyfile
from kubeplane.kms.plugin import ANNOTATION, SCHEME, LocalKMS, serve
from kubeplane.storage.encryption import EncryptingKV, EncryptionConfig, EncryptionConfigError, TransformError
from kubeplane.storage.encryption.kms_client import KMSClient, Wrapped
from kubeplane.storage.encryption.kmsv2 import (
    AES_GCM_KEY,
    HKDF_SHA256_XNONCE_AES_GCM_SEED,
    EncryptedObject,
    KMSv2Transformer,
)
from kubeplane.storage.encryption.transformers import EncryptError
from kubeplane.storage.etcd3.store import KVStorage
from kubeplane.storage.interface import JSON
from kubeplane.storage.memory import MemoryKV
from kubeplane.storage.testing.conformance import pod

ROOT = "/registry/secrets/"
PREFIX = b"k8s:enc:kms:v2:local:"


@dataclass
class Plugin:
    socket: Path
    key_file: Path
    server: Any

    @property
    def endpoint(self) -> str:
        return f"unix://{self.socket}"

    async def stop(self) -> None:
        await self.server.stop(grace=None)


@pytest.fixture
async def plugin(tmp_path: Path) -> AsyncIterator[Plugin]:
    key_file = tmp_path / "keys.json"
    keyfile.load_or_create(key_file)
    socket = tmp_path / "kms.sock"
    running = Plugin(socket, key_file, await serve(LocalKMS(key_file), socket))
    try:
        yield running
    finally:
        await running.stop()


def kms_config(endpoint: str, name: str = "local", **extra: Any) -> EncryptionConfig:
    return EncryptionConfig.parse({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
        "resources": [{"resources": ["secrets"], "providers": [
            {"kms": {"apiVersion": "v2", "name": name, "endpoint": endpoint, **extra}}, {"identity": {}}]}],
    })


def store_over(memory: MemoryKV, config: EncryptionConfig) -> tuple[KVStorage, KMSv2Transformer]:
    kv = EncryptingKV(memory, config)
    kv.register(ROOT, "", "secrets")
    return KVStorage(kv), config.envelopes()[0]


async def raw_value(memory: MemoryKV, key: str) -> bytes:
    return (await memory.range(key, key + "\x00")).kvs[0].value


def envelope_of(raw: bytes) -> Any:
    assert raw.startswith(PREFIX), raw[:40]
    return EncryptedObject.FromString(raw[len(PREFIX):])


async def unchanged(current: JSON | None) -> JSON:
    assert current is not None
    return current


async def test_stored_value_is_an_upstream_encrypted_object(plugin: Plugin) -> None:
    memory = MemoryKV()
    store, _ = store_over(memory, kms_config(plugin.endpoint))
    created = await store.create(ROOT + "default/s1", pod("s1", password="hunter2"))
    raw = await raw_value(memory, ROOT + "default/s1")
    assert b"hunter2" not in raw
    obj = envelope_of(raw)
    assert obj.keyID == keyfile.load(plugin.key_file).primary.key_id
    assert obj.encryptedDEKSourceType == HKDF_SHA256_XNONCE_AES_GCM_SEED
    assert 0 < len(obj.encryptedDEKSource) <= 1024 and obj.encryptedData
    assert dict(obj.annotations) == {ANNOTATION: SCHEME}
    assert await store.get(ROOT + "default/s1") == created
    # The storage key is authenticated: the same bytes under another key do not decrypt.
    await memory.create(ROOT + "default/copy", raw)
    with pytest.raises(TransformError, match="message authentication failed"):
        await store.get(ROOT + "default/copy")
    await store.close()


async def test_one_dek_for_many_writes_and_one_decrypt_call_per_dek(plugin: Plugin) -> None:
    memory = MemoryKV()
    store, envelope = store_over(memory, kms_config(plugin.endpoint))
    for i in range(5):
        await store.create(ROOT + f"default/s{i}", pod(f"s{i}", password=f"p{i}"))
    assert envelope.encrypt_calls == 1
    objects = [envelope_of(await raw_value(memory, ROOT + f"default/s{i}")) for i in range(5)]
    assert len({o.encryptedDEKSource for o in objects}) == 1  # one DEK seed ...
    assert len({o.encryptedData[:32] for o in objects}) == 5  # ... a derived key per write
    assert envelope.decrypt_calls == 0  # the writer knows its own DEK
    await store.close()

    # Another API server (a restart): it never saw the DEK, asks the plugin once, then caches it.
    reader, fresh = store_over(memory, kms_config(plugin.endpoint))
    for i in range(5):
        assert (await reader.get(ROOT + f"default/s{i}") or {})["spec"]["password"] == f"p{i}"
    assert fresh.decrypt_calls == 1
    await reader.close()


async def test_key_rotation_new_dek_old_data_reads_and_rewrites(plugin: Plugin) -> None:
    memory = MemoryKV()
    store, envelope = store_over(memory, kms_config(plugin.endpoint))
    key = ROOT + "default/s1"
    await store.create(key, pod("s1", password="hunter2"))
    old_id = envelope_of(await raw_value(memory, key)).keyID
    revision = (await memory.range(key, key + "\x00")).kvs[0].mod_revision
    await store.guaranteed_update(key, unchanged)  # same key id: a no-op update writes nothing
    assert (await memory.range(key, key + "\x00")).kvs[0].mod_revision == revision

    new_id = keyfile.rotate(plugin.key_file).key_id
    await envelope.refresh()  # what the status poll does
    assert envelope.encrypt_calls == 2
    await store.create(ROOT + "default/s2", pod("s2"))
    assert envelope_of(await raw_value(memory, ROOT + "default/s2")).keyID == new_id
    # The old value still reads; it is stale, so a no-op update re-encrypts it under the new key.
    assert (await store.get(key) or {})["spec"]["password"] == "hunter2"
    await store.guaranteed_update(key, unchanged)
    assert envelope_of(await raw_value(memory, key)).keyID == new_id != old_id
    await store.close()


async def test_status_poll_picks_up_a_new_key_id(plugin: Plugin) -> None:
    envelope = KMSv2Transformer("local", KMSClient(plugin.endpoint, 3.0), status_interval=0.05)
    await envelope.check_health()
    assert envelope.state is not None
    first = envelope.state.wrapped.key_id
    new_id = keyfile.rotate(plugin.key_file).key_id
    async with asyncio.timeout(10):
        while envelope.state.wrapped.key_id == first:
            await asyncio.sleep(0.02)
    assert envelope.state.wrapped.key_id == new_id and envelope.encrypt_calls == 2
    await envelope.close()


async def test_plugin_down_cached_deks_read_uncached_fail_writes_coast_then_fail(plugin: Plugin) -> None:
    memory = MemoryKV()
    store, envelope = store_over(memory, kms_config(plugin.endpoint, timeout="1s"))
    await store.create(ROOT + "default/s1", pod("s1", password="cached"))
    other, _ = store_over(memory, kms_config(plugin.endpoint, timeout="1s"))
    await other.create(ROOT + "default/s2", pod("s2", password="uncached"))  # a DEK `store` never saw
    await other.close()
    await envelope.check_health()
    await plugin.stop()

    assert (await store.get(ROOT + "default/s1") or {})["spec"]["password"] == "cached"
    with pytest.raises(TransformError) as err:
        await store.get(ROOT + "default/s2")
    assert str(err.value).startswith(f'unable to transform key "{ROOT}default/s2": ')
    assert "failed to decrypt DEK, error: rpc error: code = Unavailable desc = " in str(err.value)
    # Health fails at the next status call; writes go on with the current DEK until it expires.
    with pytest.raises(EncryptError, match="code = Unavailable"):
        await envelope.refresh()
    with pytest.raises(RuntimeError, match="Unavailable"):
        await envelope.check_health()
    await store.create(ROOT + "default/s3", pod("s3"))
    # No status call renews the DEK while the plugin is down: once its time is up, writes fail.
    assert envelope.state is not None
    envelope.state = dataclasses.replace(envelope.state, expires_at=0.0)
    with pytest.raises(TransformError, match=r"k8s:enc:kms:v2:local: encryptedDEKSource with keyID hash .* expired"):
        await store.create(ROOT + "default/s4", pod("s4"))
    await store.close()


async def test_values_with_a_plain_dek_from_older_servers_read(plugin: Plugin) -> None:
    """AES_GCM_KEY values (one DEK per value set, upstream before 1.29) still read, and are stale."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    memory = MemoryKV()
    store, _ = store_over(memory, kms_config(plugin.endpoint))
    client = KMSClient(plugin.endpoint, 3.0)
    dek, nonce, key = os.urandom(32), os.urandom(12), ROOT + "default/old"
    wrapped: Wrapped = await client.encrypt(dek, "uid-1")
    await client.close()
    data = nonce + AESGCM(dek).encrypt(nonce, b'{"kind":"Secret","metadata":{"name":"old"}}', key.encode())
    obj = EncryptedObject(encryptedData=data, keyID=wrapped.key_id, encryptedDEKSource=wrapped.ciphertext,
                          annotations=wrapped.annotations, encryptedDEKSourceType=AES_GCM_KEY)
    await memory.create(key, PREFIX + obj.SerializeToString())
    assert (await store.get(key) or {})["metadata"]["name"] == "old"
    await store.guaranteed_update(key, unchanged)
    assert envelope_of(await raw_value(memory, key)).encryptedDEKSourceType == HKDF_SHA256_XNONCE_AES_GCM_SEED
    await store.close()


async def test_local_plugin_refuses_unknown_keys_and_keeps_old_ones(plugin: Plugin) -> None:
    assert stat.S_IMODE(os.stat(plugin.key_file).st_mode) == 0o600
    client = KMSClient(plugin.endpoint, 3.0)
    first = await client.encrypt(b"d" * 32, "uid-1")
    keyfile.rotate(plugin.key_file)
    status = await client.status()
    assert (status.version, status.healthz) == ("v2", "ok") and status.key_id != first.key_id
    assert await client.decrypt(first, "uid-2") == b"d" * 32  # the old key still decrypts
    with pytest.raises(Exception, match="code = NotFound"):
        await client.decrypt(Wrapped(first.ciphertext, "nope", first.annotations), "uid-3")
    with pytest.raises(Exception, match="code = InvalidArgument"):
        await client.decrypt(Wrapped(first.ciphertext, status.key_id, first.annotations), "uid-4")
    await client.close()


@pytest.mark.parametrize(("spec", "message"), [
    ({"name": "k", "endpoint": "unix:///tmp/x.sock"}, "KMSv1 is deprecated"),
    ({"apiVersion": "v3", "name": "k", "endpoint": "unix:///tmp/x.sock"}, "unsupported apiVersion"),
    ({"apiVersion": "v2", "endpoint": "unix:///tmp/x.sock"}, r"kms\.name: Required value"),
    ({"apiVersion": "v2", "name": "a:b", "endpoint": "unix:///tmp/x.sock"}, "should not contain ':'"),
    ({"apiVersion": "v2", "name": "k", "endpoint": "tcp://127.0.0.1:1"}, "unsupported scheme 'tcp'"),
    ({"apiVersion": "v2", "name": "k"}, r"kms\.endpoint: Required value"),
    ({"apiVersion": "v2", "name": "k", "endpoint": "unix:///x", "cachesize": 10}, "not supported in v2"),
    ({"apiVersion": "v2", "name": "k", "endpoint": "unix:///x", "timeout": "soon"}, "not a duration"),
    ({"apiVersion": "v2", "name": "k", "endpoint": "unix:///x", "timeout": "0s"}, "positive"),
])
def test_invalid_kms_configurations_are_refused(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(EncryptionConfigError, match=message):
        EncryptionConfig.parse({"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
                                "resources": [{"resources": ["secrets"], "providers": [{"kms": spec}]}]})


def test_one_provider_per_name_across_resources_and_timeouts() -> None:
    spec = {"apiVersion": "v2", "name": "k", "endpoint": "unix:///run/kms.sock", "timeout": "1m30s"}
    config = EncryptionConfig.parse({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
        "resources": [{"resources": ["secrets"], "providers": [{"kms": spec}]},
                      {"resources": ["configmaps"], "providers": [{"kms": spec}]}]})
    assert len(config.envelopes()) == 1 and config.envelopes()[0].client.timeout == 90.0
    secrets, configmaps = config.chain_for("", "secrets"), config.chain_for("", "configmaps")
    assert secrets is not None and configmaps is not None
    assert secrets.writer.transformer is configmaps.writer.transformer
    assert EncryptingKV(MemoryKV(), config).health_checks().keys() == {"kms-provider-0"}
