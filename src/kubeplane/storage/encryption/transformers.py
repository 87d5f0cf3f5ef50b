"""Value transformers: how one stored value is encrypted and decrypted (upstream's value.Transformer).

Every encrypted value starts with ``k8s:enc:<provider>:v1:<key name>:`` so a reader knows which
provider and key wrote it, and so ``etcdctl get`` shows at a glance that a value is ciphertext.
A ``ProviderChain`` is the ordered provider list of one resource: the first entry encrypts every
write, any entry whose prefix matches decrypts a read. The ``kms`` provider (``kmsv2.py``) calls a
plugin over gRPC, so it is an ``EnvelopeTransformer`` with coroutines; the storage layer uses the
chain's async methods, which serve both kinds.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kubeplane.storage.interface import StorageError

ENCRYPTED_PREFIX = b"k8s:enc:"
AES_BLOCK_BYTES = 16
GCM_NONCE_BYTES = 12
SECRETBOX_KEY_BYTES = 32


class TransformError(StorageError):
    """A stored value could not be decrypted (or encrypted); the API answers 500 with this message."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(key, f'unable to transform key "{key}": {reason}')
        self.reason = reason


class DecryptError(Exception):
    """Raised by a transformer; the chain adds the storage key and becomes a TransformError."""


class EncryptError(Exception):
    """A write could not be encrypted (a KMS plugin that is away); becomes a TransformError."""


class Transformer(Protocol):
    def to_storage(self, data: bytes, authenticated_data: bytes) -> bytes: ...

    def from_storage(self, data: bytes, authenticated_data: bytes) -> bytes: ...


class EnvelopeTransformer(Protocol):
    """A transformer that calls out (a KMS plugin). ``from_storage`` also says whether the value is
    stale: written under a key the provider no longer writes with (a KMS key id change)."""

    async def to_storage(self, data: bytes, authenticated_data: bytes) -> bytes: ...

    async def from_storage(self, data: bytes, authenticated_data: bytes) -> tuple[bytes, bool]: ...

    async def check_health(self) -> None: ...

    async def close(self) -> None: ...


class IdentityTransformer:
    """Stores plaintext. It refuses to "decrypt" encrypted data: handing ciphertext to the JSON
    decoder would only hide the real problem (a provider missing from the configuration)."""

    def to_storage(self, data: bytes, authenticated_data: bytes) -> bytes:
        return data

    def from_storage(self, data: bytes, authenticated_data: bytes) -> bytes:
        if data.startswith(ENCRYPTED_PREFIX):
            raise DecryptError("identity transformer tried to read encrypted data "
                               f"(written by {_written_by(data)}, which is not configured)")
        return data


class AESCBCTransformer:
    """AES-CBC with PKCS#7 padding; the stored form is IV (16 bytes) + ciphertext."""

    def __init__(self, key: bytes) -> None:
        self._algorithm = algorithms.AES(key)

    def to_storage(self, data: bytes, authenticated_data: bytes) -> bytes:
        iv = os.urandom(AES_BLOCK_BYTES)
        padder = padding.PKCS7(AES_BLOCK_BYTES * 8).padder()
        padded = padder.update(data) + padder.finalize()
        encryptor = Cipher(self._algorithm, modes.CBC(iv)).encryptor()
        return iv + encryptor.update(padded) + encryptor.finalize()

    def from_storage(self, data: bytes, authenticated_data: bytes) -> bytes:
        if len(data) < 2 * AES_BLOCK_BYTES or len(data) % AES_BLOCK_BYTES:
            raise DecryptError("the stored data is not a whole number of AES blocks")
        iv, body = data[:AES_BLOCK_BYTES], data[AES_BLOCK_BYTES:]
        decryptor = Cipher(self._algorithm, modes.CBC(iv)).decryptor()
        padded = decryptor.update(body) + decryptor.finalize()
        unpadder = padding.PKCS7(AES_BLOCK_BYTES * 8).unpadder()
        try:
            return unpadder.update(padded) + unpadder.finalize()
        except ValueError as exc:
            raise DecryptError("invalid PKCS#7 padding: the key does not match the one the value "
                               "was written with") from exc


class AESGCMTransformer:
    """AES-GCM with a random 12-byte nonce; the storage key is authenticated data, so a value
    copied to another key fails to decrypt. Stored form: nonce + ciphertext + tag."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def to_storage(self, data: bytes, authenticated_data: bytes) -> bytes:
        nonce = os.urandom(GCM_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data, authenticated_data)

    def from_storage(self, data: bytes, authenticated_data: bytes) -> bytes:
        if len(data) < GCM_NONCE_BYTES:
            raise DecryptError("the stored data is shorter than a nonce")
        try:
            return self._aead.decrypt(data[:GCM_NONCE_BYTES], data[GCM_NONCE_BYTES:], authenticated_data)
        except InvalidTag as exc:
            raise DecryptError("authentication failed: the key does not match the one the value was "
                               "written with, or the value was moved or altered") from exc


class SecretboxTransformer:
    """NaCl secretbox (XSalsa20-Poly1305); stored form: 24-byte nonce + box, as upstream's."""

    def __init__(self, key: bytes) -> None:
        import nacl.secret  # imported here: only configurations that name secretbox need PyNaCl

        self._box = nacl.secret.SecretBox(key)

    def to_storage(self, data: bytes, authenticated_data: bytes) -> bytes:
        return bytes(self._box.encrypt(data))

    def from_storage(self, data: bytes, authenticated_data: bytes) -> bytes:
        import nacl.exceptions

        try:
            return bytes(self._box.decrypt(data))
        except (nacl.exceptions.CryptoError, ValueError) as exc:
            raise DecryptError("secretbox could not open the value: the key does not match the one "
                               "it was written with, or the value was altered") from exc


