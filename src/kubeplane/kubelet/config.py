"""The kubelet's settings, filled from its command line (see ``app.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str

    def to_json(self) -> dict[str, str]:
        return {"key": self.key, **({"value": self.value} if self.value else {}), "effect": self.effect}


@dataclass(frozen=True)
class KubeletConfig:
    node_name: str
    runtime_endpoint: Path
    root_dir: Path
    kubeconfig: str = ""
    node_ip: str = ""
    pod_infra_image: str = "localhost/pause:3.9"
    max_pods: int = 110
    node_labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    cluster_dns: tuple[str, ...] = ()
    cluster_domain: str = "cluster.local"
    resolv_conf: Path | None = Path("/etc/resolv.conf")
    node_status_update_frequency: float = 10.0
    node_lease_duration: int = 40
    cgroup_root: str = "/"
    instance_type: str = ""
    zone: str = ""
    region: str = ""
    kubelet_port: int = 10250
    sync_frequency: float = 1.0  # how often a pod worker re-checks its containers
    volume_refresh: float = 10.0  # how often configMap/secret/projected volumes are re-read

    @property
    def pods_dir(self) -> Path:
        return self.root_dir / "pods"

    def pod_dir(self, uid: str) -> Path:
        return self.pods_dir / uid

    def pod_log_dir(self, namespace: str, name: str, uid: str) -> Path:
        return self.pods_dir / f"{namespace}_{name}_{uid}"

    def pod_cgroup(self, uid: str, qos: str) -> str:
        # cgroupfs layout as upstream: <root>/kubepods[/burstable|/besteffort]/pod<uid>.
        base = f"{self.cgroup_root.rstrip('/')}/kubepods"
        tier = {"Burstable": "/burstable", "BestEffort": "/besteffort"}.get(qos, "")
        return f"{base}{tier}/pod{uid}"
