"""Bringing a cluster's control plane up in readiness order (etcd, then the API servers) and
taking it down again, process by verified process."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import functools
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from kubeplane.cli import kubeconfig_file, node_teardown, nodes
from kubeplane.cli.nodes import DEFAULT_INSTANCE_TYPE
from kubeplane.cli.state import ClusterPaths, ClusterRecord, ComponentKind, ComponentRecord, save_record
from kubeplane.component import etcd, process
from kubeplane.component.pki import ClusterPKI, create_cluster_pki

SERVICE_CLUSTER_IP_RANGE = "198.19.0.0/16"
SERVICE_NODE_PORT_RANGE = "30000-32767"
ETCD_PREFIX = "/registry"
STOP_GRACE_SECONDS = 10.0

Progress = Callable[[str], None]


# Leader-elected components started after the API servers, with the `kubeplane` command of each.
CONTROL_PLANE_CONTROLLERS: dict[ComponentKind, str] = {
    "controller-manager": "controller-manager",
    "scheduler": "scheduler",
}


@dataclass(frozen=True)
class UpOptions:
    kubernetes_version: str
    apiservers: int = 1
    timeout: float = 120.0
    components: tuple[str, ...] = tuple(CONTROL_PLANE_CONTROLLERS)
    nodes: int = 0
    instance_type: str = DEFAULT_INSTANCE_TYPE


def _distinct_free_ports(count: int) -> list[int]:
    # Each probe socket is closed before the next, so the kernel may hand out a port twice.
    ports: list[int] = []
    while len(ports) < count:
        port = etcd.free_port()
        if port not in ports:
            ports.append(port)
    return ports


def _plan(paths: ClusterPaths, options: UpOptions) -> ClusterRecord:
    """Pick fresh loopback ports for every component (never fixed ones: clusters run side by side)."""
    kinds = [kind for kind in CONTROL_PLANE_CONTROLLERS if kind in options.components]
    # Two replicas of each leader-elected component, as EKS runs them; only one acts at a time.
    client_port, peer_port, *ports = _distinct_free_ports(2 + options.apiservers + 2 * len(kinds))
    apiserver_ports, health_ports = ports[:options.apiservers], ports[options.apiservers:]
    components = [ComponentRecord("etcd-0", "etcd", f"http://127.0.0.1:{client_port}",
                                  {"client": client_port, "peer": peer_port})]
    for index, port in enumerate(apiserver_ports):
        components.append(ComponentRecord(f"apiserver-{index}", "apiserver", f"https://127.0.0.1:{port}",
                                          {"secure": port}))
    for kind in kinds:
        for i in range(2):
            port = health_ports.pop(0)  # /healthz, /readyz and /metrics of the replica
            components.append(ComponentRecord(f"{kind}-{i}", kind, f"http://127.0.0.1:{port}", {"secure": port}))
    return ClusterRecord(
        name=paths.name,
        kubernetesVersion=options.kubernetes_version,
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        serviceClusterIPRange=SERVICE_CLUSTER_IP_RANGE,
        serviceNodePortRange=SERVICE_NODE_PORT_RANGE,
        nodes=options.nodes,
        components=components,
    )


def _etcd_argv(paths: ClusterPaths, member: ComponentRecord) -> list[str]:
    return etcd.etcd_command(member.name, paths.etcd_data / member.name, member.endpoint,
                             f"http://127.0.0.1:{member.ports['peer']}")


def _apiserver_argv(paths: ClusterPaths, record: ClusterRecord, server: ComponentRecord) -> list[str]:
    pki = paths.pki
    etcd_servers = ",".join(member.endpoint for member in record.of_kind("etcd"))
    return [
        sys.executable, "-m", "kubeplane.cli", "apiserver",
        f"--etcd-servers={etcd_servers}",
        f"--etcd-prefix={ETCD_PREFIX}",
        f"--secure-port={server.ports['secure']}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--tls-cert-file={pki.apiserver_cert}",
        f"--tls-private-key-file={pki.apiserver_key}",
        f"--client-ca-file={pki.ca_cert}",
        f"--service-account-signing-key-file={pki.sa_key}",
        f"--service-account-key-file={pki.sa_pub}",
        "--enable-bootstrap-token-auth=true",
        f"--kubelet-client-certificate={pki.component_cert('apiserver-kubelet-client')}",
        f"--kubelet-client-key={pki.component_key('apiserver-kubelet-client')}",
        # As EKS: kubelets may touch only their own Node and the pods bound to them.
        "--enable-admission-plugins=NodeRestriction",
        f"--service-cluster-ip-range={record.serviceClusterIPRange}",
        f"--service-node-port-range={record.serviceNodePortRange}",
        f"--kubernetes-version={record.kubernetesVersion}",
        f"--cert-dir={pki.directory}",
        # No --log-file: the server logs to stderr too, which process.start already appends to
        # logs/<component>.log along with anything the logger never sees (tracebacks, crashes).
    ]


def admin_tls(pki: ClusterPKI) -> process.ClientTLS:
    return process.ClientTLS(pki.ca_cert, pki.admin_cert, pki.admin_key)


def _start(paths: ClusterPaths, record: ClusterRecord, component: ComponentRecord, argv: list[str]) -> (
        process.ProcessRecord):
    started = process.start(component.name, argv, paths.logs, paths.run)
    component.pid = started.pid
    save_record(paths, record)  # so `down` finds every started process even if `up` is interrupted
    return started


async def start_cluster(paths: ClusterPaths, options: UpOptions, progress: Progress) -> ClusterRecord:
    """Create the PKI, start etcd and the API servers, wait until each is ready, write the
    kubeconfig. On any failure the caller runs stop_cluster (ReadinessError carries the log tail)."""
    for directory in (paths.logs, paths.run, paths.etcd_data):
        directory.mkdir(parents=True, exist_ok=True)
    paths.root.chmod(0o700)
    record = _plan(paths, options)
    save_record(paths, record)

    create_cluster_pki(paths.pki.directory, record.serviceClusterIPRange)
    progress("certificates created (cluster CA, API server, admin, service-account key)")

    for member in record.of_kind("etcd"):
        proc = _start(paths, record, member, _etcd_argv(paths, member))
        await process.wait_ready(proc, etcd.wait_etcd_ready(member.endpoint, options.timeout),
                                 paths.logfile(member.name), options.timeout)
        progress(f"{member.name} ready at {member.endpoint} (pid {member.pid})")

    tls = admin_tls(paths.pki)
    servers = record.of_kind("apiserver")
    launched = [(server, _start(paths, record, server, _apiserver_argv(paths, record, server))) for server in servers]
    await asyncio.gather(*(
        process.wait_ready(proc, process.wait_https_ready(f"{server.endpoint}/readyz", tls, options.timeout),
                           paths.logfile(server.name), options.timeout)
        for server, proc in launched))
    for server in servers:
        progress(f"{server.name} ready at {server.endpoint} (pid {server.pid})")

    kubeconfig_file.write(paths.kubeconfig, kubeconfig_file.admin_kubeconfig(paths.name, record.server, paths.pki))
    launched_controllers: list[tuple[ComponentRecord, process.ProcessRecord]] = []
    for kind, module in CONTROL_PLANE_CONTROLLERS.items():
        replicas = record.of_kind(kind)
        if not replicas:
            continue
        kubeconfig = paths.component_kubeconfig(kind)
        kubeconfig_file.write(kubeconfig, kubeconfig_file.client_kubeconfig(
            paths.name, record.server, paths.pki, paths.pki.component_cert(kind), paths.pki.component_key(kind)))
        for replica in replicas:
            argv = [sys.executable, "-m", "kubeplane.cli", module, f"--kubeconfig={kubeconfig}",
                    "--bind-address=127.0.0.1", f"--secure-port={replica.ports['secure']}"]
            if kind == "controller-manager":
                argv += ["--controllers=*,bootstrapsigner,tokencleaner",
                         f"--root-ca-file={paths.pki.ca_cert}",
                         f"--cluster-signing-cert-file={paths.pki.ca_cert}",
                         f"--cluster-signing-key-file={paths.pki.ca_key}",
                         "--use-service-account-credentials"]
            launched_controllers.append((replica, _start(paths, record, replica, argv)))
    # Returned only once every replica answers /healthz, so `status` right after `up` is healthy.
    await asyncio.gather(*(
        process.wait_ready(proc, process.wait_http_ready(f"{replica.endpoint}/healthz", options.timeout),
                           paths.logfile(replica.name), options.timeout)
        for replica, proc in launched_controllers))
    for replica, _ in launched_controllers:
        progress(f"{replica.name} healthy at {replica.endpoint} (pid {replica.pid}; leader-elected)")
    if options.nodes:
        await nodes.start_nodes(paths, record, nodes.NodeOptions(options.nodes, options.instance_type,
                                                                 options.timeout), progress)
    return record


def stop_cluster(paths: ClusterPaths, progress: Progress) -> None:
    """Stop every process the cluster recorded, each by its verified PID: the worker nodes first
    (and their VPC), then the control plane tier by tier."""
    node_teardown.stop_nodes(paths, progress)
    stop_control_plane(paths, progress)


def control_plane_tier(pidfile: Path) -> int:
    """0: the API's clients (controller managers, schedulers, ...); 1: API servers; 2: what the API
    servers use (etcd, the KMS plugin)."""
    if pidfile.stem.startswith("apiserver"):
        return 1
    if pidfile.stem.startswith(("etcd", "kms")):
        return 2
    return 0


def stop_control_plane(paths: ClusterPaths, progress: Progress) -> None:
    """Stop the recorded control-plane processes tier by tier, each tier's side by side. Clients
    go first: an API server stopped under the open watches of live controller managers and
    schedulers waited out its whole grace period, and clients whose API server was gone took
    seconds more to give up (one after another, about 20 s of a 100-pod `down`)."""
    if not paths.run.is_dir():
        return
    pidfiles = sorted(paths.run.glob("*.pid"))
    for tier in (0, 1, 2):
        node_teardown.in_parallel([functools.partial(_stop_recorded, pidfile, progress) for pidfile in pidfiles
                                   if control_plane_tier(pidfile) == tier])


def _stop_recorded(pidfile: Path, progress: Progress) -> None:
    if process.stop(pidfile, STOP_GRACE_SECONDS):
        progress(f"{pidfile.stem} stopped")


def remove_cluster(paths: ClusterPaths, progress: Progress) -> None:
    stop_cluster(paths, progress)
    shutil.rmtree(paths.root, ignore_errors=True)


# -- health ----------------------------------------------------------------------------------------


async def _etcd_healthy(member: ComponentRecord) -> bool:
    with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError, ValueError):
        async with (aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session,
                    session.get(f"{member.endpoint}/health") as response):
            body = await response.json(content_type=None)
            return response.status == 200 and body.get("health") == "true"
    return False


async def _apiserver_healthy(server: ComponentRecord, tls: process.ClientTLS) -> bool:
    with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
        status, _ = await process.https_get(f"{server.endpoint}/readyz", tls)
        return status == 200
    return False


async def _answers_ok(url: str) -> bool:
    with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
        status, _ = await process.http_request("GET", url)
        return status == 200
    return False


async def component_health(paths: ClusterPaths, record: ClusterRecord) -> dict[str, bool]:
    """Per component: does etcd report healthy / does the API server answer /readyz with 200 / is
    the kubelet's Node Ready? Other components are healthy while alive."""
    tls = admin_tls(paths.pki)
    node_ready = await nodes.node_readiness(paths, record) if record.workerNodes else {}

    async def probe(component: ComponentRecord) -> bool:
        if component.kind == "etcd":
            return await _etcd_healthy(component)
        if component.kind == "apiserver":
            return await _apiserver_healthy(component, tls)
        if component.kind == "kubelet":
            return node_ready.get(component.node, False)
        if component.kind in CONTROL_PLANE_CONTROLLERS and component.ports.get("secure"):
            return await _answers_ok(f"{component.endpoint}/healthz")
        # containerd, ipamd, kube-proxy and the other node processes: alive is healthy.
        return process.is_running(paths.pidfile_of(component))

    results = await asyncio.gather(*(probe(c) for c in record.components))
    return {c.name: ok for c, ok in zip(record.components, results, strict=True)}
