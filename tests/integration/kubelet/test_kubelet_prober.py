"""Probes and hooks against busybox containers on a real test node (netns + containerd).

Network probes reach the pod IP only from inside the node's network namespace, so these also show
that the ``Dialer`` really opens its sockets there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from kubelet_testlib import Node, busybox_container, wait_container_state

from kubeplane.kubelet.cri import CRIClient, pb
from kubeplane.kubelet.prober import Dialer, LifecycleHooks, ProbeManager, ProbeOutcome, ProbeRunner, Result
from kubeplane.network.vpc.netlink import run_in_netns

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
HTTPD = "mkdir -p /www && echo ok > /www/healthz && exec httpd -f -p 8080 -h /www"
CONTAINER: JSON = {"name": "web", "ports": [{"name": "http", "containerPort": 8080}]}


@dataclass
class Pod:
    cri: CRIClient
    sandbox_id: str
    container_id: str
    ip: str
    node: Node

    def runner(self) -> ProbeRunner:
        return ProbeRunner(self.cri, Dialer(self.node.name), kube_version="1.35")


@pytest.fixture
async def web_pod(node: Node) -> AsyncIterator[Pod]:
    async with node.cri() as cri:
        config = node.sandbox_config("probed")
        sandbox_id = await cri.run_pod_sandbox(config)
        try:
            container_id = await cri.create_container(sandbox_id, busybox_container("web", HTTPD), config)
            await cri.start_container(container_id)
            await wait_container_state(cri, container_id, pb.CONTAINER_RUNNING)
            ip = (await cri.pod_sandbox_status(sandbox_id)).status.network.ip
            yield Pod(cri, sandbox_id, container_id, ip, node)
        finally:
            await cri.stop_pod_sandbox(sandbox_id)
            await cri.remove_pod_sandbox(sandbox_id)


async def eventually(check: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.1)


async def test_exec_probe(web_pod: Pod) -> None:
    runner = web_pod.runner()
    probe = {"exec": {"command": ["sh", "-c", "cat /tmp/healthy"]}, "timeoutSeconds": 5}
    failing = await runner.run(probe, CONTAINER, web_pod.ip, f"containerd://{web_pod.container_id}")
    await web_pod.cri.exec_sync(web_pod.container_id, ["sh", "-c", "echo yes > /tmp/healthy"], timeout=5)
    passing = await runner.run(probe, CONTAINER, web_pod.ip, web_pod.container_id)
    assert failing == ProbeOutcome(Result.FAILURE, "cat: can't open '/tmp/healthy': No such file or directory\n")
    assert passing == ProbeOutcome(Result.SUCCESS, "yes\n")


async def test_exec_probe_timeout(web_pod: Pod) -> None:
    probe = {"exec": {"command": ["sleep", "10"]}, "timeoutSeconds": 1}
    outcome = await web_pod.runner().run(probe, CONTAINER, web_pod.ip, web_pod.container_id)
    assert outcome == ProbeOutcome(Result.FAILURE, 'command "sleep 10" timed out')


async def test_http_probe_reaches_httpd_in_the_pod(web_pod: Pod) -> None:
    runner = web_pod.runner()
    await eventually_serving(runner, web_pod)
    found = await runner.run({"httpGet": {"port": "http", "path": "/healthz"}}, CONTAINER, web_pod.ip, "")
    missing = await runner.run({"httpGet": {"port": 8080, "path": "/nope"}}, CONTAINER, web_pod.ip, "")
    assert found == ProbeOutcome(Result.SUCCESS, "ok\n")
    assert missing == ProbeOutcome(Result.FAILURE, "HTTP probe failed with statuscode: 404")


async def eventually_serving(runner: ProbeRunner, pod: Pod) -> None:
    """httpd starts a moment after the container: wait until its port answers."""
    deadline = time.monotonic() + 10
    while (await runner.run({"tcpSocket": {"port": 8080}}, CONTAINER, pod.ip, "")).result != Result.SUCCESS:
        assert time.monotonic() < deadline, "httpd did not start"
        await asyncio.sleep(0.1)


async def test_tcp_probe(web_pod: Pod) -> None:
    runner = web_pod.runner()
    await eventually_serving(runner, web_pod)
    closed = await runner.run({"tcpSocket": {"port": 8081}}, CONTAINER, web_pod.ip, "")
    assert closed == ProbeOutcome(Result.FAILURE, f"dial tcp {web_pod.ip}:8081: connect: connection refused")


async def test_post_start_exec_hook_writes_a_file(web_pod: Pod) -> None:
    hooks = LifecycleHooks(web_pod.cri, Dialer(web_pod.node.name))
    pod = {"metadata": {"name": "probed", "namespace": "default", "uid": "u"}}
    handler = {"exec": {"command": ["sh", "-c", "echo started > /tmp/post-start"]}}
    outcome = await hooks.run_post_start(handler, pod, CONTAINER, web_pod.container_id, web_pod.ip)
    written = await web_pod.cri.exec_sync(web_pod.container_id, ["cat", "/tmp/post-start"], timeout=5)
    assert outcome.ok
    assert written.stdout == b"started\n"


async def test_manager_follows_readiness_and_reports_liveness_failure(web_pod: Pod) -> None:
    failures: list[tuple[str, str, str]] = []
    manager = ProbeManager(web_pod.runner(), on_liveness_failure=lambda *args: failures.append(args))
    container = {**CONTAINER,
                 "readinessProbe": {"httpGet": {"port": "http", "path": "/healthz"}, "periodSeconds": 1,
                                    "failureThreshold": 1},
                 "livenessProbe": {"exec": {"command": ["test", "!", "-f", "/tmp/wedged"]}, "periodSeconds": 1,
                                   "failureThreshold": 2}}
    pod = {"metadata": {"name": "probed", "namespace": "default", "uid": "u-probed"},
           "spec": {"containers": [container]}}
    manager.add_pod(pod, web_pod.ip, {"web": web_pod.container_id})
    try:
        await eventually(lambda: manager.readiness("u-probed", "web"))
        await web_pod.cri.exec_sync(web_pod.container_id, ["rm", "/www/healthz"], timeout=5)
        await eventually(lambda: not manager.readiness("u-probed", "web"))
        assert failures == []
        await web_pod.cri.exec_sync(web_pod.container_id, ["touch", "/tmp/wedged"], timeout=5)
        await eventually(lambda: failures != [])
    finally:
        await manager.close()
    assert failures == [("u-probed", "web", "Container web failed liveness probe, will be restarted")]


async def test_grpc_probe_dials_inside_the_node_namespace(node: Node) -> None:
    """A health server bound to 127.0.0.1 *of the node namespace*: only a probe whose connection
    is made in that namespace can reach it (the root namespace's loopback is another one)."""
    server = grpc.server(ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = run_in_netns(node.name, lambda: server.add_insecure_port("127.0.0.1:0"))
    server.start()
    try:
        async with node.cri() as cri:
            runner = ProbeRunner(cri, Dialer(node.name))
            in_node = await runner.run({"grpc": {"port": port}, "timeoutSeconds": 2}, CONTAINER, "127.0.0.1", "")
            tcp_in_node = await runner.run({"tcpSocket": {"port": port}}, CONTAINER, "127.0.0.1", "")
            tcp_in_root = await ProbeRunner(cri, Dialer(None)).run({"tcpSocket": {"port": port}}, CONTAINER,
                                                                   "127.0.0.1", "")
    finally:
        server.stop(None)
    assert in_node == ProbeOutcome(Result.SUCCESS, "service healthy")
    assert tcp_in_node.result == Result.SUCCESS
    assert tcp_in_root == ProbeOutcome(Result.FAILURE, f"dial tcp 127.0.0.1:{port}: connect: connection refused")
