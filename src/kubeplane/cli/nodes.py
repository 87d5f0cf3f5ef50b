"""Worker nodes of a cluster (``kubeplane up --nodes N``); ``node_teardown`` removes them.

A node is an instance in the cluster's VPC (a network namespace, see ``network/vpc``) running
five processes, each recorded in cluster.json and stopped by its verified PID:

* ``containerd`` started inside the instance's netns, with the base images imported;
* ``ipamd`` (aws-vpc-cni's IP address manager), started before the CNI conflist is written, so
  containerd never runs our plugin against a missing daemon;
* ``kubelet``, which gets its own client certificate (``system:node:<node>`` in ``system:nodes``)
  by TLS bootstrap with the cluster's bootstrap token, and rotates it;
* ``proxy`` (kube-proxy) as ``system:kube-proxy``, programming iptables in the instance's netns;
* ``network-policy-agent``, enforcing NetworkPolicy for the node's pods in the same netns;

and the first two nodes also run the cluster DNS (``cluster_dns``). The cluster's image registry
(``kubeplane.registry``) runs on an instance of its own in zone a; every node's containerd pulls
``registry.kubeplane.local/...`` from it, and tries it first for ``docker.io`` images (then Docker
Hub, which offline fails), so ``busybox:1.35`` pulls our busybox, pushed there at start-up.

Everything a node leaves on the machine carries the cluster's name: the VPC (and so every netns,
``kp-<cluster>-...``), the cgroup parent ``/kp-<cluster>/<index>`` and the node directory
``<cluster dir>/nodes/<index>``. Heavy modules (gRPC, pyroute2) are imported only when nodes are
actually started or stopped, so a control-plane-only ``up`` stays quick.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kubeplane.cli.cluster_dns import start_cluster_dns
from kubeplane.cli.identities import (
    BootstrapToken,
    ObjectCreateError,
    cluster_role_for_user,
    component_kubeconfig,
    create_node_bootstrap,
    create_objects,
    write_bootstrap_kubeconfig,
)
from kubeplane.cli.state import (
    ClusterPaths,
    ClusterRecord,
    ComponentKind,
    ComponentRecord,
    NodeRecord,
    save_record,
)
from kubeplane.component import etcd, process

Progress = Callable[[str], None]

DEFAULT_INSTANCE_TYPE = "m5.large"
ZONE_LETTERS = ("a", "b", "c")
CLUSTER_DNS = "198.19.0.10"
CLUSTER_DOMAIN = "cluster.local"
# Pods reach Services through their node (kube-proxy's DNAT happens there), as aws-vpc-cni routes them.
SERVICE_ROUTE = "198.19.0.0/16"
KUBE_PROXY_USER = "system:kube-proxy"  # bound to system:node-proxier by the bootstrap RBAC policy
POLICY_AGENT_USER = "system:kubeplane:network-policy-agent"
POLICY_AGENT_KUBECONFIG = "network-policy-agent"
STOP_GRACE_SECONDS = 10.0
NODE_FILE = "node.json"
# kubeplane.registry.REGISTRY_HOST, repeated so importing this module stays light.
REGISTRY_HOST_NAME = "registry.kubeplane.local"
DOCKER_HUB_SERVER = "https://registry-1.docker.io"
PUBLIC_BUSYBOX = "docker.io/library/busybox:1.35"
REGISTRY_COMPONENT = "registry"  # kubeplane.registry.server.COMPONENT: its pidfile and log name


class NodeStartError(Exception):
    """A node could not be brought up (the message says which and why)."""


def network_name(cluster: str) -> str:
    """The CNI network of the cluster's nodes: libcni's result cache files are named after it."""
    return f"kubeplane-vpc-{cluster}"


def cgroup_parent(cluster: str) -> str:
    return f"/kp-{cluster}"


def node_name_for(ip: str) -> str:
    """EKS names nodes after their primary private IP: ip-198-18-0-4.ec2.internal."""
    return f"ip-{ip.replace('.', '-')}.ec2.internal"


@dataclass(frozen=True)
class NodePaths:
    """Where node ``index`` of a cluster keeps its state, and the names its processes go by."""

    cluster: ClusterPaths
    index: int

    @property
    def base(self) -> Path:
        return self.cluster.nodes / str(self.index)

    @property
    def record(self) -> Path:
        return self.base / NODE_FILE

    @property
    def containerd(self) -> Path:
        return self.base / "containerd"

    @property
    def ipamd(self) -> Path:
        return self.base / "ipamd"

    @property
    def containerd_sockets(self) -> Path:
        from kubeplane.cli.node_runtime import cluster_socket_dir

        return cluster_socket_dir(self.cluster.name, self.cluster.root) / str(self.index)

    @property
    def kubelet_root(self) -> Path:
        return self.base / "kubelet"

    @property
    def kubelet_kubeconfig(self) -> Path:
        return self.base / "kubelet.kubeconfig"

    @property
    def bootstrap_kubeconfig(self) -> Path:
        return self.base / "bootstrap-kubelet.kubeconfig"

    @property
    def cgroup_root(self) -> str:
        return f"{cgroup_parent(self.cluster.name)}/{self.index}"

    def component(self, kind: str) -> str:
        """The component's name in cluster.json, logs/ and run/: kubelet-0, proxy-1, ..."""
        return f"{kind}-{self.index}"


