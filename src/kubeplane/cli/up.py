"""``kubeplane up``: create a cluster's control plane and wait until it serves."""

from __future__ import annotations

import argparse
import asyncio

from kubeplane.catalog import DEFAULT_VERSION
from kubeplane.cli import lifecycle
from kubeplane.cli.output import CommandError, add_output_flag, console, print_json, step_done
from kubeplane.cli.state import ClusterPaths, ClusterRecord, running_components, validate_version
from kubeplane.component.process import ReadinessError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("up", help="create a cluster and start its control plane")
    parser.add_argument("--name", required=True, help="cluster name (a DNS label)")
    parser.add_argument("--nodes", type=int, default=0, help="worker nodes (not supported yet: only 0)")
    parser.add_argument("--kubernetes-version", default=DEFAULT_VERSION, help="Kubernetes minor, e.g. 1.35")
    parser.add_argument("--apiservers", type=int, default=1, help="API server processes to run")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each component")
    add_output_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    version = validate_version(args.kubernetes_version)
    if args.nodes != 0:
        raise CommandError("worker nodes are not supported yet: use --nodes 0 (a control plane only)",
                           exit_code=2)
    if args.apiservers < 1:
        raise CommandError("--apiservers must be at least 1", exit_code=2)
    paths = ClusterPaths.for_name(args.name)
    record = bring_up(paths, lifecycle.UpOptions(version, args.apiservers, args.timeout))
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

    console.print(f"creating cluster [bold]{paths.name}[/bold] (Kubernetes {options.kubernetes_version})")
    try:
        with console.status("starting the control plane…"):
            return asyncio.run(lifecycle.start_cluster(paths, options, step_done))
    except (ReadinessError, OSError, KeyboardInterrupt) as err:
        console.print("[red]start-up failed[/red]; stopping what was started")
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
    }


def print_usage_hint(paths: ClusterPaths) -> None:
    console.print(f"\ncluster [bold]{paths.name}[/bold] is up. Use it with:\n"
                  f"  export KUBECONFIG={paths.kubeconfig}\n"
                  f"  kubectl get namespaces\n"
                  f"or merge it into your kubeconfig: kubeplane kubeconfig --name {paths.name} --merge")
