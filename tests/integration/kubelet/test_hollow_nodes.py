"""Hollow nodes (the real kubelet over the in-process fake runtime) against a real API server:
registration and Ready, pods Running with fake addresses, exits and restarts per restartPolicy,
and twenty nodes in one event loop. No root needed: nothing runs but the kubelet code."""

from __future__ import annotations

import asyncio
import ipaddress
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from kubeplane.client import AlreadyExists, Client, NotFound, load_kubeconfig
from kubeplane.client.resource import LEASES, NODES, PODS, SERVICEACCOUNTS
from kubeplane.kubelet.hollow.fleet import HollowFleet, fleet_specs

pytestmark = pytest.mark.integration

JSON = dict[str, Any]


async def eventually(what: str, probe: Callable[[], Awaitable[Any]], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


def is_ready(node: JSON) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in (node.get("status") or {}).get("conditions") or [])


@pytest.fixture
async def client(apiserver: Any) -> AsyncIterator[Client]:
    async with Client(load_kubeconfig(apiserver.kubeconfig), component="hollow-test", connection_limit=0) as api:
        yield api


async def start_fleet(client: Client, tmp_path: Path, count: int) -> HollowFleet:
    prefix = f"hollow-{uuid.uuid4().hex[:6]}-"
    fleet = HollowFleet(client, fleet_specs(count, prefix, "m5.large", ["us-east-1a", "us-east-1b"]), tmp_path,
                        sync_frequency=1.0, status_frequency=2.0, start_rate=0)
    await fleet.start()
    return fleet


@pytest.fixture
async def one_node(client: Client, tmp_path: Path) -> AsyncIterator[HollowFleet]:
    fleet = await start_fleet(client, tmp_path, 1)
    try:
        yield fleet
    finally:
        await fleet.stop(delete_nodes=True)
    assert not list(tmp_path.glob("*/pods/*")), "pod directories left behind"


async def node_ready(client: Client, name: str) -> JSON | None:
    try:
        node = await client.get(NODES, name)
    except NotFound:
        return None
    return node if is_ready(node) else None


async def create_pod(client: Client, namespace: str, node: str, name: str, command: list[str],
                     restart_policy: str = "Always") -> JSON:
    try:
        await client.create(SERVICEACCOUNTS, {"metadata": {"name": "default"}}, namespace)
    except AlreadyExists:
        pass
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"nodeName": node, "restartPolicy": restart_policy, "terminationGracePeriodSeconds": 5,
                    "containers": [{"name": "main", "image": "busybox:1.35", "command": command}]}}
    created: JSON = await client.create(PODS, pod, namespace)
    return created


async def pod_where(client: Client, namespace: str, name: str, check: Callable[[JSON], bool]) -> JSON | None:
    pod = await client.get(PODS, name, namespace)
    return pod if check(pod.get("status") or {}) else None


async def test_hollow_node_registers_and_runs_pods(one_node: HollowFleet, client: Client, namespace: str) -> None:
    spec = one_node.nodes[0].spec
    node = await eventually("the hollow node to be Ready", lambda: node_ready(client, spec.name))
    labels = node["metadata"]["labels"]
    assert labels["node.kubernetes.io/instance-type"] == "m5.large"
    assert labels["topology.kubernetes.io/zone"] == "us-east-1a"
    assert labels["topology.kubernetes.io/region"] == "us-east-1"
    status = node["status"]
    assert (status["capacity"]["cpu"], status["capacity"]["pods"]) == ("2", "29")
    node_ip = one_node.nodes[0].config.node_ip
    assert {"type": "InternalIP", "address": node_ip} in status["addresses"]
    lease = await client.get(LEASES, spec.name, "kube-node-lease")
    assert lease["spec"]["holderIdentity"] == spec.name

    await create_pod(client, namespace, spec.name, "server", ["httpd", "-f", "-p", "80"])
    running = await eventually("the pod to run", lambda: pod_where(
        client, namespace, "server", lambda s: s.get("phase") == "Running" and bool(s.get("podIP"))))
    pod_status = running["status"]
    assert ipaddress.ip_address(pod_status["podIP"]) in spec.block and pod_status["podIP"] != node_ip
    assert pod_status["hostIP"] == node_ip
    assert pod_status["containerStatuses"][0]["ready"] is True

    await create_pod(client, namespace, spec.name, "fails", ["sh", "-c", "sleep 1; exit 3"], "Never")
    failed = await eventually("the pod to fail", lambda: pod_where(
        client, namespace, "fails", lambda s: s.get("phase") == "Failed"))
    terminated = failed["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (3, "Error")

    await create_pod(client, namespace, spec.name, "restarts", ["sh", "-c", "exit 3"], "OnFailure")
    restarted = await eventually("the container to restart", lambda: pod_where(
        client, namespace, "restarts", lambda s: (s.get("containerStatuses") or [{}])[0].get("restartCount", 0) >= 1))
    last = restarted["status"]["containerStatuses"][0]["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (3, "Error")
    assert restarted["status"]["phase"] in ("Running", "Pending")

    for name in ("server", "fails", "restarts"):
        await client.delete(PODS, name, namespace)

    async def all_gone() -> bool:
        return not (await client.list(PODS, namespace)).get("items")

    await eventually("the pods to leave the API", all_gone)
    runtime = one_node.nodes[0].runtime
    await eventually("the runtime to be empty", lambda: asyncio.sleep(0, not runtime.sandboxes))


async def test_twenty_hollow_nodes_in_one_process(client: Client, tmp_path: Path) -> None:
    fleet = await start_fleet(client, tmp_path, 20)
    try:
        async def all_ready() -> bool:
            states = await asyncio.gather(*(node_ready(client, name) for name in fleet.names))
            return all(states)

        await eventually("20 hollow nodes to be Ready", all_ready, timeout=45)
        assert fleet.failed() == []
        leases = await asyncio.gather(*(client.get(LEASES, name, "kube-node-lease") for name in fleet.names))
        assert sorted(lease["metadata"]["name"] for lease in leases) == sorted(fleet.names)
        addresses = set()
        for name in fleet.names:
            node = await client.get(NODES, name)
            addresses.add(next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP"))
        assert len(addresses) == 20  # every node has a block of its own
    finally:
        await fleet.stop(delete_nodes=True)
    remaining = [name for name in fleet.names if await node_ready(client, name) is not None]
    assert remaining == []
