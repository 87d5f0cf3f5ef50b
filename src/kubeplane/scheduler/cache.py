"""The scheduler's view of nodes and the pods on them, including pods it has *assumed*.

Once the scheduler decides a pod goes to a node, it assumes the pod there immediately, so the
next scheduling cycle counts it even though the binding has not reached the API (or come back
through the informer) yet. The informer's copy replaces the assumed one when it shows up; a
failed binding forgets it.
"""

from __future__ import annotations

from typing import Any

from kubeplane.scheduler.framework.nodeinfo import NodeInfo, PodInfo, Snapshot, pod_key

JSON = dict[str, Any]


def node_name_of(pod: JSON) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


class Cache:
    def __init__(self) -> None:
        self._nodes: dict[str, JSON] = {}
        # Pods may arrive before their node does; their NodeInfo waits with a placeholder node.
        self._infos: dict[str, NodeInfo] = {}
        self._pod_nodes: dict[str, str] = {}  # pod key -> node it is counted on
        self.assumed: set[str] = set()
        # The last snapshot handed out and what changed since: the next one clones only those nodes.
        self._snapshot: Snapshot | None = None
        self._dirty: set[str] = set()

    def _info(self, node_name: str) -> NodeInfo:
        info = self._infos.get(node_name)
        if info is None:
            info = NodeInfo(self._nodes.get(node_name) or {"metadata": {"name": node_name}})
            self._infos[node_name] = info
        return info

    # -- nodes --------------------------------------------------------------------------------------

    def add_node(self, node: JSON) -> None:
        name = str(node["metadata"]["name"])
        if name not in self._nodes:
            self._snapshot = None  # the node list changes: rebuild
        self._nodes[name] = node
        self._info(name).set_node(node)
        self._dirty.add(name)

    update_node = add_node

    def remove_node(self, node: JSON) -> None:
        name = str(node["metadata"]["name"])
        self._nodes.pop(name, None)
        self._snapshot = None
        info = self._infos.get(name)
        if info is not None and not info.pods:
            del self._infos[name]

    # -- pods -------------------------------------------------------------------------------------

    def add_pod(self, pod: JSON) -> None:
        """An assigned pod the informer shows (confirms an assumed pod, if it was one)."""
        key = pod_key(pod)
        if key in self.assumed and self._confirm_in_place(key, pod):
            return
        self._remove(key)
        self.assumed.discard(key)
        self._place(key, pod)

    update_pod = add_pod

    def _confirm_in_place(self, key: str, pod: JSON) -> bool:
        """The informer's copy of a pod we assumed, where we assumed it and with the same spec and
        labels (the binding only added what the API server fills in: resourceVersion, the
        PodScheduled condition): swap the object into the PodInfo the node already counts, which
        keeps what was parsed from it, and leave the node clean, so the next snapshot has no row to
        rewrite. Every binding comes back this way, so this is most of the cache's work in a backlog."""
        node_name = self._pod_nodes.get(key)
        info = self._infos.get(node_name) if node_name == node_name_of(pod) and node_name else None
        held = next((p for p in info.pods if p.key == key), None) if info is not None else None
        if held is None:
            return False
        before, after = held.metadata, pod.get("metadata") or {}
        if (held.spec != pod.get("spec") or before.get("labels") != after.get("labels")
                or before.get("deletionTimestamp") != after.get("deletionTimestamp")):
            return False
        # The snapshot's clone of the node shares this PodInfo, so it sees the new object too.
        held.pod = pod
        self.assumed.discard(key)
        return True

    def remove_pod(self, pod: JSON) -> None:
        key = pod_key(pod)
        self._remove(key)
        self.assumed.discard(key)

    def assume(self, pod: JSON, node_name: str) -> JSON:
        # Objects from the informer are never changed in place, so only what differs is copied.
        assumed = {**pod, "spec": {**(pod.get("spec") or {}), "nodeName": node_name}}
        key = pod_key(pod)
        self._remove(key)
        self._place(key, assumed)
        self.assumed.add(key)
        return assumed

    def forget(self, pod: JSON) -> None:
        key = pod_key(pod)
        if key in self.assumed:
            self._remove(key)
            self.assumed.discard(key)

    def is_assumed(self, pod: JSON) -> bool:
        return pod_key(pod) in self.assumed

    def snapshot(self) -> Snapshot:
        """The cluster for the next cycle: the previous snapshot with only the changed nodes re-cloned.

        The previous snapshot is updated in place, so a snapshot is good until the next call
        (one scheduling cycle), as upstream's.
        """
        if self._snapshot is None:
            self._snapshot = Snapshot(info.clone() for name, info in self._infos.items() if name in self._nodes)
        else:
            for name in self._dirty:
                info = self._infos.get(name)
                if info is not None and name in self._nodes:
                    self._snapshot.replace(info.clone())
        self._dirty.clear()
        return self._snapshot

    def node_count(self) -> int:
        return len(self._nodes)

    def _place(self, key: str, pod: JSON) -> None:
        node_name = node_name_of(pod)
        self._info(node_name).add_pod(PodInfo(pod))
        self._pod_nodes[key] = node_name
        self._dirty.add(node_name)

    def _remove(self, key: str) -> None:
        node_name = self._pod_nodes.pop(key, None)
        if node_name is None:
            return
        self._dirty.add(node_name)
        info = self._infos.get(node_name)
        if info is not None:
            info.remove_pod(key)
            if not info.pods and node_name not in self._nodes:
                del self._infos[node_name]