@dataclass(frozen=True)
class PrefixedTransformer:
    """One provider key: values starting with ``prefix`` are this transformer's."""

    prefix: bytes
    transformer: Transformer | EnvelopeTransformer

    @property
    def name(self) -> str:
        return self.prefix.decode() or "identity"

    @property
    def is_envelope(self) -> bool:
        return inspect.iscoroutinefunction(self.transformer.to_storage)


def provider_prefix(provider: str, key_name: str) -> bytes:
    return f"k8s:enc:{provider}:v1:{key_name}:".encode()


def kms_prefix(name: str) -> bytes:
    return f"k8s:enc:kms:v2:{name}:".encode()


class ProviderChain:
    """The providers of one resource, in configuration order (upstream's prefixTransformers)."""

    def __init__(self, providers: Sequence[PrefixedTransformer]) -> None:
        if not providers:
            raise ValueError("a provider chain needs at least one provider")
        self.providers = tuple(providers)
        self.envelopes = tuple(p for p in self.providers if p.is_envelope)

    @property
    def writer(self) -> PrefixedTransformer:
        return self.providers[0]

    def encrypt(self, data: bytes, key: str) -> bytes:
        """Encrypt with a local provider (a chain whose writer is not ``kms``)."""
        writer = self.writer
        if writer.is_envelope:
            raise TypeError("a kms provider encrypts asynchronously: use encrypt_async")
        return writer.prefix + cast(Transformer, writer.transformer).to_storage(data, key.encode())

    async def encrypt_async(self, data: bytes, key: str) -> bytes:
        writer = self.writer
        if not writer.is_envelope:
            return self.encrypt(data, key)
        try:
            return writer.prefix + await cast(EnvelopeTransformer, writer.transformer).to_storage(data, key.encode())
        except EncryptError as exc:
            raise TransformError(key, f"{writer.name} {exc}") from exc

    def decrypt(self, data: bytes, key: str) -> tuple[bytes, bool]:
        """(plaintext, stale): stale when a provider other than the writer had to read it, so a
        rewrite of the unchanged object re-encrypts it with the current key (rotation)."""
        if self.envelopes:
            raise TypeError("a kms provider decrypts asynchronously: use decrypt_async")
        failures: list[str] = []
        for index, provider in enumerate(self.providers):
            if not data.startswith(provider.prefix):
                continue
            try:
                plain = cast(Transformer, provider.transformer).from_storage(data[len(provider.prefix):], key.encode())
            except DecryptError as exc:
                if provider.prefix:  # identity matches everything; an encrypted value is someone else's
                    failures.append(f"{provider.name} {exc}")
                continue
            return plain, index != 0
        return self._unmatched(data, key, failures)

    async def decrypt_async(self, data: bytes, key: str) -> tuple[bytes, bool]:
        """``decrypt`` for chains with ``kms`` providers: an envelope may also call a value stale
        (written under a KMS key id that no longer writes)."""
        if not self.envelopes:
            return self.decrypt(data, key)
        failures: list[str] = []
        for index, provider in enumerate(self.providers):
            if not data.startswith(provider.prefix):
                continue
            body = data[len(provider.prefix):]
            try:
                if provider.is_envelope:
                    plain, stale = await cast(EnvelopeTransformer, provider.transformer).from_storage(body, key.encode())
                    return plain, stale or index != 0
                return cast(Transformer, provider.transformer).from_storage(body, key.encode()), index != 0
            except DecryptError as exc:
                if provider.prefix:
                    failures.append(f"{provider.name} {exc}")
        return self._unmatched(data, key, failures)

    def _unmatched(self, data: bytes, key: str, failures: list[str]) -> tuple[bytes, bool]:
        if failures:
            raise TransformError(key, "; ".join(failures))
        if not data.startswith(ENCRYPTED_PREFIX):
            # Written before encryption was configured for this resource: read it as it is.
            return data, True
        configured = ", ".join(p.name for p in self.providers)
        raise TransformError(key, f"no configured provider can decrypt a value written by "
                                  f"{_written_by(data)} (configured: {configured})")


def read_unencrypted(data: bytes, key: str) -> bytes:
    """A value of a resource without encryption configured (upstream's encrypt-check identity)."""
    if data.startswith(ENCRYPTED_PREFIX):
        raise TransformError(key, f"identity transformer tried to read encrypted data (written by "
                                  f"{_written_by(data)}; is --encryption-provider-config missing it?)")
    return data


def _written_by(data: bytes) -> str:
    """``k8s:enc:aescbc:v1:key1:`` from an encrypted value (at most its first five fields)."""
    fields = data.split(b":", 5)
    return ":".join(f.decode(errors="replace") for f in fields[:5]) + ":"
