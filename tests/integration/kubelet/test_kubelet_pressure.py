"""Node-pressure eviction, image garbage collection and container log rotation on a real node
(its own netns + containerd, named ``kpprs-*``) under a real kubelet process.

One kubelet serves the module, with thresholds set relative to this machine so they are crossed on
purpose: memory.available is the node's capacity (the machine's MemTotal, as the kubelet reports
it) minus its pods' working set, so ``memory.available<capacity-60Mi`` evicts once the node's pods
use more than 60Mi. A Guaranteed busybox pod runs for the whole module: it must survive the
eviction and it keeps busybox in use, so aggressive image GC (high threshold 1%) may only take the
image imported for that purpose.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
import urllib.request
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
    bridge_network,
    condition_status,
    delete_pod_and_wait,
    left_behind,
    netns_inode,
    node_down,
    pod_manifest,
    pod_status,
    registered_kubelet,
    wait_for,
)

from kubeplane.kubelet.cri import Containerd, pb, wait_network_ready
from kubeplane.kubelet.images import (
    ImageConfig,
    Layer,
    OCIImage,
    ensure_imported,
    import_archive,
    write_image,
)

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
MiB = 1024 * 1024
EVICT_ABOVE = 60 * MiB  # the node's pods may use this much before memory.available crosses the threshold
TRANSITION = 8  # seconds MemoryPressure stays after the threshold was last met


def mem_total() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal in /proc/meminfo")


def threshold_text() -> str:
    return f"{(mem_total() - EVICT_ABOVE) // 1024}Ki"


async def pressure_node_up(base: Path, images: list[OCIImage]) -> Node:
    """A node like kubelet_testlib's, named for this helper's tests, so that what they do (evict,
    remove images) never touches the session's shared node."""
    import subprocess

    name = f"kpprs-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    node = Node(name, base, Containerd(base / "containerd", Path("/run/netns") / name))
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True, capture_output=True)
        await node.containerd.start()
        conf_dir = node.containerd.paths.cni_conf_dir
        staged = conf_dir / ".10-kpt.conflist.tmp"
        staged.write_text(json.dumps(bridge_network(name, base / "cni-ipam")))
        staged.rename(conf_dir / "10-kpt.conflist")
        async with node.cri() as cri:
            await ensure_imported(cri, node.socket, images)
            await wait_network_ready(cri)
    except BaseException:
        await node_down(node)
        raise
    return node


@pytest.fixture(scope="module")
def pressure_node(base_images: list[OCIImage], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = asyncio.run(pressure_node_up(tmp_path_factory.mktemp("pressure-node"), base_images))
    inode = netns_inode(node)
    try:
        yield node
    finally:
        asyncio.run(node_down(node))
    remaining = left_behind(node, inode)
    assert not remaining, f"the test node was not removed completely: {remaining}"


@pytest.fixture(scope="module")
def kubelet(pressure_node: Node, apiserver: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeletProcess]:
    flags = ("--sync-frequency=500ms", f"--client-ca-file={apiserver.pki.ca_cert}",
             "--housekeeping-interval=500ms", f"--eviction-hard=memory.available<{threshold_text()}",
             f"--eviction-pressure-transition-period={TRANSITION}s",
             "--image-gc-high-threshold=1", "--image-gc-low-threshold=0", "--image-minimum-gc-age=15s",
             "--image-gc-period=1s",
             "--container-log-max-size=2Ki", "--container-log-max-files=3", "--container-log-monitor-interval=500ms")
    with registered_kubelet(pressure_node, apiserver, tmp_path_factory.mktemp("pressure-kubelet"), *flags) as process:
        yield process


def running(apiserver: Any, namespace: str, name: str) -> JSON | None:
    status = pod_status(apiserver, namespace, name)
    return status if status.get("phase") == "Running" and condition_status(status, "Ready") == "True" else None


@pytest.fixture(scope="module")
def keeper(kubelet: KubeletProcess, pressure_node: Node, apiserver: Any) -> Iterator[tuple[str, str]]:
    """A Guaranteed busybox pod in its own namespace, running for the whole module."""
    namespace = f"kpprs-{uuid.uuid4().hex[:6]}"
    apiserver.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                     "metadata": {"name": namespace}})
    resources = {"cpu": "100m", "memory": "32Mi"}
    api_create(apiserver, namespace, pod_manifest(pressure_node, "keeper", [{
        "name": "keeper", "image": BUSYBOX, "command": ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"],
        "resources": {"requests": resources, "limits": resources}}]))
    try:
        status = asyncio.run(wait_for("the keeper pod to run", lambda: running(apiserver, namespace, "keeper"),
                                      kubelet))
        assert status["qosClass"] == "Guaranteed"
        yield namespace, "keeper"
    finally:
        asyncio.run(delete_pod_and_wait(apiserver, kubelet, namespace, "keeper"))
        apiserver.request("DELETE", f"/api/v1/namespaces/{namespace}")


