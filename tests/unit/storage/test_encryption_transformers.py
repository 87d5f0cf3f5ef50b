"""Encryption providers and the EncryptionConfiguration file: round trips, prefixes, errors."""

from __future__ import annotations

import base64
import importlib.util
import os
from typing import Any

import pytest

from kubeplane.storage.encryption import EncryptionConfig, EncryptionConfigError, TransformError

KEY = "/registry/secrets/default/s1"
# secretbox needs PyNaCl (an optional dependency of the secretbox provider only).
SECRETBOX = pytest.param("secretbox", marks=pytest.mark.skipif(importlib.util.find_spec("nacl") is None,
                                                               reason="PyNaCl is not installed"))
KINDS = ["aescbc", "aesgcm", SECRETBOX]


def secret(size: int = 32) -> str:
    return base64.b64encode(os.urandom(size)).decode()


def config(*providers: dict[str, Any], resources: tuple[str, ...] = ("secrets",)) -> EncryptionConfig:
    return EncryptionConfig.parse({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
        "resources": [{"resources": list(resources), "providers": list(providers)}],
    })


def keyed(kind: str, *names_and_secrets: tuple[str, str]) -> dict[str, Any]:
    return {kind: {"keys": [{"name": n, "secret": s} for n, s in names_and_secrets]}}


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_with_upstream_prefix(kind: str) -> None:
    chain = config(keyed(kind, ("key1", secret()))).chain_for("", "secrets")
    assert chain is not None
    plaintext = b'{"kind":"Secret","data":{"password":"aHVudGVyMg=="}}'
    stored = chain.encrypt(plaintext, KEY)
    assert stored.startswith(f"k8s:enc:{kind}:v1:key1:".encode())
    assert b"aHVudGVyMg" not in stored
    assert chain.decrypt(stored, KEY) == (plaintext, False)
    # A random IV/nonce per write: the same object never encrypts to the same bytes twice.
    assert chain.encrypt(plaintext, KEY) != stored


