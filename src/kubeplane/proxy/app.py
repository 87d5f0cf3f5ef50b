"""``kubeplane proxy``: kube-proxy in iptables mode for one node.

``python -m kubeplane.proxy.app --kubeconfig=... --hostname-override=node-a --netns=/run/netns/node-a``

The process runs where it likes (the root namespace, beside the kubelet) and programs the node's
network namespace given by ``--netns`` through ``nsenter``. Without ``--netns`` it programs the
namespace it runs in, as upstream does, but refuses the host's own root namespace: a kubeplane
node is always a namespace of its own. Rules are left in place on exit, so a restarted proxy
finds the node's traffic still flowing; ``--cleanup`` removes them.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import socket
import sys

from kubeplane.client import (
    Client,
    EventHandlers,
    SharedInformerFactory,
    in_cluster_config,
    load_kubeconfig,
)
from kubeplane.client.indexer import DeletedFinalStateUnknown
from kubeplane.client.resource import ENDPOINTSLICES, NODES, SERVICES
from kubeplane.component.flags import parse_bool, parse_duration
from kubeplane.component.iptables import Iptables, NetnsCommand, refuse_root_netns
from kubeplane.component.logs import setup_logging
from kubeplane.component.signals import run_until_signalled
from kubeplane.component.syncloop import run_with_informers
from kubeplane.proxy.metrics import start_server
from kubeplane.proxy.model import HEADLESS_LABEL, SERVICE_NAME_LABEL, SERVICE_PROXY_NAME_LABEL
from kubeplane.proxy.proxier import Proxier, cleanup
from kubeplane.proxy.rules import RenderOptions

log = logging.getLogger("kubeplane.proxy")


EXIT_BAD_FLAGS = 2

def parse_cidr(text: str) -> str:
    """A normalised IPv4 CIDR; empty stays empty (argparse also runs defaults through types)."""
    if not text:
        return ""
    try:
        return str(ipaddress.IPv4Network(text, strict=False))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not an IPv4 CIDR: {text!r}") from err


def parse_cidrs(text: str) -> tuple[str, ...]:
    return tuple(parse_cidr(part.strip()) for part in text.split(",") if part.strip())


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kube-proxy", description="kubeplane kube-proxy (iptables mode)")
    p.add_argument("--kubeconfig", default="", help="kubeconfig file (default: in-cluster)")
    p.add_argument("--hostname-override", default="", help="this node's name (default: the host name)")
    p.add_argument("--cluster-cidr", type=parse_cidr, default="",
                   help="pods' range: traffic to ClusterIPs from outside it is masqueraded")
    p.add_argument("--proxy-mode", default="iptables", choices=["iptables"],
                   help="only iptables (the kernel here has no IPVS)")
    p.add_argument("--iptables-min-sync-period", type=parse_duration, default=1.0)
    p.add_argument("--iptables-sync-period", type=parse_duration, default=30.0)
    p.add_argument("--netns", default="", help="path of the node's network namespace to program "
                   "(kubeplane's addition; default: this process's own, never the host's)")
    p.add_argument("--metrics-bind-address", default="127.0.0.1:10249",
                   help="host:port for /metrics and /healthz; empty disables")
    p.add_argument("--nodeport-addresses", type=parse_cidrs, default=(),
                   help="comma-separated CIDRs whose local addresses accept NodePorts (default: all)")
    p.add_argument("--masquerade-all", type=parse_bool, nargs="?", const=True, default=False)
    p.add_argument("--service-cluster-ip-range", type=parse_cidr, default="198.19.0.0/16",
                   help="routed through lo in the node's namespace so the node itself reaches ClusterIPs "
                   "(kubeplane's addition: the nodes have no default route); empty: no route")
    p.add_argument("--iptables-backend", default="iptables", choices=["iptables", "iptables-nft", "iptables-legacy"],
                   help="which iptables binaries to run (kubeplane's addition)")
    p.add_argument("--iptables-restore-timeout", type=parse_duration, default=0.0,
                   help="limit of one iptables-restore (kubeplane's addition; 0: scaled to the payload, "
                   "since nf_tables restores grow faster than their size)")
    p.add_argument("--cleanup", action="store_true", help="remove this proxy's rules and exit")
    p.add_argument("--log-file", default="")
    return p.parse_args(argv)


def _deleted(obj: object) -> dict[str, object]:
    return obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj  # type: ignore[return-value]


async def run(opts: argparse.Namespace, stop: asyncio.Event) -> int:
    iptables = Iptables(NetnsCommand(opts.netns), opts.iptables_backend, opts.iptables_restore_timeout or None)
    if opts.cleanup:
        removed = await cleanup(iptables)
        log.info("cleanup: %s", "rules removed" if removed else "nothing to remove")
        return 0
    node_name = (opts.hostname_override or socket.gethostname()).strip().lower()
    options = RenderOptions(node_name=node_name, cluster_cidr=opts.cluster_cidr, masquerade_all=opts.masquerade_all,
                            nodeport_cidrs=opts.nodeport_addresses)
    proxier = Proxier(iptables, options, opts.iptables_min_sync_period, opts.iptables_sync_period,
                      opts.service_cluster_ip_range)
    client_config = load_kubeconfig(opts.kubeconfig) if opts.kubeconfig else in_cluster_config()
    server = await start_server(opts.metrics_bind_address, proxier.metrics, proxier.health) \
        if opts.metrics_bind_address else None
    async with Client(client_config, component="kube-proxy") as client:
        factory = SharedInformerFactory(client)
        services = factory.informer_for(SERVICES, label_selector=f"!{SERVICE_PROXY_NAME_LABEL}")
        slices = factory.informer_for(ENDPOINTSLICES,
                                      label_selector=f"{SERVICE_NAME_LABEL},!{HEADLESS_LABEL}")
        nodes = factory.informer_for(NODES, field_selector=f"metadata.name={node_name}")
        services.add_event_handler(EventHandlers(
            on_add=proxier.on_service, on_update=lambda _, new: proxier.on_service(new),
            on_delete=lambda obj: proxier.on_service(_deleted(obj), deleted=True)))
        slices.add_event_handler(EventHandlers(
            on_add=proxier.on_endpoint_slice, on_update=lambda _, new: proxier.on_endpoint_slice(new),
            on_delete=lambda obj: proxier.on_endpoint_slice(_deleted(obj), deleted=True)))
        nodes.add_event_handler(EventHandlers(
            on_add=proxier.on_node, on_update=lambda _, new: proxier.on_node(new),
            on_delete=lambda _: proxier.on_node(None)))
        try:
            return await run_with_informers(factory, proxier, stop, "proxier",
                                            f"caches synced; programming node {node_name}", log)
        finally:
            if server is not None:
                await server.cleanup()


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging("proxy", opts.log_file or None)
    if refuse_root_netns(opts.netns, log):
        return EXIT_BAD_FLAGS
    return run_until_signalled(lambda stop: run(opts, stop))


if __name__ == "__main__":
    raise SystemExit(main())