@dataclass(frozen=True)
class NodeOptions:
    count: int
    instance_type: str = DEFAULT_INSTANCE_TYPE
    timeout: float = 120.0


# -- bring-up ---------------------------------------------------------------------------------------


async def start_nodes(paths: ClusterPaths, record: ClusterRecord, options: NodeOptions, progress: Progress) -> None:
    """Create the cluster's VPC and ``options.count`` nodes in it, then wait until every Node is
    Ready. The caller stops everything (``stop_nodes``) if this raises."""
    from kubeplane.kubelet.cri import CRIError
    from kubeplane.kubelet.images import ImageImportError, build_base_images
    from kubeplane.network.ipam import UnknownInstanceType, limits_for
    from kubeplane.network.vpc import VpcService
    from kubeplane.network.vpc.model import VpcError
    from kubeplane.registry import RegistryError

    bootstrap: asyncio.Task[BootstrapToken] | None = None
    try:
        limits_for(options.instance_type)
        # The bootstrap token and its RBAC are made while the VPC and instances come up.
        bootstrap = asyncio.create_task(create_node_bootstrap(paths, record))
        vpcs = VpcService(paths.vpc_state)
        vpc = await asyncio.to_thread(vpcs.create, paths.name)
        progress(f"VPC {vpc.name} ({vpc.id}, {vpc.cidr}) with subnets in {', '.join(vpc.zones)}")
        images = await asyncio.to_thread(build_base_images)  # cached per KUBEPLANE_HOME
        nodes = [await asyncio.to_thread(_launch_instance, paths, vpcs, index) for index in range(options.count)]
        record.workerNodes = nodes
        save_record(paths, record)
        # Launched after the nodes, so nodes keep the addresses (and names) they had without it.
        registry_info = await asyncio.to_thread(_launch_registry_instance, paths, vpcs) if _have_registry() else None
        if registry_info is None:
            progress("no image registry: docker-registry is not installed (apt-get install docker-registry); "
                     "nodes run imported images only")
        component_kubeconfig(paths, record, "kube-proxy", KUBE_PROXY_USER)
        await _grant_policy_agent(paths, record)
        token = await bootstrap
        progress(f"bootstrap token {token.id} created for the nodes' TLS bootstrap")
        await asyncio.gather(_start_registry(paths, registry_info, images, options, progress),
                             *(_start_node(paths, record, node, images, options, token, registry_info,
                                           progress) for node in nodes))
    except (VpcError, ImageImportError, CRIError, UnknownInstanceType, ValueError, ObjectCreateError,
            RegistryError) as err:
        raise NodeStartError(str(err)) from err
    finally:
        if bootstrap is not None and not bootstrap.done():
            bootstrap.cancel()  # a step before it failed: `up` is giving up
    await wait_nodes_ready(paths, record, options.timeout, progress)
    try:
        await start_cluster_dns(paths, record, CLUSTER_DNS, progress)
    except ObjectCreateError as err:
        raise NodeStartError(str(err)) from err


