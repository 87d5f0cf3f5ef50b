"""The kubelet process: ``kubeplane kubelet --kubeconfig=... --hostname-override=... ...``.

Flags follow upstream's names. EKS's node labels come from ``--instance-type``, ``--zone`` and
``--region`` (upstream's kubelet gets them from the cloud provider). ``--node-netns`` is ours: the
kubelet runs in the root network namespace while the node (its containerd, its pods) lives in a
namespace of its own, where network probes and hooks must connect from.

TLS bootstrap as upstream: with ``--bootstrap-kubeconfig``, a missing or expired ``--kubeconfig``
is replaced by one using a certificate obtained through a CSR (``kubelet/certificate``), kept in
``--cert-dir``; ``--rotate-certificates`` renews it before it expires.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import re
import socket
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from kubeplane.client import Client, ClientConfig, ConfigError, in_cluster_config, load_kubeconfig
from kubeplane.component import process
from kubeplane.component.flags import parse_bool
from kubeplane.component.logs import setup_logging
from kubeplane.component.signals import run_until_signalled
from kubeplane.kubelet.certificate import (
    CertificateManager,
    CertificateStore,
    RotatingClientConfig,
    load_client_cert,
)
from kubeplane.kubelet.certificate.store import KeyPair
from kubeplane.kubelet.config import KubeletConfig, Taint
from kubeplane.kubelet.cri import CRIClient
from kubeplane.kubelet.cri.containerd import ContainerdPaths
from kubeplane.kubelet.kubelet import COMPONENT, Kubelet
from kubeplane.kubelet.pressure_flags import PressureSettings, add_flags, settings
from kubeplane.kubelet.prober import Dialer
from kubeplane.kubelet.server import (
    KubeletServer,
    ServerDeps,
    ServingOptions,
    WebhookAuthorizer,
    bind_socket,
    serving_files,
    ssl_context,
)

log = logging.getLogger(__name__)

EXIT_BAD_FLAGS = 2
T = TypeVar("T")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """A Go duration ("10s", "1m30s", "500ms") in seconds."""
    parts = _DURATION.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}")
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def parse_labels(text: str) -> dict[str, str]:
    out = {}
    for pair in filter(None, text.split(",")):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"invalid label {pair!r} (want key=value)")
        out[key.strip()] = value.strip()
    return out


def parse_taints(text: str) -> tuple[Taint, ...]:
    """``key=value:Effect`` or ``key:Effect``, comma separated (as --register-with-taints)."""
    taints = []
    for item in filter(None, text.split(",")):
        key_value, sep, effect = item.rpartition(":")
        if not sep or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise argparse.ArgumentTypeError(f"invalid taint {item!r}")
        key, _, value = key_value.partition("=")
        taints.append(Taint(key, value, effect))
    return tuple(taints)


def _endpoint(text: str) -> Path:
    return Path(text.removeprefix("unix://"))


NETNS_DIR = Path("/run/netns")


def _netns_identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def containerd_netns(endpoint: Path, netns_dir: Path = NETNS_DIR) -> str | None:
    """The name (under /run/netns) of the network namespace the containerd serving ``endpoint``
    runs in, found through the PID file a kubeplane node's containerd keeps beside its socket;
    None when that containerd is not ours, not running, or in the kubelet's own namespace."""
    paths = ContainerdPaths(endpoint.parent)
    record = process.read_record(paths.pidfile) if paths.socket == endpoint else None
    if record is None or not process.record_is_alive(record):
        return None
    wanted = _netns_identity(Path(f"/proc/{record.pid}/ns/net"))
    if wanted is None or wanted == _netns_identity(Path("/proc/self/ns/net")):
        return None
    try:
        names = sorted(entry.name for entry in netns_dir.iterdir())
    except OSError:
        return None
    return next((name for name in names if _netns_identity(netns_dir / name) == wanted), None)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kubelet", description="kubeplane kubelet")
    parser.add_argument("--kubeconfig", default="", help="kubeconfig file (default: in-cluster)")
    parser.add_argument("--bootstrap-kubeconfig", default="",
                        help="kubeconfig with a bootstrap identity, used to get a client certificate when "
                             "--kubeconfig is missing or its certificate expired")
    parser.add_argument("--cert-dir", type=Path, default=None,
                        help="where the client (and serving) certificates are kept (default: <root-dir>/pki)")
    parser.add_argument("--rotate-certificates", type=parse_bool, nargs="?", const=True, default=False,
                        help="renew the client certificate through CSRs as it nears expiry")
    parser.add_argument("--hostname-override", default="", help="node name (default: the hostname)")
    parser.add_argument("--node-ip", default="", help="the node's InternalIP")
    parser.add_argument("--container-runtime-endpoint", type=_endpoint, required=True,
                        help="the CRI socket (unix:///path or /path)")
    parser.add_argument("--root-dir", type=Path, default=Path("/var/lib/kubelet"))
    parser.add_argument("--pod-infra-container-image", default="localhost/pause:3.9")
    parser.add_argument("--max-pods", type=int, default=110)
    parser.add_argument("--node-labels", type=parse_labels, default={})
    parser.add_argument("--register-with-taints", type=parse_taints, default=())
    parser.add_argument("--cluster-dns", default="", help="comma-separated DNS server IPs")
    parser.add_argument("--cluster-domain", default="cluster.local")
    parser.add_argument("--resolv-conf", default="/etc/resolv.conf", help="the node's resolver config ('' for none)")
    parser.add_argument("--node-status-update-frequency", type=parse_duration, default=10.0)
    parser.add_argument("--cgroup-root", default="/")
    parser.add_argument("--instance-type", default="")
    parser.add_argument("--zone", default="")
    parser.add_argument("--region", default="")
    parser.add_argument("--sync-frequency", type=parse_duration, default=1.0,
                        help="how often each pod worker re-checks its containers")
    parser.add_argument("--node-netns", default="",
                        help="the node's network namespace (a name under /run/netns) that probes and hooks "
                             "connect from (default: the one the runtime endpoint's containerd runs in)")
    parser.add_argument("--address", default="127.0.0.1", help="the address the kubelet API is served on")
    parser.add_argument("--port", type=int, default=0,
                        help="the kubelet API's port (upstream: 10250; 0, the default here, takes a free port, "
                             "since every simulated kubelet shares the root network namespace)")
    parser.add_argument("--tls-cert-file", default="", help="serving certificate (default: self-signed in "
                                                            "<root-dir>/pki)")
    parser.add_argument("--tls-private-key-file", default="")
    parser.add_argument("--client-ca-file", default="",
                        help="CA for client certificates; without it only /healthz is served")
    parser.add_argument("--authorization-mode", choices=("Webhook", "AlwaysAllow"), default="Webhook")
    parser.add_argument("--log-file", default="")
    add_flags(parser)  # eviction, image GC, log rotation
    opts = parser.parse_args(argv)
    if opts.cert_dir is None:
        opts.cert_dir = opts.root_dir / "pki"
    return opts


