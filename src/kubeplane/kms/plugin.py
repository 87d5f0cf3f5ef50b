"""The local KMS v2 plugin: wraps DEKs with AES-256-GCM under the key file's KEKs.

A wrapped DEK is ``nonce (12 bytes) + AES-GCM(KEK, DEK)`` with the KEK's id as authenticated
data, so a ciphertext presented with another key id fails instead of decrypting to garbage.
The key file is re-read when it changes (``kubeplane kms-plugin --rotate`` by another process),
so a rotation takes effect without a restart: Status reports the new key id and the API server
starts a new DEK for its next writes.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped]
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kubeplane.kms import api, keyfile

log = logging.getLogger("kubeplane.kms")

NONCE_BYTES = 12
# Stored in etcd next to each DEK (plaintext, as upstream says of annotations): which scheme wrapped it.
ANNOTATION = "local-kms.kubeplane.io/scheme"
SCHEME = b"aes-256-gcm/v1"


class LocalKMS:
    def __init__(self, key_file: Path) -> None:
        self.key_file = key_file
        self._stamp: tuple[int, int] | None = None
        self._ring = self._reload()

    @property
    def ring(self) -> keyfile.KeyRing:
        self._reload_if_changed()
        return self._ring

    def _reload(self) -> keyfile.KeyRing:
        stat = os.stat(self.key_file)
        ring = keyfile.load(self.key_file)
        self._stamp = (stat.st_mtime_ns, stat.st_ino)
        return ring

    def _reload_if_changed(self) -> None:
        try:
            stat = os.stat(self.key_file)
            if (stat.st_mtime_ns, stat.st_ino) != self._stamp:
                self._ring = self._reload()
                log.info("key file reloaded: primary key %s", self._ring.primary.key_id)
        except (OSError, keyfile.KeyFileError) as exc:
            # Keep serving with the keys already loaded; Status reports the problem.
            log.warning("key file %s unreadable, keeping the loaded keys: %s", self.key_file, exc)

    # --- the three RPCs --------------------------------------------------------------------------
    async def status(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        ring = self.ring
        return api.StatusResponse(version=api.API_VERSION, healthz=api.HEALTHZ_OK, key_id=ring.primary.key_id)

    async def encrypt(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        kek = self.ring.primary
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(kek.secret).encrypt(nonce, request.plaintext, kek.key_id.encode())
        log.debug("encrypt uid=%s key_id=%s", request.uid, kek.key_id)
        return api.EncryptResponse(ciphertext=nonce + sealed, key_id=kek.key_id, annotations={ANNOTATION: SCHEME})

    async def decrypt(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        kek = self.ring.find(request.key_id)
        if kek is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"key id {request.key_id!r} is not in the key file")
        assert kek is not None
        if request.annotations.get(ANNOTATION, SCHEME) != SCHEME:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "unknown wrapping scheme")
        data = request.ciphertext
        try:
            plain = AESGCM(kek.secret).decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], kek.key_id.encode())
        except (InvalidTag, ValueError):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                f"the ciphertext was not wrapped by key {kek.key_id!r}")
        log.debug("decrypt uid=%s key_id=%s", request.uid, kek.key_id)
        return api.DecryptResponse(plaintext=plain)

    def handler(self) -> grpc.GenericRpcHandler:
        return api.service_handler({"Status": self.status, "Encrypt": self.encrypt, "Decrypt": self.decrypt})


async def serve(kms: LocalKMS, socket: Path) -> grpc.aio.Server:
    """Start serving on a unix socket (replacing a stale socket file left by a killed plugin)."""
    socket.parent.mkdir(parents=True, exist_ok=True)
    socket.unlink(missing_ok=True)
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((kms.handler(),))
    server.add_insecure_port(f"unix://{socket}")
    await server.start()
    os.chmod(socket, 0o600)  # only the API server's user may ask for DEKs
    return server
