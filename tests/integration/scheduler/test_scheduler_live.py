"""The scheduler against the real API server. The test plays the kubelet: nodes are just objects
with capacity, labels and taints. Pods use a scheduler name unique to the test so that pending
pods of other tests are left alone."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubeplane.client import Client, NotFound, load_kubeconfig
from kubeplane.client.resource import EVENTS, LEASES, NODES, PODS
from kubeplane.scheduler.framework.config import parse_config
from kubeplane.scheduler.scheduler import Scheduler

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
GPU_TAINT = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}


def node_body(name: str, cpu: str, memory: str = "16Gi", labels: JSON | None = None,
              taints: list[JSON] | None = None) -> JSON:
    allocatable = {"cpu": cpu, "memory": memory, "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": {"taints": taints or []},
            "status": {"capacity": allocatable, "allocatable": allocatable,
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def pod_body(name: str, scheduler_name: str, cpu: str = "100m", **spec: Any) -> JSON:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"schedulerName": scheduler_name, **spec,
                     "containers": [{"name": "c", "image": "busybox",
                                     "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}]}}


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


class Cluster:
    """Nodes made for one test (deleted afterwards) and helpers to wait on pods."""

    def __init__(self, client: Client, namespace: str) -> None:
        self.client = client
        self.namespace = namespace
        self.prefix = f"n-{uuid.uuid4().hex[:6]}"
        self.nodes: list[str] = []

    async def add_node(self, suffix: str, cpu: str, **kwargs: Any) -> str:
        name = f"{self.prefix}-{suffix}"
        body = node_body(name, cpu, **kwargs)
        created = await self.client.create(NODES, body)
        if not (created.get("status") or {}).get("allocatable"):  # status dropped on create: set it
            await self.client.patch(NODES, name, {"status": body["status"]}, subresource="status")
        self.nodes.append(name)
        return name

    async def node_of(self, pod: str) -> str:
        obj = await self.client.get(PODS, pod, self.namespace)
        return str((obj.get("spec") or {}).get("nodeName") or "")

    async def wait_bound(self, pod: str, timeout: float = 30) -> str:
        return str(await eventually(lambda: self.node_of(pod), timeout))

    async def events_for(self, pod: str, reason: str) -> list[JSON]:
        items = (await self.client.list(EVENTS, self.namespace)).get("items") or []
        return [e for e in items if e.get("reason") == reason and e["involvedObject"]["name"] == pod]

    async def cleanup(self) -> None:
        for name in self.nodes:
            with contextlib.suppress(NotFound):
                await self.client.delete(NODES, name)


@pytest.fixture
async def cluster(apiserver: Any, namespace: str) -> AsyncIterator[Cluster]:
    async with Client(load_kubeconfig(apiserver.kubeconfig), component="test") as client:
        c = Cluster(client, namespace)
        try:
            yield c
        finally:
            await c.cleanup()


async def test_pods_are_bound_by_resources_taints_affinity_and_events_explain_failures(
        apiserver: Any, cluster: Cluster) -> None:
    scheduler_name = f"sched-{uuid.uuid4().hex[:6]}"
    small = await cluster.add_node("small", cpu="1", memory="2Gi")
    big = await cluster.add_node("big", cpu="8", labels={"zone": "b"})
    gpu = await cluster.add_node("gpu", cpu="16", labels={"dedicated": "gpu"}, taints=[GPU_TAINT])
    config = parse_config({"profiles": [{"schedulerName": scheduler_name}]})
    async with Client(load_kubeconfig(apiserver.kubeconfig), component="kube-scheduler") as client:
        task = asyncio.create_task(Scheduler(client, config).run())
        try:
            ns = cluster.namespace
            pods = {
                "needs-4-cpus": pod_body("needs-4-cpus", scheduler_name, cpu="4"),
                "pinned-by-name": pod_body("pinned-by-name", scheduler_name, affinity={"nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [small]}]}]}}}),
                "zone-b": pod_body("zone-b", scheduler_name, nodeSelector={"zone": "b"}),
                "tolerates-gpu": pod_body("tolerates-gpu", scheduler_name, nodeSelector={"dedicated": "gpu"},
                                          tolerations=[{"key": "dedicated", "operator": "Exists"}]),
                "too-big": pod_body("too-big", scheduler_name, cpu="100"),
            }
            for body in pods.values():
                await cluster.client.create(PODS, body, ns)
            assert await cluster.wait_bound("needs-4-cpus") == big
            assert await cluster.wait_bound("pinned-by-name") == small
            assert await cluster.wait_bound("zone-b") == big
            assert await cluster.wait_bound("tolerates-gpu") == gpu
            scheduled = await eventually(lambda: cluster.events_for("needs-4-cpus", "Scheduled"))
            assert scheduled[0]["message"] == f"Successfully assigned {ns}/needs-4-cpus to {big}"
            assert scheduled[0]["source"]["component"] == scheduler_name

            failed = await eventually(lambda: cluster.events_for("too-big", "FailedScheduling"))
            all_nodes = (await cluster.client.list(NODES)).get("items") or []
            message = failed[0]["message"]
            assert failed[0]["type"] == "Warning"
            if {n["metadata"]["name"] for n in all_nodes} == set(cluster.nodes):
                assert message == ("0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, "
                                   "2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is "
                                   "not helpful for scheduling, 2 No preemption victims found for incoming pod.")
            else:  # nodes other tests left behind change the counts, not the shape
                assert message.startswith(f"0/{len(all_nodes)} nodes are available: ")
                assert "node(s) had untolerated taint {dedicated: gpu}" in message and "Insufficient cpu" in message
            pod = await cluster.client.get(PODS, "too-big", ns)
            condition = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
            assert (condition["status"], condition["reason"]) == ("False", "Unschedulable")

            # A node big enough arriving is a cluster event that brings the pod back from the
            # unschedulable set.
            huge = await cluster.add_node("huge", cpu="128")
            assert await cluster.wait_bound("too-big") == huge
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def start_replica(apiserver: Any, config: Path, identity: str, namespace: str, log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "kubeplane.scheduler.app", f"--kubeconfig={apiserver.kubeconfig}",
            f"--config={config}", "--leader-elect=true", "--leader-elect-lease-duration=3s",
            "--leader-elect-renew-deadline=2s", "--leader-elect-retry-period=400ms",
            f"--leader-elect-resource-namespace={namespace}", f"--identity={identity}"]
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


async def test_two_replicas_never_both_lead(apiserver: Any, cluster: Cluster, tmp_path: Path) -> None:
    scheduler_name = f"sched-{uuid.uuid4().hex[:6]}"
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"apiVersion": "kubescheduler.config.k8s.io/v1",
                                      "kind": "KubeSchedulerConfiguration",
                                      "profiles": [{"schedulerName": scheduler_name}]}))
    node = await cluster.add_node("only", cpu="4")
    ns = cluster.namespace
    logs = {name: tmp_path / f"{name}.log" for name in ("a", "b")}
    replicas = {name: start_replica(apiserver, config, name, ns, logs[name]) for name in ("a", "b")}
    try:
        async def holder() -> str:
            try:
                lease = await cluster.client.get(LEASES, "kube-scheduler", ns)
            except NotFound:
                return ""
            return str((lease.get("spec") or {}).get("holderIdentity") or "")

        first = await eventually(holder)
        second = "b" if first == "a" else "a"
        await cluster.client.create(PODS, pod_body("before", scheduler_name), ns)
        assert await cluster.wait_bound("before") == node
        await asyncio.sleep(2)  # several retry periods: the other replica keeps trying and failing
        assert "acquired lease" not in logs[second].read_text()
        assert await holder() == first

        stop(replicas[first])  # a clean stop releases the lease
        assert await eventually(lambda: _is(holder, second), timeout=20)
        await cluster.client.create(PODS, pod_body("after", scheduler_name), ns)
        assert await cluster.wait_bound("after") == node
        assert "acquired lease" in logs[first].read_text()
    finally:
        for process in replicas.values():
            stop(process)


async def _is(get: Callable[[], Awaitable[str]], wanted: str) -> bool:
    return await get() == wanted
