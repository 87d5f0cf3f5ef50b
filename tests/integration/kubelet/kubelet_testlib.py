"""A test node: a network namespace of our own with a private containerd in it and the base images.

Everything a node creates is named ``kpt-<random>``: the netns, the CNI network, the bridge's
cgroup parent. ``node_down`` removes it all and ``left_behind`` says what (if anything) survived.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubeplane.kubelet.cri import (
    Containerd,
    CRIClient,
    CRIError,
    leftovers,
    pb,
    remove_all_sandboxes,
    wait_network_ready,
)
from kubeplane.kubelet.images import OCIImage, ensure_imported

# Pods of the test node get addresses from the simulated VPC range (only ever inside the node netns).
POD_SUBNET = "198.18.254.0/24"
CLUSTER_DNS = "198.19.0.10"
BUSYBOX = "localhost/busybox:1.35"
# What the kubelet asks for unless a pod sets shareProcessNamespace/hostPID/hostNetwork: CRI's
# zero value for the PID namespace is POD (shared with pause), the kubelet's default is CONTAINER.
_KUBELET_NAMESPACES = pb.NamespaceOption(network=pb.POD, pid=pb.CONTAINER, ipc=pb.POD)


@dataclass
class Node:
    name: str
    base: Path
    containerd: Containerd

    @property
    def netns_path(self) -> Path:
        return Path("/run/netns") / self.name

    @property
    def socket(self) -> Path:
        return self.containerd.socket

    @property
    def cgroup_root(self) -> str:
        return f"/{self.name}"

    def cri(self) -> CRIClient:
        return CRIClient(self.socket, request_timeout=30.0)

    def sandbox_config(self, pod_name: str) -> pb.PodSandboxConfig:
        uid = str(uuid.uuid4())
        return pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=pod_name, uid=uid, namespace="default"),
            hostname=pod_name,
            log_directory=str(self.base / "pods" / f"default_{pod_name}_{uid}"),
            dns_config=pb.DNSConfig(servers=[CLUSTER_DNS], searches=["default.svc.cluster.local"]),
            linux=pb.LinuxPodSandboxConfig(
                cgroup_parent=f"{self.cgroup_root}/pod{uid}",
                security_context=pb.LinuxSandboxSecurityContext(namespace_options=_KUBELET_NAMESPACES)),
        )


def bridge_network(name: str, ipam_dir: Path) -> dict[str, object]:
    """The simplest network containerd accepts. A loopback-only conflist is not enough: containerd
    requires an eth0 with an address ("failed to find network info for sandbox"). The bridge and
    its veths live in the node netns; no default route, no masquerading."""
    return {"cniVersion": "1.0.0", "name": name, "plugins": [{
        "type": "bridge", "bridge": "kpt0", "isGateway": True, "ipMasq": False,
        "ipam": {"type": "host-local", "dataDir": str(ipam_dir), "ranges": [[{"subnet": POD_SUBNET}]]},
    }]}


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


async def node_up(base: Path, images: Sequence[OCIImage]) -> Node:
    name = f"kpt-{uuid.uuid4().hex[:10]}"
    _ip("netns", "add", name)
    node = Node(name, base, Containerd(base / "containerd", Path("/run/netns") / name))
    try:
        _ip("-n", name, "link", "set", "lo", "up")
        await node.containerd.start()
        conf_dir = node.containerd.paths.cni_conf_dir
        staged = conf_dir / ".10-kpt.conflist.tmp"
        staged.write_text(json.dumps(bridge_network(name, base / "cni-ipam")))
        staged.rename(conf_dir / "10-kpt.conflist")  # containerd watches the dir: appear whole
        async with node.cri() as cri:
            await ensure_imported(cri, node.socket, images)
            await wait_network_ready(cri)
    except BaseException:
        await node_down(node)
        raise
    return node


async def node_down(node: Node, graceful: bool = True) -> leftovers.Leftovers:
    """Remove pods (if graceful and containerd runs), stop containerd, clean what it left, delete the
    netns and the files. Returns what the clean-up had to remove by force."""
    try:
        if graceful and node.containerd.is_running():
            async with node.cri() as cri:
                await remove_all_sandboxes(cri)
    except CRIError:
        pass  # the forced clean-up below still removes everything
    finally:
        node.containerd.stop(grace=10.0)
        removed = leftovers.clean(node.containerd.paths, node.name, node.cgroup_root)
        subprocess.run(["ip", "netns", "del", node.name], capture_output=True, check=False)
        node.containerd.remove_files()
    return removed


def _net_ns_inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def left_behind(node: Node, netns_inode: int | None) -> list[str]:
    """Everything of the node that still exists; empty after a complete tear-down."""
    found = []
    rest = leftovers.find(node.containerd.paths, node.name, node.cgroup_root)
    if rest:
        found.append(f"containerd leftovers: {rest}")
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    if node.name in netns.split():
        found.append(f"netns {node.name}")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        if netns_inode is not None and _net_ns_inode(entry / "ns" / "net") == netns_inode:
            found.append(f"process {entry.name} in the node netns")
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(node.base) in cmdline:
            found.append(f"process {entry.name}: {cmdline!r}")
    if leftovers.mounts_under(node.base):
        found.append(f"mounts under {node.base}")
    if node.containerd.paths.base.exists():
        found.append(f"directory {node.containerd.paths.base}")
    return found


def netns_inode(node: Node) -> int | None:
    return _net_ns_inode(node.netns_path)


async def wait_container_state(cri: CRIClient, container_id: str, state: int,
                               timeout: float = 20.0) -> pb.ContainerStatus:
    deadline = time.monotonic() + timeout
    while True:
        status = (await cri.container_status(container_id)).status
        if status.state == state:
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"container {container_id} is {pb.ContainerState.Name(status.state)}")
        await asyncio.sleep(0.05)


def busybox_container(name: str, script: str, attempt: int = 0) -> pb.ContainerConfig:
    return pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name=name, attempt=attempt),
        image=pb.ImageSpec(image=BUSYBOX),
        command=["sh", "-c", script],
        log_path=f"{name}/{attempt}.log",
        linux=pb.LinuxContainerConfig(
            security_context=pb.LinuxContainerSecurityContext(namespace_options=_KUBELET_NAMESPACES)),
    )


# -- a kubelet process on the test node --------------------------------------------------------------

# The bridge plugin gives the node netns the gateway address of the pod subnet: the node's InternalIP.
NODE_IP = POD_SUBNET.rsplit(".", 1)[0] + ".1"


@dataclass
class KubeletProcess:
    node: Node
    root_dir: Path
    log: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text()[-chars:]
        except OSError:
            return ""


def start_kubelet(node: Node, kubeconfig: Path, workdir: Path, *extra: str) -> KubeletProcess:
    """``kubeplane kubelet`` for the node as a child process (stopped by PID with ``stop``)."""
    import sys

    root_dir = workdir / "kubelet"
    log = workdir / "kubelet.log"
    argv = [sys.executable, "-m", "kubeplane.kubelet.app", f"--kubeconfig={kubeconfig}",
            f"--hostname-override={node.name}", f"--node-ip={NODE_IP}",
            f"--container-runtime-endpoint=unix://{node.socket}", f"--root-dir={root_dir}",
            f"--cgroup-root={node.cgroup_root}", f"--cluster-dns={CLUSTER_DNS}", "--resolv-conf=",
            "--instance-type=m5.large", "--zone=us-west-2a", "--region=us-west-2", "--max-pods=29",
            "--node-labels=kubeplane.io/test=yes", "--node-status-update-frequency=2s", *extra]
    with log.open("ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return KubeletProcess(node, root_dir, log, process)


@contextlib.contextmanager
def registered_kubelet(node: Node, apiserver: Any, workdir: Path, *extra: str) -> Iterator[KubeletProcess]:
    """A kubelet whose Node object exists; on exit the kubelet is stopped and its Node deleted, and
    (every test deleting its pods through the API) no pod directory may be left on the node."""
    process = start_kubelet(node, apiserver.kubeconfig, workdir, *extra)
    try:
        deadline = time.monotonic() + 30
        while api_get(apiserver, f"/api/v1/nodes/{node.name}") is None:
            assert process.process.poll() is None, process.log_tail()
            assert time.monotonic() < deadline, process.log_tail()
            time.sleep(0.2)
        yield process
    finally:
        process.stop()
        apiserver.request("DELETE", f"/api/v1/nodes/{node.name}")
    remaining = list(process.root_dir.glob("pods/*"))
    assert not remaining, f"pod directories left behind: {remaining}"


# -- API helpers for kubelet tests (``apiserver`` is tests/integration/conftest.py's APIServerProcess) --

JSON = dict[str, Any]


def api_get(apiserver: Any, path: str) -> JSON | None:
    status, body, _ = apiserver.request("GET", path)
    return body if status == 200 else None


async def wait_for(what: str, probe: Callable[[], Any], kubelet: KubeletProcess, timeout: float = 40) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n--- kubelet log ---\n{kubelet.log_tail()}")
        await asyncio.sleep(0.25)


def pod_manifest(node: Node, name: str, containers: list[JSON], **spec: Any) -> JSON:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node.name, "automountServiceAccountToken": False,
                     "terminationGracePeriodSeconds": 2, "containers": containers, **spec}}


def api_create(apiserver: Any, namespace: str, obj: JSON, resource: str = "pods") -> JSON:
    if resource == "pods":
        # No service-account controller runs here; admission wants the pod's account to exist.
        apiserver.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts",
                          {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})
    status, body, _ = apiserver.request("POST", f"/api/v1/namespaces/{namespace}/{resource}", obj)
    assert status == 201, (status, body.get("message") if isinstance(body, dict) else body)
    created: JSON = body
    return created


async def delete_pod_and_wait(apiserver: Any, kubelet: KubeletProcess, namespace: str, name: str) -> None:
    """Delete the pod; wait until it left the API and the kubelet removed it from the node (a
    finished pod leaves the API at once, and the kubelet cleans up after it)."""
    pod = api_get(apiserver, f"/api/v1/namespaces/{namespace}/pods/{name}")
    apiserver.request("DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}")
    await wait_for(f"pod {name} to leave the API",
                    lambda: api_get(apiserver, f"/api/v1/namespaces/{namespace}/pods/{name}") is None, kubelet)
    if pod is not None:
        uid = pod["metadata"]["uid"]
        await wait_for(f"pod {name} to leave the node", lambda: not any(
            uid in entry.name for entry in kubelet.root_dir.glob("pods/*")), kubelet)
        async with kubelet.node.cri() as cri:
            sandboxes = await cri.list_pod_sandbox(pb.PodSandboxFilter(label_selector={"io.kubernetes.pod.uid": uid}))
        assert sandboxes == []


def pod_status(apiserver: Any, namespace: str, name: str) -> JSON:
    pod = api_get(apiserver, f"/api/v1/namespaces/{namespace}/pods/{name}") or {}
    status: JSON = pod.get("status") or {}
    return status


def condition_status(status: JSON, kind: str) -> str | None:
    return next((c["status"] for c in status.get("conditions") or [] if c["type"] == kind), None)
