"""The scheduling framework: what plugins implement and what the scheduler runs them with."""

from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.nodeinfo import NodeInfo, PodInfo, Resources, Snapshot
from kubeplane.scheduler.framework.status import Code, Status

__all__ = ["Code", "CycleState", "NodeInfo", "PodInfo", "Resources", "Snapshot", "Status"]
