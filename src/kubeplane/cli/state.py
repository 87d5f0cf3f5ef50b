"""Where a cluster lives on disk and what cluster.json records about it.

``$KUBEPLANE_HOME/clusters/NAME/`` (default ``~/.kubeplane``) holds ``pki/``, ``etcd/`` (data),
``logs/``, ``run/`` (pidfiles), ``cluster.json`` and the admin ``kubeconfig``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from kubeplane.catalog import versions
from kubeplane.cli.output import CommandError
from kubeplane.component import process
from kubeplane.component.pki import ClusterPKI

# Cluster names become directory names and kubeconfig entries: a DNS label keeps both safe.
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

ComponentKind = Literal["etcd", "apiserver", "controller-manager", "scheduler",
                        "containerd", "ipamd", "kubelet", "proxy", "dns",
                        "network-policy-agent"]


def kubeplane_home() -> Path:
    return Path(os.environ.get("KUBEPLANE_HOME") or Path.home() / ".kubeplane")


def validate_name(name: str) -> str:
    if not _NAME.match(name):
        raise CommandError(
            f"invalid cluster name {name!r}: use lowercase letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters", exit_code=2)
    return name


def validate_version(version: str) -> str:
    """'1.35' or 'v1.35' (a patch such as 1.35.2 is accepted and ignored) -> '1.35'."""
    minor = ".".join(version.removeprefix("v").split(".")[:2])
    if minor not in versions():
        raise CommandError(
            f"unsupported Kubernetes version {version!r}; supported versions: {', '.join(versions())}",
            exit_code=2)
    return minor


@dataclass(frozen=True)
class ClusterPaths:
    name: str
    root: Path

    @classmethod
    def for_name(cls, name: str) -> ClusterPaths:
        return cls(name, kubeplane_home() / "clusters" / validate_name(name))

    @property
    def pki(self) -> ClusterPKI:
        return ClusterPKI(self.root / "pki")

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def record(self) -> Path:
        return self.root / "cluster.json"

    def component_kubeconfig(self, component: str) -> Path:
        return self.root / f"{component}.kubeconfig"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    def pidfile(self, component: str) -> Path:
        return process.pidfile_for(self.run, component)

    def pidfile_of(self, component: ComponentRecord) -> Path:
        return Path(component.pidfile) if component.pidfile else self.pidfile(component.name)

    @property
    def nodes(self) -> Path:
        """One directory per worker node (containerd, ipamd, kubelet state)."""
        return self.root / "nodes"

    @property
    def vpc_state(self) -> Path:
        """The VpcService state root of the cluster's VPC."""
        return self.root / "vpcs"

    def logfile(self, component: str) -> Path:
        return process.logfile_for(self.logs, component)


@dataclass
class ComponentRecord:
    """One component process of the cluster: what it is, where it listens, which PID it got."""

    name: str  # e.g. etcd-0, apiserver-0: also its log and pidfile name
    kind: ComponentKind
    endpoint: str  # the URL clients use
    ports: dict[str, int]
    pid: int | None = None
    node: str = ""  # the worker node a node component serves (kubelet, proxy, ipamd, containerd)
    pidfile: str = ""  # where its pidfile is when not run/<name>.pid (containerd keeps its own)


@dataclass
class NodeRecord:
    """One worker node: its EC2-style instance in the cluster's VPC and where it keeps its state."""

    name: str  # the Node's name, EKS-style: ip-198-18-0-4.ec2.internal
    index: int  # the node's position in `up --nodes N`; names its directory and components
    instanceId: str
    zone: str
    ip: str
    netns: str


@dataclass
class ClusterRecord:
    """cluster.json: the cluster's shape as `up` built it."""

    name: str
    kubernetesVersion: str
    created: str
    serviceClusterIPRange: str
    serviceNodePortRange: str
    nodes: int = 0
    components: list[ComponentRecord] = field(default_factory=list)
    workerNodes: list[NodeRecord] = field(default_factory=list)

    def of_kind(self, kind: ComponentKind) -> list[ComponentRecord]:
        return [c for c in self.components if c.kind == kind]

    @property
    def server(self) -> str:
        """The API server URL the admin kubeconfig points at."""
        return self.of_kind("apiserver")[0].endpoint

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClusterRecord:
        components = [ComponentRecord(**c) for c in data.get("components", [])]
        workers = [NodeRecord(**n) for n in data.get("workerNodes", [])]
        return cls(**{**data, "components": components, "workerNodes": workers})


def save_record(paths: ClusterPaths, record: ClusterRecord) -> None:
    paths.root.mkdir(parents=True, exist_ok=True)
    tmp = paths.record.with_name("cluster.json.tmp")
    tmp.write_text(json.dumps(record.to_json(), indent=2) + "\n")
    os.replace(tmp, paths.record)


def load_record(paths: ClusterPaths) -> ClusterRecord | None:
    try:
        return ClusterRecord.from_json(json.loads(paths.record.read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, KeyError) as err:
        raise CommandError(f"{paths.record} is damaged ({err}); `kubeplane down --name {paths.name}` "
                           "removes the cluster") from err


def require_record(paths: ClusterPaths) -> ClusterRecord:
    record = load_record(paths)
    if record is None:
        raise CommandError(f"cluster {paths.name!r} not found (no {paths.record}); "
                           f"start it with `kubeplane up --name {paths.name}`")
    return record


def running_components(paths: ClusterPaths) -> list[str]:
    """Names of the cluster's processes that still run (verified), from the pidfiles in run/."""
    if not paths.run.is_dir():
        return []
    return sorted(p.stem for p in paths.run.glob("*.pid") if process.is_running(p))


def fully_running(paths: ClusterPaths) -> bool:
    """Every component cluster.json records is running (verified)."""
    record = load_record(paths)
    return record is not None and all(process.is_running(paths.pidfile_of(c)) for c in record.components)
