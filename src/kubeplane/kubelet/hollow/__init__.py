"""Hollow nodes: the real kubelet (Node registration, Lease, pod workers, status) against an
in-process fake runtime, so hundreds of simulated nodes fit in one process for scale tests, as
upstream's kubemark does. ``kubeplane hollow-nodes`` (``app.py``) runs them."""

from kubeplane.kubelet.hollow.behaviour import Behaviour, behaviour_of
from kubeplane.kubelet.hollow.node import HollowNode, HollowNodeSpec, node_spec
from kubeplane.kubelet.hollow.runtime import HollowRuntime

__all__ = ["Behaviour", "HollowNode", "HollowNodeSpec", "HollowRuntime", "behaviour_of", "node_spec"]