@pytest.mark.parametrize("kind", KINDS)
def test_wrong_key_is_a_clear_error(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Fixed keys and IVs: with AES-CBC a wrong key yields valid-looking padding about once in 256
    # tries, so random ones would make this test flaky. These give an invalid padding every time.
    monkeypatch.setattr("kubeplane.storage.encryption.transformers.os.urandom", lambda n: bytes(range(n)))
    writer = config(keyed(kind, ("key1", base64.b64encode(b"A" * 32).decode()))).chain_for("", "secrets")
    # The same key name with other bytes (a key replaced instead of rotated).
    reader = config(keyed(kind, ("key1", base64.b64encode(b"B" * 32).decode()))).chain_for("", "secrets")
    assert writer is not None and reader is not None
    stored = writer.encrypt(b'{"kind":"Secret","metadata":{"name":"s1"},"data":{}}' * 4, KEY)
    with pytest.raises(TransformError) as err:
        reader.decrypt(stored, KEY)
    assert KEY in str(err.value) and f"k8s:enc:{kind}:v1:key1:" in str(err.value)


def test_unknown_key_name_names_the_writer() -> None:
    writer = config(keyed("aescbc", ("old", secret()))).chain_for("", "secrets")
    reader = config(keyed("aescbc", ("new", secret()))).chain_for("", "secrets")
    assert writer is not None and reader is not None
    with pytest.raises(TransformError, match=r"k8s:enc:aescbc:v1:old:.*configured: k8s:enc:aescbc:v1:new:"):
        reader.decrypt(writer.encrypt(b"{}", KEY), KEY)


def test_aesgcm_authenticates_the_storage_key() -> None:
    chain = config(keyed("aesgcm", ("k", secret()))).chain_for("", "secrets")
    assert chain is not None
    stored = chain.encrypt(b"{}", KEY)
    with pytest.raises(TransformError, match="authentication failed"):
        chain.decrypt(stored, "/registry/secrets/default/other")


def test_rotation_order_first_key_writes_all_keys_read() -> None:
    old, new = secret(), secret()
    before = config(keyed("aescbc", ("key1", old))).chain_for("", "secrets")
    during = config(keyed("aescbc", ("key2", new), ("key1", old))).chain_for("", "secrets")
    assert before is not None and during is not None
    written_before = before.encrypt(b"{}", KEY)
    assert during.decrypt(written_before, KEY) == (b"{}", True)  # stale: key1 no longer writes
    assert during.encrypt(b"{}", KEY).startswith(b"k8s:enc:aescbc:v1:key2:")
    assert during.decrypt(during.encrypt(b"{}", KEY), KEY) == (b"{}", False)


def test_plaintext_from_before_encryption_reads_and_is_stale() -> None:
    chain = config(keyed("aesgcm", ("k", secret()))).chain_for("", "secrets")
    assert chain is not None
    assert chain.decrypt(b'{"kind":"Secret"}', KEY) == (b'{"kind":"Secret"}', True)


def test_identity_first_writes_plaintext_and_still_reads_ciphertext() -> None:
    key = secret()
    encrypting = config(keyed("aescbc", ("k", key))).chain_for("", "secrets")
    decrypting = config({"identity": {}}, keyed("aescbc", ("k", key))).chain_for("", "secrets")
    assert encrypting is not None and decrypting is not None
    assert decrypting.encrypt(b"{}", KEY) == b"{}"
    assert decrypting.decrypt(b"{}", KEY) == (b"{}", False)
    assert decrypting.decrypt(encrypting.encrypt(b"{}", KEY), KEY) == (b"{}", True)


def test_resource_lookup_exact_then_group_wildcard_then_everything() -> None:
    cfg = EncryptionConfig.parse({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
        "resources": [
            {"resources": ["secrets", "deployments.apps"], "providers": [keyed("aescbc", ("a", secret()))]},
            {"resources": ["*.apps"], "providers": [keyed("aesgcm", ("b", secret()))]},
            {"resources": ["*.*"], "providers": [{"identity": {}}]},
        ],
    })

    def writer(group: str, resource: str) -> bytes:
        chain = cfg.chain_for(group, resource)
        assert chain is not None
        return chain.writer.prefix

    assert writer("", "secrets") == b"k8s:enc:aescbc:v1:a:"
    assert writer("apps", "deployments") == b"k8s:enc:aescbc:v1:a:"
    assert writer("apps", "statefulsets") == b"k8s:enc:aesgcm:v1:b:"
    assert writer("", "configmaps") == b""
    assert config(keyed("aescbc", ("a", secret()))).chain_for("", "configmaps") is None


@pytest.mark.parametrize(("providers", "message"), [
    ([keyed("aescbc", ("k", secret(20)))], "16, 24 or 32 bytes"),
    ([keyed("secretbox", ("k", secret(16)))], "secretbox key is 32 bytes"),
    ([keyed("aesgcm", ("k", "not base64!"))], "not valid base64"),
    ([keyed("aesgcm", ("k", secret()), ("k", secret()))], "used twice"),
    ([{"aescbc": {"keys": []}}], "at least one key"),
    ([{"aescbc": {"keys": [{"name": "k", "secret": secret()}]}, "identity": {}}], "exactly one provider"),
    ([{"rot13": {}}], "exactly one provider"),
    ([{"kms": {"name": "x"}}], "KMSv1 is deprecated"),
    ([], "at least one provider"),
])
def test_invalid_configurations_are_refused(providers: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(EncryptionConfigError, match=message):
        config(*providers)


def test_wrong_kind_and_duplicate_resources_are_refused() -> None:
    with pytest.raises(EncryptionConfigError, match="want kind EncryptionConfiguration"):
        EncryptionConfig.parse({"apiVersion": "v1", "kind": "ConfigMap"})
    with pytest.raises(EncryptionConfigError, match="named more than once"):
        config({"identity": {}}, resources=("secrets", "secrets"))
