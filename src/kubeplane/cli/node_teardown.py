"""Removing a cluster's worker nodes completely: their processes (by verified PID), what
containerd leaves behind, the kubelet's mounts, the VPC and the cgroup parent. Works from what is
on disk, so it also cleans up after a crashed ``kubeplane up``, and may be repeated."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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


# The node processes stopped before the pods are removed (the kubelet would restart them); ipamd
# stays until after, since CNI DEL needs it.
NODE_AGENTS = ("kubelet", "proxy", "network-policy-agent", "dns")


def in_parallel(actions: list[Callable[[], None]]) -> None:
    """Run blocking tear-down steps side by side (each mostly waits on a process to exit or on
    containerd), re-raising the first failure once all have finished."""
    if not actions:
        return
    with ThreadPoolExecutor(max_workers=min(len(actions), 16), thread_name_prefix="teardown") as pool:
        futures = [pool.submit(action) for action in actions]
    for future in futures:
        future.result()


def stop_nodes(paths: ClusterPaths, progress: Progress) -> None:
    """Stop every node process and remove all the nodes leave behind, then the VPC. Works from
    what is on disk (after a crashed `up` too) and may be repeated.

    Nodes are torn down side by side, and so are the agents of all nodes (each takes about a
    second to exit); each node's pods are removed several at a time. One by one, 100 pods on two
    nodes took close to a minute."""
    nodes = _recorded_nodes(paths)
    if not nodes and not paths.vpc_state.exists():
        return
    from kubeplane.cli.node_runtime import cluster_socket_dir
    from kubeplane.kubelet.cri import leftovers
    from kubeplane.network.vpc import VpcService

    labelled = []
    for node in nodes:
        index = node if isinstance(node, int) else node.index
        labelled.append((NodePaths(paths, index), node.name if isinstance(node, NodeRecord) else f"node {index}"))
    in_parallel([functools.partial(_stop_component, paths, node_paths, kind, label, progress)
                  for node_paths, label in labelled for kind in NODE_AGENTS])
    in_parallel([functools.partial(_remove_node_runtime, paths, node_paths, label, progress)
                  for node_paths, label in labelled])
    if VpcService(paths.vpc_state).delete(paths.name):
        progress(f"VPC {paths.name} deleted")
    leftovers.remove_cgroups(cgroup_parent(paths.name))
    sockets = cluster_socket_dir(paths.name, paths.root)
    shutil.rmtree(sockets, ignore_errors=True)
    with contextlib.suppress(OSError):  # shared by every cluster: removed only once empty
        sockets.parent.rmdir()


def _stop_component(paths: ClusterPaths, node_paths: NodePaths, kind: str, label: str, progress: Progress) -> None:
    if process.stop(paths.pidfile(node_paths.component(kind)), STOP_GRACE_SECONDS):
        progress(f"{node_paths.component(kind)} stopped ({label})")


def _remove_node_runtime(paths: ClusterPaths, node_paths: NodePaths, label: str, progress: Progress) -> None:
    """One node's pods, containerd, what containerd leaves behind, the kubelet's mounts, ipamd."""
    from kubeplane.kubelet.cri import leftovers

    _stop_containerd(node_paths, progress, label)
    removed = leftovers.clean(_containerd_paths(node_paths), network_name(paths.name), node_paths.cgroup_root)
    if removed:
        progress(f"{label}: removed what containerd left: {_describe(removed)}")
    leftovers.unmount_under(node_paths.base)  # the kubelet's memory-backed volumes
    _stop_component(paths, node_paths, "ipamd", label, progress)


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