@dataclasses.dataclass(frozen=True)
class ClientCertOptions:
    """How the kubelet gets and keeps its client certificate (upstream's flags of the same names)."""

    bootstrap_kubeconfig: str = ""
    cert_dir: Path | None = None
    rotate_certificates: bool = False


def client_cert_options(opts: argparse.Namespace) -> ClientCertOptions:
    return ClientCertOptions(opts.bootstrap_kubeconfig, opts.cert_dir, opts.rotate_certificates)


def serving_options(opts: argparse.Namespace) -> ServingOptions:
    return ServingOptions(address=opts.address, port=opts.port, tls_cert_file=opts.tls_cert_file,
                          tls_private_key_file=opts.tls_private_key_file, client_ca_file=opts.client_ca_file,
                          authorization_mode=opts.authorization_mode)


def build_config(opts: argparse.Namespace) -> KubeletConfig:
    return KubeletConfig(
        node_name=(opts.hostname_override or socket.gethostname()).lower(),
        runtime_endpoint=opts.container_runtime_endpoint,
        root_dir=opts.root_dir,
        kubeconfig=opts.kubeconfig,
        node_ip=opts.node_ip,
        pod_infra_image=opts.pod_infra_container_image,
        max_pods=opts.max_pods,
        node_labels=opts.node_labels,
        taints=opts.register_with_taints,
        cluster_dns=tuple(filter(None, (ip.strip() for ip in opts.cluster_dns.split(",")))),
        cluster_domain=opts.cluster_domain,
        resolv_conf=Path(opts.resolv_conf) if opts.resolv_conf else None,
        node_status_update_frequency=opts.node_status_update_frequency,
        cgroup_root=opts.cgroup_root,
        instance_type=opts.instance_type,
        zone=opts.zone,
        region=opts.region,
        sync_frequency=opts.sync_frequency,
    )


def node_netns(opts: argparse.Namespace) -> str | None:
    """``--node-netns``, checked, or the runtime's namespace when the flag is not given."""
    if opts.node_netns:
        if not (NETNS_DIR / opts.node_netns).exists():
            raise argparse.ArgumentTypeError(f"--node-netns: no network namespace {opts.node_netns!r} in {NETNS_DIR}")
        name: str = opts.node_netns
        return name
    return containerd_netns(opts.container_runtime_endpoint)


