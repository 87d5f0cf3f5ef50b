"""The kubelet against a real API server and a real node (netns + containerd): Node registration,
Lease, and pod lifecycles end to end."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubelet_testlib import (
    BUSYBOX,
    NODE_IP,
    POD_SUBNET,
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


@pytest.fixture(scope="module")
def kubelet(node: Node, apiserver: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeletProcess]:
    with registered_kubelet(node, apiserver, tmp_path_factory.mktemp("kubelet")) as process:
        yield process


async def test_node_registration_and_lease(kubelet: KubeletProcess, node: Node, apiserver: Any) -> None:
    def ready_node() -> JSON | None:
        found = api_get(apiserver, f"/api/v1/nodes/{node.name}")
        return found if found and condition_status(found.get("status") or {}, "Ready") == "True" else None

    found = await wait_for("the node to be Ready", ready_node, kubelet)
    labels = found["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == node.name
    assert labels["kubernetes.io/os"] == "linux" and labels["kubernetes.io/arch"] == "amd64"
    assert labels["node.kubernetes.io/instance-type"] == "m5.large"
    assert labels["topology.kubernetes.io/zone"] == "us-west-2a"
    assert labels["topology.kubernetes.io/region"] == "us-west-2"
    assert labels["kubeplane.io/test"] == "yes"
    status = found["status"]
    assert status["capacity"]["pods"] == "29" and status["allocatable"]["pods"] == "29"
    assert {"cpu", "memory", "ephemeral-storage"} <= set(status["allocatable"])
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["reason"], ready["message"]) == ("KubeletReady", "kubelet is posting ready status")
    pressures = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"] if c["type"] != "Ready"}
    assert pressures == {"MemoryPressure": ("False", "KubeletHasSufficientMemory"),
                         "DiskPressure": ("False", "KubeletHasNoDiskPressure"),
                         "PIDPressure": ("False", "KubeletHasSufficientPID")}
    assert {"type": "InternalIP", "address": NODE_IP} in status["addresses"]
    assert {"type": "Hostname", "address": node.name} in status["addresses"]
    info = status["nodeInfo"]
    assert info["containerRuntimeVersion"].startswith("containerd://1.")
    assert info["kubeletVersion"] == (api_get(apiserver, "/version") or {})["gitVersion"]
    assert info["operatingSystem"] == "linux" and info["bootID"] and info["kernelVersion"]
    assert any(BUSYBOX in image["names"] for image in status["images"])
    # The status is refreshed: the heartbeat moves on (every 2 s in this test).
    first_beat = ready["lastHeartbeatTime"]
    await wait_for("a newer heartbeat", lambda: next(
        c for c in (ready_node() or {"status": {"conditions": [ready]}})["status"]["conditions"]
        if c["type"] == "Ready")["lastHeartbeatTime"] != first_beat, kubelet, timeout=15)
    lease = api_get(apiserver, f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node.name}")
    assert lease is not None
    assert lease["spec"]["holderIdentity"] == node.name and lease["spec"]["leaseDurationSeconds"] == 40
    assert lease["metadata"]["ownerReferences"][0]["uid"] == found["metadata"]["uid"]


async def test_pod_runs_with_init_env_and_volumes(kubelet: KubeletProcess, node: Node, apiserver: Any,
                                                  namespace: str) -> None:
    api_create(apiserver, namespace, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
                                   "data": {"greeting": "hello", "colour": "blue"}}, "configmaps")
    name = f"web-{uuid.uuid4().hex[:6]}"
    pod = pod_manifest(node, name, [{
        "name": "main", "image": BUSYBOX, "command": ["sh", "-c"],
        "args": ["echo started $(GREETING) '$$(LITERAL)'; trap 'exit 0' TERM; sleep 3600 & wait"],
        "env": [{"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "greeting"}}},
                {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "MY_NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                {"name": "COMBINED", "value": "$(GREETING)-$(MY_NODE)"}],
        "envFrom": [{"prefix": "CM_", "configMapRef": {"name": "settings"}}],
        "volumeMounts": [{"name": "config", "mountPath": "/etc/settings"}, {"name": "work", "mountPath": "/work"}],
    }], initContainers=[{"name": "prepare", "image": BUSYBOX, "command": ["sh", "-c", "echo from-init > /work/init"],
                         "volumeMounts": [{"name": "work", "mountPath": "/work"}]}],
        volumes=[{"name": "config", "configMap": {"name": "settings"}}, {"name": "work", "emptyDir": {}}])
    created = api_create(apiserver, namespace, pod)
    try:
        def ready() -> JSON | None:
            status = pod_status(apiserver, namespace, name)
            return status if status.get("phase") == "Running" and condition_status(status, "Ready") == "True" else None

        status = await wait_for("the pod to be Ready", ready, kubelet)
        assert status["podIP"].startswith(POD_SUBNET.rsplit(".", 1)[0] + ".")
        assert status["hostIP"] == NODE_IP and status["qosClass"] == "BestEffort"
        assert {condition_status(status, kind) for kind in ("PodScheduled", "PodReadyToStartContainers", "Initialized",
                                                       "ContainersReady")} == {"True"}
        init = status["initContainerStatuses"][0]
        assert init["state"]["terminated"]["reason"] == "Completed" and init["state"]["terminated"]["exitCode"] == 0
        main = status["containerStatuses"][0]
        assert main["ready"] and main["started"] and main["restartCount"] == 0 and "running" in main["state"]
        assert main["containerID"].startswith("containerd://") and main["imageID"].startswith("sha256:")
        container_id = main["containerID"].removeprefix("containerd://")
        async with node.cri() as cri:
            env = (await cri.exec_sync(container_id, ["env"], timeout=10)).stdout.decode()
            files = await cri.exec_sync(container_id, ["cat", "/etc/settings/greeting", "/work/init"], timeout=10)
            hostname = (await cri.exec_sync(container_id, ["hostname"], timeout=10)).stdout.decode().strip()
            log_path = (await cri.container_status(container_id)).status.log_path
        assert f"MY_IP={status['podIP']}\n" in env and f"MY_NODE={node.name}\n" in env
        assert f"COMBINED=hello-{node.name}\n" in env and "CM_colour=blue\n" in env
        assert files.stdout == b"hellofrom-init\n"
        assert hostname == name
        assert Path(log_path).read_text().rstrip().endswith("started hello $(LITERAL)")
        # Status is written only when it changes: a settled pod's object stays as it is.
        settled = api_get(apiserver, f"/api/v1/namespaces/{namespace}/pods/{name}") or {}
        await asyncio.sleep(2.5)  # more than two pod-worker syncs
        again = api_get(apiserver, f"/api/v1/namespaces/{namespace}/pods/{name}") or {}
        assert again["metadata"]["resourceVersion"] == settled["metadata"]["resourceVersion"]
        assert Path(log_path).is_relative_to(kubelet.root_dir / "pods" / f"{namespace}_{name}_{created['metadata']['uid']}")
    finally:
        await delete_pod_and_wait(apiserver, kubelet, namespace, name)


async def test_crash_loop_and_missing_image(kubelet: KubeletProcess, node: Node, apiserver: Any,
                                            namespace: str) -> None:
    crashing = f"crash-{uuid.uuid4().hex[:6]}"
    missing = f"noimage-{uuid.uuid4().hex[:6]}"
    api_create(apiserver, namespace, pod_manifest(node, crashing, [{"name": "app", "image": BUSYBOX,
                                                         "command": ["sh", "-c", "echo bye; exit 3"]}]))
    api_create(apiserver, namespace, pod_manifest(node, missing, [{"name": "app", "image": "localhost/kpt-no-such-image:1"}]))
    try:
        def crash_looping() -> JSON | None:
            status = pod_status(apiserver, namespace, crashing)
            container = (status.get("containerStatuses") or [{}])[0]
            waiting = (container.get("state") or {}).get("waiting") or {}
            return container if waiting.get("reason") == "CrashLoopBackOff" else None

        container = await wait_for("CrashLoopBackOff", crash_looping, kubelet)
        assert container["restartCount"] >= 1
        last = container["lastState"]["terminated"]
        assert (last["exitCode"], last["reason"]) == (3, "Error")
        assert "back-off 10s restarting failed container=app" in container["state"]["waiting"]["message"]
        assert pod_status(apiserver, namespace, crashing)["phase"] == "Running"

        def pull_failed() -> JSON | None:
            status = pod_status(apiserver, namespace, missing)
            waiting = (((status.get("containerStatuses") or [{}])[0].get("state") or {}).get("waiting") or {})
            return waiting if waiting.get("reason") in ("ErrImagePull", "ImagePullBackOff") else None

        waiting = await wait_for("an image pull failure", pull_failed, kubelet)
        assert "localhost/kpt-no-such-image:1" in waiting["message"]
        assert pod_status(apiserver, namespace, missing)["phase"] == "Pending"
    finally:
        await delete_pod_and_wait(apiserver, kubelet, namespace, crashing)
        await delete_pod_and_wait(apiserver, kubelet, namespace, missing)


async def test_pod_that_completes(kubelet: KubeletProcess, node: Node, apiserver: Any, namespace: str) -> None:
    name = f"job-{uuid.uuid4().hex[:6]}"
    api_create(apiserver, namespace, pod_manifest(node, name, [{"name": "once", "image": BUSYBOX, "command": ["true"]}],
                                       restartPolicy="Never"))
    try:
        status = await wait_for("Succeeded", lambda: (s := pod_status(apiserver, namespace, name)).get("phase")
                                 == "Succeeded" and s, kubelet)
        terminated = status["containerStatuses"][0]["state"]["terminated"]
        assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")
        assert condition_status(status, "Ready") == "False"
    finally:
        await delete_pod_and_wait(apiserver, kubelet, namespace, name)

