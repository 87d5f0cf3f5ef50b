"""Probes and lifecycle hooks wired into the kubelet, end to end: a real API server, a real node
(netns + containerd) and ``kubeplane kubelet`` as a process (finding the node's netns itself).

Also the per-container extras the kubelet adds: service-link environment variables and the
kubelet-managed /etc/hosts.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubelet_testlib import (
    BUSYBOX,
    KubeletProcess,
    Node,
    api_create,
    api_get,
    condition_status,
    delete_pod_and_wait,
    pod_manifest,
    pod_status,
    registered_kubelet,
    wait_for,
)

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
# Runs until SIGTERM, then exits at once (a shell as PID 1 ignores SIGTERM without a trap).
SLEEPER = "trap 'exit 0' TERM; sleep 3600 & wait"


@pytest.fixture(scope="module")
def kubelet(node: Node, apiserver: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeletProcess]:
    with registered_kubelet(node, apiserver, tmp_path_factory.mktemp("kubelet-probes"),
                            "--sync-frequency=500ms") as process:
        yield process


def events_for(apiserver: Any, namespace: str, pod: str) -> list[JSON]:
    listed = api_get(apiserver, f"/api/v1/namespaces/{namespace}/events") or {}
    return [event for event in listed.get("items") or [] if event["involvedObject"].get("name") == pod]


def has_event(apiserver: Any, namespace: str, pod: str, reason: str, message_start: str) -> bool:
    return any(event["reason"] == reason and event["message"].startswith(message_start)
               for event in events_for(apiserver, namespace, pod))


def app_status(apiserver: Any, namespace: str, pod: str, container: str = "app") -> JSON:
    statuses = pod_status(apiserver, namespace, pod).get("containerStatuses") or []
    return next((status for status in statuses if status["name"] == container), {})


async def exec_in(node: Node, status: JSON, *command: str) -> str:
    async with node.cri() as cri:
        response = await cri.exec_sync(status["containerID"].removeprefix("containerd://"), list(command), timeout=10)
    return str(response.stdout.decode())


async def test_readiness_post_start_service_links_and_hosts(kubelet: KubeletProcess, node: Node, apiserver: Any,
                                                            namespace: str) -> None:
    service = api_create(apiserver, namespace, {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web-front"},
        "spec": {"selector": {"app": "none"}, "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}},
        "services")
    cluster_ip = service["spec"]["clusterIP"]
    name = f"ready-{uuid.uuid4().hex[:6]}"
    app = {
        "name": "app", "image": BUSYBOX, "command": ["sh", "-c"],
        # The app waits for what its postStart hook writes, and says what it saw.
        "args": ["until [ -f /tmp/post-start ]; do sleep 0.1; done; echo app saw $(cat /tmp/post-start); " + SLEEPER],
        "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "echo hooked > /tmp/post-start"]}}},
        "readinessProbe": {"exec": {"command": ["test", "-f", "/tmp/ready"]}, "periodSeconds": 1,
                           "failureThreshold": 1},
        "env": [{"name": "FRONT", "value": "$(WEB_FRONT_SERVICE_HOST):$(WEB_FRONT_SERVICE_PORT_HTTP)"}],
    }
    # Its HTTP readiness probe reaches the pod's address only from inside the node's namespace,
    # which the kubelet (in the root namespace) found from its containerd.
    web = {"name": "web", "image": BUSYBOX, "command": ["sh", "-c", "mkdir -p /www && echo ok > /www/healthz && "
                                                                    "exec httpd -f -p 8080 -h /www"],
           "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}}
    api_create(apiserver, namespace, pod_manifest(node, name, [app, web], subdomain="sub", hostAliases=[
        {"ip": "198.18.7.7", "hostnames": ["alias-one", "alias-two"]}]))
    try:
        def running_unready() -> JSON | None:
            container = app_status(apiserver, namespace, name)
            return container if "running" in (container.get("state") or {}) else None

        container = await wait_for("the app container to run", running_unready, kubelet)
        await wait_for("a failed readiness probe", lambda: has_event(
            apiserver, namespace, name, "Unhealthy", "Readiness probe failed"), kubelet)
        await wait_for("the web container to be ready", lambda: app_status(apiserver, namespace, name, "web").get(
            "ready"), kubelet)
        status = pod_status(apiserver, namespace, name)
        assert (container["started"], app_status(apiserver, namespace, name)["ready"]) == (True, False)
        assert (condition_status(status, "ContainersReady"), condition_status(status, "Ready")) == ("False", "False")

        await exec_in(node, container, "touch", "/tmp/ready")
        def pod_ready() -> JSON | None:
            status = pod_status(apiserver, namespace, name)
            return status if condition_status(status, "Ready") == "True" else None

        ready = await wait_for("the pod to become Ready", pod_ready, kubelet)
        assert condition_status(ready, "ContainersReady") == "True"
        assert app_status(apiserver, namespace, name)["ready"] is True

        async with node.cri() as cri:
            log_path = (await cri.container_status(container["containerID"].removeprefix("containerd://"))
                        ).status.log_path
        assert "app saw hooked" in Path(log_path).read_text()

        env = dict(line.split("=", 1) for line in (await exec_in(node, container, "env")).splitlines() if "=" in line)
        assert env["WEB_FRONT_SERVICE_HOST"] == cluster_ip and env["WEB_FRONT_SERVICE_PORT"] == "8080"
        assert env["WEB_FRONT_PORT_8080_TCP"] == f"tcp://{cluster_ip}:8080"
        assert env["FRONT"] == f"{cluster_ip}:8080"
        kubernetes = api_get(apiserver, "/api/v1/namespaces/default/services/kubernetes") or {}
        assert env["KUBERNETES_SERVICE_HOST"] == kubernetes["spec"]["clusterIP"]

        hosts = await exec_in(node, container, "cat", "/etc/hosts")
        pod_ip = ready["podIP"]
        assert hosts.startswith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n")
        assert f"{pod_ip}\t{name}.sub.{namespace}.svc.cluster.local\t{name}\n" in hosts
        assert hosts.endswith("# Entries added by HostAliases.\n198.18.7.7\talias-one\talias-two\n")
    finally:
        await delete_pod_and_wait(apiserver, kubelet, namespace, name)


async def test_liveness_restart_and_pre_stop(kubelet: KubeletProcess, node: Node, apiserver: Any, namespace: str,
                                            tmp_path: Path) -> None:
    name = f"live-{uuid.uuid4().hex[:6]}"
    shared = tmp_path / "shared"
    shared.mkdir()
    app = {
        "name": "app", "image": BUSYBOX, "command": ["sh", "-c", SLEEPER],
        "livenessProbe": {"exec": {"command": ["test", "!", "-f", "/tmp/wedged"]}, "periodSeconds": 1,
                          "failureThreshold": 1},
        # preStop runs before every stop: the liveness kill and the deletion.
        "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "echo pre-stop >> /shared/stops"]}}},
        "volumeMounts": [{"name": "shared", "mountPath": "/shared"}],
    }
    api_create(apiserver, namespace, pod_manifest(node, name, [app], volumes=[
        {"name": "shared", "hostPath": {"path": str(shared), "type": "Directory"}}]))
    try:
        def running() -> JSON | None:
            container = app_status(apiserver, namespace, name)
            return container if "running" in (container.get("state") or {}) else None

        first = await wait_for("the app container to run", running, kubelet)
        assert first["restartCount"] == 0
        await exec_in(node, first, "touch", "/tmp/wedged")

        def restarted() -> JSON | None:
            container = app_status(apiserver, namespace, name)
            return container if container.get("restartCount", 0) >= 1 and "running" in container["state"] else None

        again = await wait_for("the container to be restarted", restarted, kubelet)
        assert again["containerID"] != first["containerID"]
        assert "terminated" in again["lastState"]
        await wait_for("Unhealthy and Killing events", lambda: has_event(
            apiserver, namespace, name, "Unhealthy", "Liveness probe failed") and has_event(
            apiserver, namespace, name, "Killing", "Container app failed liveness probe, will be restarted"), kubelet)
        assert (shared / "stops").read_text() == "pre-stop\n"
    finally:
        await delete_pod_and_wait(apiserver, kubelet, namespace, name)
    assert (shared / "stops").read_text() == "pre-stop\npre-stop\n"
