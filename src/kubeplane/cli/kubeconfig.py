"""``kubeplane kubeconfig``: print a cluster's admin kubeconfig, or merge it into yours."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from kubeplane.cli import kubeconfig_file
from kubeplane.cli.output import CommandError, add_output_flag, console, print_json
from kubeplane.cli.state import ClusterPaths, require_record


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("kubeconfig", help="print or merge a cluster's admin kubeconfig")
    parser.add_argument("--name", required=True, help="cluster name")
    parser.add_argument("--merge", action="store_true",
                        help="add or update the cluster, user and context NAME in $KUBECONFIG's first "
                             "file (default ~/.kube/config) and make it the current context")
    parser.add_argument("--kubeconfig", type=Path, default=None, help="file to merge into (with --merge)")
    add_output_flag(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    paths = ClusterPaths.for_name(args.name)
    require_record(paths)
    if not paths.kubeconfig.exists():
        raise CommandError(f"cluster {paths.name!r} has no kubeconfig yet (did `kubeplane up` finish?)")
    config = yaml.safe_load(paths.kubeconfig.read_text())
    if args.merge:
        target = args.kubeconfig or kubeconfig_file.default_merge_target()
        try:
            kubeconfig_file.merge_into_file(target, config)
        except (ValueError, yaml.YAMLError) as err:
            raise CommandError(f"cannot merge into {target}: {err}") from err
        if args.output == "json":
            print_json({"name": paths.name, "mergedInto": str(target), "currentContext": paths.name})
        else:
            console.print(f"merged cluster, user and context [bold]{paths.name}[/bold] into {target} "
                          "and made it the current context")
    elif args.output == "json":
        print_json(config)
    else:
        print(kubeconfig_file.dump(config), end="")
    return 0
