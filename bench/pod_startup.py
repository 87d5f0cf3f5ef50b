"""Pod startup latency on two real nodes (issue 6), beside a bare `runc run` of the same image.

    .venv/bin/python bench/pod_startup.py            # 100 pods (needs root)
    .venv/bin/python bench/pod_startup.py --quick    # 20 pods

Upstream's SLI (sig-scalability "pod startup latency"): from the pod's creation to all its
containers reported running, as a watch observes it, for stateless pods whose image is already on
the node. Here: a cluster from ``kubeplane up --nodes 2`` (real kubelets, containerd, the VPC CNI
and ipamd in each node's netns; ``--instance-type m5.2xlarge`` so 100 pods fit: 58 per node), one
watch on the namespace opened before the first create; a pod's latency is the time between the
bench sending its POST and the watch event in which every container of the pod is running. Pods
are created one after another, each as soon as fewer than ``--in-flight`` pods are still starting
(default 2: about one per node), so the number measures a start, not a queue; the scheduler
places them. Upstream's SLO is p99 <= 5 s.

Stages, per pod, in wall-clock time after the POST (so the change targets the real wait): the
watch sees the pod bound; containerd created its sandbox (RunPodSandbox: pause container, CNI
ADD); containerd created and then started the app container (CRI timestamps, read after the run);
the watch sees every container running (the kubelet's status write).

Floor, in the same run: ``runc run -d`` of an OCI bundle holding the very busybox binary the
node's ``localhost/busybox:1.35`` image holds (Debian's static busybox), one after another (from
bench/pods.py): a container started with no API, scheduler, kubelet, CRI or CNI in the way.

Results are printed and written to the pod_startup section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubeplane.cli.nodes import NODE_FILE, NodePaths
from kubeplane.cli.state import ClusterPaths
from kubeplane.client import Client, load_kubeconfig
from kubeplane.client.resource import PODS
from kubeplane.kubelet import labels
from kubeplane.kubelet.cri import CRIClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (
    RESULTS,
    RESULTS_HEADER,
    BenchRun,
    CliCluster,
    cli_cluster,
    machine_description,
    markdown_table,
    percentile,
    write_section,
)
from pods import ensure_namespace, runc_floor

NAMESPACE = "bench-startup"
IMAGE = "localhost/busybox:1.35"
JSON = dict[str, Any]
# Per-pod stages, in the order they happen (seconds after the POST).
STAGES = ("bound", "sandbox created", "container created", "container started", "status running")


@dataclass(frozen=True)
class StartupRun:
    latencies: tuple[float, ...]
    runc_latencies: tuple[float, ...]
    per_node: dict[str, int]
    wall_s: float
    up_s: float
    stages: dict[str, tuple[float, ...]]
    down_s: float  # `kubeplane down` with every pod still running


def pod_manifest(name: str) -> JSON:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "startup"}},
            "spec": {"automountServiceAccountToken": False, "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "app", "image": IMAGE, "imagePullPolicy": "IfNotPresent",
                                     "command": ["sleep", "3600"]}]}}


def all_containers_running(pod: JSON) -> bool:
    wanted = len((pod.get("spec") or {}).get("containers") or [])
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return len(statuses) == wanted and all("running" in (s.get("state") or {}) for s in statuses)


@dataclass
class Startup:
    latencies: list[float]
    nodes: Counter[str]
    stages: dict[str, list[float]]


def node_sockets(cluster: CliCluster) -> dict[str, Path]:
    """Each node's name → its containerd socket."""
    paths = ClusterPaths(cluster.name, cluster.home / "clusters" / cluster.name)
    sockets = {}
    for record in sorted(paths.nodes.glob(f"*/{NODE_FILE}")):
        node = json.loads(record.read_text())
        sockets[node["name"]] = NodePaths(paths, int(node["index"])).containerd_sockets / "containerd.sock"
    return sockets


