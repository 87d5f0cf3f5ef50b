"""A node's containerd with its sockets in a short directory of their own.

A unix socket path must fit 108 bytes, and containerd also listens on ``<socket>.ttrpc``; under a
deep ``KUBEPLANE_HOME`` (a test's temporary directory, say) ``<node dir>/containerd.sock`` is
too long. Everything else containerd keeps stays in the node's directory; only the two sockets
move to ``/run/kubeplane/<cluster>-<hash of its directory>/<node index>/``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from kubeplane.kubelet.cri import Containerd, ContainerdPaths

SOCKET_ROOT = Path("/run/kubeplane")


def cluster_socket_dir(cluster_name: str, cluster_root: Path) -> Path:
    """Per cluster, and per state directory: two KUBEPLANE_HOMEs may each have a cluster ``demo``."""
    digest = hashlib.sha256(str(cluster_root.resolve()).encode()).hexdigest()[:8]
    return SOCKET_ROOT / f"{cluster_name}-{digest}"


@dataclass(frozen=True)
class NodeContainerdPaths(ContainerdPaths):
    socket_dir: Path

    @property
    def socket(self) -> Path:
        return self.socket_dir / "containerd.sock"


def node_containerd(base: Path, socket_dir: Path, netns_path: Path) -> Containerd:
    containerd = Containerd(base, netns_path)
    socket_dir.mkdir(parents=True, exist_ok=True)
    containerd.paths = NodeContainerdPaths(base, socket_dir)
    return containerd
