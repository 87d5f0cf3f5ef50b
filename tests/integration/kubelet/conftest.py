"""One test node (netns + containerd + base images) per session, removed and checked at the end."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest
from kubelet_testlib import Node, left_behind, netns_inode, node_down, node_up

from kubeplane.kubelet.images import OCIImage, build_base_images


@pytest.fixture(scope="session")
def base_images(tmp_path_factory: pytest.TempPathFactory) -> list[OCIImage]:
    if os.geteuid() != 0:
        pytest.skip("kubelet runtime tests need root (network namespaces, containerd, cgroups)")
    return build_base_images(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="session")
def node(base_images: list[OCIImage], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    test_node = asyncio.run(node_up(tmp_path_factory.mktemp("node"), base_images))
    inode = netns_inode(test_node)
    try:
        yield test_node
    finally:
        asyncio.run(node_down(test_node))
    remaining = left_behind(test_node, inode)
    assert not remaining, f"the test node was not removed completely: {remaining}"
