"""``kubeplane up``: create a cluster's control plane and wait until it serves."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import asdict

from kubeplane.catalog import DEFAULT_VERSION
from kubeplane.cli import lifecycle, nodes
from kubeplane.cli.output import CommandError, add_output_flag, console, print_json, step_done
from kubeplane.cli.state import ClusterPaths, ClusterRecord, running_components, validate_version
from kubeplane.component.process import ReadinessError
from kubeplane.network.ipam.limits import INSTANCE_LIMITS

VPC_NAME_MAX = 32  # network/vpc/model.py: VPC names are at most 32 characters


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("up", help="create a cluster and start its control plane")
    parser.add_argument("--name", required=True, help="cluster name (a DNS label)")
    parser.add_argument("--nodes", type=int, default=0, help="worker nodes (each an instance in the cluster's VPC)")
    parser.add_argument("--instance-type", default=nodes.DEFAULT_INSTANCE_TYPE,
                        help="EC2 instance type of the nodes (sets max pods and ENI limits)")
    parser.add_argument("--kubernetes-version", default=DEFAULT_VERSION, help="Kubernetes minor, e.g. 1.35")
    parser.add_argument("--apiservers", type=int, default=1, help="API server processes to run")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each component")
    add_output_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    version = validate_version(args.kubernetes_version)
    if args.nodes < 0:
        raise CommandError("--nodes must be 0 or more", exit_code=2)
    if args.apiservers < 1:
        raise CommandError("--apiservers must be at least 1", exit_code=2)
    paths = ClusterPaths.for_name(args.name)
    if args.nodes and args.instance_type not in INSTANCE_LIMITS:
        raise CommandError(f"unknown instance type {args.instance_type!r} (known: {', '.join(sorted(INSTANCE_LIMITS))})",
                           exit_code=2)
    if args.nodes and len(paths.name) > VPC_NAME_MAX:
        raise CommandError(f"a cluster with nodes needs a name of at most {VPC_NAME_MAX} characters "
                           "(its VPC is named after it)", exit_code=2)
    record = bring_up(paths, lifecycle.UpOptions(version, args.apiservers, args.timeout, nodes=args.nodes,
                                                 instance_type=args.instance_type))
    if args.output == "json":
        print_json(summary(paths, record))
    else:
        print_usage_hint(paths)
    return 0


def bring_up(paths: ClusterPaths, options: lifecycle.UpOptions) -> ClusterRecord:
    """Start the cluster, or refuse if it already runs; on failure stop whatever was started."""
    running = running_components(paths)
    if running:
        raise CommandError(f"cluster {paths.name!r} is already up ({', '.join(running)} running); "
                           f"`kubeplane down --name {paths.name}` stops it")
    if paths.root.exists():
        console.print(f"removing leftovers of a cluster {paths.name!r} that is no longer running")
        lifecycle.remove_cluster(paths, step_done)

    nodes_note = f", {options.nodes} node(s) of type {options.instance_type}" if options.nodes else ""
    console.print(f"creating cluster [bold]{paths.name}[/bold] (Kubernetes {options.kubernetes_version}{nodes_note})")
    try:
        with console.status("starting the control plane…"):
            return asyncio.run(lifecycle.start_cluster(paths, options, step_done))
    except (ReadinessError, OSError, KeyboardInterrupt, nodes.NodeStartError) as err:
        console.print("[red]start-up failed[/red]; stopping what was started")
        nodes.stop_registry(paths, step_done)
        lifecycle.stop_cluster(paths, step_done)
        if isinstance(err, KeyboardInterrupt):
            raise CommandError("interrupted; the processes started were stopped", exit_code=130) from err
        raise CommandError(f"{err}\n(logs are kept in {paths.logs}; "
                           f"`kubeplane down --name {paths.name}` removes them)") from err


def summary(paths: ClusterPaths, record: ClusterRecord) -> dict[str, object]:
    return {
        "name": record.name,
        "kubernetesVersion": record.kubernetesVersion,
        "server": record.server,
        "kubeconfig": str(paths.kubeconfig),
        "components": [{"name": c.name, "kind": c.kind, "pid": c.pid, "endpoint": c.endpoint}
                       for c in record.components],
        "nodes": [asdict(n) for n in record.workerNodes],
    }


def print_usage_hint(paths: ClusterPaths) -> None:
    console.print(f"\ncluster [bold]{paths.name}[/bold] is up. Use it with:\n"
                  f"  export KUBECONFIG={paths.kubeconfig}\n"
                  f"  kubectl get namespaces\n"
                  f"or merge it into your kubeconfig: kubeplane kubeconfig --name {paths.name} --merge")
