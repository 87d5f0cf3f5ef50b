"""A node torn down while its pods still run (as after a crash) leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubelet_testlib import (
    busybox_container,
    left_behind,
    netns_inode,
    node_down,
    node_up,
    wait_container_state,
)

from kubeplane.component.process import ReadinessError
from kubeplane.kubelet.cri import Containerd, leftovers, pb
from kubeplane.kubelet.images import OCIImage

pytestmark = pytest.mark.integration


async def test_forced_teardown_with_running_pod(base_images: list[OCIImage],
                                                tmp_path_factory: pytest.TempPathFactory) -> None:
    node = await node_up(tmp_path_factory.mktemp("forced"), base_images)
    inode = netns_inode(node)
    try:
        async with node.cri() as cri:
            config = node.sandbox_config("survivor")
            sandbox_id = await cri.run_pod_sandbox(config)
            container_id = await cri.create_container(sandbox_id, busybox_container("main", "exec sleep 3600"), config)
            await cri.start_container(container_id)
            await wait_container_state(cri, container_id, pb.CONTAINER_RUNNING)
        running = leftovers.find(node.containerd.paths, node.name, node.cgroup_root)
        shim_sockets = [leftovers.shim_socket(node.socket, shim.namespace, shim.id)
                        for shim in leftovers.shims_of(node.socket)]
    finally:
        # No RemovePodSandbox: containerd is stopped under a running pod, whose shim survives it.
        removed = await node_down(node, graceful=False)
    # Before the tear-down the pod really held processes, mounts, CNI state and cgroups ...
    assert {sandbox_id, container_id} <= {qualified.split("/", 1)[1] for qualified in running.runc_containers}
    assert running.shim_pids and running.mounts and running.cni_cache_files and running.cgroups
    # ... which the forced clean-up found and removed, so nothing of the node is left.
    assert set(removed.shim_pids) == set(running.shim_pids)
    # Killed shims cannot remove their sockets in /run/containerd/s; we computed where they are.
    assert shim_sockets and not any(sock.exists() for sock in shim_sockets)
    assert left_behind(node, inode) == []


async def test_start_fails_clearly_without_netns(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="kpt-missing"):
        await Containerd(tmp_path / "c", Path("/run/netns/kpt-missing-netns")).start()


async def test_start_reports_a_containerd_that_exits(tmp_path: Path) -> None:
    # A netns path that is not a namespace makes nsenter fail: the error shows the log tail.
    not_a_netns = tmp_path / "kpt-not-a-netns"
    not_a_netns.write_text("")
    containerd = Containerd(tmp_path / "c", not_a_netns)
    with pytest.raises(ReadinessError, match="exited during start-up"):
        await containerd.start(timeout=10)
    assert not containerd.is_running()
