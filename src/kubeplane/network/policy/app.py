"""``kubeplane network-policy-agent``: NetworkPolicy enforcement for one node.

``python -m kubeplane.network.policy.app --kubeconfig=... --hostname-override=node-a --netns=/run/netns/node-a``

Like kube-proxy, the process runs where it likes and programs the node's network namespace
(``--netns``) through ``nsenter``; it refuses to program the host's root namespace. Rules stay in
place on exit so a restarting agent never opens what policies close; ``--cleanup`` removes them.
It reads NetworkPolicies, Namespaces and Pods of every namespace (peers live anywhere); it needs
``list``/``watch`` on those three resources.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys

from kubeplane.client import Client, EventHandlers, SharedInformerFactory, in_cluster_config, load_kubeconfig
from kubeplane.client.resource import NAMESPACES, PODS, Resource
from kubeplane.component.flags import parse_duration
from kubeplane.component.iptables import Iptables, NetnsCommand, refuse_root_netns
from kubeplane.component.logs import setup_logging
from kubeplane.component.signals import run_until_signalled
from kubeplane.component.syncloop import run_with_informers
from kubeplane.network.policy.agent import PolicyAgent, Snapshot
from kubeplane.network.policy.ipsets import DEFAULT_PREFIX, Ipsets, check_prefix
from kubeplane.network.policy.rules import cleanup_payload

log = logging.getLogger("kubeplane.network.policy")

NETWORK_POLICIES = Resource("networking.k8s.io", "v1", "networkpolicies", kind="NetworkPolicy")
EXIT_BAD_FLAGS = 2


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="network-policy-agent",
                                description="kubeplane NetworkPolicy agent (iptables, one node)")
    p.add_argument("--kubeconfig", default="", help="kubeconfig file (default: in-cluster)")
    p.add_argument("--hostname-override", default="", help="this node's name (default: the host name)")
    p.add_argument("--netns", default="", help="path of the node's network namespace to program "
                   "(default: this process's own, never the host's)")
    p.add_argument("--min-sync-period", type=parse_duration, default=1.0,
                   help="at most one sync per this period; changes meanwhile join the next")
    p.add_argument("--sync-period", type=parse_duration, default=30.0,
                   help="a full sync (re-reading the tables) at least this often")
    p.add_argument("--iptables-backend", default="iptables", choices=["iptables", "iptables-nft", "iptables-legacy"],
                   help="which iptables binaries to run (use the node's kube-proxy's)")
    p.add_argument("--ipset-prefix", default=DEFAULT_PREFIX,
                   help="name prefix of this agent's peer ipsets (up to 10 characters)")
    p.add_argument("--cleanup", action="store_true", help="remove this agent's rules and ipsets and exit")
    p.add_argument("--log-file", default="")
    return p.parse_args(argv)


async def cleanup(iptables: Iptables, ipsets: Ipsets) -> bool:
    """Rules first: the kernel keeps a set alive while a rule references it."""
    payload = cleanup_payload(await iptables.save())
    if payload is not None:
        await iptables.restore(payload)
    destroyed = await ipsets.destroy_all()
    return payload is not None or destroyed


async def run(opts: argparse.Namespace, stop: asyncio.Event) -> int:
    iptables = Iptables(NetnsCommand(opts.netns), opts.iptables_backend)
    ipsets = Ipsets(NetnsCommand(opts.netns), opts.ipset_prefix)
    if opts.cleanup:
        log.info("cleanup: %s", "rules removed" if await cleanup(iptables, ipsets) else "nothing to remove")
        return 0
    node_name = (opts.hostname_override or socket.gethostname()).strip().lower()
    client_config = load_kubeconfig(opts.kubeconfig) if opts.kubeconfig else in_cluster_config()
    async with Client(client_config, component="network-policy-agent") as client:
        factory = SharedInformerFactory(client)
        policies = factory.informer_for(NETWORK_POLICIES)
        pods = factory.informer_for(PODS)
        namespaces = factory.informer_for(NAMESPACES)
        agent = PolicyAgent(iptables, ipsets, node_name,
                            lambda: Snapshot(policies.list(), pods.list(), namespaces.list()),
                            opts.min_sync_period, opts.sync_period)
        for informer in (policies, pods, namespaces):
            informer.add_event_handler(EventHandlers(on_add=agent.request_sync, on_update=agent.request_sync,
                                                     on_delete=agent.request_sync))
        return await run_with_informers(factory, agent, stop, "network-policy-agent",
                                        f"caches synced; enforcing network policy on node {node_name}", log)


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging("network-policy-agent", opts.log_file or None)
    try:
        check_prefix(opts.ipset_prefix)
    except ValueError as err:
        log.error("%s", err)
        return EXIT_BAD_FLAGS
    if refuse_root_netns(opts.netns, log):
        return EXIT_BAD_FLAGS
    return run_until_signalled(lambda stop: run(opts, stop))


if __name__ == "__main__":
    raise SystemExit(main())
