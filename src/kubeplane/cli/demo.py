"""``kubeplane demo``: a cluster called demo, a sample application applied with kubectl, and a look
at what the API server now holds."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from kubeplane.catalog import DEFAULT_VERSION
from kubeplane.cli import lifecycle, up
from kubeplane.cli.output import CommandError, console
from kubeplane.cli.state import ClusterPaths, fully_running

DEMO_CLUSTER = "demo"
# src/kubeplane/cli/demo.py -> the repository root holds examples/.
_REPO_EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "demo.yaml"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("demo", help="start the demo cluster and apply a sample application")
    parser.add_argument("--file", type=Path, default=None, help="manifest to apply (default examples/demo.yaml)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each component")
    parser.set_defaults(run=run)


def find_kubectl() -> str:
    """The pinned kubectl installed next to this interpreter (.venv/bin), else the one on PATH."""
    pinned = Path(sys.executable).parent / "kubectl"
    if pinned.is_file():
        return str(pinned)
    found = shutil.which("kubectl")
    if found is None:
        raise CommandError("kubectl not found: install the test extras (`make setup`) or put kubectl on PATH")
    return found


def _manifest(explicit: Path | None) -> Path:
    for candidate in (explicit, _REPO_EXAMPLE, Path.cwd() / "examples" / "demo.yaml"):
        if candidate is not None and candidate.is_file():
            return candidate
    raise CommandError(f"demo manifest not found: {explicit or _REPO_EXAMPLE}")


def _kubectl(kubectl: str, kubeconfig: Path, *args: str) -> None:
    command = [kubectl, f"--kubeconfig={kubeconfig}", *args]
    console.print(f"\n[bold]$ kubectl {' '.join(args)}[/bold]")
    completed = subprocess.run(command, check=False)
    if completed.returncode != 0:
        raise CommandError(f"`kubectl {' '.join(args)}` failed with exit code {completed.returncode}")


def run(args: argparse.Namespace) -> int:
    manifest = _manifest(args.file)
    kubectl = find_kubectl()
    paths = ClusterPaths.for_name(DEMO_CLUSTER)
    if fully_running(paths) and paths.kubeconfig.exists():
        console.print(f"cluster [bold]{DEMO_CLUSTER}[/bold] is already up; reusing it")
    else:  # refuses, with the reason, if only part of it runs
        up.bring_up(paths, lifecycle.UpOptions(DEFAULT_VERSION, 1, args.timeout))
    _kubectl(kubectl, paths.kubeconfig, "apply", "-f", str(manifest))
    _kubectl(kubectl, paths.kubeconfig, "get", "all", "-A")
    up.print_usage_hint(paths)
    return 0
