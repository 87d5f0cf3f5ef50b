"""``python -m kubeplane.network.ipam``: run one node's ipamd until SIGTERM.

Options mirror aws-vpc-cni's environment variables (WARM_ENI_TARGET, WARM_IP_TARGET,
MINIMUM_IP_TARGET); they may be given either way, flags winning.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from kubeplane.component.logs import setup_logging
from kubeplane.network.cni.wiring import NodeNetwork
from kubeplane.network.ipam.daemon import DEFAULT_RECONCILE_INTERVAL, Ipamd, IpamdConfig
from kubeplane.network.ipam.limits import DEFAULT_INSTANCE_TYPE, limits_for
from kubeplane.network.ipam.pool import DEFAULT_IP_COOLDOWN, DEFAULT_RELEASE_DELAY, WarmTargets
from kubeplane.network.ipam.vpc_backend import ServiceBackend


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m kubeplane.network.ipam", description=__doc__)
    parser.add_argument("--vpc", required=True, help="the VPC's name")
    parser.add_argument("--vpc-state-root", required=True, type=Path, help="VpcService state root")
    parser.add_argument("--instance-id", required=True, help="this node's instance id")
    parser.add_argument("--state-dir", required=True, type=Path, help="ipamd's socket and datastore")
    parser.add_argument("--instance-type", default=DEFAULT_INSTANCE_TYPE)
    parser.add_argument("--warm-eni-target", type=int, default=_env_int("WARM_ENI_TARGET", 1))
    parser.add_argument("--warm-ip-target", type=int, default=_env_int("WARM_IP_TARGET", 0))
    parser.add_argument("--minimum-ip-target", type=int, default=_env_int("MINIMUM_IP_TARGET", 0))
    parser.add_argument("--ip-cooldown", type=float, default=DEFAULT_IP_COOLDOWN,
                        help="seconds before a released pod address is reused")
    parser.add_argument("--release-delay", type=float, default=DEFAULT_RELEASE_DELAY,
                        help="seconds a surplus must last before IPs or ENIs are given back")
    parser.add_argument("--reconcile-interval", type=float, default=DEFAULT_RECONCILE_INTERVAL)
    parser.add_argument("--pod-route", action="append", default=[],
                        help="extra destination routed from pods via the node (e.g. the Service CIDR)")
    parser.add_argument("--log-file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging("ipamd", args.log_file)
    targets = WarmTargets(args.warm_eni_target, args.warm_ip_target, args.minimum_ip_target,
                          args.ip_cooldown, args.release_delay)
    config = IpamdConfig(args.state_dir, limits_for(args.instance_type), targets, tuple(args.pod_route),
                         args.reconcile_interval)

    async def run() -> int:
        stop = asyncio.Event()
        loop, main_pid = asyncio.get_running_loop(), os.getpid()

        def on_signal(signum: int, frame: object) -> None:
            # pyroute2's IPRoute(netns=...), which the VPC fabric uses, forks helpers that inherit
            # this handler; only this process may stop. (loop.add_signal_handler would be worse:
            # its wakeup socket is shared with the forks, so their SIGTERM would stop us.)
            if os.getpid() == main_pid:
                loop.call_soon_threadsafe(stop.set)

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, on_signal)
        backend = ServiceBackend(args.vpc_state_root, args.vpc, args.instance_id)
        daemon = Ipamd(config, backend, NodeNetwork(backend.node_netns))
        await daemon.start()
        try:
            await stop.wait()
        finally:
            await daemon.stop()
        return 0

    # Plain asyncio, not component.signals (which installs uvloop as the global policy): pyroute2
    # makes its own event loop in every thread that speaks netlink, and uvloop's cannot open
    # AF_NETLINK sockets ("cannot open a UDP handle, invalid family 16").
    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
