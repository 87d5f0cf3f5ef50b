"""``kubeplane hollow-nodes``: N simulated nodes in one process, for scale tests.

    kubeplane hollow-nodes --kubeconfig=admin.kubeconfig --count=200 [--name-prefix=hollow-]
        [--instance-type=m5.large] [--zones=us-east-1a,us-east-1b,us-east-1c] [--processes=K]

Each node is the real kubelet (registration, status, Lease, pod workers) over an in-process fake
runtime (``runtime.py``). Pods bound to them become Running with addresses from a pool of
``--address-range`` the process's nodes share (``addresses.py``); containers exit as their command says when it is a plain ``sleep``/
``exit``/``true``/``false`` script and run until deleted otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys
import tempfile
from pathlib import Path

from kubeplane.client import ClientConfig, in_cluster_config, load_kubeconfig
from kubeplane.component.logs import setup_logging
from kubeplane.component.signals import run_until_signalled
from kubeplane.kubelet.app import parse_duration
from kubeplane.kubelet.hollow.addresses import DEFAULT_RANGE, AddressesExhausted
from kubeplane.kubelet.hollow.client import BoundedClient
from kubeplane.kubelet.hollow.fleet import DEFAULT_ZONES, FleetPlan, HollowFleet, plan_fleet
from kubeplane.kubelet.hollow.kubelet import NODE_STATUS_REPORT_FREQUENCY
from kubeplane.kubelet.hollow.node import HollowTimings
from kubeplane.kubelet.hollow.processes import run_split

log = logging.getLogger(__name__)

COMPONENT = "hollow-nodes"
EXIT_BAD_FLAGS = 2


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kubeplane hollow-nodes", description="run simulated nodes")
    parser.add_argument("--kubeconfig", default="", help="kubeconfig file (default: in-cluster)")
    parser.add_argument("--count", type=int, default=1, help="how many nodes")
    parser.add_argument("--name-prefix", default="hollow-node-", help="node names are <prefix><index>")
    parser.add_argument("--first-index", type=int, default=0,
                        help="index of the first node (several processes can share a range)")
    parser.add_argument("--instance-type", default="m5.large", help="EC2 type: capacity and max pods")
    parser.add_argument("--zones", default=",".join(DEFAULT_ZONES), help="comma-separated, used round robin")
    parser.add_argument("--max-pods", type=int, default=None, help="default: the instance type's ENI limit")
    parser.add_argument("--address-range", default=DEFAULT_RANGE,
                        help="fake node and pod addresses: one per node, the rest a pool for the pods")
    parser.add_argument("--fleet-size", type=int, default=None,
                        help="nodes sharing --address-range over all processes (default: --first-index + "
                             "--count); each process gets the pod addresses in proportion to its nodes")
    parser.add_argument("--root-dir", type=Path, default=None,
                        help="where pod volumes and logs go (default: a temp dir removed on exit)")
    parser.add_argument("--sync-frequency", type=parse_duration, default=60.0,
                        help="each pod worker's periodic re-check (container exits wake it at once)")
    parser.add_argument("--idle-resync", type=parse_duration, default=None,
                        help="how often a pod worker with nothing pending re-syncs anyway (container changes "
                             "wake it at once); default: the longer of --sync-frequency and the volume refresh. "
                             "Each re-sync costs milliseconds of Python: at tens of thousands of pods a "
                             "1-minute re-sync alone fills a core")
    parser.add_argument("--node-status-update-frequency", type=parse_duration, default=10.0,
                        help="how often each node computes its status")
    parser.add_argument("--node-status-report-frequency", type=parse_duration, default=NODE_STATUS_REPORT_FREQUENCY,
                        help="how often an unchanged status is written anyway (the Lease is the heartbeat)")
    parser.add_argument("--node-lease-duration-seconds", type=int, default=40,
                        help="the Lease's duration; it is renewed every quarter of it")
    parser.add_argument("--start-rate", type=float, default=100.0, help="nodes started per second")
    parser.add_argument("--api-in-flight", type=int, default=32,
                        help="pod status and other requests in flight at once, for the whole process")
    parser.add_argument("--heartbeat-in-flight", type=int, default=128,
                        help="Lease and Node status writes in flight at once (kept apart from the pod traffic; "
                             "Leases go first)")
    parser.add_argument("--events-in-flight", type=int, default=8,
                        help="event writes in flight at once (kept apart: they must not crowd out the pods' status)")
    parser.add_argument("--processes", type=int, default=1,
                        help="split the nodes over this many processes (one core each)")
    parser.add_argument("--delete-nodes-on-exit", action="store_true", help="delete the Node objects when stopping")
    parser.add_argument("--log-file", default="")
    opts = parser.parse_args(argv)
    if opts.count < 1:
        parser.error("--count must be at least 1")
    if not 1 <= opts.processes <= opts.count:
        parser.error("--processes must be between 1 and --count")
    return opts


def plan_from(opts: argparse.Namespace) -> FleetPlan:
    zones = [zone.strip() for zone in opts.zones.split(",") if zone.strip()]
    try:
        return plan_fleet(opts.count, opts.name_prefix, opts.instance_type, zones, opts.address_range,
                          opts.max_pods, opts.first_index, opts.fleet_size)
    except (ValueError, AddressesExhausted) as error:
        raise argparse.ArgumentTypeError(str(error)) from None


async def run(opts: argparse.Namespace, plan: FleetPlan, stop: asyncio.Event) -> int:
    client_config: ClientConfig = load_kubeconfig(opts.kubeconfig) if opts.kubeconfig else in_cluster_config()
    owned_root = opts.root_dir is None
    root = Path(tempfile.mkdtemp(prefix="kubeplane-hollow-")) if owned_root else opts.root_dir
    try:
        # Three clients: a burst of pod and event writes must not hold up the heartbeats, and
        # events (three per pod) must not take the API server's time from the pods' status writes.
        async with BoundedClient(client_config, "kubelet", opts.api_in_flight) as client, \
                BoundedClient(client_config, "kubelet", opts.heartbeat_in_flight) as heartbeats, \
                BoundedClient(client_config, "kubelet", opts.events_in_flight) as events:
            timings = HollowTimings(opts.sync_frequency, opts.node_status_update_frequency,
                                    opts.node_status_report_frequency, opts.node_lease_duration_seconds,
                                    opts.idle_resync)
            fleet = HollowFleet(client, plan, root, timings, opts.start_rate, heartbeat_client=heartbeats,
                                events_client=events)
            report = asyncio.create_task(fleet.report_forever())
            try:
                await fleet.start()
                log.info("%d hollow nodes started (%s .. %s), %d pod addresses", len(plan.specs),
                         plan.specs[0].name, plan.specs[-1].name, plan.pod_addresses.size)
                await stop.wait()
            finally:
                report.cancel()
                await asyncio.gather(report, return_exceptions=True)
                await fleet.stop(delete_nodes=opts.delete_nodes_on_exit)
    finally:
        if owned_root:
            shutil.rmtree(root, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        opts = parse_args(sys.argv[1:] if argv is None else argv)
        plan = plan_from(opts)
    except argparse.ArgumentTypeError as error:
        print(f"hollow-nodes: {error}", file=sys.stderr)
        return EXIT_BAD_FLAGS
    if opts.processes > 1:
        return run_split(sys.argv[1:] if argv is None else argv, opts.count, opts.first_index, opts.processes,
                         opts.fleet_size)
    setup_logging(COMPONENT, opts.log_file or None)
    return run_until_signalled(lambda stop: run(opts, plan, stop))


if __name__ == "__main__":
    raise SystemExit(main())
