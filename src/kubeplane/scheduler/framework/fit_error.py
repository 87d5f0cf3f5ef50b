"""Why a pod fits nowhere, worded as upstream's FailedScheduling message.

``0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated taint {k: v}.
preemption: ...`` — a histogram of every node's reasons, sorted, then what PostFilter said.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from kubeplane.scheduler.framework.status import Status

NO_NODES_AVAILABLE = "no nodes available to schedule pods"


@dataclass
class Diagnosis:
    node_to_status: dict[str, Status] = field(default_factory=dict)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""
    unschedulable_plugins: set[str] = field(default_factory=set)


class FitError(Exception):
    def __init__(self, num_all_nodes: int, diagnosis: Diagnosis) -> None:
        super().__init__()
        self.num_all_nodes = num_all_nodes
        self.diagnosis = diagnosis

    def __str__(self) -> str:
        if self.num_all_nodes == 0:
            return NO_NODES_AVAILABLE
        message = f"0/{self.num_all_nodes} nodes are available:"
        if self.diagnosis.pre_filter_msg:
            # PreFilter rejected the pod for every node at once: per-node reasons would repeat it.
            message += f" {self.diagnosis.pre_filter_msg}."
        else:
            histogram = Counter(reason for status in self.diagnosis.node_to_status.values()
                                for reason in status.reasons)
            reasons = sorted(f"{count} {reason}" for reason, count in histogram.items())
            if reasons:
                message += f" {', '.join(reasons)}."
        if self.diagnosis.post_filter_msg:
            message += f" {self.diagnosis.post_filter_msg}."
        return message
