"""Hollow nodes at scale: N hollow nodes heart-beating while M pods are created and reported Running.

    .venv/bin/python bench/hollow.py                  # 5,000 nodes, 50,000 pods
    .venv/bin/python bench/hollow.py --quick          # 500 nodes, 5,000 pods
    .venv/bin/python bench/hollow.py --nodes 2000 --pods 20000 --processes 2

One etcd, one API server, one controller manager (node lifecycle: it marks nodes whose Lease goes
stale NotReady), one scheduler and ``kubeplane hollow-nodes --count N`` (``--processes K``), all
on loopback. Phases:

1. start-up: from spawning the hollow process until every node is Ready (a node informer in the
   bench counts them);
2. idle: 30 s (``--idle``) of heartbeats alone: Lease renewals per second seen by a Lease watch,
   CPU per second of the hollow process(es) and the API server, API latency;
3. pods: M pods created directly by the bench (unbound, ``--create-concurrency`` in flight; the
   scheduler binds them, the hollow kubelets run them and write their status), until the bench's
   pod informer sees all M Running. Pods/s is M over that whole window.

API latency during phases 2 and 3 comes from a side client that, 5 times a second, GETs a node
(a consistent read, from etcd) and LISTs 50 nodes from the watch cache (``resourceVersion=0``):
what a controller or kubectl sees while the fleet runs. RSS is the peak of 1 s samples.
Results are printed and written to the hollow section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from kubeplane.client import ApiError, Client, EventHandlers, Informer, load_kubeconfig
from kubeplane.client.resource import LEASES, NODES, PODS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (
    RESULTS,
    RESULTS_HEADER,
    BenchRun,
    StartedProcess,
    machine_description,
    markdown_table,
    percentile,
    raise_open_file_limit,
    rss_bytes,
    run_concurrently,
    write_section,
)
from pods import cpu_seconds, ensure_namespace, is_ready, write_kubeconfig

JSON = dict[str, Any]
NAMESPACE = "bench-hollow"
SAMPLE_INTERVAL = 0.2


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (``--processes K`` runs the nodes in children)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                queue += [int(c) for c in Path(f"/proc/{current}/task/{task}/children").read_text().split()]
    return found


def tree_cpu(pid: int) -> float:
    total = 0.0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            total += cpu_seconds(member)
    return total


def tree_rss(pid: int) -> int:
    total = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError, RuntimeError):
            total += rss_bytes(member)
    return total


@dataclass
class Sampler:
    """API latency from a side client, and peak RSS of the hollow process tree and the API server."""

    client: Client
    hollow_pid: int
    apiserver_pid: int
    node_name: str
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"get node": [], "list 50 nodes": []})
    hollow_rss_peak: int = 0
    apiserver_rss_peak: int = 0

    def reset(self) -> None:
        for samples in self.latencies.values():
            samples.clear()

    async def run(self) -> None:
        last_rss = 0.0
        while True:
            begin = time.perf_counter()
            with contextlib.suppress(ApiError, aiohttp.ClientError, TimeoutError):
                await self.client.get(NODES, self.node_name)
                self.latencies["get node"].append(time.perf_counter() - begin)
            begin = time.perf_counter()
            with contextlib.suppress(ApiError, aiohttp.ClientError, TimeoutError):
                await self.client.list(NODES, limit=50, resource_version="0")
                self.latencies["list 50 nodes"].append(time.perf_counter() - begin)
            if time.monotonic() - last_rss >= 1.0:
                last_rss = time.monotonic()
                self.hollow_rss_peak = max(self.hollow_rss_peak, tree_rss(self.hollow_pid))
                with contextlib.suppress(OSError, RuntimeError):
                    self.apiserver_rss_peak = max(self.apiserver_rss_peak, rss_bytes(self.apiserver_pid))
            await asyncio.sleep(SAMPLE_INTERVAL)

    def summary(self) -> dict[str, tuple[float, float, int]]:
        """verb → (p50 ms, p99 ms, samples)."""
        return {what: (percentile(s, .5) * 1000, percentile(s, .99) * 1000, len(s))
                for what, s in self.latencies.items()}


@dataclass(frozen=True)
class Phase:
    seconds: float
    hollow_cpu: float
    apiserver_cpu: float
    latency: dict[str, tuple[float, float, int]]


@dataclass(frozen=True)
class Result:
    nodes: int
    pods: int
    processes: int
    nodes_ready_s: float
    lease_writes_per_s: float
    idle: Phase
    pods_phase: Phase | None
    hollow_rss_mib: float
    apiserver_rss_mib: float
    not_ready_at_end: int


def pod_manifest(name: str) -> JSON:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "hollow-bench"}},
            "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9",
                                     "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}],
                     "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 0}}


async def count_lease_renewals(client: Client, seconds: float) -> float:
    """Lease MODIFIED events per second in kube-node-lease over ``seconds``."""
    seen = 0
    listed = await client.list(LEASES, "kube-node-lease", limit=1)
    version = str(listed["metadata"]["resourceVersion"])

    async def watch() -> None:
        nonlocal seen
        async with contextlib.aclosing(client.watch(LEASES, "kube-node-lease", resource_version=version)) as events:
            async for event in events:
                if event.type == "MODIFIED":
                    seen += 1

    task = asyncio.create_task(watch())
    await asyncio.sleep(seconds)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return seen / seconds


async def measure_phase(sampler: Sampler, hollow: StartedProcess, apiserver_pid: int, work: Any) -> Phase:
    sampler.reset()
    hollow_before, api_before = tree_cpu(hollow.pid), cpu_seconds(apiserver_pid)
    begin = time.perf_counter()
    await work
    seconds = time.perf_counter() - begin
    return Phase(seconds, tree_cpu(hollow.pid) - hollow_before, cpu_seconds(apiserver_pid) - api_before,
                 sampler.summary())


async def wait_for(what: str, done: asyncio.Event, hollow: StartedProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done.is_set():
        if hollow.process.poll() is not None:
            raise RuntimeError(f"hollow-nodes exited:\n{hollow.log_tail()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 1.0)


async def run_case(opts: argparse.Namespace, nodes_count: int, pods_count: int) -> Result:
    case = argparse.Namespace(**{**vars(opts), "nodes": nodes_count, "pods": pods_count})
    return await _run_case(case)


async def _run_case(opts: argparse.Namespace) -> Result:
    with BenchRun(keep=opts.keep) as run:
        raise_open_file_limit(65536)
        etcd_url = await run.start_etcd()
        endpoint = await run.start_apiserver(etcd_url)
        kubeconfig = write_kubeconfig(run.workdir / "admin.kubeconfig", endpoint)
        for component in ("controller-manager", "scheduler"):
            run.spawn(component, [sys.executable, "-m", "kubeplane.cli", component, f"--kubeconfig={kubeconfig}"])
        apiserver_pid = endpoint.started.pid
        async with Client(load_kubeconfig(kubeconfig), component="bench", connection_limit=64) as client:
            nodes = Informer(client, NODES, label_selector="kubeplane.io/hollow=true")
            ready: set[str] = set()
            all_ready = asyncio.Event()

            def node_seen(node: JSON) -> None:
                name = node["metadata"]["name"]
                if is_ready(node):
                    ready.add(name)
                else:
                    ready.discard(name)
                if len(ready) >= opts.nodes:
                    all_ready.set()

            nodes.add_event_handler(EventHandlers(on_add=node_seen, on_update=lambda _, node: node_seen(node)))
            nodes.start()
            await nodes.wait_for_sync()
            begin = time.perf_counter()
            hollow = run.spawn("hollow-nodes", [
                sys.executable, "-m", "kubeplane.kubelet.hollow.app", f"--kubeconfig={kubeconfig}",
                f"--count={opts.nodes}", "--name-prefix=hollow-", f"--root-dir={run.workdir / 'hollow'}",
                f"--processes={opts.processes}", f"--start-rate={opts.start_rate}",
                *([f"--max-pods={opts.max_pods}"] if opts.max_pods else [])])
            await wait_for(f"{opts.nodes} Ready nodes", all_ready, hollow, opts.timeout)
            nodes_ready_s = time.perf_counter() - begin
            print(f"{opts.nodes} nodes Ready after {nodes_ready_s:.1f} s", file=sys.stderr)

            sampler = Sampler(client, hollow.pid, apiserver_pid, "hollow-0")
            sampling = asyncio.create_task(sampler.run())
            try:
                renewals: list[float] = []

                async def idle() -> None:
                    renewals.append(await count_lease_renewals(client, opts.idle))

                idle_phase = await measure_phase(sampler, hollow, apiserver_pid, idle())
                print(f"idle: {renewals[0]:.0f} lease renewals/s, {idle_phase}", file=sys.stderr)
                pods_phase = None
                if opts.pods:
                    pods_phase = await measure_phase(sampler, hollow, apiserver_pid,
                                                     create_and_wait(client, opts, hollow))
                    print(f"pods: {pods_phase}", file=sys.stderr)
            finally:
                sampling.cancel()
                await asyncio.gather(sampling, return_exceptions=True)
            not_ready = opts.nodes - len(ready)
            await nodes.stop()
            return Result(opts.nodes, opts.pods, opts.processes, nodes_ready_s, renewals[0], idle_phase,
                          pods_phase, sampler.hollow_rss_peak / 2**20, sampler.apiserver_rss_peak / 2**20,
                          not_ready)


async def create_and_wait(client: Client, opts: argparse.Namespace, hollow: StartedProcess) -> None:
    await ensure_namespace(client, NAMESPACE)
    pods = Informer(client, PODS, namespace=NAMESPACE)
    running: set[str] = set()
    bound: set[str] = set()
    done = asyncio.Event()

    def pod_seen(pod: JSON) -> None:
        if (pod.get("spec") or {}).get("nodeName"):
            bound.add(pod["metadata"]["name"])
        if (pod.get("status") or {}).get("phase") == "Running":
            running.add(pod["metadata"]["name"])
            if len(running) >= opts.pods:
                done.set()

    pods.add_event_handler(EventHandlers(on_add=pod_seen, on_update=lambda _, pod: pod_seen(pod)))
    pods.start()
    await pods.wait_for_sync()
    progress = asyncio.create_task(report_progress(pods, bound, running, opts.pods))
    try:
        creates = asyncio.create_task(run_concurrently(
            lambda index: client.create(PODS, pod_manifest(f"pod-{index}"), NAMESPACE),
            opts.pods, opts.create_concurrency))
        await wait_for(f"{opts.pods} Running pods", done, hollow, opts.timeout)
        await creates
    finally:
        progress.cancel()
        await asyncio.gather(progress, return_exceptions=True)
        await pods.stop()


async def report_progress(pods: Informer, bound: set[str], running: set[str], total: int) -> None:
    begin = time.perf_counter()
    while True:
        await asyncio.sleep(15)
        print(f"  {time.perf_counter() - begin:.0f} s: {len(pods.indexer)} created, {len(bound)} bound, "
              f"{len(running)}/{total} Running", file=sys.stderr)


# -- reporting -------------------------------------------------------------------------------------


def latency_cells(phase: Phase | None) -> list[str]:
    if phase is None:
        return ["-", "-"]
    return [f"{p50:.0f} / {p99:.0f} ms (n={n})" for p50, p99, n in phase.latency.values()]


def report(results: Sequence[Result], quick: bool) -> str:
    machine = machine_description()
    lines = ["## Hollow nodes at scale (`bench/hollow.py`" + (" --quick" if quick else "") + ")", "",
             f"Run {machine['date']} on {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory']} RAM, "
             f"Python {machine['python']}, etcd {machine['etcd']}, Linux {machine['kernel']}. One etcd, one API "
             "server, one controller manager, one scheduler and `kubeplane hollow-nodes` on loopback, all on "
             "the same 2 cores. Pods are created directly by the bench (unbound, pause image, 10m CPU), "
             "bound by the scheduler and run by the hollow kubelets.", ""]
    rows = []
    for r in results:
        idle, pods = r.idle, r.pods_phase
        rows.append([
            f"{r.nodes:,}", str(r.processes), f"{r.nodes_ready_s:.0f} s", f"{r.lease_writes_per_s:.0f}",
            f"{idle.hollow_cpu / idle.seconds:.2f} / {idle.apiserver_cpu / idle.seconds:.2f}",
            *latency_cells(idle),
            f"{r.pods:,}",
            f"{pods.seconds:.0f} s ({r.pods / pods.seconds:.0f}/s)" if pods else "-",
            f"{pods.hollow_cpu / pods.seconds:.2f} / {pods.apiserver_cpu / pods.seconds:.2f}" if pods else "-",
            *latency_cells(pods),
            f"{r.hollow_rss_mib:,.0f} / {r.apiserver_rss_mib:,.0f} MiB", str(r.not_ready_at_end)])
    lines += [markdown_table([
        "nodes", "procs", "all Ready after", "lease renewals/s (idle)", "CPU cores hollow / API (idle)",
        "get node p50/p99 (idle)", "list 50 nodes p50/p99 (idle)", "pods", "all Running after",
        "CPU cores hollow / API (pods)", "get node p50/p99 (pods)", "list 50 nodes p50/p99 (pods)",
        "peak RSS hollow / API", "nodes not Ready at end"], rows), ""]
    lines += [
        "- **lease renewals/s**: Lease updates seen by a watch on kube-node-lease during the idle phase; "
        "the expected rate is nodes / 10 s (a 40 s Lease renewed every quarter of it).",
        "- **CPU cores**: CPU seconds used during the phase / the phase's wall time, for the hollow "
        "process tree and the API server.",
        "- **get node / list 50 nodes**: a side client's GET of one Node (consistent read, etcd) and "
        "LIST `limit=50&resourceVersion=0`, 5 times a second, during the phase.",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="500 nodes, 5,000 pods")
    parser.add_argument("--nodes", type=int, default=None)
    parser.add_argument("--pods", type=int, default=None)
    parser.add_argument("--sizes", default="", help="NODESxPODS,... run one after another (instead of --nodes/--pods)")
    parser.add_argument("--processes", type=int, default=1, help="hollow-nodes --processes")
    parser.add_argument("--start-rate", type=float, default=200.0, help="hollow nodes started per second")
    parser.add_argument("--create-concurrency", type=int, default=16)
    # Fake addresses come from 198.18.0.0/16, one power-of-two block per node: m5.large's 29 pods
    # need a /27, so 2,048 nodes; --max-pods 5 (a /29) lets 8,192 nodes fit.
    parser.add_argument("--max-pods", type=int, default=None, help="hollow-nodes --max-pods")
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of the heartbeat-only phase")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, etcd data)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    opts = parser.parse_args(argv)
    opts.nodes = opts.nodes or (500 if opts.quick else 5000)
    opts.pods = opts.pods if opts.pods is not None else (5000 if opts.quick else 50000)
    opts.cases = [tuple(int(part) for part in size.split("x")) for size in opts.sizes.split(",") if size] \
        or [(opts.nodes, opts.pods)]
    return opts


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    results = []
    for nodes_count, pods_count in opts.cases:
        results.append(asyncio.run(run_case(opts, nodes_count, pods_count)))
        print(results[-1], file=sys.stderr)
    body = report(results, opts.quick)
    print(body)
    if not opts.no_write:
        write_section(RESULTS, "hollow", body, RESULTS_HEADER)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
