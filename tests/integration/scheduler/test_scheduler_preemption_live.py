"""Preemption and the health/metrics endpoints, with a real scheduler process against the real API
server. The test plays the kubelet: it finishes the graceful deletion of the preempted pod."""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from kubeplane.client import Client, NotFound, Resource, load_kubeconfig
from kubeplane.client.resource import EVENTS, NODES, PODS
from kubeplane.component.etcd import free_port

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
PRIORITYCLASSES = Resource("scheduling.k8s.io", "v1", "priorityclasses", namespaced=False, kind="PriorityClass")


def node_body(name: str, cpu: str, labels: dict[str, str]) -> JSON:
    allocatable = {"cpu": cpu, "memory": "16Gi", "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
            "status": {"capacity": allocatable, "allocatable": allocatable,
                       "conditions": [{"type": "Ready", "status": "True"}]}}


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


def pod_body(name: str, scheduler_name: str, node_label: str, priority_class: str) -> JSON:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"schedulerName": scheduler_name, "priorityClassName": priority_class,
                     "nodeSelector": {"preemption-test": node_label},
                     "containers": [{"name": "c", "image": "busybox",
                                     "resources": {"requests": {"cpu": "1", "memory": "64Mi"}}}]}}


@pytest.fixture
def scheduler_process(apiserver: Any, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A scheduler process with its own profile name and health port; yields (name, base URL)."""
    scheduler_name = f"sched-{uuid.uuid4().hex[:6]}"
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"apiVersion": "kubescheduler.config.k8s.io/v1",
                                      "kind": "KubeSchedulerConfiguration",
                                      "profiles": [{"schedulerName": scheduler_name}]}))
    port = free_port()
    log = tmp_path / "scheduler.log"
    argv = [sys.executable, "-m", "kubeplane.scheduler.app", f"--kubeconfig={apiserver.kubeconfig}",
            f"--config={config}", "--leader-elect=false", "--bind-address=127.0.0.1", f"--secure-port={port}"]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        yield scheduler_name, f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture
async def client(apiserver: Any) -> AsyncIterator[Client]:
    async with Client(load_kubeconfig(apiserver.kubeconfig), component="test") as c:
        yield c


async def http_get(url: str) -> tuple[int, str]:
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return response.status, await response.text()
    except aiohttp.ClientError:
        return 0, ""


async def test_high_priority_pod_preempts_a_low_priority_one_and_metrics_tell(
        client: Client, namespace: str, scheduler_process: tuple[str, str]) -> None:
    scheduler_name, base = scheduler_process
    suffix = uuid.uuid4().hex[:6]
    node = f"preempt-{suffix}"
    low, high = f"low-{suffix}", f"high-{suffix}"
    created_classes = []
    try:
        for name, value in ((low, 10), (high, 1000)):
            await client.create(PRIORITYCLASSES, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                                  "metadata": {"name": name}, "value": value})
            created_classes.append(name)
        body = node_body(node, cpu="2", labels={"preemption-test": suffix})
        created = await client.create(NODES, body)
        if not (created.get("status") or {}).get("allocatable"):
            await client.patch(NODES, node, {"status": body["status"]}, subresource="status")

        async def node_of(pod: str) -> str:
            obj = await client.get(PODS, pod, namespace)
            return str((obj.get("spec") or {}).get("nodeName") or "")

        # Health first: the process is up and, without leader election, ready once its informers sync.
        assert await eventually(lambda: _ok(base + "/readyz"))
        assert await http_get(base + "/healthz") == (200, "ok")
        assert await http_get(base + "/livez") == (200, "ok")

        for name in ("low-a", "low-b"):
            await client.create(PODS, pod_body(name, scheduler_name, suffix, low), namespace)
        for name in ("low-a", "low-b"):
            assert await eventually(lambda name=name: node_of(name)) == node  # type: ignore[misc]
        lows = {n: await client.get(PODS, n, namespace) for n in ("low-a", "low-b")}
        assert {p["spec"]["priority"] for p in lows.values()} == {10}  # resolved by Priority admission

        await client.create(PODS, pod_body("high", scheduler_name, suffix, high), namespace)

        async def victim() -> JSON | None:
            for name in ("low-a", "low-b"):
                obj = await client.get(PODS, name, namespace)
                if obj["metadata"].get("deletionTimestamp"):
                    return obj
            return None

        preempted = await eventually(victim)
        survivor = "low-b" if preempted["metadata"]["name"] == "low-a" else "low-a"
        condition = next(c for c in preempted["status"]["conditions"] if c["type"] == "DisruptionTarget")
        assert (condition["status"], condition["reason"]) == ("True", "PreemptionByScheduler")

        async def nominated() -> str:
            obj = await client.get(PODS, "high", namespace)
            return str((obj.get("status") or {}).get("nominatedNodeName") or "")

        assert await eventually(nominated) == node
        assert await node_of("high") == ""  # still waiting: the victim is only terminating

        async def preempted_events() -> list[JSON]:
            items = (await client.list(EVENTS, namespace)).get("items") or []
            return [e for e in items if e.get("reason") == "Preempted"]

        events = await eventually(preempted_events)
        high_uid = (await client.get(PODS, "high", namespace))["metadata"]["uid"]
        assert events[0]["involvedObject"]["name"] == preempted["metadata"]["name"]
        assert events[0]["message"] == f"Preempted by pod {high_uid} on node {node}"

        # The kubelet's part: the container stopped, the pod object goes.
        await client.delete(PODS, preempted["metadata"]["name"], namespace, grace_period_seconds=0)
        assert await eventually(lambda: node_of("high")) == node
        assert await node_of(survivor) == node
        assert not (await client.get(PODS, survivor, namespace))["metadata"].get("deletionTimestamp")

        status, metrics = await http_get(base + "/metrics")
        assert status == 200
        # A retry while the victim was still terminating is an attempt too (one that waits).
        attempts = re.search(r"^scheduler_preemption_attempts_total (\S+)$", metrics, re.M)
        assert attempts is not None and float(attempts.group(1)) >= 1
        assert "scheduler_preemption_victims_sum 1.0" in metrics
        assert f'scheduler_schedule_attempts_total{{profile="{scheduler_name}",result="scheduled"}} 3.0' in metrics
        assert f'scheduler_schedule_attempts_total{{profile="{scheduler_name}",result="unschedulable"}}' in metrics
        assert 'scheduler_pending_pods{queue="active"} 0.0' in metrics
    finally:
        with contextlib.suppress(NotFound):
            await client.delete(NODES, node)
        for name in created_classes:
            with contextlib.suppress(NotFound):
                await client.delete(PRIORITYCLASSES, name)


async def _ok(url: str) -> bool:
    return (await http_get(url))[0] == 200