async def client_config_for(config: KubeletConfig, certs: ClientCertOptions) -> ClientConfig:
    """The API client's config: bootstrapped first with a bootstrap kubeconfig, and with TLS
    credentials that can be swapped when certificates rotate."""
    if certs.bootstrap_kubeconfig:
        if not config.kubeconfig:
            raise ConfigError("--bootstrap-kubeconfig needs --kubeconfig (where the bootstrapped one goes)")
        client_config = await load_client_cert(Path(config.kubeconfig), Path(certs.bootstrap_kubeconfig),
                                               certs.cert_dir or config.root_dir / "pki", config.node_name)
    else:
        client_config = load_kubeconfig(config.kubeconfig) if config.kubeconfig else in_cluster_config()
    if certs.rotate_certificates and client_config.client_cert_data and client_config.server.startswith("https://"):
        return RotatingClientConfig.of(client_config)
    return client_config


def certificate_manager(client: Client, config: KubeletConfig, certs: ClientCertOptions) -> CertificateManager | None:
    client_config = client.config
    if not isinstance(client_config, RotatingClientConfig) or client_config.tls is None:
        return None
    assert client_config.client_cert_data is not None and client_config.client_key_data is not None
    initial = KeyPair(client_config.client_cert_data, client_config.client_key_data)
    return CertificateManager(client, CertificateStore(certs.cert_dir or config.root_dir / "pki"),
                              config.node_name, client_config.tls, initial=initial)


async def run(config: KubeletConfig, stop: asyncio.Event, netns: str | None = None,
              serving: ServingOptions | None = None, certs: ClientCertOptions | None = None,
              pressure: PressureSettings | None = None) -> int:
    """Run the kubelet; with ``serving``, also its HTTPS API (whose port the Node status reports);
    with ``pressure``, also eviction, image garbage collection and log rotation."""
    certs = certs or ClientCertOptions()
    listener = None
    if serving is not None:
        listener = bind_socket(serving.address, serving.port)
        config = dataclasses.replace(config, kubelet_port=listener.getsockname()[1])
    client_config = await _unless_stopped(client_config_for(config, certs), stop)
    if client_config is None:
        return 0  # stopped while still bootstrapping (it waits for CSR approval as long as it takes)
    async with Client(client_config, component=COMPONENT) as client, CRIClient(config.runtime_endpoint) as cri:
        kubelet = Kubelet(config, client, cri, node_netns=netns,
                          eviction=pressure.eviction if pressure else None,
                          image_gc=pressure.image_gc if pressure else None,
                          log_rotation=pressure.log_rotation if pressure else None)
        manager = certificate_manager(client, config, certs)
        rotation = asyncio.get_running_loop().create_task(manager.run()) if manager is not None else None
        server = None
        if serving is not None and listener is not None:
            server = await start_server(serving, config, kubelet, listener, netns)
        try:
            return await _run_until_stopped(kubelet, stop)
        finally:
            if rotation is not None:
                rotation.cancel()
                await asyncio.gather(rotation, return_exceptions=True)
            if server is not None:
                await server.stop()


async def start_server(serving: ServingOptions, config: KubeletConfig, kubelet: Kubelet, listener: socket.socket,
                       netns: str | None) -> KubeletServer:
    async def review(body: dict[str, Any]) -> dict[str, Any]:
        return await kubelet.client.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body=body)

    authorizer = WebhookAuthorizer(config.node_name, review) if serving.authorization_mode == "Webhook" else None
    cert, key = serving_files(serving, config.root_dir, config.node_name, config.node_ip)
    server = KubeletServer(ServerDeps(config.node_name, kubelet.cri, Dialer(netns), kubelet.pods.list, authorizer))
    await server.start(listener, ssl_context(cert, key, serving.client_ca_file))
    return server


async def _unless_stopped(work: Coroutine[Any, Any, T], stop: asyncio.Event) -> T | None:
    """``work``'s result, or None if ``stop`` is set first (``work`` is then cancelled)."""
    task = asyncio.get_running_loop().create_task(work)
    stopper = asyncio.get_running_loop().create_task(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if task.done():
        return task.result()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return None


async def _run_until_stopped(kubelet: Kubelet, stop: asyncio.Event) -> int:
    work = asyncio.get_running_loop().create_task(kubelet.run())
    stopper = asyncio.get_running_loop().create_task(stop.wait())
    await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if work.done():
        work.result()  # raises what stopped it
        return 1
    # Pods keep running across a kubelet restart: stopping only ends our watch and workers.
    work.cancel()
    await asyncio.gather(work, return_exceptions=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        opts = parse_args(sys.argv[1:] if argv is None else argv)
        netns = node_netns(opts)
        pressure = settings(opts)
    except argparse.ArgumentTypeError as error:
        print(f"kubelet: {error}", file=sys.stderr)
        return EXIT_BAD_FLAGS
    setup_logging(COMPONENT, opts.log_file or None)
    log.info("probes and hooks connect from network namespace %s", netns or "(the kubelet's own)")
    return run_until_signalled(lambda stop: run(build_config(opts), stop, netns, serving_options(opts),
                                                      client_cert_options(opts), pressure))


if __name__ == "__main__":
    raise SystemExit(main())
