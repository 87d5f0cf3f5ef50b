"""What the scheduler knows about each node: the node, its pods, their requests and host ports.

A ``Snapshot`` is taken at the start of every scheduling cycle so that every plugin in that
cycle sees the same cluster, including pods the scheduler assumed but the API has not yet shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from kubeplane.scheduler.framework.affinity_terms import PodAffinity
from kubeplane.scheduler.framework.resources import Resources, effective_requests, node_allocatable
from kubeplane.scheduler.framework.vector import NodeArrays

JSON = dict[str, Any]

ANY_IP = "0.0.0.0"


def pod_key(pod: JSON) -> str:
    metadata = pod.get("metadata") or {}
    return f"{metadata.get('namespace', '')}/{metadata.get('name', '')}"


@dataclass(frozen=True)
class HostPort:
    ip: str
    protocol: str
    port: int

    def conflicts(self, other: HostPort) -> bool:
        if self.port != other.port or self.protocol != other.protocol:
            return False
        return self.ip == other.ip or ANY_IP in (self.ip, other.ip)


def host_ports(pod: JSON) -> list[HostPort]:
    spec = pod.get("spec") or {}
    ports = []
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                ports.append(HostPort(port.get("hostIP") or ANY_IP, port.get("protocol") or "TCP",
                                      int(port["hostPort"])))
    return ports


class PodInfo:
    """A pod with what the plugins keep asking about it computed once."""

    def __init__(self, pod: JSON) -> None:
        self.pod = pod
        self.key = pod_key(pod)

    @property
    def metadata(self) -> JSON:
        return self.pod.get("metadata") or {}

    @property
    def spec(self) -> JSON:
        return self.pod.get("spec") or {}

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace", ""))

    @property
    def labels(self) -> dict[str, str]:
        return self.metadata.get("labels") or {}

    @cached_property
    def requests(self) -> Resources:
        return effective_requests(self.pod)

    @cached_property
    def non_zero_requests(self) -> Resources:
        return effective_requests(self.pod, non_zero=True)

    @cached_property
    def ports(self) -> list[HostPort]:
        return host_ports(self.pod)

    @cached_property
    def affinity(self) -> PodAffinity:
        return PodAffinity.of(self.pod)

    @property
    def priority(self) -> int:
        return int(self.spec.get("priority") or 0)


@dataclass
class ImageState:
    """One image name across the snapshot: a single object shared by every node that reports the
    name, so a node's image list changing updates counts in place instead of re-walking every node
    (at 5,000 nodes that re-walk took most of the scheduler's CPU while nodes pulled images).
    As upstream's cache, the size is the one the first reporting node gave."""

    size: int
    num_nodes: int


@dataclass
class NodeInfo:
    node: JSON
    pods: list[PodInfo] = field(default_factory=list)
    requested: Resources = field(default_factory=Resources)
    non_zero_requested: Resources = field(default_factory=Resources)
    used_ports: list[HostPort] = field(default_factory=list)
    # image name -> size and spread, shared across nodes and kept by the snapshot.
    images: dict[str, ImageState] = field(default_factory=dict)
    # How many of ``pods`` have any (anti-)affinity / required anti-affinity: kept as pods come and
    # go so that the snapshot finds the nodes InterPodAffinity must look at without walking pods.
    num_affinity_pods: int = 0
    num_required_anti_affinity_pods: int = 0

    @cached_property
    def name(self) -> str:  # a node update never renames it (the cache keys NodeInfos by name)
        return str((self.node.get("metadata") or {}).get("name", ""))

    @property
    def labels(self) -> dict[str, str]:
        return (self.node.get("metadata") or {}).get("labels") or {}

    @cached_property
    def allocatable(self) -> Resources:
        return node_allocatable(self.node)

    @property
    def pods_with_affinity(self) -> list[PodInfo]:
        return [p for p in self.pods if p.affinity.any]

    @property
    def pods_with_required_anti_affinity(self) -> list[PodInfo]:
        return [p for p in self.pods if p.affinity.required_anti_affinity]

    def set_node(self, node: JSON) -> None:
        self.node = node
        self.__dict__.pop("allocatable", None)  # drop the cached value computed from the old node

    def add_pod(self, pod: PodInfo) -> None:
        self.pods.append(pod)
        self.requested.add(pod.requests)
        self.non_zero_requested.add(pod.non_zero_requests)
        self.used_ports.extend(pod.ports)
        self._count_affinity(pod, 1)

    def _count_affinity(self, pod: PodInfo, sign: int) -> None:
        affinity = pod.affinity
        if affinity.any:
            self.num_affinity_pods += sign
            if affinity.required_anti_affinity:
                self.num_required_anti_affinity_pods += sign

    def remove_pod(self, key: str) -> bool:
        for index, pod in enumerate(self.pods):
            if pod.key == key:
                del self.pods[index]
                self.requested.add(pod.requests, -1)
                self.non_zero_requested.add(pod.non_zero_requests, -1)
                for port in pod.ports:
                    self.used_ports.remove(port)
                self._count_affinity(pod, -1)
                return True
        return False

    def clone(self) -> NodeInfo:
        copied = NodeInfo(self.node, list(self.pods), self.requested.copy(), self.non_zero_requested.copy(),
                          list(self.used_ports), self.images, self.num_affinity_pods,
                          self.num_required_anti_affinity_pods)
        # Same node object: parsing its quantities again is wasted work.
        for computed in ("allocatable", "name"):
            if computed in self.__dict__:
                copied.__dict__[computed] = self.__dict__[computed]
        return copied


class Snapshot:
    """A view of the cluster that stays fixed for one scheduling cycle.

    The cache updates it between cycles with ``replace`` (only the nodes that changed are cloned
    again, as upstream's UpdateSnapshot), so a cycle's cost does not grow with a full copy of every
    node. Plugins must not change the NodeInfos they are given; they clone what they modify.
    """

    def __init__(self, node_infos: Iterable[NodeInfo]) -> None:
        self.node_infos = list(node_infos)
        self.by_name = {info.name: info for info in self.node_infos}
        self._index = {info.name: i for i, info in enumerate(self.node_infos)}
        self._image_states: dict[str, ImageState] = {}
        for info in self.node_infos:
            self._add_images(info)

    def replace(self, info: NodeInfo) -> bool:
        """Put a fresh clone of a node already in the snapshot in place; False if it is not there."""
        index = self._index.get(info.name)
        if index is None:
            return False
        old = self.node_infos[index]
        self.node_infos[index] = info
        self.by_name[info.name] = info
        if "arrays" in self.__dict__:
            self.arrays.set_row(index, info)
        if _image_names(old.node) == _image_names(info.node):
            info.images = old.images
        else:
            self._remove_images(old)
            self._add_images(info)
        # The cached lists hold NodeInfo objects: any node they contain (or now should) makes them stale.
        if old.num_affinity_pods or info.num_affinity_pods:
            self.__dict__.pop("have_pods_with_affinity", None)
        if old.num_required_anti_affinity_pods or info.num_required_anti_affinity_pods:
            self.__dict__.pop("have_pods_with_required_anti_affinity", None)
        return True

    @classmethod
    def build(cls, nodes: Iterable[JSON], pods: Iterable[JSON]) -> Snapshot:
        """From plain objects (tests, and the cache's first fill): pods go to their spec.nodeName."""
        infos = {str(node["metadata"]["name"]): NodeInfo(node) for node in nodes}
        for pod in pods:
            info = infos.get((pod.get("spec") or {}).get("nodeName", ""))
            if info is not None:
                info.add_pod(PodInfo(pod))
        return cls(infos.values())

    def get(self, name: str) -> NodeInfo | None:
        return self.by_name.get(name)

    @cached_property
    def arrays(self) -> NodeArrays:
        """The nodes as columns for vectorised filters and scores (built on first use, then kept current)."""
        return NodeArrays(self.node_infos)

    # From the columns rather than a walk over every node: with affinity pods around, nearly every
    # cycle replaces such a node and these lists are rebuilt.
    @cached_property
    def have_pods_with_affinity(self) -> list[NodeInfo]:
        return [self.node_infos[row] for row in np.flatnonzero(self.arrays.num_affinity_pods).tolist()]

    @cached_property
    def have_pods_with_required_anti_affinity(self) -> list[NodeInfo]:
        return [self.node_infos[row]
                for row in np.flatnonzero(self.arrays.num_required_anti_affinity_pods).tolist()]

    def _add_images(self, info: NodeInfo) -> None:
        images: dict[str, ImageState] = {}
        for image in (info.node.get("status") or {}).get("images") or []:
            for name in image.get("names") or []:
                if name in images:
                    continue  # a node counts once per name, however often it lists it
                state = self._image_states.get(name)
                if state is None:
                    state = self._image_states[name] = ImageState(int(image.get("sizeBytes") or 0), 0)
                state.num_nodes += 1
                images[name] = state
        info.images = images

    def _remove_images(self, info: NodeInfo) -> None:
        for name, state in info.images.items():
            state.num_nodes -= 1
            if not state.num_nodes:
                self._image_states.pop(name, None)


def _image_names(node: JSON) -> list[Any]:
    return [(image.get("names"), image.get("sizeBytes")) for image in (node.get("status") or {}).get("images") or []]
