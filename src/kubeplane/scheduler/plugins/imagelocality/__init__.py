"""ImageLocality: prefer nodes that already hold the pod's images, weighted by how rare they are."""

from __future__ import annotations

import numpy as np

from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.interface import MAX_NODE_SCORE, Handle
from kubeplane.scheduler.framework.nodeinfo import NodeInfo, PodInfo
from kubeplane.scheduler.framework.registry import PluginArgs
from kubeplane.scheduler.framework.status import Status
from kubeplane.scheduler.framework.vector import IntArray, NodeArrays

NAME = "ImageLocality"
MB = 1024 * 1024
# Below the minimum an image is cheap to pull anyway; above the maximum per container the score
# saturates, so one huge image does not dominate.
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB


def normalized_image_name(name: str) -> str:
    """``nginx`` and ``nginx:latest`` are the same image; a digest or explicit tag stays as is."""
    if "@" not in name and name.rfind(":") <= name.rfind("/"):
        return name + ":latest"
    return name


class ImageLocality:
    name = NAME

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status]:
        containers = (pod.spec.get("initContainers") or []) + (pod.spec.get("containers") or [])
        total_nodes = len(self.handle.snapshot().node_infos) or 1
        images = {normalized_image_name(name): state_ for name, state_ in node.images.items()}
        total = 0
        for container in containers:
            image = images.get(normalized_image_name(container.get("image", "")))
            if image is not None:
                # A widely spread image is likely to be pulled fast anywhere; count it less.
                total += int(image.size * image.num_nodes / total_nodes)
        maximum = MAX_CONTAINER_THRESHOLD * max(len(containers), 1)
        clamped = min(max(total, MIN_THRESHOLD), maximum)
        return MAX_NODE_SCORE * (clamped - MIN_THRESHOLD) // (maximum - MIN_THRESHOLD), Status()

    def score_vector(self, state: CycleState, pod: PodInfo, nodes: NodeArrays, rows: IntArray) -> IntArray | None:
        # A node that reports no images scores the floor (0); only nodes with images need the lookup.
        if nodes.has_images[rows].any():
            return None
        return np.zeros(len(rows), dtype=np.int64)


def new(args: PluginArgs, handle: Handle) -> ImageLocality:
    return ImageLocality(handle)
