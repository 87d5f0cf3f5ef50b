"""The kube-scheduler process: ``python -m kubeplane.scheduler.app --kubeconfig=... [--config=...]``.

With leader election (the default) replicas campaign for the Lease kube-system/kube-scheduler
and only the holder schedules; a leader that loses the Lease exits (as upstream does) so that
the supervisor restarts it as a fresh candidate with empty caches.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket
import sys
import uuid
from dataclasses import replace

from kubeplane.client import (
    Client,
    LeaderCallbacks,
    LeaderElectionConfig,
    LeaderElector,
    in_cluster_config,
    load_kubeconfig,
)
from kubeplane.client.leaselock import RenewTrackingLeaseLock
from kubeplane.component.health import (
    PING,
    Check,
    HealthServer,
    leader_election_check,
    leader_election_metric,
    serve_if_enabled,
)
from kubeplane.component.logs import setup_logging
from kubeplane.component.signals import run_until_signalled
from kubeplane.scheduler import gc_tuning
from kubeplane.scheduler.framework.config import ConfigError, SchedulerConfig, load_config, parse_duration
from kubeplane.scheduler.metrics import SchedulerMetrics
from kubeplane.scheduler.scheduler import Scheduler

log = logging.getLogger(__name__)

EXIT_LOST_LEASE = 1
EXIT_BAD_CONFIG = 2
# Upstream's HealthzAdaptor timeout: how long past the lease duration a leader may go without
# renewing before /healthz fails.
LEADER_HEALTH_TOLERANCE = 20.0


def _bool(value: str) -> bool:
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {value!r}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kube-scheduler", description="kubeplane kube-scheduler")
    parser.add_argument("--kubeconfig", default="", help="kubeconfig file (default: in-cluster)")
    parser.add_argument("--config", default="", help="KubeSchedulerConfiguration file (YAML)")
    parser.add_argument("--leader-elect", type=_bool, nargs="?", const=True, default=None,
                        help="campaign for the Lease before scheduling (default true)")
    parser.add_argument("--leader-elect-lease-duration", default=None)
    parser.add_argument("--leader-elect-renew-deadline", default=None)
    parser.add_argument("--leader-elect-retry-period", default=None)
    parser.add_argument("--leader-elect-resource-namespace", default=None)
    parser.add_argument("--leader-elect-resource-name", default=None)
    parser.add_argument("--identity", default="", help="leader election identity (default: host_uuid)")
    parser.add_argument("--bind-address", default="127.0.0.1",
                        help="address for /healthz, /livez, /readyz and /metrics (plain HTTP)")
    parser.add_argument("--secure-port", type=int, default=0,
                        help="port for the health and metrics endpoints; 0 (the default) disables them")
    parser.add_argument("--log-file", default="")
    return parser.parse_args(argv)


def build_config(opts: argparse.Namespace) -> SchedulerConfig:
    """The config file, with command-line flags taking precedence (as upstream's deprecated flags do)."""
    config = load_config(opts.config) if opts.config else SchedulerConfig()
    election = config.leader_election
    overrides = {
        "leader_elect": opts.leader_elect,
        "lease_duration": None if opts.leader_elect_lease_duration is None
        else parse_duration(opts.leader_elect_lease_duration),
        "renew_deadline": None if opts.leader_elect_renew_deadline is None
        else parse_duration(opts.leader_elect_renew_deadline),
        "retry_period": None if opts.leader_elect_retry_period is None
        else parse_duration(opts.leader_elect_retry_period),
        "resource_namespace": opts.leader_elect_resource_namespace,
        "resource_name": opts.leader_elect_resource_name,
    }
    config.leader_election = replace(election, **{k: v for k, v in overrides.items() if v is not None})
    if opts.kubeconfig:
        config.kubeconfig = opts.kubeconfig
    return config


def health_server(scheduler: Scheduler, elector: LeaderElector | None, lock: RenewTrackingLeaseLock | None,
                  lease_duration: float) -> HealthServer:
    """Upstream's checks: ping and leaderElection for liveness; readiness also waits for the
    informers of a replica that leads (a standby replica is ready to take over)."""
    checks = [PING]
    if elector is not None and lock is not None:
        checks.append(leader_election_check(
            elector.is_leader, lambda: lock.renewed_within(lease_duration + LEADER_HEALTH_TOLERANCE)))
        leader_election_metric(scheduler.metrics.registry, "kube-scheduler", elector.is_leader)

    def handlers_synced() -> str | None:
        leading = elector is None or elector.is_leader()
        return None if scheduler.synced or not leading else "informers not synced"

    return HealthServer(scheduler.metrics.registry, checks, [Check("sched-handler-sync", handlers_synced)])


async def run(config: SchedulerConfig, stop: asyncio.Event, identity: str = "", bind_address: str = "127.0.0.1",
              port: int = 0) -> int:
    client_config = load_kubeconfig(config.kubeconfig) if config.kubeconfig else in_cluster_config()
    async with Client(client_config, component="kube-scheduler") as client:
        gc_tuning.raise_thresholds()
        scheduler = Scheduler(client, config, metrics=SchedulerMetrics())
        scheduler.on_synced = gc_tuning.freeze_heap
        election = config.leader_election
        elector: LeaderElector | None = None
        lock: RenewTrackingLeaseLock | None = None
        if election.leader_elect:
            identity = identity or f"{socket.gethostname()}_{uuid.uuid4()}"
            lock = RenewTrackingLeaseLock(client, election.resource_namespace, election.resource_name, identity)
            elector = LeaderElector(
                lock, LeaderCallbacks(on_started_leading=scheduler.run),
                LeaderElectionConfig(election.lease_duration, election.renew_deadline, election.retry_period))
        server = await serve_if_enabled(bind_address, port,
                                        health_server(scheduler, elector, lock, election.lease_duration))
        if server is not None:
            log.info("serving health and metrics on http://%s:%d", bind_address, server.port)
        try:
            return await _work_until_stopped(scheduler, elector, stop)
        finally:
            if server is not None:
                await server.stop()


async def _work_until_stopped(scheduler: Scheduler, elector: LeaderElector | None, stop: asyncio.Event) -> int:
    loop = asyncio.get_running_loop()
    work = loop.create_task(elector.run() if elector is not None else scheduler.run())
    stopper = loop.create_task(stop.wait())
    await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if work.done():
        # Leader election returns only when the lease was lost.
        log.error("leaderelection lost" if elector is not None else "scheduler stopped")
        with contextlib.suppress(asyncio.CancelledError):
            work.result()
        return EXIT_LOST_LEASE
    work.cancel()
    await asyncio.gather(work, return_exceptions=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging("scheduler", opts.log_file or None)
    try:
        config = build_config(opts)
    except (ConfigError, OSError) as err:
        log.error("%s", err)
        return EXIT_BAD_CONFIG
    identity = opts.identity or os.environ.get("KUBEPLANE_SCHEDULER_IDENTITY", "")
    return run_until_signalled(lambda stop: run(config, stop, identity, opts.bind_address, opts.secure_port))


if __name__ == "__main__":
    raise SystemExit(main())
