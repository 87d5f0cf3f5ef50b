"""``kubeplane apiserver ...``: run the API server in this process (upstream-like flags)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # Only for --help: main() hands `apiserver` arguments over before argparse sees them.
    subparsers.add_parser("apiserver", help="run the API server (kube-apiserver flags)", add_help=False)


def run(argv: list[str]) -> int:
    # Imported lazily: the API server pulls in far more than the other commands need.
    from kubeplane.apiserver.app import main

    return main(argv)
