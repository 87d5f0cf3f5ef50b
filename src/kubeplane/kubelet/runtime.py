"""The CRI side of one pod: sandbox and container configs as upstream's kuberuntime builds them,
and a snapshot of what the runtime has for a pod (found by the pod-uid label)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubeplane.kubelet import labels
from kubeplane.kubelet.config import KubeletConfig
from kubeplane.kubelet.cri import CRIClient, CRIError, pb
from kubeplane.kubelet.dns import ResolvConf, pod_dns, pod_hostname
from kubeplane.kubelet.etchosts import ETC_HOSTS, mounts_etc_hosts
from kubeplane.kubelet.expansion import expand_all
from kubeplane.kubelet.podstatus import CREATED, EXITED, RUNNING_STATE, UNKNOWN, ContainerRecord
from kubeplane.kubelet.qos import container_resources, qos_class

JSON = dict[str, Any]

DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"
MAX_TERMINATION_MESSAGE = 4096
_PROTOCOLS = {"TCP": pb.TCP, "UDP": pb.UDP, "SCTP": pb.SCTP}
_STATES = {pb.CONTAINER_CREATED: CREATED, pb.CONTAINER_RUNNING: RUNNING_STATE, pb.CONTAINER_EXITED: EXITED}


def _namespace_options(spec: JSON) -> pb.NamespaceOption:
    return pb.NamespaceOption(
        network=pb.NODE if spec.get("hostNetwork") else pb.POD,
        pid=pb.NODE if spec.get("hostPID") else (pb.POD if spec.get("shareProcessNamespace") else pb.CONTAINER),
        ipc=pb.NODE if spec.get("hostIPC") else pb.POD)


def sandbox_config(pod: JSON, config: KubeletConfig, host_dns: ResolvConf, attempt: int) -> pb.PodSandboxConfig:
    metadata = pod["metadata"]
    spec = pod.get("spec") or {}
    dns = pod_dns(pod, list(config.cluster_dns), config.cluster_domain, host_dns)
    ports = [pb.PortMapping(protocol=_PROTOCOLS.get(str(port.get("protocol") or "TCP"), pb.TCP),
                            container_port=int(port["containerPort"]), host_port=int(port["hostPort"]),
                            host_ip=str(port.get("hostIP") or ""))
             for container in spec.get("containers") or [] for port in container.get("ports") or []
             if port.get("hostPort")]
    security = (spec.get("securityContext") or {})
    sysctls = {str(s["name"]): str(s["value"]) for s in security.get("sysctls") or []}
    return pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=metadata["name"], uid=metadata["uid"],
                                       namespace=metadata["namespace"], attempt=attempt),
        hostname="" if spec.get("hostNetwork") else pod_hostname(pod),
        log_directory=str(config.pod_log_dir(metadata["namespace"], metadata["name"], metadata["uid"])),
        dns_config=pb.DNSConfig(servers=dns.nameservers, searches=dns.searches, options=dns.options),
        port_mappings=ports,
        labels=labels.sandbox_labels(pod),
        annotations={str(k): str(v) for k, v in (metadata.get("annotations") or {}).items()},
        linux=pb.LinuxPodSandboxConfig(
            cgroup_parent=config.pod_cgroup(metadata["uid"], qos_class(pod)),
            sysctls=sysctls,
            security_context=pb.LinuxSandboxSecurityContext(
                namespace_options=_namespace_options(spec), privileged=_pod_privileged(spec))),
    )


def _pod_privileged(spec: JSON) -> bool:
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    return any((c.get("securityContext") or {}).get("privileged") for c in containers)


def _security_context(pod: JSON, container: JSON, target_id: str = "") -> pb.LinuxContainerSecurityContext:
    pod_security = (pod.get("spec") or {}).get("securityContext") or {}
    security = container.get("securityContext") or {}
    namespaces = _namespace_options(pod.get("spec") or {})
    if target_id and namespaces.pid == pb.CONTAINER:
        # An ephemeral container with targetContainerName joins that container's PID namespace (as
        # upstream; a pod that already shares one namespace, or the host's, keeps it).
        namespaces.pid, namespaces.target_id = pb.TARGET, target_id
    context = pb.LinuxContainerSecurityContext(
        namespace_options=namespaces,
        privileged=bool(security.get("privileged")),
        readonly_rootfs=bool(security.get("readOnlyRootFilesystem")),
        no_new_privs=security.get("allowPrivilegeEscalation") is False)
    run_as_user = security.get("runAsUser", pod_security.get("runAsUser"))
    if run_as_user is not None:
        context.run_as_user.value = int(run_as_user)
    run_as_group = security.get("runAsGroup", pod_security.get("runAsGroup"))
    if run_as_group is not None:
        context.run_as_group.value = int(run_as_group)
    context.supplemental_groups.extend(int(g) for g in pod_security.get("supplementalGroups") or [])
    capabilities = security.get("capabilities") or {}
    if capabilities:
        context.capabilities.add_capabilities.extend(str(c) for c in capabilities.get("add") or [])
        context.capabilities.drop_capabilities.extend(str(c) for c in capabilities.get("drop") or [])
    return context


@dataclass(frozen=True)
class ContainerPlan:
    """Everything a container needs beyond its spec, decided by the worker."""

    container: JSON
    kind: str  # "init", "sidecar", "app" or "ephemeral"
    attempt: int
    image_ref: str
    env: dict[str, str]
    volume_paths: dict[str, Path]
    termination_message_file: Path
    hosts_file: Path | None = None  # the kubelet-managed /etc/hosts (None until the pod has an IP)
    target_id: str = ""  # an ephemeral container's targetContainerName, as the runtime's container id


def container_config(pod: JSON, plan: ContainerPlan) -> pb.ContainerConfig:
    container = plan.container
    name = str(container["name"])
    mounts = []
    for mount in container.get("volumeMounts") or []:
        host = plan.volume_paths.get(str(mount["name"]))
        if host is None:
            continue
        if mount.get("subPath"):
            host = host / str(mount["subPath"])
            if not host.exists():
                host.mkdir(parents=True)  # as upstream: a missing subPath becomes a directory
        mounts.append(pb.Mount(container_path=str(mount["mountPath"]), host_path=str(host),
                               readonly=bool(mount.get("readOnly"))))
    termination_path = str(container.get("terminationMessagePath") or DEFAULT_TERMINATION_MESSAGE_PATH)
    mounts.append(pb.Mount(container_path=termination_path, host_path=str(plan.termination_message_file)))
    if plan.hosts_file is not None and not mounts_etc_hosts(container):
        mounts.append(pb.Mount(container_path=ETC_HOSTS, host_path=str(plan.hosts_file)))
    resources = container_resources(container)
    grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
    return pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name=name, attempt=plan.attempt),
        image=pb.ImageSpec(image=plan.image_ref or str(container.get("image") or ""),
                           user_specified_image=str(container.get("image") or "")),
        command=expand_all(list(container.get("command") or []), plan.env),
        args=expand_all(list(container.get("args") or []), plan.env),
        working_dir=str(container.get("workingDir") or ""),
        envs=[pb.KeyValue(key=key, value=value) for key, value in plan.env.items()],
        mounts=mounts,
        labels={**labels.container_labels(pod, name), labels.CONTAINER_TYPE: plan.kind},
        annotations={labels.CONTAINER_RESTART_COUNT: str(plan.attempt),
                     labels.TERMINATION_MESSAGE_PATH: termination_path,
                     labels.TERMINATION_MESSAGE_POLICY: str(container.get("terminationMessagePolicy") or "File"),
                     labels.POD_TERMINATION_GRACE_PERIOD: str(grace)},
        log_path=f"{name}/{plan.attempt}.log",
        stdin=bool(container.get("stdin")), stdin_once=bool(container.get("stdinOnce")),
        tty=bool(container.get("tty")),
        linux=pb.LinuxContainerConfig(resources=pb.LinuxContainerResources(
            cpu_shares=resources.get("cpu_shares", 0), cpu_quota=resources.get("cpu_quota", 0),
            cpu_period=resources.get("cpu_period", 0),
            memory_limit_in_bytes=resources.get("memory_limit_in_bytes", 0)),
                                      security_context=_security_context(pod, container, plan.target_id)),
    )


def _termination_message(status: pb.ContainerStatus) -> str:
    wanted = status.annotations.get(labels.TERMINATION_MESSAGE_PATH)
    path = next((m.host_path for m in status.mounts if m.container_path == wanted), "")
    message = ""
    if path:
        try:
            with open(path, "rb") as file:
                message = file.read(MAX_TERMINATION_MESSAGE).decode(errors="replace")
        except OSError:
            pass
    if (not message and status.exit_code != 0
            and status.annotations.get(labels.TERMINATION_MESSAGE_POLICY) == "FallbackToLogsOnError"):
        message = _log_tail(status.log_path)
    return message or status.message


def _log_tail(log_path: str, lines: int = 80) -> str:
    try:
        with open(log_path, "rb") as file:
            file.seek(0, os.SEEK_END)
            file.seek(max(0, file.tell() - MAX_TERMINATION_MESSAGE))
            tail = file.read().decode(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    # CRI log lines: "<time> <stream> <F|P> <text>"
    return "\n".join(line.split(" ", 3)[3] if line.count(" ") >= 3 else line for line in tail)


def record_from_status(status: pb.ContainerStatus) -> ContainerRecord:
    state = _STATES.get(status.state, UNKNOWN)
    return ContainerRecord(
        id=status.id, name=status.metadata.name, attempt=status.metadata.attempt, state=state,
        created_at=status.created_at, started_at=status.started_at, finished_at=status.finished_at,
        exit_code=status.exit_code, reason=status.reason if state == EXITED else "",
        message=_termination_message(status) if state == EXITED else "",
        image=status.image.image, image_ref=status.image_ref)


@dataclass
class PodSnapshot:
    """What the runtime has for one pod uid, newest first."""

    sandboxes: list[pb.PodSandbox] = field(default_factory=list)
    containers: dict[str, list[ContainerRecord]] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)  # container id -> "init"/"sidecar"/"app"/"ephemeral"

    @property
    def sandbox(self) -> pb.PodSandbox | None:
        return self.sandboxes[0] if self.sandboxes else None

    def all_records(self) -> list[ContainerRecord]:
        return [record for records in self.containers.values() for record in records]


async def snapshot(cri: CRIClient, uid: str) -> PodSnapshot:
    selector = {labels.POD_UID: uid}
    sandboxes = await cri.list_pod_sandbox(pb.PodSandboxFilter(label_selector=selector))
    sandboxes.sort(key=lambda s: (s.metadata.attempt, s.created_at), reverse=True)
    out = PodSnapshot(sandboxes=sandboxes)
    for container in await cri.list_containers(pb.ContainerFilter(label_selector=selector)):
        try:
            status = (await cri.container_status(container.id)).status
        except CRIError as error:
            if error.not_found:
                continue  # removed between the list and the status
            raise
        record = record_from_status(status)
        out.containers.setdefault(record.name, []).append(record)
        out.kinds[record.id] = container.labels.get(labels.CONTAINER_TYPE, "app")
    for records in out.containers.values():
        records.sort(key=lambda r: (r.attempt, r.created_at), reverse=True)
    return out

