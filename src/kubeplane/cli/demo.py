"""``kubeplane demo``: a cluster called demo with worker nodes, a sample application applied with
kubectl and running on those nodes, a look at what the API server now holds, and a request to the
application's Service made from inside a node's network namespace."""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kubeplane.catalog import DEFAULT_VERSION
from kubeplane.cli import lifecycle, up
from kubeplane.cli.output import CommandError, console
from kubeplane.cli.state import ClusterPaths, fully_running, require_record

DEMO_CLUSTER = "demo"
DEMO_NODES = 2
# What examples/demo.yaml runs and serves; the demo waits for it and requests its page.
APP_NAMESPACE, APP_SELECTOR, APP_SERVICE = "demo", "app=web", "web"
# src/kubeplane/cli/demo.py -> the repository root holds examples/.
_REPO_EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "demo.yaml"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("demo", help="start the demo cluster and apply a sample application")
    parser.add_argument("--file", type=Path, default=None, help="manifest to apply (default examples/demo.yaml)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each component")
    parser.add_argument("--nodes", type=int, default=DEMO_NODES,
                        help="worker nodes (0: a control plane only, the application stays Pending)")
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


def _kubectl_json(kubectl: str, kubeconfig: Path, *args: str) -> Any:
    completed = subprocess.run([kubectl, f"--kubeconfig={kubeconfig}", *args, "-o", "json"],
                               capture_output=True, text=True, check=False)
    return json.loads(completed.stdout) if completed.returncode == 0 else None


def _parse_time(stamp: str) -> float:
    return datetime.datetime.fromisoformat(stamp).timestamp()


def _wait_app_running(kubectl: str, kubeconfig: Path, timeout: float) -> list[dict[str, Any]]:
    """Wait until the application's pods all run (the Deployment's replicas, one per node)."""
    console.print(f"\nwaiting for the pods of {APP_NAMESPACE}/{APP_SERVICE} to run…")
    deadline = time.monotonic() + timeout
    while True:
        deployment = _kubectl_json(kubectl, kubeconfig, "-n", APP_NAMESPACE, "get", "deployment", APP_SERVICE) or {}
        listed = _kubectl_json(kubectl, kubeconfig, "-n", APP_NAMESPACE, "get", "pods", "-l", APP_SELECTOR) or {}
        pods = [p for p in listed.get("items", []) if not p["metadata"].get("deletionTimestamp")]
        running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
        wanted = (deployment.get("spec") or {}).get("replicas", 1)
        if pods and len(running) == len(pods) >= wanted:
            for pod in running:
                # Second-resolution timestamps: creation -> the app container started.
                started = [c["state"]["running"]["startedAt"] for c in pod["status"].get("containerStatuses", [])
                           if "running" in c.get("state", {})]
                latency = max(_parse_time(s) for s in started) - _parse_time(pod["metadata"]["creationTimestamp"])
                console.print(f"  {pod['metadata']['name']} Running on {pod['spec']['nodeName']} "
                              f"({pod['status'].get('podIP')}), started ~{latency:.0f}s after creation")
            return running
        if time.monotonic() > deadline:
            raise CommandError(f"the demo application's pods are not Running after {timeout:.0f}s; "
                               f"`kubectl -n {APP_NAMESPACE} describe pods` shows why")
        time.sleep(0.5)


def _request_from_node(paths: ClusterPaths, kubectl: str, timeout: float) -> None:
    """GET the Service's ClusterIP from inside the first node's netns (kube-proxy's rules there
    send it to a pod on either node), like `curl` on an EKS node."""
    service = _kubectl_json(kubectl, paths.kubeconfig, "-n", APP_NAMESPACE, "get", "service", APP_SERVICE)
    cluster_ip = service["spec"]["clusterIP"]
    node = require_record(paths).workerNodes[0]
    # Debian's static busybox: its `wget -T` crashes, so the time limit comes from `timeout`.
    command = ["nsenter", f"--net=/run/netns/{node.netns}", "timeout", "5", "busybox", "wget", "-q", "-O", "-",
               f"http://{cluster_ip}/"]
    console.print(f"\n[bold]$ {' '.join(command)}[/bold]   # on {node.name}, twice")
    deadline = time.monotonic() + timeout
    answers = 0
    while answers < 2:
        # kube-proxy programs a new Service within its sync period: retry until it answers.
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode == 0:
            console.print(done.stdout.rstrip())
            answers += 1
        elif time.monotonic() > deadline:
            raise CommandError(f"the Service {cluster_ip} did not answer from {node.name}: {done.stderr.strip()}")
        else:
            time.sleep(0.5)


def run(args: argparse.Namespace) -> int:
    manifest = _manifest(args.file)
    kubectl = find_kubectl()
    paths = ClusterPaths.for_name(DEMO_CLUSTER)
    if fully_running(paths) and paths.kubeconfig.exists():
        console.print(f"cluster [bold]{DEMO_CLUSTER}[/bold] is already up; reusing it")
    else:  # refuses, with the reason, if only part of it runs
        up.bring_up(paths, lifecycle.UpOptions(DEFAULT_VERSION, 1, args.timeout, nodes=args.nodes))
    _kubectl(kubectl, paths.kubeconfig, "apply", "-f", str(manifest))
    has_nodes = bool(require_record(paths).workerNodes)
    if has_nodes:
        _wait_app_running(kubectl, paths.kubeconfig, args.timeout)
        _kubectl(kubectl, paths.kubeconfig, "get", "nodes", "-o", "wide")
        _kubectl(kubectl, paths.kubeconfig, "get", "pods", "-o", "wide", "-A")
    _kubectl(kubectl, paths.kubeconfig, "get", "all", "-A")
    if has_nodes:
        _request_from_node(paths, kubectl, args.timeout)
    up.print_usage_hint(paths)
    return 0
