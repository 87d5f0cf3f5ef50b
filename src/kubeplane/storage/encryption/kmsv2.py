"""The ``kms`` provider, API version v2: envelope encryption with a DEK the KMS plugin wraps.

As upstream's kmsv2 envelope transformer (Kubernetes 1.29+ defaults):

* The API server makes a random 32-byte DEK *seed*, has the plugin encrypt it once, and reuses it
  for every write until the plugin's ``key_id`` changes. Each write derives its own AES-256-GCM key
  with HKDF-SHA256 (expand only) from the seed and 32 random bytes stored with the value
  (``HKDF_SHA256_XNONCE_AES_GCM_SEED``), so one seed never wears out a key.
* The stored value is ``k8s:enc:kms:v2:<name>:`` + a protobuf ``EncryptedObject`` (encryptedData,
  keyID, encryptedDEKSource, annotations, encryptedDEKSourceType). Values written with a plain DEK
  (``AES_GCM_KEY``, upstream before 1.29) are read too.
* Decrypted DEKs are cached by their encrypted form (24 h), so reads call the plugin once per DEK.
* ``Status`` is polled (every minute while healthy, every 10 s after a failure); a new ``key_id``
  means a new DEK for the next writes, and values read with another key id are stale, so a no-op
  update re-encrypts them (rotation by rewrite). When the plugin stops answering, writes continue
  with the current DEK for 3 minutes after the last good status, then fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hashlib
import logging
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from google.protobuf.message import DecodeError

from kubeplane.kms import api
from kubeplane.kms.api import BYTES, STRING, STRING_TO_BYTES_MAP, Enum, Field
from kubeplane.storage.encryption.kms_client import KMSClient, KMSError, Wrapped
from kubeplane.storage.encryption.transformers import DecryptError, EncryptError

log = logging.getLogger("kubeplane.storage.encryption")

_EncryptedObjectMessages = api.build_messages("kubeplane/storage/encryption/kmsv2/api.proto", "v2", {
    "EncryptedObject": [Field("encryptedData", 1, BYTES), Field("keyID", 2, STRING),
                        Field("encryptedDEKSource", 3, BYTES), Field("annotations", 4, STRING_TO_BYTES_MAP),
                        Field("encryptedDEKSourceType", 5, "EncryptedDEKSourceType")],
}, enums=[Enum("EncryptedDEKSourceType", (("AES_GCM_KEY", 0), ("HKDF_SHA256_XNONCE_AES_GCM_SEED", 1)))])
EncryptedObject: Any = _EncryptedObjectMessages["EncryptedObject"]
AES_GCM_KEY = 0
HKDF_SHA256_XNONCE_AES_GCM_SEED = 1

SEED_BYTES = 32
INFO_BYTES = 32  # the per-write HKDF info stored in front of the GCM nonce
NONCE_BYTES = 12
MAX_KEY_ID_BYTES = 1024
MAX_DEK_SOURCE_BYTES = 1024
MAX_ANNOTATION_BYTES = 32 * 1024
SUPPORTED_VERSIONS = ("v2", "v2beta1")

# Upstream's timings (kmsv2PluginHealthzPositiveInterval, ...NegativeInterval,
# kmsv2PluginWriteDEKSourceMaxTTL, the DEK cache's cacheTTL).
STATUS_INTERVAL_HEALTHY = 60.0
STATUS_INTERVAL_UNHEALTHY = 10.0
WRITE_DEK_MAX_TTL = 180.0
DEK_CACHE_TTL = 24 * 3600.0
# Seconds between status polls while healthy: a test knob (and for operators who want faster
# key-id pick-up); upstream has no flag for it.
STATUS_INTERVAL_ENV = "KUBEPLANE_KMS_STATUS_INTERVAL"


def status_interval_from_env() -> float:
    text = os.environ.get(STATUS_INTERVAL_ENV, "")
    try:
        value = float(text) if text else STATUS_INTERVAL_HEALTHY
    except ValueError:
        return STATUS_INTERVAL_HEALTHY
    return value if value > 0 else STATUS_INTERVAL_HEALTHY


def key_id_hash(key_id: str) -> str:
    """How upstream names a key id in messages and logs: its hash, never the id itself."""
    return f"sha256:{hashlib.sha256(key_id.encode()).hexdigest()}" if key_id else ""


# --- the data keys ---------------------------------------------------------------------------------
class SeedDEK:
    """HKDF_SHA256_XNONCE_AES_GCM_SEED: stored form is info (32) + nonce (12) + ciphertext + tag,
    with the storage key as authenticated data."""

    source_type = HKDF_SHA256_XNONCE_AES_GCM_SEED

    def __init__(self, seed: bytes) -> None:
        if len(seed) < SEED_BYTES:
            raise ValueError(f"invalid seed length {len(seed)} used for key generation")
        self._seed = seed

    def _derived(self, info: bytes) -> AESGCM:
        return AESGCM(HKDFExpand(hashes.SHA256(), 32, info).derive(self._seed))

    def seal(self, data: bytes, authenticated_data: bytes) -> bytes:
        info, nonce = os.urandom(INFO_BYTES), os.urandom(NONCE_BYTES)
        return info + nonce + self._derived(info).encrypt(nonce, data, authenticated_data)

    def open(self, data: bytes, authenticated_data: bytes) -> bytes:
        if len(data) < INFO_BYTES + NONCE_BYTES:
            raise DecryptError("the stored data was shorter than the required size")
        info, nonce, body = data[:INFO_BYTES], data[INFO_BYTES:INFO_BYTES + NONCE_BYTES], data[INFO_BYTES + NONCE_BYTES:]
        return _open(self._derived(info), nonce, body, authenticated_data)


class PlainDEK:
    """AES_GCM_KEY (read only, as upstream reads pre-1.29 values): nonce (12) + ciphertext + tag."""

    source_type = AES_GCM_KEY

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def open(self, data: bytes, authenticated_data: bytes) -> bytes:
        if len(data) < NONCE_BYTES:
            raise DecryptError("the stored data was shorter than the required size")
        return _open(self._aead, data[:NONCE_BYTES], data[NONCE_BYTES:], authenticated_data)


def _open(aead: AESGCM, nonce: bytes, body: bytes, authenticated_data: bytes) -> bytes:
    try:
        return aead.decrypt(nonce, body, authenticated_data)
    except InvalidTag as exc:
        raise DecryptError("cipher: message authentication failed") from exc


# --- the envelope ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class WriteState:
    """The DEK seed new writes use, with its wrapped form (upstream's State)."""

    dek: SeedDEK
    wrapped: Wrapped
    cache_key: bytes
    expires_at: float  # time.monotonic(); writes fail after it unless a status poll renews it


def validate(obj: Any) -> None:
    """Upstream's ValidateEncryptedObject, applied to every value read and written."""
    if obj.encryptedDEKSourceType not in (AES_GCM_KEY, HKDF_SHA256_XNONCE_AES_GCM_SEED):
        raise DecryptError(f"unknown encryptedDEKSourceType: {obj.encryptedDEKSourceType}")
    if not obj.encryptedData:
        raise DecryptError("encrypted data is empty")
    if not obj.encryptedDEKSource:
        raise DecryptError("failed to validate encrypted DEK source: encrypted DEK source is empty")
    if len(obj.encryptedDEKSource) > MAX_DEK_SOURCE_BYTES:
        raise DecryptError(f"failed to validate encrypted DEK source: encrypted DEK source is "
                           f"{len(obj.encryptedDEKSource)} bytes, which exceeds the max size of {MAX_DEK_SOURCE_BYTES}")
    validate_key_id(obj.keyID, DecryptError)
    size = sum(len(k) + len(v) for k, v in obj.annotations.items())
    if size > MAX_ANNOTATION_BYTES:
        raise DecryptError(f"failed to validate annotations: annotations size {size} exceeds {MAX_ANNOTATION_BYTES}")


def validate_key_id(key_id: str, error: type[Exception]) -> None:
    if not key_id:
        raise error("failed to validate key id: keyID is empty")
    if len(key_id.encode()) > MAX_KEY_ID_BYTES:
        raise error(f"failed to validate key id: keyID is {len(key_id.encode())} bytes, which exceeds "
                    f"the max size of {MAX_KEY_ID_BYTES}")


def cache_key(source_type: int, wrapped: Wrapped) -> bytes:
    """The DEK cache key: everything the plugin needs to unwrap the DEK, hashed."""
    digest = hashlib.sha256()
    for part in (str(source_type).encode(), wrapped.ciphertext, wrapped.key_id.encode(),
                 *(b"%s=%s" % (k.encode(), wrapped.annotations[k]) for k in sorted(wrapped.annotations))):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.digest()


class KMSv2Transformer:
    """One ``kms`` provider (``name``) talking to one plugin endpoint."""

    def __init__(self, name: str, client: KMSClient, *, status_interval: float = STATUS_INTERVAL_HEALTHY,
                 retry_interval: float = STATUS_INTERVAL_UNHEALTHY, write_ttl: float = WRITE_DEK_MAX_TTL,
                 cache_ttl: float = DEK_CACHE_TTL) -> None:
        self.name = name
        self.client = client
        self.status_interval = status_interval
        self.retry_interval = min(retry_interval, status_interval)
        self.write_ttl = write_ttl
        self.cache_ttl = cache_ttl
        self.state: WriteState | None = None
        self._cache: dict[bytes, tuple[SeedDEK | PlainDEK, float]] = {}
        self._refresh_lock: asyncio.Lock | None = None
        self._poller: asyncio.Task[None] | None = None
        self._last_check = -1.0  # monotonic time of the last status call
        self._last_error: str | None = "the KMS plugin has not been asked for its status yet"
        # Calls to the plugin, for tests and logs: how often the cache saved one.
        self.decrypt_calls = 0
        self.encrypt_calls = 0

    # --- state -----------------------------------------------------------------------------------
    def _ensure_started(self) -> None:
        if self._poller is None:
            self._refresh_lock = asyncio.Lock()
            self._poller = asyncio.get_running_loop().create_task(self._poll(), name=f"kms {self.name} status")

    async def _poll(self) -> None:
        while True:
            try:
                await self.refresh()
            except EncryptError:
                pass  # recorded for the health check; writes coast on the current DEK for a while
            except Exception as exc:  # the poller must outlive any surprise, or rotation stops
                self._last_error = f"status poll failed: {exc!r}"
                log.exception("kms provider %s: status poll failed", self.name)
            await asyncio.sleep(self.status_interval if self._last_error is None else self.retry_interval)

    async def refresh(self) -> None:
        """Ask the plugin for its status; a new key id (or none yet) makes a new DEK seed.
        Raises EncryptError (and records it for the health check) when the plugin is unhealthy."""
        self._ensure_started()
        assert self._refresh_lock is not None
        async with self._refresh_lock:
            self._last_check = time.monotonic()
            try:
                await self._refresh()
            except (KMSError, EncryptError) as exc:
                self._last_error = str(exc)
                log.warning("kms provider %s: %s", self.name, exc)
                raise EncryptError(str(exc)) from exc
            self._last_error = None

    async def _refresh(self) -> None:
        status = await self.client.status()
        if status.version not in SUPPORTED_VERSIONS:
            raise EncryptError(f"expected KMSv2 API version v2, got {status.version}")
        if status.healthz != api.HEALTHZ_OK:
            raise EncryptError(f"got unexpected healthz status: {status.healthz}")
        validate_key_id(status.key_id, EncryptError)
        expires = time.monotonic() + self.write_ttl
        state = self.state
        if state is not None and state.wrapped.key_id == status.key_id:
            self.state = WriteState(state.dek, state.wrapped, state.cache_key, expires)
            return
        seed = os.urandom(SEED_BYTES)
        self.encrypt_calls += 1
        wrapped = await self.client.encrypt(seed, str(uuid.uuid4()))
        validate_key_id(wrapped.key_id, EncryptError)
        if not wrapped.ciphertext or len(wrapped.ciphertext) > MAX_DEK_SOURCE_BYTES:
            raise EncryptError("the KMS plugin returned an empty or oversized encrypted DEK source")
        dek = SeedDEK(seed)
        key = cache_key(HKDF_SHA256_XNONCE_AES_GCM_SEED, wrapped)
        self._remember(key, dek)
        self.state = WriteState(dek, wrapped, key, expires)
        log.info("kms provider %s: rotated DEK (new keyID hash %s, old keyID hash %s)", self.name,
                 key_id_hash(wrapped.key_id), key_id_hash(state.wrapped.key_id) if state else "none")

    async def check_health(self) -> None:
        """The ``kms-provider-N`` health check: the last status, asked again when older than the
        poll interval (so health checks never call the plugin more often than polling does)."""
        self._ensure_started()
        if self._last_check < 0 or time.monotonic() - self._last_check >= self.retry_interval:
            with contextlib.suppress(EncryptError):
                await self.refresh()
        if self._last_error is not None:
            raise RuntimeError(self._last_error)

    # --- the DEK cache -----------------------------------------------------------------------------
    def _remember(self, key: bytes, dek: SeedDEK | PlainDEK) -> None:
        now = time.monotonic()
        self._cache = {k: v for k, v in self._cache.items() if v[1] > now}  # expire as we add
        self._cache[key] = (dek, now + self.cache_ttl)

    def _cached(self, key: bytes) -> SeedDEK | PlainDEK | None:
        entry = self._cache.get(key)
        return entry[0] if entry is not None and entry[1] > time.monotonic() else None

    # --- values ------------------------------------------------------------------------------------
    async def to_storage(self, data: bytes, authenticated_data: bytes) -> bytes:
        self._ensure_started()
        if self.state is None:
            await self.refresh()  # the first write: the poller may not have asked yet
        state = self.state
        assert state is not None
        if time.monotonic() > state.expires_at:
            expired = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=time.monotonic() - state.expires_at)
            raise EncryptError(f"encryptedDEKSource with keyID hash {key_id_hash(state.wrapped.key_id)!r} expired "
                               f"at {expired.strftime('%Y-%m-%dT%H:%M:%SZ')}: the KMS plugin has not "
                               f"answered a status call since (last error: {self._last_error})")
        obj = EncryptedObject(encryptedData=state.dek.seal(data, authenticated_data), keyID=state.wrapped.key_id,
                              encryptedDEKSource=state.wrapped.ciphertext, annotations=state.wrapped.annotations,
                              encryptedDEKSourceType=HKDF_SHA256_XNONCE_AES_GCM_SEED)
        out: bytes = obj.SerializeToString()
        return out

    async def from_storage(self, data: bytes, authenticated_data: bytes) -> tuple[bytes, bool]:
        """(plaintext, stale): stale when another key id (or DEK scheme) wrote it than writes now."""
        self._ensure_started()
        try:
            obj = EncryptedObject.FromString(data)
        except DecodeError as exc:
            raise DecryptError(f"failed to decode the encrypted object: {exc}") from exc
        validate(obj)
        wrapped = Wrapped(obj.encryptedDEKSource, obj.keyID, dict(obj.annotations))
        key = cache_key(obj.encryptedDEKSourceType, wrapped)
        dek = self._cached(key)
        if dek is None:
            self.decrypt_calls += 1
            try:
                plain_dek = await self.client.decrypt(wrapped, str(uuid.uuid4()))
            except KMSError as exc:
                raise DecryptError(f"failed to decrypt DEK, error: {exc}") from exc
            try:
                dek = SeedDEK(plain_dek) if obj.encryptedDEKSourceType == HKDF_SHA256_XNONCE_AES_GCM_SEED \
                    else PlainDEK(plain_dek)
            except ValueError as exc:
                raise DecryptError(str(exc)) from exc
            self._remember(key, dek)
        plain = dek.open(obj.encryptedData, authenticated_data)
        if self.state is None:
            # Staleness needs the current key id. Upstream fails such reads; reading on (and
            # calling the value fresh) is kinder while the plugin is away, and rewrites catch up.
            with contextlib.suppress(EncryptError):
                await self.refresh()
        state = self.state
        stale = state is not None and (obj.keyID != state.wrapped.key_id
                                       or obj.encryptedDEKSourceType != HKDF_SHA256_XNONCE_AES_GCM_SEED)
        return plain, stale

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        await self.client.close()
