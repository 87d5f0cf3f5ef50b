"""``kubeplane controller-manager``: flags -> a client -> leader election -> the controllers.

Flags are kube-controller-manager's where they mean the same. With ``--leader-elect`` (the
default) only the holder of the Lease kube-system/kube-controller-manager runs controllers,
so several replicas can run for availability; losing the Lease stops the controllers and the
process exits (as upstream does) so its supervisor starts it afresh.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry

from kubeplane.client import (
    Client,
    LeaderCallbacks,
    LeaderElectionConfig,
    LeaderElector,
    SharedInformerFactory,
    in_cluster_config,
    load_kubeconfig,
)
from kubeplane.client.leaselock import RenewTrackingLeaseLock
from kubeplane.component.flags import parse_bool, parse_duration
from kubeplane.component.health import (
    PING,
    HealthServer,
    leader_election_check,
    leader_election_metric,
    serve_if_enabled,
)
from kubeplane.component.logs import setup_logging
from kubeplane.component.signals import run_until_signalled
from kubeplane.controllers.clientbuilder import ServiceAccountClientBuilder
from kubeplane.controllers.controller import ControllerContext
from kubeplane.controllers.manager import ControllerManager, UnknownControllerError, enabled_controllers

log = logging.getLogger("kubeplane.controller-manager")

# Upstream's HealthzAdaptor timeout: how long past the lease duration a leader may go without
# renewing before /healthz fails.
LEADER_HEALTH_TOLERANCE = 20.0


@dataclass
class Options:
    kubeconfig: str
    controllers: list[str]
    leader_elect: bool
    leader_elect_lease_duration: float
    leader_elect_renew_deadline: float
    leader_elect_retry_period: float
    leader_elect_resource_namespace: str
    leader_elect_resource_name: str
    root_ca_file: str
    cluster_signing_cert_file: str
    cluster_signing_key_file: str
    log_file: str
    bind_address: str = "127.0.0.1"
    secure_port: int = 0
    use_service_account_credentials: bool = False
    horizontal_pod_autoscaler_sync_period: float = 15.0
    horizontal_pod_autoscaler_downscale_stabilization: float = 300.0


def parse_args(argv: list[str]) -> Options:
    p = argparse.ArgumentParser(prog="kubeplane controller-manager",
                                description="Runs the controllers that drive the cluster to its desired state.")
    p.add_argument("--kubeconfig", default="", help="kubeconfig of the API server (default: in-cluster)")
    p.add_argument("--controllers", default="*",
                   help="comma-separated: '*' for all on by default, 'foo' to enable, '-foo' to disable")
    p.add_argument("--leader-elect", type=parse_bool, nargs="?", const=True, default=True)
    p.add_argument("--leader-elect-lease-duration", type=parse_duration, default=15.0)
    p.add_argument("--leader-elect-renew-deadline", type=parse_duration, default=10.0)
    p.add_argument("--leader-elect-retry-period", type=parse_duration, default=2.0)
    p.add_argument("--leader-elect-resource-namespace", default="kube-system")
    p.add_argument("--leader-elect-resource-name", default="kube-controller-manager")
    p.add_argument("--root-ca-file", default="",
                   help="CA bundle published as kube-root-ca.crt in every namespace")
    p.add_argument("--cluster-signing-cert-file", default="",
                   help="PEM CA certificate that signs CSRs for the kubernetes.io signers")
    p.add_argument("--cluster-signing-key-file", default="", help="PEM private key of --cluster-signing-cert-file")
    p.add_argument("--bind-address", default="127.0.0.1",
                   help="address for /healthz, /livez, /readyz and /metrics (plain HTTP)")
    p.add_argument("--secure-port", type=int, default=0,
                   help="port for the health and metrics endpoints; 0 (the default) disables them")
    p.add_argument("--use-service-account-credentials", type=parse_bool, nargs="?", const=True, default=False,
                   help="run each controller with its own kube-system service account's token "
                        "(from the TokenRequest API) instead of this process's credentials")
    p.add_argument("--horizontal-pod-autoscaler-sync-period", type=parse_duration, default=15.0,
                   help="how often each HorizontalPodAutoscaler is evaluated")
    p.add_argument("--horizontal-pod-autoscaler-downscale-stabilization", type=parse_duration, default=300.0,
                   help="the window of recommendations a scale-down takes the highest of")
    p.add_argument("--log-file", default="")
    ns = vars(p.parse_args(argv))
    ns["controllers"] = [c.strip() for c in ns["controllers"].split(",") if c.strip()]
    opts = Options(**ns)
    try:
        enabled_controllers(opts.controllers)
    except UnknownControllerError as err:
        p.error(f"--controllers: {err}")
    if opts.leader_elect:
        try:
            election_config(opts)
        except ValueError as err:
            p.error(str(err))
    return opts


def election_config(opts: Options) -> LeaderElectionConfig:
    return LeaderElectionConfig(lease_duration=opts.leader_elect_lease_duration,
                                renew_deadline=opts.leader_elect_renew_deadline,
                                retry_period=opts.leader_elect_retry_period)


def identity() -> str:
    """Upstream's: the host name plus a UUID, so two processes on one host differ."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