def node_condition(apiserver: Any, node: Node, kind: str) -> JSON:
    found = api_get(apiserver, f"/api/v1/nodes/{node.name}") or {}
    return next((c for c in (found.get("status") or {}).get("conditions") or [] if c["type"] == kind), {})


async def test_best_effort_pod_is_evicted_under_memory_pressure(kubelet: KubeletProcess, pressure_node: Node,
                                                                apiserver: Any, keeper: tuple[str, str]) -> None:
    namespace, keeper_name = keeper
    assert node_condition(apiserver, pressure_node, "MemoryPressure")["status"] == "False"
    # ~100 MB held by the shell in a variable: more than EVICT_ABOVE, well within the machine.
    hog = pod_manifest(pressure_node, "hog", [{
        "name": "hog", "image": BUSYBOX,
        "command": ["sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' a); sleep 3600"]}])
    api_create(apiserver, namespace, hog)
    try:
        def evicted() -> JSON | None:
            status = pod_status(apiserver, namespace, "hog")
            return status if status.get("phase") == "Failed" else None

        status = await wait_for("the hog to be evicted", evicted, kubelet, timeout=180)  # a loaded machine fills 100 MB slowly
        assert status["reason"] == "Evicted"
        assert status["message"].startswith(
            f"The node was low on resource: memory. Threshold quantity: {threshold_text()}, available: ")
        assert "Container hog was using " in status["message"]
        assert status["message"].endswith(", request is 0, has larger consumption of memory. ")
        disruption = next(c for c in status["conditions"] if c["type"] == "DisruptionTarget")
        assert (disruption["status"], disruption["reason"]) == ("True", "TerminationByKubelet")

        def eviction_event() -> bool:
            # Events are written in the background after the status patch: wait for it.
            events = api_get(apiserver, f"/api/v1/namespaces/{namespace}/events") or {}
            return any(e["reason"] == "Evicted" and e["involvedObject"]["name"] == "hog" and e["type"] == "Warning"
                       for e in events.get("items") or [])

        await wait_for("the Evicted event", eviction_event, kubelet, timeout=30)
        # Its containers are killed (the pod worker stops the sandbox after the status write, so
        # wait for it); the Guaranteed pod runs on.
        uid = (api_get(apiserver, f"/api/v1/namespaces/{namespace}/pods/hog") or {})["metadata"]["uid"]
        deadline = time.monotonic() + 60
        async with pressure_node.cri() as cri:
            while still := await cri.list_containers(pb.ContainerFilter(
                    state=pb.ContainerStateValue(state=pb.CONTAINER_RUNNING),
                    label_selector={"io.kubernetes.pod.uid": uid})):
                assert time.monotonic() < deadline, f"the evicted pod's containers still run: {still}"
                await asyncio.sleep(0.25)

        # ... and then reports them terminated (containerd killed them: 137, "Error"), as upstream,
        # keeping the eviction's phase, reason and condition; a failed pod is not Ready.
        def final() -> JSON | None:
            status = pod_status(apiserver, namespace, "hog")
            states = [s["state"] for s in status.get("containerStatuses") or []]
            return status if states and all("terminated" in state for state in states) else None

        status = await wait_for("the evicted pod's final container statuses", final, kubelet, timeout=30)
        terminated = status["containerStatuses"][0]["state"]["terminated"]
        assert (terminated["exitCode"], terminated["reason"]) == (137, "Error"), terminated
        assert (status["phase"], status["reason"]) == ("Failed", "Evicted")
        ready = next(c for c in status["conditions"] if c["type"] == "Ready")
        assert (ready["status"], ready["reason"]) == ("False", "PodFailed")
        assert any(c["type"] == "DisruptionTarget" for c in status["conditions"])
        assert running(apiserver, namespace, keeper_name) is not None
        # The node said MemoryPressure, and says it no more once the transition period passed.
        pressure = await wait_for("MemoryPressure", lambda: (c := node_condition(
            apiserver, pressure_node, "MemoryPressure")).get("status") == "True" and c, kubelet, timeout=20)
        assert (pressure["reason"], pressure["message"]) == ("KubeletHasInsufficientMemory",
                                                             "kubelet has insufficient memory available")
        await wait_for("MemoryPressure to clear", lambda: node_condition(
            apiserver, pressure_node, "MemoryPressure").get("status") == "False", kubelet, timeout=TRANSITION + 15)
        assert running(apiserver, namespace, keeper_name) is not None
    finally:
        await delete_pod_and_wait(apiserver, kubelet, namespace, "hog")


