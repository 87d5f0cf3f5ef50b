"""What the kubelet server asks the container runtime: which container or sandbox a request means,
and the streaming URLs CRI Exec/Attach/PortForward hand out (served by containerd's stream server
on 127.0.0.1 inside the node's network namespace)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kubeplane.kubelet import labels
from kubeplane.kubelet.cri import CRIClient, pb
from kubeplane.kubelet.cri.client import RUNTIME_SERVICE


class NotFound(Exception):
    """The pod, container or sandbox a request names does not exist on this node (answered 404)."""


@dataclass(frozen=True)
class ContainerRef:
    id: str
    attempt: int
    running: bool


async def containers(cri: CRIClient, pod_uid: str, name: str) -> list[ContainerRef]:
    """The pod's containers named ``name``, newest attempt first."""
    found = await cri.list_containers(pb.ContainerFilter(
        label_selector={labels.POD_UID: pod_uid, labels.CONTAINER_NAME: name}))
    refs = [ContainerRef(c.id, c.metadata.attempt, c.state == pb.CONTAINER_RUNNING) for c in found]
    return sorted(refs, key=lambda ref: ref.attempt, reverse=True)


async def log_path(cri: CRIClient, pod_uid: str, pod_name: str, name: str, previous: bool) -> tuple[str, str]:
    """(container id, log file) of the current container, or of the one before it."""
    refs = await containers(cri, pod_uid, name)
    index = 1 if previous else 0
    if len(refs) <= index:
        if previous:
            raise NotFound(f'previous terminated container "{name}" in pod "{pod_name}" not found')
        raise NotFound(f'container "{name}" in pod "{pod_name}" is waiting to start')
    status = (await cri.container_status(refs[index].id)).status
    return refs[index].id, status.log_path


async def is_running(cri: CRIClient, container_id: str) -> bool:
    return bool((await cri.container_status(container_id)).status.state == pb.CONTAINER_RUNNING)


async def running_container(cri: CRIClient, pod_uid: str, pod_name: str, name: str) -> str:
    refs = [ref for ref in await containers(cri, pod_uid, name) if ref.running]
    if not refs:
        raise NotFound(f'container "{name}" in pod "{pod_name}" is not running')
    return refs[0].id


async def ready_sandbox(cri: CRIClient, pod_uid: str, pod_name: str) -> str:
    found = await cri.list_pod_sandbox(pb.PodSandboxFilter(
        label_selector={labels.POD_UID: pod_uid}, state=pb.PodSandboxStateValue(state=pb.SANDBOX_READY)))
    if not found:
        raise NotFound(f'pod "{pod_name}" has no running sandbox')
    return str(found[0].id)


# CRI's streaming RPCs are called through the client's generic call: they are used only here.
async def exec_url(cri: CRIClient, container_id: str, cmd: Sequence[str], *, tty: bool, stdin: bool,
                   stdout: bool, stderr: bool) -> str:
    request = pb.ExecRequest(container_id=container_id, cmd=list(cmd), tty=tty, stdin=stdin, stdout=stdout,
                             stderr=stderr)
    return str((await cri._call(RUNTIME_SERVICE, "Exec", request, pb.ExecResponse)).url)


async def attach_url(cri: CRIClient, container_id: str, *, tty: bool, stdin: bool, stdout: bool,
                     stderr: bool) -> str:
    request = pb.AttachRequest(container_id=container_id, tty=tty, stdin=stdin, stdout=stdout, stderr=stderr)
    return str((await cri._call(RUNTIME_SERVICE, "Attach", request, pb.AttachResponse)).url)


async def port_forward_url(cri: CRIClient, sandbox_id: str, ports: Sequence[int]) -> str:
    request = pb.PortForwardRequest(pod_sandbox_id=sandbox_id, port=list(ports))
    return str((await cri._call(RUNTIME_SERVICE, "PortForward", request, pb.PortForwardResponse)).url)
