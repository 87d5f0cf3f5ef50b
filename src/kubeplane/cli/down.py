"""``kubeplane down``: stop every process of a cluster and remove its state."""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

from kubeplane.cli import lifecycle, node_teardown, nodes
from kubeplane.cli.output import add_output_flag, console, print_json, step_done
from kubeplane.cli.state import ClusterPaths
from kubeplane.component import process

# How long a control-plane process gets between SIGTERM and SIGKILL (as lifecycle's stop).
STOP_GRACE_SECONDS = lifecycle.STOP_GRACE_SECONDS


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("down", help="stop a cluster and delete its state")
    parser.add_argument("--name", required=True, help="cluster name")
    add_output_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    paths = ClusterPaths.for_name(args.name)
    existed = paths.root.exists()
    progress = step_done if args.output == "text" else _quiet
    # The registry first: its instance's namespace goes with the VPC when the nodes are removed.
    nodes.stop_registry(paths, progress)
    node_teardown.stop_nodes(paths, progress)
    stop_control_plane(paths, progress)
    # Whatever is still recorded (nothing, normally), then the state directory.
    lifecycle.remove_cluster(paths, progress)
    if args.output == "json":
        print_json({"name": paths.name, "removed": existed})
    elif existed:
        console.print(f"cluster [bold]{paths.name}[/bold] is down and its state removed")
    else:
        console.print(f"cluster [bold]{paths.name}[/bold] was not up; nothing to do")
    return 0


def control_plane_tier(pidfile: Path) -> int:
    """0: the API's clients (controller managers, schedulers, ...); 1: API servers; 2: what the API
    servers use (etcd, the KMS plugin)."""
    if pidfile.stem.startswith("apiserver"):
        return 1
    if pidfile.stem.startswith(("etcd", "kms")):
        return 2
    return 0


def stop_control_plane(paths: ClusterPaths, progress: lifecycle.Progress) -> None:
    """Stop the recorded control-plane processes tier by tier, each tier's side by side. Clients
    go first: an API server stopped under the open watches of live controller managers and
    schedulers waited out its whole grace period, and clients whose API server was gone took
    seconds more to give up (one after another, about 20 s of a 100-pod `down`)."""
    if not paths.run.is_dir():
        return
    pidfiles = sorted(paths.run.glob("*.pid"))
    for tier in (0, 1, 2):
        node_teardown.in_parallel([functools.partial(_stop, pidfile, progress) for pidfile in pidfiles
                                   if control_plane_tier(pidfile) == tier])


def _stop(pidfile: Path, progress: lifecycle.Progress) -> None:
    if process.stop(pidfile, STOP_GRACE_SECONDS):
        progress(f"{pidfile.stem} stopped")


def _quiet(_message: str) -> None:
    pass