async def test_image_gc_removes_an_unused_image(kubelet: KubeletProcess, pressure_node: Node, apiserver: Any,
                                                keeper: tuple[str, str], tmp_path: Path) -> None:
    layer = Layer()
    layer.add_file("/garbage", b"kpprs\n" * 1000)
    reference = f"localhost/kpprs-garbage:{uuid.uuid4().hex[:6]}"
    image = write_image(tmp_path / "garbage.tar", reference, layer, ImageConfig(cmd=("/garbage",)))
    await import_archive(pressure_node.socket, image.archive)

    async def names() -> set[str]:
        async with pressure_node.cri() as cri:
            return {tag for found in await cri.list_images() for tag in found.repo_tags}

    assert reference in await names()
    deadline = asyncio.get_running_loop().time() + 40
    while reference in await names():  # no older than --image-minimum-gc-age first
        assert asyncio.get_running_loop().time() < deadline, kubelet.log_tail()
        await asyncio.sleep(0.5)
    left = await names()
    assert BUSYBOX in left and "localhost/pause:3.9" in left  # in use / the sandbox image
    # Disk usage stays above 1%: every pass wants more than it may free, and says so.
    events = api_get(apiserver, "/api/v1/namespaces/default/events") or {}
    assert any(e["reason"] == "FreeDiskSpaceFailed" and e["involvedObject"]["name"] == pressure_node.name
               and e["message"].startswith("Failed to garbage collect required amount of images. Attempted to free ")
               for e in events.get("items") or []), events


def kubelet_logs(apiserver: Any, node: Node, namespace: str, pod: str, container: str) -> str:
    """The kubelet's /containerLogs as the cluster admin (the API server's pods/log goes there)."""
    found = api_get(apiserver, f"/api/v1/nodes/{node.name}") or {}
    port = found["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the kubelet's self-signed serving certificate
    context.load_cert_chain(apiserver.pki.admin_cert, apiserver.pki.admin_key)
    url = f"https://127.0.0.1:{port}/containerLogs/{namespace}/{pod}/{container}"
    with urllib.request.urlopen(url, context=context, timeout=10) as response:
        text: str = response.read().decode()
    return text


async def test_chatty_container_log_is_rotated(kubelet: KubeletProcess, pressure_node: Node, apiserver: Any,
                                               keeper: tuple[str, str]) -> None:
    namespace, _ = keeper
    script = "i=0; while true; do echo line-$i-kpprs-padding-padding-padding; i=$((i+1)); sleep 0.01; done"
    api_create(apiserver, namespace, pod_manifest(pressure_node, "chatty", [{
        "name": "chatty", "image": BUSYBOX, "command": ["sh", "-c", script]}]))
    try:
        status = await wait_for("the chatty pod to run", lambda: running(apiserver, namespace, "chatty"), kubelet)
        container_id = status["containerStatuses"][0]["containerID"].removeprefix("containerd://")
        async with pressure_node.cri() as cri:
            log_path = Path((await cri.container_status(container_id)).status.log_path)

        def rotated() -> list[Path]:
            found = sorted(log_path.parent.glob(log_path.name + ".*"))
            return found if any(p.name.endswith(".gz") for p in found) else []

        # At least two rotations: the older rotated file is compressed.
        files = await wait_for("compressed rotated logs", rotated, kubelet, timeout=30)
        assert all(not p.name.endswith(".tmp") for p in files)
        # The live file, the newest rotated plain one, and at most max-files in all.
        await asyncio.sleep(1.5)
        assert len(list(log_path.parent.glob(log_path.name + "*"))) <= 3
        assert log_path.exists()
        # The runtime writes to the new live file, and the log endpoint reads it.
        before = log_path.stat().st_size
        await wait_for("new lines in the live log", lambda: log_path.exists() and log_path.stat().st_size != before,
                       kubelet, timeout=10)
        text = kubelet_logs(apiserver, pressure_node, namespace, "chatty", "chatty")
        assert "kpprs-padding" in text and "line-0-" not in text  # only what came after the rotations
    finally:
        await delete_pod_and_wait(apiserver, kubelet, namespace, "chatty")