def _launch_instance(paths: ClusterPaths, vpcs: Any, index: int) -> NodeRecord:
    """The node's instance, round robin over the zones; launching again (a re-run) returns it."""
    token = f"{paths.name}-node-{index}"
    instance = vpcs.run_instance(paths.name, ZONE_LETTERS[index % len(ZONE_LETTERS)], instance_name=token,
                                 client_token=token)
    ip = vpcs.describe(paths.name).primary_eni(instance.id).primary_ip
    node = NodeRecord(node_name_for(ip), index, instance.id, instance.zone, ip,
                      vpcs.instance_netns(paths.name, instance.id))
    node_paths = NodePaths(paths, index)
    node_paths.base.mkdir(parents=True, exist_ok=True)
    # Kept beside the node's files so `down` finds the node even if cluster.json never recorded it.
    node_paths.record.write_text(json.dumps(asdict(node), indent=2) + "\n")
    return node


# -- the cluster's image registry -----------------------------------------------------------------


def cluster_registry(paths: ClusterPaths) -> Any:
    """The cluster's LocalRegistry (files in ``<cluster>/registry``, pidfile and log with the others)."""
    from kubeplane.registry import LocalRegistry

    return LocalRegistry(paths.root / "registry", paths.logs, paths.run)


def _have_registry() -> bool:
    from kubeplane.registry.server import DOCKER_REGISTRY_BINARY

    return Path(DOCKER_REGISTRY_BINARY).is_file()


def _launch_registry_instance(paths: ClusterPaths, vpcs: Any) -> Any:
    from kubeplane.registry import REGISTRY_PORT, RegistryInfo

    token = f"{paths.name}-registry"
    instance = vpcs.run_instance(paths.name, ZONE_LETTERS[0], instance_name="registry", client_token=token)
    ip = vpcs.describe(paths.name).primary_eni(instance.id).primary_ip
    return RegistryInfo(ip, REGISTRY_PORT, vpcs.instance_netns(paths.name, instance.id), instance.id)


async def _start_registry(paths: ClusterPaths, info: Any, images: list[Any], options: NodeOptions,
                          progress: Progress) -> None:
    from kubeplane.kubelet.images import BUSYBOX_REFERENCE

    if info is None:
        return
    from kubeplane.registry import push_archive
    from kubeplane.registry.netns import session_in_netns

    registry = cluster_registry(paths)
    started = await registry.start(info, timeout=options.timeout)
    # Offline, `busybox:1.35` (Docker Hub's name) must still pull: our busybox is pushed under it.
    busybox = next(image for image in images if image.reference == BUSYBOX_REFERENCE)
    async with session_in_netns(info.netns, timeout=options.timeout) as session:
        await push_archive(session, info.endpoint, busybox.archive, PUBLIC_BUSYBOX)
    progress(f"image registry serving {info.endpoint} in {info.netns} (pid {started.pid}), "
             f"pulled as {REGISTRY_HOST_NAME}/...; {PUBLIC_BUSYBOX} pushed")


def stop_registry(paths: ClusterPaths, progress: Progress) -> None:
    """Stop the registry by its verified PID (before the VPC goes, so its namespace empties first).
    Only its pidfile is read: `down` of a cluster without nodes never imports the registry code."""
    if process.stop(paths.pidfile(REGISTRY_COMPONENT), STOP_GRACE_SECONDS):
        progress(f"{REGISTRY_COMPONENT} stopped")


def _write_registry_hosts(containerd_paths: Any, info: Any) -> None:
    from kubeplane.kubelet.cri.containerd import write_registry_hosts

    write_registry_hosts(containerd_paths, REGISTRY_HOST_NAME, [info.endpoint])
    write_registry_hosts(containerd_paths, "docker.io", [info.endpoint], server=DOCKER_HUB_SERVER)


