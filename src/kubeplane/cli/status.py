"""``kubeplane status``: each component's process, endpoint and health."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from rich.console import Console
from rich.table import Table

from kubeplane.cli import lifecycle, nodes
from kubeplane.cli.output import add_output_flag, print_json
from kubeplane.cli.state import ClusterPaths, ClusterRecord, require_record
from kubeplane.component import process


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("status", help="show a cluster's components and their health")
    parser.add_argument("--name", required=True, help="cluster name")
    add_output_flag(parser)
    parser.set_defaults(run=run)


def cluster_status(paths: ClusterPaths) -> dict[str, Any]:
    record = require_record(paths)
    health, node_ready = asyncio.run(_health(paths, record))
    components = []
    for component in record.components:
        running = process.is_running(paths.pidfile_of(component))
        components.append({
            "name": component.name,
            "kind": component.kind,
            "pid": component.pid,
            "running": running,
            "endpoint": component.endpoint,
            "healthy": running and health[component.name],
        })
    return {
        "name": record.name,
        "kubernetesVersion": record.kubernetesVersion,
        "created": record.created,
        "server": record.server,
        "kubeconfig": str(paths.kubeconfig),
        "healthy": all(c["healthy"] for c in components),
        "components": components,
        "nodes": [{"name": n.name, "instanceId": n.instanceId, "zone": n.zone, "ip": n.ip, "netns": n.netns,
                   "ready": node_ready.get(n.name, False)} for n in record.workerNodes],
    }


async def _health(paths: ClusterPaths, record: ClusterRecord) -> tuple[dict[str, bool], dict[str, bool]]:
    return (await lifecycle.component_health(paths, record),
            await nodes.node_readiness(paths, record) if record.workerNodes else {})


def run(args: argparse.Namespace) -> int:
    status = cluster_status(ClusterPaths.for_name(args.name))
    if args.output == "json":
        print_json(status)
    else:
        _print_table(status)
    return 0 if status["healthy"] else 1


def _yes_no(value: bool) -> str:
    return "[green]yes[/green]" if value else "[red]no[/red]"


def _print_table(status: dict[str, Any]) -> None:
    table = Table(title=f"cluster {status['name']} · Kubernetes {status['kubernetesVersion']}",
                  title_justify="left")
    for column in ("COMPONENT", "PID", "RUNNING", "HEALTHY", "ENDPOINT"):
        table.add_column(column)
    for c in status["components"]:
        table.add_row(c["name"], str(c["pid"] or "-"), _yes_no(c["running"]), _yes_no(c["healthy"]), c["endpoint"])
    Console().print(table)
    if not status["nodes"]:
        return
    node_table = Table(title="nodes", title_justify="left")
    for column in ("NODE", "ZONE", "IP", "INSTANCE", "READY"):
        node_table.add_column(column)
    for n in status["nodes"]:
        node_table.add_row(n["name"], n["zone"], n["ip"], n["instanceId"], _yes_no(n["ready"]))
    Console().print(node_table)
