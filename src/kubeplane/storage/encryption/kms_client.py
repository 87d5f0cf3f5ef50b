"""The API server's side of a KMS v2 plugin: Status, Encrypt and Decrypt over a unix socket.

The gRPC channel is made on first use, inside the running event loop (a grpc.aio channel belongs
to the loop that made it; the configuration is parsed before any loop runs). Errors read as
upstream's (``rpc error: code = Unavailable desc = ...``) so API errors look familiar.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc  # type: ignore[import-untyped]

from kubeplane.kms import api


class KMSError(Exception):
    """A call to the plugin failed (unreachable, timed out, or refused)."""


@dataclass(frozen=True)
class Status:
    version: str
    healthz: str
    key_id: str


@dataclass(frozen=True)
class Wrapped:
    ciphertext: bytes
    key_id: str
    annotations: dict[str, bytes]


# The plugin is a local socket: retry a lost connection within seconds, not gRPC's default of up
# to two minutes, so reads recover soon after a plugin restart.
CHANNEL_OPTIONS = (("grpc.initial_reconnect_backoff_ms", 500), ("grpc.min_reconnect_backoff_ms", 500),
                   ("grpc.max_reconnect_backoff_ms", 5000))


def _go_code(code: grpc.StatusCode) -> str:
    # grpc-go prints codes in CamelCase (DeadlineExceeded); Python's enum names are UPPER_CASE.
    return "".join(part.capitalize() for part in code.name.split("_"))


class KMSClient:
    def __init__(self, endpoint: str, timeout: float) -> None:
        self.endpoint = endpoint  # unix:///path
        self.timeout = timeout
        self._channel: grpc.aio.Channel | None = None

    def _call(self, method: str, request_class: Any, response_class: Any) -> Any:
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self.endpoint, options=CHANNEL_OPTIONS)
        return self._channel.unary_unary(method, request_serializer=request_class.SerializeToString,
                                         response_deserializer=response_class.FromString)

    async def _invoke(self, method: str, request: Any, response_class: Any) -> Any:
        stub = self._call(method, type(request), response_class)
        try:
            return await stub(request, timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            raise KMSError(f"rpc error: code = {_go_code(exc.code())} desc = {exc.details()}") from exc

    async def status(self) -> Status:
        response = await self._invoke(api.STATUS_METHOD, api.StatusRequest(), api.StatusResponse)
        return Status(response.version, response.healthz, response.key_id)

    async def encrypt(self, plaintext: bytes, uid: str) -> Wrapped:
        response = await self._invoke(api.ENCRYPT_METHOD, api.EncryptRequest(plaintext=plaintext, uid=uid),
                                      api.EncryptResponse)
        return Wrapped(response.ciphertext, response.key_id, dict(response.annotations))

    async def decrypt(self, wrapped: Wrapped, uid: str) -> bytes:
        request = api.DecryptRequest(ciphertext=wrapped.ciphertext, uid=uid, key_id=wrapped.key_id,
                                     annotations=wrapped.annotations)
        response = await self._invoke(api.DECRYPT_METHOD, request, api.DecryptResponse)
        plaintext: bytes = response.plaintext
        return plaintext

    async def close(self) -> None:
        if self._channel is not None:
            channel, self._channel = self._channel, None
            await channel.close()
