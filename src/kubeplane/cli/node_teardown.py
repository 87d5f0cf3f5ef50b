"""Removing a cluster's worker nodes completely: their processes (by verified PID), what
containerd leaves behind, the kubelet's mounts, the VPC and the cgroup parent. Works from what is
on disk, so it also cleans up after a crashed ``kubeplane up``, and may be repeated."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from pathlib import Path
from typing import Any

from kubeplane.cli.nodes import (
    NODE_FILE,
    STOP_GRACE_SECONDS,
    NodePaths,
    Progress,
    cgroup_parent,
    network_name,
)
from kubeplane.cli.state import ClusterPaths, NodeRecord
from kubeplane.component import process


def _recorded_nodes(paths: ClusterPaths) -> list[NodeRecord | int]:
    """Every node that has a directory: its NodeRecord if it got that far, else just its index."""
    if not paths.nodes.is_dir():
        return []
    found: list[NodeRecord | int] = []
    for directory in sorted(paths.nodes.iterdir()):
        if not directory.name.isdigit():
            continue
        try:
            found.append(NodeRecord(**json.loads((directory / NODE_FILE).read_text())))
        except (OSError, ValueError, TypeError):
            found.append(int(directory.name))
    return found


def stop_nodes(paths: ClusterPaths, progress: Progress) -> None:
    """Stop every node process and remove all the nodes leave behind, then the VPC. Works from
    what is on disk (after a crashed `up` too) and may be repeated."""
    nodes = _recorded_nodes(paths)
    if not nodes and not paths.vpc_state.exists():
        return
    from kubeplane.cli.node_runtime import cluster_socket_dir
    from kubeplane.kubelet.cri import leftovers
    from kubeplane.network.vpc import VpcService

    for node in nodes:
        index = node if isinstance(node, int) else node.index
        node_paths = NodePaths(paths, index)
        label = node.name if isinstance(node, NodeRecord) else f"node {index}"
        for kind in ("kubelet", "proxy", "network-policy-agent", "dns"):
            if process.stop(paths.pidfile(node_paths.component(kind)), STOP_GRACE_SECONDS):
                progress(f"{node_paths.component(kind)} stopped ({label})")
        _stop_containerd(node_paths, progress, label)
        removed = leftovers.clean(_containerd_paths(node_paths), network_name(paths.name), node_paths.cgroup_root)
        if removed:
            progress(f"{label}: removed what containerd left: {_describe(removed)}")
        leftovers.unmount_under(node_paths.base)  # the kubelet's memory-backed volumes
        if process.stop(paths.pidfile(node_paths.component("ipamd")), STOP_GRACE_SECONDS):
            progress(f"{node_paths.component('ipamd')} stopped ({label})")
    if VpcService(paths.vpc_state).delete(paths.name):
        progress(f"VPC {paths.name} deleted")
    leftovers.remove_cgroups(cgroup_parent(paths.name))
    sockets = cluster_socket_dir(paths.name, paths.root)
    shutil.rmtree(sockets, ignore_errors=True)
    with contextlib.suppress(OSError):  # shared by every cluster: removed only once empty
        sockets.parent.rmdir()


def _describe(removed: Any) -> str:
    counts = {"containers": removed.runc_containers, "shims": removed.shim_pids, "mounts": removed.mounts,
              "CNI cache files": removed.cni_cache_files, "pod cgroup dirs": removed.cgroups}
    return ", ".join(f"{len(items)} {what}" for what, items in counts.items() if items)


def _containerd_paths(node_paths: NodePaths) -> Any:
    from kubeplane.cli.node_runtime import NodeContainerdPaths

    return NodeContainerdPaths(node_paths.containerd, node_paths.containerd_sockets)


def _stop_containerd(node_paths: NodePaths, progress: Progress, label: str) -> None:
    """Remove the pods through CRI while containerd (and ipamd, which CNI DEL needs) still run, so
    their addresses go back to the pool and their netns are removed cleanly; then stop it."""
    from kubeplane.cli.node_runtime import node_containerd
    from kubeplane.kubelet.cri import CRIClient, CRIError, remove_all_sandboxes

    # The netns path matters only to start(): this one is never started.
    containerd = node_containerd(node_paths.containerd, node_paths.containerd_sockets, Path("/nonexistent"))
    if not containerd.is_running():
        return

    async def remove_pods() -> list[str]:
        async with CRIClient(containerd.socket, request_timeout=30.0) as cri:
            return await remove_all_sandboxes(cri)

    try:
        removed = asyncio.run(asyncio.wait_for(remove_pods(), 60.0))
        if removed:
            progress(f"{label}: {len(removed)} pod sandbox(es) removed")
    except (CRIError, OSError, TimeoutError) as err:
        progress(f"{label}: removing pods through CRI failed ({err}); cleaning up by force")
    if containerd.stop(grace=STOP_GRACE_SECONDS):
        progress(f"{node_paths.component('containerd')} stopped ({label})")