async def _grant_policy_agent(paths: ClusterPaths, record: ClusterRecord) -> None:
    """The NetworkPolicy agents read policies, pods and namespaces cluster-wide (EKS runs this agent
    in aws-node with the same permissions), under a certificate of their own."""
    component_kubeconfig(paths, record, POLICY_AGENT_KUBECONFIG, POLICY_AGENT_USER)
    verbs = ["get", "list", "watch"]
    await create_objects(paths, record, cluster_role_for_user(POLICY_AGENT_USER, [
        {"apiGroups": [""], "resources": ["pods", "namespaces"], "verbs": verbs},
        {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": verbs}]),
        "granting the NetworkPolicy agent access")




def _add(paths: ClusterPaths, record: ClusterRecord, component: ComponentRecord) -> None:
    record.components.append(component)
    save_record(paths, record)


async def _start_node(paths: ClusterPaths, record: ClusterRecord, node: NodeRecord, images: list[Any],
                      options: NodeOptions, token: BootstrapToken, registry: Any,
                      progress: Progress) -> None:
    from kubeplane.cli.node_runtime import node_containerd
    from kubeplane.kubelet.cri import CRIClient
    from kubeplane.kubelet.images import ensure_imported
    from kubeplane.network.cni.install import install_plugin, write_conflist
    from kubeplane.network.ipam import max_pods
    from kubeplane.network.ipam.protocol import socket_path
    from kubeplane.network.vpc import names

    node_paths = NodePaths(paths, node.index)
    netns_path = names.netns_path(node.netns)
    containerd = node_containerd(node_paths.containerd, node_paths.containerd_sockets, Path(netns_path))
    if registry is not None:
        _write_registry_hosts(containerd.paths, registry)
    started = await containerd.start(timeout=options.timeout)
    _add(paths, record, ComponentRecord(node_paths.component("containerd"), "containerd",
                                        f"unix://{containerd.socket}", {}, started.pid, node.name,
                                        str(containerd.paths.pidfile)))
    async with CRIClient(containerd.socket, request_timeout=60.0) as cri:
        await ensure_imported(cri, containerd.socket, images)
    progress(f"{node.name}: containerd ready in {node.netns} (pid {started.pid}), base images imported")

    ipamd_socket = socket_path(node_paths.ipamd)
    ipamd = _start_process(paths, record, node, "ipamd", f"unix://{ipamd_socket}", [
        sys.executable, "-m", "kubeplane.network.ipam", "--vpc", paths.name,
        "--vpc-state-root", str(paths.vpc_state), "--instance-id", node.instanceId,
        "--state-dir", str(node_paths.ipamd), "--instance-type", options.instance_type,
        "--pod-route", SERVICE_ROUTE])
    await process.wait_ready(ipamd, _ipamd_answers(ipamd_socket), paths.logfile(ipamd.component), options.timeout)
    install_plugin(containerd.paths.cni_bin_dir)
    write_conflist(containerd.paths.cni_conf_dir, ipamd_socket, network_name(paths.name))
    progress(f"{node.name}: ipamd ready (pid {ipamd.pid}), VPC CNI installed")

    bootstrap = write_bootstrap_kubeconfig(paths, record, token, node_paths.bootstrap_kubeconfig)
    region = node.zone[:-1]
    _start_process(paths, record, node, "kubelet", "", [
        sys.executable, "-m", "kubeplane.cli", "kubelet", f"--kubeconfig={node_paths.kubelet_kubeconfig}",
        # TLS bootstrap as kubeadm/EKS nodes: the kubelet asks for its certificate and renews it.
        f"--bootstrap-kubeconfig={bootstrap}", "--rotate-certificates=true",
        f"--hostname-override={node.name}", f"--node-ip={node.ip}",
        f"--container-runtime-endpoint=unix://{containerd.socket}", f"--root-dir={node_paths.kubelet_root}",
        f"--max-pods={max_pods(options.instance_type)}", f"--instance-type={options.instance_type}",
        f"--zone={node.zone}", f"--region={region}", f"--cluster-dns={CLUSTER_DNS}",
        f"--cluster-domain={CLUSTER_DOMAIN}", f"--cgroup-root={node_paths.cgroup_root}",
        # Its HTTPS server (logs, exec, port-forward) accepts client certificates of the cluster CA.
        f"--client-ca-file={paths.pki.ca_cert}", f"--node-netns={node.netns}",
        # The instance has no resolver of its own to hand to dnsPolicy=Default pods.
        "--resolv-conf="])
    metrics_port = _free_port(paths, record)
    _start_process(paths, record, node, "proxy", f"http://127.0.0.1:{metrics_port}", [
        sys.executable, "-m", "kubeplane.cli", "proxy", f"--kubeconfig={paths.component_kubeconfig('kube-proxy')}",
        # No --cluster-cidr, as EKS's kube-proxy: with the VPC as "the pods", traffic from VPC hosts
        # that are not nodes would skip masquerading and break externalTrafficPolicy: Local.
        f"--hostname-override={node.name}", f"--netns={netns_path}",
        f"--metrics-bind-address=127.0.0.1:{metrics_port}"], ports={"metrics": metrics_port})
    _start_process(paths, record, node, "network-policy-agent", "", [
        sys.executable, "-m", "kubeplane.cli", "network-policy-agent",
        f"--kubeconfig={paths.component_kubeconfig(POLICY_AGENT_KUBECONFIG)}", f"--hostname-override={node.name}",
        f"--netns={netns_path}"])
    progress(f"{node.name}: kubelet, kube-proxy and the NetworkPolicy agent started ({node.zone}, {node.ip})")


def _start_process(paths: ClusterPaths, record: ClusterRecord, node: NodeRecord, kind: ComponentKind, endpoint: str,
                   argv: list[str], ports: dict[str, int] | None = None) -> process.ProcessRecord:
    name = NodePaths(paths, node.index).component(kind)
    started = process.start(name, argv, paths.logs, paths.run)
    _add(paths, record, ComponentRecord(name, kind, endpoint, ports or {}, started.pid, node.name))
    return started


def _free_port(paths: ClusterPaths, record: ClusterRecord) -> int:
    taken = {port for component in record.components for port in component.ports.values()}
    while (port := etcd.free_port()) in taken:
        pass
    return port


async def _ipamd_answers(socket: Path) -> None:
    from kubeplane.network.ipam import protocol

    while True:
        with contextlib.suppress(protocol.IpamdError):
            await asyncio.to_thread(protocol.call, socket, {"command": "STATUS"}, 5.0)
            return
        await asyncio.sleep(0.05)


# -- Node readiness through the API ---------------------------------------------------------------


async def node_readiness(paths: ClusterPaths, record: ClusterRecord) -> dict[str, bool]:
    """Node name -> its Ready condition is True, for every Node the API server knows."""
    pki = paths.pki
    tls = process.ClientTLS(pki.ca_cert, pki.admin_cert, pki.admin_key)
    try:
        status, body = await process.https_get(f"{record.server}/api/v1/nodes", tls, timeout=5.0)
    except (OSError, TimeoutError):
        return {}
    if status != 200:
        return {}
    ready = {}
    for item in json.loads(body).get("items", []):
        conditions = (item.get("status") or {}).get("conditions") or []
        ready[item["metadata"]["name"]] = any(c.get("type") == "Ready" and c.get("status") == "True"
                                              for c in conditions)
    return ready


async def wait_nodes_ready(paths: ClusterPaths, record: ClusterRecord, timeout: float, progress: Progress) -> None:
    started = time.monotonic()
    waiting = {node.name for node in record.workerNodes}
    while waiting:
        ready = await node_readiness(paths, record)
        for name in sorted(waiting):
            if ready.get(name):
                waiting.discard(name)
                progress(f"node {name} Ready after {time.monotonic() - started:.1f}s")
        if not waiting:
            return
        _check_node_processes(paths, record)
        if time.monotonic() - started > timeout:
            raise NodeStartError(f"nodes not Ready after {timeout:.0f}s: {', '.join(sorted(waiting))} "
                                 f"(see {paths.logs}/kubelet-*.log)")
        await asyncio.sleep(0.25)


def _check_node_processes(paths: ClusterPaths, record: ClusterRecord) -> None:
    """Fail at once, with its log, if a node process died while we wait for Ready."""
    for component in record.components:
        if component.node and not process.is_running(paths.pidfile_of(component)):
            log = paths.logfile(component.name)
            raise process.ReadinessError(component.name, "exited during start-up", log)
