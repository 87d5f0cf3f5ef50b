"""The Node object the kubelet registers and the status it reports, as upstream's setters do.

Allocatable is capacity minus what the node keeps for itself, with EKS's formulas: CPU reserved
by tiers of cores, memory 255 MiB + 11 MiB per pod plus the 100 MiB hard eviction threshold, and
ephemeral storage 1 GiB plus the 10% ``nodefs.available`` threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubeplane.kubelet.config import KubeletConfig
from kubeplane.kubelet.machine import MachineInfo

JSON = dict[str, Any]

MiB = 1024 * 1024
GiB = 1024 * MiB
MAX_NODE_IMAGES = 50
EVICTION_HARD_MEMORY = 100 * MiB
EVICTION_NODEFS_FRACTION = 0.10

HOSTNAME = "kubernetes.io/hostname"
OS = "kubernetes.io/os"
ARCH = "kubernetes.io/arch"
INSTANCE_TYPE = "node.kubernetes.io/instance-type"
REGION = "topology.kubernetes.io/region"
ZONE = "topology.kubernetes.io/zone"
# The deprecated beta labels upstream still sets for old selectors.
BETA_OS, BETA_ARCH = "beta.kubernetes.io/os", "beta.kubernetes.io/arch"
BETA_INSTANCE_TYPE = "beta.kubernetes.io/instance-type"
BETA_REGION, BETA_ZONE = "failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone"


def reserved_milli_cpu(cpus: int) -> int:
    """EKS's kube-reserved CPU: 6% of the first core, 1% of the second, 0.5% of the next two, 0.25% above."""
    milli = 0.0
    for core in range(cpus):
        milli += 60 if core == 0 else 10 if core == 1 else 5 if core < 4 else 2.5
    return int(milli)


def capacity(machine: MachineInfo, max_pods: int) -> JSON:
    return {"cpu": str(machine.cpus), "memory": f"{machine.memory_bytes // 1024}Ki",
            "ephemeral-storage": f"{machine.disk_bytes // 1024}Ki", "pods": str(max_pods),
            "hugepages-1Gi": "0", "hugepages-2Mi": "0"}


def allocatable(machine: MachineInfo, max_pods: int) -> JSON:
    cpu = machine.cpus * 1000 - reserved_milli_cpu(machine.cpus)
    memory = machine.memory_bytes - (255 * MiB + 11 * MiB * max_pods) - EVICTION_HARD_MEMORY
    storage = int(machine.disk_bytes - GiB - machine.disk_bytes * EVICTION_NODEFS_FRACTION)
    return {"cpu": f"{cpu}m", "memory": f"{max(memory, 0) // 1024}Ki", "ephemeral-storage": str(max(storage, 0)),
            "pods": str(max_pods), "hugepages-1Gi": "0", "hugepages-2Mi": "0"}


def node_labels(config: KubeletConfig, machine: MachineInfo) -> dict[str, str]:
    labels = {HOSTNAME: config.node_name, OS: "linux", ARCH: machine.architecture,
              BETA_OS: "linux", BETA_ARCH: machine.architecture}
    if config.instance_type:
        labels[INSTANCE_TYPE] = labels[BETA_INSTANCE_TYPE] = config.instance_type
    if config.region:
        labels[REGION] = labels[BETA_REGION] = config.region
    if config.zone:
        labels[ZONE] = labels[BETA_ZONE] = config.zone
    labels.update(config.node_labels)
    return labels


def initial_node(config: KubeletConfig, machine: MachineInfo) -> JSON:
    spec: JSON = {}
    if config.taints:
        spec["taints"] = [taint.to_json() for taint in config.taints]
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": config.node_name, "labels": node_labels(config, machine),
                         "annotations": {"volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
            "spec": spec}


@dataclass(frozen=True)
class RuntimeHealth:
    version: str  # containerd://1.6.20~ds1
    runtime_ready: bool
    network_ready: bool
    message: str = ""


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_PRESSURE = (
    ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
)
# The same conditions while the eviction manager reports the pressure (upstream's wording).
_UNDER_PRESSURE = {
    "MemoryPressure": ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
    "DiskPressure": ("KubeletHasDiskPressure", "kubelet has disk pressure"),
    "PIDPressure": ("KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
}


def conditions(previous: list[JSON], health: RuntimeHealth, now: datetime,
               pressures: frozenset[str] = frozenset()) -> list[JSON]:
    """Ready and the pressure conditions (True for those in ``pressures``) with heartbeat now and
    transition times kept while the status stays the same; conditions other components own are kept."""
    before = {c.get("type"): c for c in previous}
    now_text = _time(now)

    def condition(kind: str, status: str, reason: str, message: str) -> JSON:
        old = before.get(kind)
        transition = old["lastTransitionTime"] if old and old.get("status") == status else now_text
        return {"type": kind, "status": status, "reason": reason, "message": message,
                "lastHeartbeatTime": now_text, "lastTransitionTime": transition}

    out = [condition(kind, "True", *_UNDER_PRESSURE[kind]) if kind in pressures
           else condition(kind, "False", reason, message) for kind, reason, message in _PRESSURE]
    if health.runtime_ready and health.network_ready:
        out.append(condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"))
    else:
        out.append(condition("Ready", "False", "KubeletNotReady", health.message))
    owned = {"Ready", *(kind for kind, _, _ in _PRESSURE)}
    return out + [c for c in previous if c.get("type") not in owned]


def images(listed: list[tuple[list[str], int]]) -> list[JSON]:
    """(names, size) of the runtime's images, biggest first, at most 50 as upstream reports."""
    ordered = sorted(listed, key=lambda entry: entry[1], reverse=True)[:MAX_NODE_IMAGES]
    return [{"names": names, "sizeBytes": size} for names, size in ordered if names]


def node_status(config: KubeletConfig, machine: MachineInfo, health: RuntimeHealth, kubelet_version: str,
                previous: JSON, image_list: list[JSON], now: datetime,
                pressures: frozenset[str] = frozenset()) -> JSON:
    addresses = ([{"type": "InternalIP", "address": config.node_ip}] if config.node_ip else []) \
        + [{"type": "Hostname", "address": config.node_name}]
    return {
        "capacity": capacity(machine, config.max_pods),
        "allocatable": allocatable(machine, config.max_pods),
        "conditions": conditions(list(previous.get("conditions") or []), health, now, pressures),
        "addresses": addresses,
        "daemonEndpoints": {"kubeletEndpoint": {"Port": config.kubelet_port}},
        "nodeInfo": {
            "machineID": machine.machine_id, "systemUUID": machine.system_uuid, "bootID": machine.boot_id,
            "kernelVersion": machine.kernel_version, "osImage": machine.os_image,
            "containerRuntimeVersion": health.version, "kubeletVersion": kubelet_version,
            "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": machine.architecture,
        },
        "images": image_list,
    }