async def run(opts: Options, stop: asyncio.Event) -> None:
    config = load_kubeconfig(opts.kubeconfig) if opts.kubeconfig else in_cluster_config()
    root_ca = Path(opts.root_ca_file).read_bytes() if opts.root_ca_file else b""
    signing_cert = Path(opts.cluster_signing_cert_file).read_bytes() if opts.cluster_signing_cert_file else b""
    signing_key = Path(opts.cluster_signing_key_file).read_bytes() if opts.cluster_signing_key_file else b""
    async with Client(config, component="controller-manager") as client:

        async def run_controllers() -> None:
            # The shared informers (and leader election) use this process's own credentials.
            builder = ServiceAccountClientBuilder(client) if opts.use_service_account_credentials else None
            ctx = ControllerContext(client, SharedInformerFactory(client), root_ca=root_ca,
                                    cluster_signing_cert=signing_cert, cluster_signing_key=signing_key,
                                    client_builder=builder,
                                    hpa_sync_period=opts.horizontal_pod_autoscaler_sync_period,
                                    hpa_downscale_stabilization=opts.horizontal_pod_autoscaler_downscale_stabilization)
            await ControllerManager(ctx, enabled_controllers(opts.controllers)).run()

        registry = CollectorRegistry()
        checks = [PING]
        if opts.leader_elect:
            lock = RenewTrackingLeaseLock(client, opts.leader_elect_resource_namespace,
                                          opts.leader_elect_resource_name, identity())
            elector = LeaderElector(lock, LeaderCallbacks(on_started_leading=run_controllers), election_config(opts))
            tolerance = opts.leader_elect_lease_duration + LEADER_HEALTH_TOLERANCE
            checks.append(leader_election_check(elector.is_leader, lambda: lock.renewed_within(tolerance)))
            leader_election_metric(registry, "kube-controller-manager", elector.is_leader)
            work = elector.run()
        else:
            work = run_controllers()
        server = await serve_if_enabled(opts.bind_address, opts.secure_port, HealthServer(registry, checks))
        if server is not None:
            log.info("serving health and metrics on http://%s:%d", opts.bind_address, server.port)
        task = asyncio.ensure_future(work)
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pending in (task, stopper):
                pending.cancel()
            await asyncio.gather(task, stopper, return_exceptions=True)
            if server is not None:
                await server.stop()
        if task.done() and not task.cancelled() and not stop.is_set():
            task.result()  # surface a crash
            log.error("leader election lost")
            raise SystemExit(1)


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging("controller-manager", opts.log_file or None)
    return run_until_signalled(lambda stop: run(opts, stop))


if __name__ == "__main__":
    raise SystemExit(main())
