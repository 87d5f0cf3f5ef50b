"""Real namespaces for VPC tests: a throwaway VPC per test, removed even when the test fails, and
a check that the root namespace's links, routes and forwarding setting are left exactly as found."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from vpc_probes import VpcUnderTest, root_netns_snapshot

from kubeplane.network.vpc import VpcService
from kubeplane.network.vpc.names import owned_netns_pattern
from kubeplane.network.vpc.netlink import list_netns


@pytest.fixture
def vpc(tmp_path: Path) -> Iterator[VpcUnderTest]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    before = root_netns_snapshot()
    name = f"t{secrets.token_hex(4)}"
    service = VpcService(tmp_path / "vpcs")
    try:
        yield VpcUnderTest(name, service, tmp_path / "vpcs")
    finally:
        service.delete(name)
    pattern = owned_netns_pattern(name)
    assert [ns for ns in list_netns() if pattern.match(ns)] == []
    assert root_netns_snapshot() == before
