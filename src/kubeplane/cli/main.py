"""The ``kubeplane`` console script: one subcommand per module in this package."""

from __future__ import annotations

import argparse
import sys

from rich.markup import escape

from kubeplane.cli import components, demo, down, images, kubeconfig, status, up, vpc
from kubeplane.cli.output import CommandError, console

_COMMANDS = (up, down, status, kubeconfig, demo, components, vpc, images)



def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubeplane", description="Self-hosted, EKS-compatible Kubernetes")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in _COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    if args_list and args_list[0] in components.COMPONENTS:
        return components.run(args_list[0], args_list[1:])
    args = build_parser().parse_args(args_list)
    try:
        exit_code: int = args.run(args)
    except CommandError as err:
        console.print(f"[red]error:[/red] {escape(str(err))}", soft_wrap=True)
        return err.exit_code
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
