"""One hollow node: a ``HollowKubelet`` with a ``HollowRuntime``, a simulated EC2 instance's machine
description, and its own root directory (pod volumes and logs are still written, as upstream's
kubemark does, so the volume and log code paths are exercised)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from kubeplane.client import Client
from kubeplane.kubelet.config import KubeletConfig
from kubeplane.kubelet.hollow.addresses import PodAddressPool
from kubeplane.kubelet.hollow.kubelet import NODE_STATUS_REPORT_FREQUENCY, HollowKubelet
from kubeplane.kubelet.hollow.runtime import HollowRuntime
from kubeplane.kubelet.hollow.shared import HOLLOW_LABEL, SharedInformers
from kubeplane.kubelet.machine import MachineInfo
from kubeplane.kubelet.proberesults import PodProber
from kubeplane.network.ipam.limits import max_pods as eni_max_pods

GiB = 1024 ** 3
# vCPUs and memory (GiB) of the instance types the ENI table knows, as EC2 publishes them.
INSTANCE_SIZES: dict[str, tuple[int, int]] = {
    "t3.nano": (2, 0), "t3.micro": (2, 1), "t3.small": (2, 2), "t3.medium": (2, 4), "t3.large": (2, 8),
    "m5.large": (2, 8), "m5.xlarge": (4, 16), "m5.2xlarge": (8, 32), "c5.large": (2, 4),
}
ROOT_VOLUME = 20 * GiB  # EKS's default node volume


@dataclass(frozen=True)
class HollowNodeSpec:
    name: str
    instance_type: str
    zone: str
    region: str
    node_ip: str  # a fake address (``addresses.py``)
    max_pods: int


def node_spec(name: str, instance_type: str, zone: str, node_ip: str, max_pods: int | None = None) -> HollowNodeSpec:
    """``zone`` like ``us-west-2a``: the region is the zone without its letter."""
    if instance_type not in INSTANCE_SIZES:
        raise ValueError(f"unknown instance type {instance_type!r} (known: {', '.join(sorted(INSTANCE_SIZES))})")
    return HollowNodeSpec(name, instance_type, zone, zone[:-1], node_ip,
                          max_pods if max_pods is not None else eni_max_pods(instance_type))


def machine_info(spec: HollowNodeSpec) -> MachineInfo:
    cpus, memory = INSTANCE_SIZES[spec.instance_type]
    # Stable per node name, so a restarted hollow process re-adopts the same "instances".
    identity = uuid.uuid5(uuid.NAMESPACE_DNS, spec.name)
    return MachineInfo(cpus=cpus, memory_bytes=max(memory, 1) * GiB, disk_bytes=ROOT_VOLUME,
                       machine_id=identity.hex, boot_id=str(uuid.uuid4()), system_uuid=str(identity),
                       kernel_version="hollow", os_image="Amazon Linux 2 (hollow)", architecture="amd64")


def kubelet_config(spec: HollowNodeSpec, root_dir: Path, node_ip: str, sync_frequency: float,
                   status_frequency: float, lease_duration: int = 40) -> KubeletConfig:
    return KubeletConfig(
        node_name=spec.name, runtime_endpoint=Path("/nonexistent/hollow.sock"), root_dir=root_dir,
        node_ip=node_ip, max_pods=spec.max_pods, node_labels={HOLLOW_LABEL: "true"},
        resolv_conf=None, node_status_update_frequency=status_frequency, node_lease_duration=lease_duration,
        # A cgroup path nothing real lives under: pod teardown "removes" its pod cgroups there.
        cgroup_root=f"/kubeplane-hollow-{uuid.uuid4().hex[:8]}",
        instance_type=spec.instance_type, zone=spec.zone, region=spec.region, sync_frequency=sync_frequency,
        # Volumes are re-read on a pod's periodic sync at most this often (upstream: on every sync,
        # once a minute); every 10 s for 50,000 pods would be most of the process's work.
        volume_refresh=max(sync_frequency, 10.0))


@dataclass(frozen=True)
class HollowTimings:
    """The kubelet timings a fleet runs with (upstream's flags of the same names, and
    ``idle_resync``: how often a pod worker with nothing pending re-syncs, since the hollow
    runtime wakes workers on every container change as the kubelet's PLEG does; None: as the
    kubelet with a PLEG, the longer of ``sync_frequency`` and the volume refresh period)."""

    sync_frequency: float = 60.0
    node_status_update_frequency: float = 10.0
    node_status_report_frequency: float = NODE_STATUS_REPORT_FREQUENCY
    node_lease_duration: int = 40
    idle_resync: float | None = None


DEFAULT_TIMINGS = HollowTimings()


class HollowNode:
    """``run()`` registers the Node and serves its pods until cancelled. Its pods' addresses come
    from ``pod_addresses``, the pool the process's nodes share."""

    def __init__(self, spec: HollowNodeSpec, client: Client, root_dir: Path, shared: SharedInformers,
                 pod_addresses: PodAddressPool, kubelet_version: str = "", timings: HollowTimings = DEFAULT_TIMINGS,
                 prober: PodProber | None = None, heartbeat_client: Client | None = None,
                 events_client: Client | None = None) -> None:
        self.spec = spec
        self.runtime = HollowRuntime(spec.node_ip, pod_addresses)
        self.config = kubelet_config(spec, root_dir, spec.node_ip, timings.sync_frequency,
                                     timings.node_status_update_frequency, timings.node_lease_duration)
        self.kubelet = HollowKubelet(self.config, client, self.runtime, shared, machine_info(spec), kubelet_version,
                                     prober=prober, status_report_frequency=timings.node_status_report_frequency,
                                     heartbeat_client=heartbeat_client, events_client=events_client)
        self.runtime.on_change = self.kubelet.wake_worker
        # The runtime's on_change is the PLEG stand-in: idle workers need no frequent re-sync.
        self.kubelet.services.idle_resync = timings.idle_resync if timings.idle_resync is not None \
            else max(self.config.volume_refresh, self.config.sync_frequency)

    async def run(self) -> None:
        try:
            await self.kubelet.run()
        finally:
            await self.runtime.close()
