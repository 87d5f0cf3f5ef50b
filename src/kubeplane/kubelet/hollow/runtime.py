"""An in-process stand-in for containerd's CRI service, for hollow nodes.

``HollowRuntime`` is a ``CRIClient`` whose RPCs are answered from memory, so the kubelet's pod
workers, image manager, prober and node status code run unchanged (they are typed against
``CRIClient``). Sandboxes get addresses from the process's ``PodAddressPool``; images are always
present; a started container "runs" as its command line says (``behaviour.py``): it exits after
the recognised ``sleep``s with the recognised status, or runs until stopped. Its log file (CRI log
format, under the sandbox's log directory, as containerd writes it) holds what ``echo`` printed.

Each exit is reported through ``on_change(pod_uid)``, standing in for upstream's PLEG, so pod
workers react at once instead of on their next periodic sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import grpc  # type: ignore[import-untyped]

from kubeplane.kubelet import labels
from kubeplane.kubelet.cri import CRIClient, CRIError, pb
from kubeplane.kubelet.hollow.addresses import AddressesExhausted, PodAddressPool
from kubeplane.kubelet.hollow.behaviour import behaviour_of

RUNTIME_NAME = "hollow"
RUNTIME_VERSION = "hollow-1.0"
# What containerd reports for a container it had to SIGKILL: 128 + 9.
KILLED_EXIT_CODE = 137
FAKE_IMAGE_SIZE = 4 * 1024 * 1024


def _image_id(image: str) -> str:
    return "sha256:" + hashlib.sha256(image.encode()).hexdigest()


def _not_found(rpc: str, what: str) -> CRIError:
    return CRIError(rpc, grpc.StatusCode.NOT_FOUND, f"{what} not found")


def _labels_match(selector: Mapping[str, str], have: Mapping[str, str]) -> bool:
    return all(have.get(key) == value for key, value in selector.items())


@dataclass
class _Sandbox:
    id: str
    config: pb.PodSandboxConfig
    ip: str
    created_at: int
    owns_ip: bool = True
    state: pb.PodSandboxState.ValueType = pb.SANDBOX_READY
    containers: list[str] = field(default_factory=list)

    @property
    def pod_uid(self) -> str:
        return self.config.labels.get(labels.POD_UID) or self.config.metadata.uid


@dataclass
class _Container:
    id: str
    sandbox: _Sandbox
    config: pb.ContainerConfig
    created_at: int
    state: pb.ContainerState.ValueType = pb.CONTAINER_CREATED
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    reason: str = ""
    exit_timer: asyncio.TimerHandle | None = None

    @property
    def log_path(self) -> Path:
        return Path(self.sandbox.config.log_directory) / self.config.log_path


class HollowRuntime(CRIClient):
    """One hollow node's containers, sandboxes and images, in memory."""

    def __init__(self, node_ip: str, pod_addresses: PodAddressPool,
                 on_change: Callable[[str], None] | None = None) -> None:
        """``pod_addresses`` may be shared with other nodes (the fleet's one pool)."""
        super().__init__(socket_path="/nonexistent/hollow.sock")  # never dialled
        self.node_ip = node_ip
        self.pod_addresses = pod_addresses
        self.on_change = on_change
        self.sandboxes: dict[str, _Sandbox] = {}
        self.containers: dict[str, _Container] = {}
        self.images: set[str] = set()
        self._ids = itertools.count(1)

    # -- no channel ----------------------------------------------------------------------------------

    def open(self) -> None:
        pass

    async def close(self) -> None:
        for container in self.containers.values():
            if container.exit_timer is not None:
                container.exit_timer.cancel()

    async def __aenter__(self) -> HollowRuntime:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.close()

    def _new_id(self) -> str:
        return f"{next(self._ids):08x}{secrets.token_hex(24)}"

    # -- RuntimeService ----------------------------------------------------------------------------

    async def version(self) -> pb.VersionResponse:
        return pb.VersionResponse(version="0.1.0", runtime_name=RUNTIME_NAME, runtime_version=RUNTIME_VERSION,
                                  runtime_api_version="v1")

    async def status(self, verbose: bool = False) -> pb.StatusResponse:
        return pb.StatusResponse(status=pb.RuntimeStatus(conditions=[
            pb.RuntimeCondition(type="RuntimeReady", status=True),
            pb.RuntimeCondition(type="NetworkReady", status=True)]))

    async def run_pod_sandbox(self, config: pb.PodSandboxConfig, runtime_handler: str = "") -> str:
        host_network = config.linux.security_context.namespace_options.network == pb.NODE
        try:
            # A host-network pod shares the node's address; the others get one of their own.
            ip = self.node_ip if host_network else self.pod_addresses.allocate()
        except AddressesExhausted as error:  # what a CNI ADD failing for want of addresses looks like
            raise CRIError("RunPodSandbox", grpc.StatusCode.UNKNOWN,
                           f"failed to setup network for sandbox: {error}") from None
        sandbox = _Sandbox(self._new_id(), config, ip, time.time_ns(), owns_ip=not host_network)
        self.sandboxes[sandbox.id] = sandbox
        return sandbox.id

    def _sandbox(self, rpc: str, sandbox_id: str) -> _Sandbox:
        sandbox = self.sandboxes.get(sandbox_id)
        if sandbox is None:
            raise _not_found(rpc, f"sandbox {sandbox_id}")
        return sandbox

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        sandbox = self._sandbox("StopPodSandbox", sandbox_id)
        for container_id in sandbox.containers:
            self._kill(self.containers[container_id])
        if sandbox.state == pb.SANDBOX_READY:
            sandbox.state = pb.SANDBOX_NOTREADY
            if sandbox.owns_ip:
                self.pod_addresses.release(sandbox.ip)

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        sandbox = self.sandboxes.get(sandbox_id)
        if sandbox is None:
            return  # removing what is gone succeeds, as containerd does
        await self.stop_pod_sandbox(sandbox_id)
        for container_id in list(sandbox.containers):
            await self.remove_container(container_id)
        del self.sandboxes[sandbox_id]

    async def pod_sandbox_status(self, sandbox_id: str, verbose: bool = False) -> pb.PodSandboxStatusResponse:
        sandbox = self._sandbox("PodSandboxStatus", sandbox_id)
        return pb.PodSandboxStatusResponse(status=pb.PodSandboxStatus(
            id=sandbox.id, metadata=sandbox.config.metadata, state=sandbox.state, created_at=sandbox.created_at,
            network=pb.PodSandboxNetworkStatus(ip=sandbox.ip), labels=sandbox.config.labels,
            annotations=sandbox.config.annotations))

    async def list_pod_sandbox(self, filter: pb.PodSandboxFilter | None = None) -> list[pb.PodSandbox]:
        found = []
        for sandbox in self.sandboxes.values():
            if filter is not None:
                if filter.id and filter.id != sandbox.id:
                    continue
                if filter.HasField("state") and filter.state.state != sandbox.state:
                    continue
                if not _labels_match(filter.label_selector, sandbox.config.labels):
                    continue
            found.append(pb.PodSandbox(id=sandbox.id, metadata=sandbox.config.metadata, state=sandbox.state,
                                       created_at=sandbox.created_at, labels=sandbox.config.labels,
                                       annotations=sandbox.config.annotations))
        return found

    async def create_container(self, sandbox_id: str, config: pb.ContainerConfig,
                               sandbox_config: pb.PodSandboxConfig) -> str:
        sandbox = self._sandbox("CreateContainer", sandbox_id)
        if sandbox.state != pb.SANDBOX_READY:
            raise CRIError("CreateContainer", grpc.StatusCode.UNKNOWN, f"sandbox {sandbox_id} is not running")
        container = _Container(self._new_id(), sandbox, config, time.time_ns())
        self.containers[container.id] = container
        sandbox.containers.append(container.id)
        return container.id

    def _container(self, rpc: str, container_id: str) -> _Container:
        container = self.containers.get(container_id)
        if container is None:
            raise _not_found(rpc, f"container {container_id}")
        return container

    async def start_container(self, container_id: str) -> None:
        container = self._container("StartContainer", container_id)
        if container.state != pb.CONTAINER_CREATED:
            raise CRIError("StartContainer", grpc.StatusCode.UNKNOWN, f"container {container_id} is not created")
        behaviour = behaviour_of(list(container.config.command), list(container.config.args))
        container.state = pb.CONTAINER_RUNNING
        container.started_at = time.time_ns()
        self._write_log(container, behaviour.output)
        if behaviour.runs_for is not None:
            container.exit_timer = asyncio.get_running_loop().call_later(
                behaviour.runs_for, self._exit, container, behaviour.exit_code)

    def _write_log(self, container: _Container, lines: Sequence[str]) -> None:
        path = container.log_path
        with contextlib.suppress(OSError):  # a pod whose log directory is gone still runs
            path.parent.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            with path.open("a") as log:
                log.writelines(f"{stamp} stdout F {line}\n" for line in lines)

    def _exit(self, container: _Container, exit_code: int, reason: str = "") -> None:
        if container.state != pb.CONTAINER_RUNNING:
            return
        if container.exit_timer is not None:
            container.exit_timer.cancel()
            container.exit_timer = None
        container.state = pb.CONTAINER_EXITED
        container.finished_at = time.time_ns()
        container.exit_code = exit_code
        container.reason = reason or ("Completed" if exit_code == 0 else "Error")
        if self.on_change is not None:
            self.on_change(container.sandbox.pod_uid)

    def _kill(self, container: _Container) -> None:
        if container.state == pb.CONTAINER_CREATED:
            container.state = pb.CONTAINER_RUNNING  # a created container stops as if it had run
        self._exit(container, KILLED_EXIT_CODE)

    async def stop_container(self, container_id: str, timeout: int) -> None:
        # Stopped at once: hollow processes have nothing to shut down, so no grace period is waited.
        self._kill(self._container("StopContainer", container_id))

    async def remove_container(self, container_id: str) -> None:
        container = self.containers.pop(container_id, None)
        if container is None:
            return
        if container.exit_timer is not None:
            container.exit_timer.cancel()
        with contextlib.suppress(ValueError):
            container.sandbox.containers.remove(container_id)
        container.log_path.unlink(missing_ok=True)

    async def container_status(self, container_id: str, verbose: bool = False) -> pb.ContainerStatusResponse:
        container = self._container("ContainerStatus", container_id)
        config = container.config
        return pb.ContainerStatusResponse(status=pb.ContainerStatus(
            id=container.id, metadata=config.metadata, state=container.state, created_at=container.created_at,
            started_at=container.started_at, finished_at=container.finished_at, exit_code=container.exit_code,
            image=config.image, image_ref=_image_id(config.image.image), reason=container.reason,
            labels=config.labels, annotations=config.annotations, mounts=config.mounts,
            log_path=str(container.log_path)))

    async def list_containers(self, filter: pb.ContainerFilter | None = None) -> list[pb.Container]:
        found = []
        for container in self.containers.values():
            config = container.config
            if filter is not None:
                if filter.id and filter.id != container.id:
                    continue
                if filter.pod_sandbox_id and filter.pod_sandbox_id != container.sandbox.id:
                    continue
                if filter.HasField("state") and filter.state.state != container.state:
                    continue
                if not _labels_match(filter.label_selector, config.labels):
                    continue
            found.append(pb.Container(id=container.id, pod_sandbox_id=container.sandbox.id, metadata=config.metadata,
                                      image=config.image, image_ref=_image_id(config.image.image),
                                      state=container.state, created_at=container.created_at, labels=config.labels,
                                      annotations=config.annotations))
        return found

    async def exec_sync(self, container_id: str, cmd: Sequence[str], timeout: int = 0) -> pb.ExecSyncResponse:
        """Exec probes and hooks succeed while the container runs (there is nothing to run them in)."""
        container = self._container("ExecSync", container_id)
        if container.state != pb.CONTAINER_RUNNING:
            raise CRIError("ExecSync", grpc.StatusCode.UNKNOWN, f"container {container_id} is not running")
        return pb.ExecSyncResponse(exit_code=0)

    # -- ImageService ------------------------------------------------------------------------------

    def _image(self, image: str) -> pb.Image:
        return pb.Image(id=_image_id(image), repo_tags=[image], size=FAKE_IMAGE_SIZE)

    async def image_status(self, image: str, verbose: bool = False) -> pb.Image | None:
        self.images.add(image)  # every image is "present": hollow nodes model a warm image cache
        return self._image(image)

    async def list_images(self, filter: pb.ImageFilter | None = None) -> list[pb.Image]:
        return [self._image(image) for image in sorted(self.images)]

    async def pull_image(self, image: str, auth: pb.AuthConfig | None = None,
                         sandbox_config: pb.PodSandboxConfig | None = None) -> str:
        self.images.add(image)
        return _image_id(image)

    async def remove_image(self, image: str) -> None:
        self.images.discard(image)
