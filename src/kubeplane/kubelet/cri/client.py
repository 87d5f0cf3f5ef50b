"""An async CRI v1 client (RuntimeService and ImageService) over a unix socket with grpc.aio.

Each method is one RPC; it takes and returns the CRI messages (``kubeplane.kubelet.cri.api.pb``)
except where a bare ID is all a caller ever needs. Failures surface as ``CRIError`` carrying the
gRPC status code, so callers can tell "not found" from "runtime unavailable".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import grpc  # type: ignore[import-untyped]
import grpc.aio  # type: ignore[import-untyped]
from google.protobuf.message import Message

from kubeplane.kubelet.cri.api import method_descriptor, pb

# The kubelet's default --runtime-request-timeout.
DEFAULT_REQUEST_TIMEOUT = 120.0

_Response = TypeVar("_Response", bound=Message)

RUNTIME_SERVICE = "RuntimeService"
IMAGE_SERVICE = "ImageService"


class CRIError(Exception):
    """An RPC failed; ``code`` is the gRPC status the runtime (or the channel) answered."""

    def __init__(self, rpc: str, code: grpc.StatusCode, details: str) -> None:
        self.rpc = rpc
        self.code = code
        self.details = details
        super().__init__(f"CRI {rpc} failed: {code.name}: {details}")

    @property
    def not_found(self) -> bool:
        return self.code == grpc.StatusCode.NOT_FOUND


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


class CRIClient:
    """A connection to one runtime's CRI socket. Use ``async with CRIClient(path) as cri``; the
    channel belongs to the event loop that opened it."""

    def __init__(self, socket_path: Path | str, request_timeout: float = DEFAULT_REQUEST_TIMEOUT) -> None:
        self.socket_path = Path(socket_path)
        self.request_timeout = request_timeout
        self._channel: grpc.aio.Channel | None = None
        self._methods: dict[str, grpc.aio.UnaryUnaryMultiCallable[Any, Any]] = {}

    async def __aenter__(self) -> CRIClient:
        self.open()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.close()

    def open(self) -> None:
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(f"unix://{self.socket_path}")

    async def close(self) -> None:
        if self._channel is not None:
            channel, self._channel = self._channel, None
            self._methods.clear()
            await channel.close()

    async def _call(self, service: str, method: str, request: Message, response_type: type[_Response],
                    timeout: float | None = None) -> _Response:
        if self._channel is None:
            raise RuntimeError("CRIClient is not open; use 'async with CRIClient(...)'")
        key = f"{service}/{method}"
        callable_ = self._methods.get(key)
        if callable_ is None:
            descriptor = method_descriptor(service, method)
            # The response class must be the one the API declares, or decoding would be garbage.
            assert descriptor.output_type is response_type.DESCRIPTOR, key
            callable_ = self._channel.unary_unary(
                f"/{descriptor.containing_service.full_name}/{descriptor.name}",
                request_serializer=_serialize, response_deserializer=response_type.FromString)
            self._methods[key] = callable_
        try:
            response = await callable_(request, timeout=timeout or self.request_timeout)
        except grpc.aio.AioRpcError as error:
            raise CRIError(method, error.code(), error.details() or "") from None
        assert isinstance(response, response_type)
        return response

    # -- RuntimeService ----------------------------------------------------------------------------

    async def version(self) -> pb.VersionResponse:
        return await self._call(RUNTIME_SERVICE, "Version", pb.VersionRequest(version="v1"),
                                pb.VersionResponse)

    async def status(self, verbose: bool = False) -> pb.StatusResponse:
        """RuntimeReady / NetworkReady conditions."""
        return await self._call(RUNTIME_SERVICE, "Status", pb.StatusRequest(verbose=verbose), pb.StatusResponse)

    async def run_pod_sandbox(self, config: pb.PodSandboxConfig, runtime_handler: str = "") -> str:
        """Create and start a sandbox (pause container + network); returns its ID."""
        request = pb.RunPodSandboxRequest(config=config, runtime_handler=runtime_handler)
        response = await self._call(RUNTIME_SERVICE, "RunPodSandbox", request, pb.RunPodSandboxResponse)
        return response.pod_sandbox_id

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        """Stop every container of the sandbox and tear its network down (idempotent)."""
        await self._call(RUNTIME_SERVICE, "StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=sandbox_id),
                         pb.StopPodSandboxResponse)

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        await self._call(RUNTIME_SERVICE, "RemovePodSandbox",
                         pb.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id), pb.RemovePodSandboxResponse)

    async def pod_sandbox_status(self, sandbox_id: str, verbose: bool = False) -> pb.PodSandboxStatusResponse:
        request = pb.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id, verbose=verbose)
        return await self._call(RUNTIME_SERVICE, "PodSandboxStatus", request, pb.PodSandboxStatusResponse)

    async def list_pod_sandbox(self, filter: pb.PodSandboxFilter | None = None) -> list[pb.PodSandbox]:
        request = pb.ListPodSandboxRequest(filter=filter)
        return list((await self._call(RUNTIME_SERVICE, "ListPodSandbox", request, pb.ListPodSandboxResponse)).items)

    async def create_container(self, sandbox_id: str, config: pb.ContainerConfig,
                               sandbox_config: pb.PodSandboxConfig) -> str:
        """Create (not start) a container in the sandbox; returns its ID."""
        request = pb.CreateContainerRequest(pod_sandbox_id=sandbox_id, config=config, sandbox_config=sandbox_config)
        response = await self._call(RUNTIME_SERVICE, "CreateContainer", request, pb.CreateContainerResponse)
        return response.container_id

    async def start_container(self, container_id: str) -> None:
        await self._call(RUNTIME_SERVICE, "StartContainer", pb.StartContainerRequest(container_id=container_id),
                         pb.StartContainerResponse)

    async def stop_container(self, container_id: str, timeout: int) -> None:
        """SIGTERM (or the image's stop signal), then SIGKILL after ``timeout`` seconds; the RPC
        deadline leaves the runtime the request timeout beyond that to kill and reap."""
        request = pb.StopContainerRequest(container_id=container_id, timeout=timeout)
        await self._call(RUNTIME_SERVICE, "StopContainer", request, pb.StopContainerResponse,
                         timeout=timeout + self.request_timeout)

    async def remove_container(self, container_id: str) -> None:
        await self._call(RUNTIME_SERVICE, "RemoveContainer", pb.RemoveContainerRequest(container_id=container_id),
                         pb.RemoveContainerResponse)

    async def reopen_container_log(self, container_id: str) -> None:
        """Make the runtime reopen the container's log file (after the kubelet rotated it)."""
        await self._call(RUNTIME_SERVICE, "ReopenContainerLog",
                         pb.ReopenContainerLogRequest(container_id=container_id), pb.ReopenContainerLogResponse)

    async def container_status(self, container_id: str, verbose: bool = False) -> pb.ContainerStatusResponse:
        request = pb.ContainerStatusRequest(container_id=container_id, verbose=verbose)
        return await self._call(RUNTIME_SERVICE, "ContainerStatus", request, pb.ContainerStatusResponse)

    async def list_containers(self, filter: pb.ContainerFilter | None = None) -> list[pb.Container]:
        request = pb.ListContainersRequest(filter=filter)
        return list((await self._call(RUNTIME_SERVICE, "ListContainers", request, pb.ListContainersResponse)).containers)

    async def exec_sync(self, container_id: str, cmd: Sequence[str], timeout: int = 0) -> pb.ExecSyncResponse:
        """Run cmd in the container and collect its output. ``timeout`` seconds bound the command
        itself; the RPC deadline is that plus the request timeout (which alone bounds timeout=0)."""
        request = pb.ExecSyncRequest(container_id=container_id, cmd=list(cmd), timeout=timeout)
        return await self._call(RUNTIME_SERVICE, "ExecSync", request, pb.ExecSyncResponse,
                                timeout=timeout + self.request_timeout)

    # -- ImageService ------------------------------------------------------------------------------

    async def image_status(self, image: str, verbose: bool = False) -> pb.Image | None:
        """The image if the runtime has it, else None (CRI answers an empty response, not an error)."""
        request = pb.ImageStatusRequest(image=pb.ImageSpec(image=image), verbose=verbose)
        response = await self._call(IMAGE_SERVICE, "ImageStatus", request, pb.ImageStatusResponse)
        return response.image if response.HasField("image") else None

    async def list_images(self, filter: pb.ImageFilter | None = None) -> list[pb.Image]:
        response = await self._call(IMAGE_SERVICE, "ListImages", pb.ListImagesRequest(filter=filter),
                                    pb.ListImagesResponse)
        return list(response.images)

    async def pull_image(self, image: str, auth: pb.AuthConfig | None = None,
                         sandbox_config: pb.PodSandboxConfig | None = None) -> str:
        """Pull from a registry; returns the image reference the runtime resolved (its ID or digest)."""
        request = pb.PullImageRequest(image=pb.ImageSpec(image=image), auth=auth, sandbox_config=sandbox_config)
        return (await self._call(IMAGE_SERVICE, "PullImage", request, pb.PullImageResponse)).image_ref

    async def remove_image(self, image: str) -> None:
        await self._call(IMAGE_SERVICE, "RemoveImage", pb.RemoveImageRequest(image=pb.ImageSpec(image=image)),
                         pb.RemoveImageResponse)


async def wait_network_ready(cri: CRIClient, timeout: float = 15.0) -> None:
    """Until the runtime reports NetworkReady (containerd has loaded a CNI config); TimeoutError
    naming the runtime's conditions after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        conditions = {c.type: c.status for c in (await cri.status()).status.conditions}
        if conditions.get("NetworkReady"):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"CNI network not ready: {conditions}")
        await asyncio.sleep(0.05)
