"""``kubeplane down``: stop every process of a cluster and remove its state."""

from __future__ import annotations

import argparse

from kubeplane.cli import lifecycle, nodes
from kubeplane.cli.output import add_output_flag, console, print_json, step_done
from kubeplane.cli.state import ClusterPaths


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
    lifecycle.remove_cluster(paths, progress)
    if args.output == "json":
        print_json({"name": paths.name, "removed": existed})
    elif existed:
        console.print(f"cluster [bold]{paths.name}[/bold] is down and its state removed")
    else:
        console.print(f"cluster [bold]{paths.name}[/bold] was not up; nothing to do")
    return 0


def _quiet(_message: str) -> None:
    pass
