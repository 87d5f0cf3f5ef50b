"""A kubelet of its own: projected volumes (configMap, secret, downwardAPI, service-account token)
kept current, and a kubelet restart that adopts the running pod instead of recreating it."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from kubelet_testlib import (
    BUSYBOX,
    KubeletProcess,
    Node,
    api_create,
    condition_status,
    delete_pod_and_wait,
    pod_manifest,
    pod_status,
    start_kubelet,
    wait_for,
)

pytestmark = pytest.mark.integration


async def test_projected_volumes_refresh_and_restart_adoption(node: Node, apiserver: Any, namespace: str,
                                                              tmp_path_factory: pytest.TempPathFactory) -> None:
    """Secret, downwardAPI and projected (token) volumes; a configMap change reaches the file; a
    restarted kubelet adopts the running pod instead of recreating it."""
    workdir = tmp_path_factory.mktemp("kubelet-restart")
    first = start_kubelet(node, apiserver.kubeconfig, workdir, "--sync-frequency=500ms")
    api_create(apiserver, namespace, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "live"},
                                   "data": {"value": "one"}}, "configmaps")
    api_create(apiserver, namespace, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
                                   "data": {"password": "czNjcjN0"}}, "secrets")
    name = f"vols-{uuid.uuid4().hex[:6]}"
    pod = pod_manifest(node, name, [{"name": "main", "image": BUSYBOX, "command": ["sh", "-c", "trap 'exit 0' TERM; "
                                                                             "sleep 3600 & wait"],
                             "volumeMounts": [{"name": "all", "mountPath": "/all"}]}],
               volumes=[{"name": "all", "projected": {"sources": [
                   {"configMap": {"name": "live"}},
                   {"secret": {"name": "creds", "items": [{"key": "password", "path": "secret/pw"}]}},
                   {"downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                                              {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                   {"serviceAccountToken": {"path": "token", "audience": "kpt-test", "expirationSeconds": 3600}},
               ]}}])
    pod["metadata"]["labels"] = {"app": "vols"}
    second: KubeletProcess | None = None
    try:
        api_create(apiserver, namespace, pod)
        status = await wait_for("Ready", lambda: (s := pod_status(apiserver, namespace, name)).get("phase")
                                 == "Running" and condition_status(s, "Ready") == "True" and s, first)
        container_id = status["containerStatuses"][0]["containerID"].removeprefix("containerd://")

        async def read(path: str) -> bytes:
            async with node.cri() as cri:
                return (await cri.exec_sync(container_id, ["cat", path], timeout=10)).stdout

        assert await read("/all/value") == b"one"
        assert await read("/all/secret/pw") == b"s3cr3t"
        assert await read("/all/name") == name.encode() and await read("/all/labels") == b'app="vols"'
        token = (await read("/all/token")).decode()
        review = apiserver.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
            "spec": {"token": token, "audiences": ["kpt-test"]}})[1]
        assert review["status"]["authenticated"], review
        assert review["status"]["user"]["username"] == f"system:serviceaccount:{namespace}:default"
        assert review["status"]["user"]["extra"]["authentication.kubernetes.io/pod-name"] == [name]

        async def change_and_see(value: str, kubelet: KubeletProcess) -> None:
            apiserver.request("PATCH", f"/api/v1/namespaces/{namespace}/configmaps/live", {"data": {"value": value}},
                              content_type="application/merge-patch+json")
            deadline = time.monotonic() + 40
            while await read("/all/value") != value.encode():
                assert time.monotonic() < deadline, kubelet.log_tail()
                await asyncio.sleep(0.5)

        await change_and_see("two", first)  # the periodic refresh rewrites the projected files
        # Restart the kubelet: the pod keeps running in the same container, and is still served.
        first.stop()
        second = start_kubelet(node, apiserver.kubeconfig, workdir, "--sync-frequency=500ms")
        await change_and_see("three", second)
        after = pod_status(apiserver, namespace, name)["containerStatuses"][0]
        assert after["containerID"] == status["containerStatuses"][0]["containerID"]
        assert after["restartCount"] == 0 and after["ready"]
    finally:
        running = second or first
        await delete_pod_and_wait(apiserver, running, namespace, name)
        first.stop()
        if second is not None:
            second.stop()
        apiserver.request("DELETE", f"/api/v1/nodes/{node.name}")
