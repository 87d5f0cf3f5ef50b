"""Hollow nodes (the real kubelet over the in-process fake runtime) against a real API server:
registration and Ready, pods Running with fake addresses, exits and restarts per restartPolicy,
and twenty nodes in one event loop. No root needed: nothing runs but the kubelet code."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from kubeplane.client import AlreadyExists, Client, NotFound, load_kubeconfig
from kubeplane.client.resource import LEASES, NODES, PODS, SERVICEACCOUNTS
from kubeplane.kubelet.hollow.client import BoundedClient
from kubeplane.kubelet.hollow.fleet import HollowFleet, plan_fleet
from kubeplane.kubelet.hollow.node import HollowTimings

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
    fleet = HollowFleet(client, plan_fleet(count, prefix, "m5.large", ["us-east-1a", "us-east-1b"]), tmp_path,
                        HollowTimings(sync_frequency=1.0, node_status_update_frequency=2.0), start_rate=0)
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
    assert pod_status["podIP"] in one_node.pod_addresses and pod_status["podIP"] != node_ip
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
        assert len(addresses) == 20  # every node has an address of its own
    finally:
        await fleet.stop(delete_nodes=True)
    remaining = [name for name in fleet.names if await node_ready(client, name) is not None]
    assert remaining == []


async def test_status_written_on_change_while_the_lease_beats(apiserver: Any, client: Client, tmp_path: Path,
                                                             namespace: str) -> None:
    """The Lease is the heartbeat (a PUT every quarter of its duration); the Node status is
    written only when it changes (an image appeared, the node controller's Unknown reverted) or
    when the report period has passed. Heartbeats go through their own bounded client."""
    prefix = f"hollow-{uuid.uuid4().hex[:6]}-"
    timings = HollowTimings(sync_frequency=1.0, node_status_update_frequency=0.2,
                            node_status_report_frequency=300.0, node_lease_duration=2)
    heartbeats = BoundedClient(load_kubeconfig(apiserver.kubeconfig), "hollow-test", in_flight=1)
    fleet = HollowFleet(client, plan_fleet(2, prefix, "m5.large", ["us-east-1a"]), tmp_path, timings, start_rate=0,
                        heartbeat_client=heartbeats)
    await fleet.start()
    try:
        name = fleet.names[0]
        await eventually("the nodes to be Ready", lambda: node_ready(client, fleet.names[1]))
        first = await client.get(LEASES, name, "kube-node-lease")
        await asyncio.sleep(2.5)  # five status checks per node, several lease renewals
        renewed = await client.get(LEASES, name, "kube-node-lease")
        assert renewed["spec"]["renewTime"] > first["spec"]["renewTime"]
        counts = fleet.heartbeats()
        assert counts.status_writes == 2, "an unchanged status was written again"
        assert counts.lease_writes >= 4

        # A new image on the node changes its status: written at the next check.
        await create_pod(client, namespace, name, "web", ["httpd", "-f"])
        await eventually("the image in the node status", lambda: pod_where(
            client, namespace, "web", lambda s: s.get("phase") == "Running"))

        async def image_reported() -> bool:
            node = await client.get(NODES, name)
            return any("busybox:1.35" in image["names"] for image in node["status"].get("images") or [])

        await eventually("the image in the node status", image_reported)

        # What the node lifecycle controller does when a Lease goes stale: Ready becomes Unknown.
        node = await client.get(NODES, name)
        conditions = [{**c, "status": "Unknown", "reason": "NodeStatusUnknown"} if c["type"] == "Ready" else c
                      for c in node["status"]["conditions"]]
        await client.patch(NODES, name, {"status": {"conditions": conditions}}, subresource="status")
        await eventually("the kubelet to report Ready again", lambda: node_ready(client, name))
        assert fleet.failed() == []
    finally:
        await fleet.stop(delete_nodes=True)
        await heartbeats.close()


async def test_pods_bound_before_the_fleet_starts_are_run(client: Client, tmp_path: Path, namespace: str) -> None:
    """The shared pod informer replays the pods it already holds to a node when the node attaches."""
    prefix = f"hollow-{uuid.uuid4().hex[:6]}-"
    plan = plan_fleet(2, prefix, "m5.large", ["us-east-1a"])
    await create_pod(client, namespace, plan.specs[1].name, "early", ["sleep", "3600"])
    fleet = HollowFleet(client, plan, tmp_path, HollowTimings(sync_frequency=1.0), start_rate=0)
    await fleet.start()
    try:
        running = await eventually("the early pod to run", lambda: pod_where(
            client, namespace, "early", lambda s: s.get("phase") == "Running"))
        assert running["status"]["podIP"] in plan.pod_addresses
        assert not fleet.nodes[0].runtime.sandboxes  # the other node was not handed the pod
        await client.delete(PODS, "early", namespace)
        await eventually("the pod to be removed", lambda: asyncio.sleep(0, not fleet.nodes[1].runtime.sandboxes))
    finally:
        await fleet.stop(delete_nodes=True)
