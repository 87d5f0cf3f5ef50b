"""The container runtime side of the kubelet: a CRI v1 client and the node's containerd."""

from kubeplane.kubelet.cri.api import pb
from kubeplane.kubelet.cri.client import CRIClient, CRIError, wait_network_ready
from kubeplane.kubelet.cri.containerd import Containerd, ContainerdPaths, remove_all_sandboxes, render_config

__all__ = ["CRIClient", "CRIError", "Containerd", "ContainerdPaths", "pb", "remove_all_sandboxes", "render_config",
           "wait_network_ready"]