async def runtime_times(socket: Path, uids: set[str]) -> dict[str, tuple[float, float, float]]:
    """Per pod uid: when containerd created its sandbox, created and started its (first) container."""
    async with CRIClient(socket) as cri:
        sandboxes = {s.labels.get(labels.POD_UID, ""): s.created_at for s in await cri.list_pod_sandbox()}
        times = {}
        for container in await cri.list_containers():
            uid = container.labels.get(labels.POD_UID, "")
            if uid in uids and uid in sandboxes:
                status = (await cri.container_status(container.id)).status
                times[uid] = (sandboxes[uid] / 1e9, status.created_at / 1e9, status.started_at / 1e9)
        return times


async def measure_startup(cluster: CliCluster, pods: int, in_flight: int, timeout: float) -> Startup:
    """Per-pod creation → all containers running (watch), pods created ``in_flight`` at a time."""
    async with Client(load_kubeconfig(cluster.kubeconfig), component="bench") as client:
        await ensure_namespace(client, NAMESPACE)
        start_rv = (await client.list(PODS, NAMESPACE))["metadata"]["resourceVersion"]
        sent: dict[str, float] = {}
        latencies: dict[str, float] = {}
        # Wall clock (CRI timestamps are wall clock): POST, bound, running; uid and node per pod.
        posted: dict[str, float] = {}
        bound: dict[str, float] = {}
        running_at: dict[str, float] = {}
        placed: dict[str, tuple[str, str]] = {}
        nodes: Counter[str] = Counter()
        slots = asyncio.Semaphore(in_flight)

        async def observe() -> None:
            async with contextlib.aclosing(client.watch(PODS, NAMESPACE, resource_version=start_rv)) as events:
                async for event in events:
                    pod = event.object
                    name = (pod.get("metadata") or {}).get("name", "")
                    if event.type not in ("ADDED", "MODIFIED") or name not in sent or name in latencies:
                        continue
                    if (pod.get("spec") or {}).get("nodeName") and name not in bound:
                        bound[name] = time.time()
                        placed[name] = (pod["metadata"]["uid"], pod["spec"]["nodeName"])
                    if all_containers_running(pod):
                        latencies[name] = time.perf_counter() - sent[name]
                        running_at[name] = time.time()
                        nodes[pod["spec"]["nodeName"]] += 1
                        slots.release()
                        if len(latencies) == pods:
                            return

        watcher = asyncio.ensure_future(observe())
        try:
            for index in range(pods):
                await asyncio.wait_for(slots.acquire(), timeout)
                if watcher.done():
                    watcher.result()  # the watch ended early: raise what ended it
                    raise RuntimeError("the pod watch ended before every pod was running")
                name = f"start-{index}"
                posted[name] = time.time()
                sent[name] = time.perf_counter()
                await client.create(PODS, pod_manifest(name), NAMESPACE)
            await asyncio.wait_for(watcher, timeout)
        finally:
            watcher.cancel()
            with contextlib.suppress(BaseException):
                await watcher
        runtime: dict[str, tuple[float, float, float]] = {}
        for node, socket in node_sockets(cluster).items():
            runtime.update(await runtime_times(socket, {uid for uid, on in placed.values() if on == node}))
        stages: dict[str, list[float]] = {stage: [] for stage in STAGES}
        for name, (uid, _) in placed.items():
            if uid not in runtime or name not in running_at:
                continue
            t0 = posted[name]
            for stage, at in zip(STAGES, (bound[name], *runtime[uid], running_at[name]), strict=True):
                stages[stage].append(at - t0)
        names = [f"start-{i}" for i in range(pods)]
        return Startup([latencies[name] for name in names], nodes, stages)


def run_bench(opts: argparse.Namespace) -> StartupRun:
    with BenchRun(keep=opts.keep) as run:
        runc_latencies = runc_floor(run.workdir, opts.pods)
        began = time.perf_counter()
        name = f"kpe2eb{secrets.token_hex(3)}"
        with cli_cluster(run, name, ["--nodes", str(opts.nodes), "--instance-type", opts.instance_type]) as cluster:
            up_s = time.perf_counter() - began
            began = time.perf_counter()
            startup = asyncio.run(measure_startup(cluster, opts.pods, opts.in_flight, opts.timeout))
            latencies, nodes = startup.latencies, startup.nodes
            wall = time.perf_counter() - began
            # Printed before `down`, in case it fails.
            print(f"measured {len(latencies)} pods: p50 {ms(percentile(latencies, .5))}, "
                  f"p99 {ms(percentile(latencies, .99))}", file=sys.stderr)
            down_began = time.perf_counter()  # leaving the block runs `kubeplane down`
        down_s = time.perf_counter() - down_began
        return StartupRun(tuple(latencies), tuple(runc_latencies), dict(nodes), wall, up_s,
                          {stage: tuple(values) for stage, values in startup.stages.items()}, down_s)


def ms(value: float) -> str:
    return f"{value * 1000:.0f} ms"


def report(result: StartupRun, opts: argparse.Namespace) -> str:
    machine = machine_description()
    p, r = result.latencies, result.runc_latencies
    fifth = max(1, len(p) // 5)
    spread = ", ".join(f"{count}" for _, count in sorted(result.per_node.items()))
    return "\n".join([
        "## Pod startup latency on 2 real nodes (`bench/pod_startup.py`" + (" --quick" if opts.quick else "") + ")",
        "",
        f"{machine['date']}; {machine['nproc']} x {machine['cpu']}, {machine['memory']}, "
        f"Python {machine['python']}, kernel {machine['kernel']}.",
        "",
        f"`kubeplane up --nodes {opts.nodes} --instance-type {opts.instance_type}` (all nodes Ready "
        f"{result.up_s:.0f} s after `up` started); {len(p)} busybox pods, image present, created with at most "
        f"{opts.in_flight} starting at a time, pods per node {spread}; {len(p)} pods running "
        f"{result.wall_s:.1f} s after the first create. Latency: the POST sent → the watch event with every "
        "container running (upstream's pod startup SLI).",
        "",
        markdown_table(["what", "n", "p50", "p90", "p99", "max", "p50 / floor"], [
            ["pod: API → scheduler → kubelet → containerd + VPC CNI", str(len(p)), ms(percentile(p, .5)),
             ms(percentile(p, .9)), ms(percentile(p, .99)), ms(max(p)),
             f"{percentile(p, .5) / percentile(r, .5):.1f}x"],
            ["floor: `runc run -d`, same busybox binary", str(len(r)), ms(percentile(r, .5)), ms(percentile(r, .9)),
             ms(percentile(r, .99)), ms(max(r)), "1x"]]),
        "",
        # Does a start get slower as the nodes fill up? The first and the last fifth side by side.
        f"p50 of the first {fifth} pods created: {ms(percentile(p[:fifth], .5))}; of the last {fifth} "
        f"(the nodes then hold {len(p) - fifth}+ pods between them): {ms(percentile(p[-fifth:], .5))}.",
        "",
        "Where the time goes: each stage's time after the POST (wall clock; sandbox and container times "
        "are containerd's own timestamps, so each stage includes the ones before it).",
        "",
        markdown_table(["stage", "n", "p50", "p90", "p99"], [
            [stage, str(len(values)), ms(percentile(values, .5)), ms(percentile(values, .9)),
             ms(percentile(values, .99))] for stage, values in result.stages.items() if values]),
        "",
        f"`kubeplane down` with the {len(p)} pods still running: {result.down_s:.1f} s (every process, "
        "pod, mount, cgroup, netns and the VPC removed).",
        "",
        f"Upstream's SLO: p99 ≤ 5 s; target here: p99 ≤ 1 s → "
        f"{'met' if percentile(p, .99) <= 1.0 else 'not met'} (p99 {ms(percentile(p, .99))}).",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20 pods instead of 100")
    parser.add_argument("--pods", type=int, default=None, help="pods to start (default 100, 20 with --quick)")
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--instance-type", default="m5.2xlarge", help="EKS instance type (max pods per node)")
    parser.add_argument("--in-flight", type=int, default=2, help="pods starting at the same time")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for any one pod")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    opts = parser.parse_args()
    if os.geteuid() != 0 or shutil.which("runc") is None:
        print("pod_startup needs root (nodes are network namespaces) and runc", file=sys.stderr)
        return 2
    if opts.pods is None:
        opts.pods = 20 if opts.quick else 100
    result = run_bench(opts)
    body = report(result, opts)
    print(body)
    if not opts.no_write:
        write_section(RESULTS, "pod_startup", body, RESULTS_HEADER)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
