"""Hollow nodes at scale: N hollow nodes heart-beating while M pods are created and reported Running.

    .venv/bin/python bench/hollow.py                  # 5,000 nodes, 50,000 pods
    .venv/bin/python bench/hollow.py --quick          # 500 nodes, 5,000 pods
    .venv/bin/python bench/hollow.py --nodes 2000 --pods 20000 --processes 1

One etcd, one API server, one controller manager (node lifecycle: it marks nodes whose Lease goes
stale NotReady), one scheduler and ``kubeplane hollow-nodes --count N`` (``--processes K``), all
on loopback. Phases:

1. start-up: from spawning the hollow process until every node is Ready (a node informer in the
   bench counts them);
2. idle: 30 s (``--idle``) of heartbeats alone: Lease renewals per second, CPU per second of the
   hollow process(es) and the API server, API latency;
3. pods: M pods created directly by the bench (unbound, ``--create-concurrency`` in flight; the
   scheduler binds them, the hollow kubelets run them and write their status), until the bench's
   pod informer sees all M Running. Pods/s is M over that whole window.

Throughout, a Lease informer records every node's renewal gaps as the bench sees them arrive (the
node lifecycle controller declares a node Unknown after 40 s without one), the node informer
records every Ready → not Ready transition, and the pod informer records when each pod was seen
created, bound (``spec.nodeName``) and Running, so the stage that limits pods/s shows up.

API latency during phases 2 and 3 comes from a side client that, 5 times a second, GETs a node
(a consistent read, from etcd) and LISTs 50 nodes from the watch cache (``resourceVersion=0``):
what a controller or kubectl sees while the fleet runs; the pods' create latency comes from the
creates themselves. RSS is the peak of 1 s samples of every process.
Results are printed and written to the hollow section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Awaitable, Sequence
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
    Measurement,
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
LEASE_NAMESPACE = "kube-node-lease"
# The node lifecycle controller's --node-monitor-grace-period.
GRACE_PERIOD = 40.0


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


def distribution(samples: Sequence[float]) -> tuple[float, float, float]:
    """(p50, p99, max) of ``samples``."""
    return percentile(samples, .5), percentile(samples, .99), max(samples, default=float("nan"))


# -- what the bench watches -------------------------------------------------------------------------


@dataclass
class LeaseGaps:
    """Per node, the time between two Lease renewals as the bench's watch sees them arrive."""

    last: dict[str, float] = field(default_factory=dict)
    gaps: list[float] = field(default_factory=list)
    renewals: int = 0

    def seen(self, lease: JSON) -> None:
        name = lease["metadata"]["name"]
        now = time.monotonic()
        previous = self.last.get(name)
        if previous is not None:
            self.gaps.append(now - previous)
            self.renewals += 1
        self.last[name] = now

    def changed(self, old: JSON, new: JSON) -> None:
        if (old.get("spec") or {}).get("renewTime") != (new.get("spec") or {}).get("renewTime"):
            self.seen(new)

    def since_last(self, name: str) -> float:
        last = self.last.get(name)
        return time.monotonic() - last if last is not None else float("nan")

    def reset(self) -> None:
        self.gaps.clear()
        self.renewals = 0

    def over_grace(self) -> int:
        return sum(1 for gap in self.gaps if gap > GRACE_PERIOD)


@dataclass
class NodeWatch:
    """Ready nodes, and every Ready → not Ready transition (with the bench's view of the Lease then)."""

    leases: LeaseGaps
    expected: int
    ready: set[str] = field(default_factory=set)
    all_ready: asyncio.Event = field(default_factory=asyncio.Event)
    # (node, reason of its Ready condition, seconds since the bench saw its Lease renewed)
    transitions: list[tuple[str, str, float]] = field(default_factory=list)

    def seen(self, node: JSON) -> None:
        name = node["metadata"]["name"]
        if is_ready(node):
            self.ready.add(name)
        elif name in self.ready:
            self.ready.discard(name)
            reason = next((str(c.get("reason")) for c in (node.get("status") or {}).get("conditions") or []
                           if c.get("type") == "Ready"), "")
            self.transitions.append((name, reason, self.leases.since_last(name)))
        if len(self.ready) >= self.expected:
            self.all_ready.set()


@dataclass
class PodStages:
    """When the bench's pod informer first saw each pod created, bound and Running."""

    created: dict[str, float] = field(default_factory=dict)
    bound: dict[str, float] = field(default_factory=dict)
    running: dict[str, float] = field(default_factory=dict)
    expected: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def seen(self, pod: JSON) -> None:
        name, now = pod["metadata"]["name"], time.monotonic()
        self.created.setdefault(name, now)
        if (pod.get("spec") or {}).get("nodeName"):
            self.bound.setdefault(name, now)
        if (pod.get("status") or {}).get("phase") == "Running":
            self.running.setdefault(name, now)
            if len(self.running) >= self.expected:
                self.done.set()

    def waits(self) -> dict[str, list[float]]:
        """Seconds each pod spent in each stage."""
        return {"created → bound": [self.bound[n] - t for n, t in self.created.items() if n in self.bound],
                "bound → Running": [self.running[n] - t for n, t in self.bound.items() if n in self.running]}

    def rates(self) -> dict[str, float]:
        """Per stage, pods/s between the first and the last pod to reach it."""
        found = {}
        for stage, times in (("created", self.created), ("bound", self.bound), ("Running", self.running)):
            values = list(times.values())
            span = max(values) - min(values) if len(values) > 1 else 0.0
            found[stage] = len(values) / span if span > 0 else float("nan")
        return found


@dataclass
class Sampler:
    """API latency from a side client, and peak RSS of every process of the run."""

    client: Client
    pids: dict[str, int]  # name → pid (the hollow entry counts its whole process tree)
    node_name: str
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"get node": [], "list 50 nodes": []})
    rss_peak: dict[str, int] = field(default_factory=dict)
    load: list[float] = field(default_factory=list)  # 1-minute load average, once a second

    def reset(self) -> None:
        for samples in self.latencies.values():
            samples.clear()
        self.load.clear()

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
                self.sample_rss()
                self.load.append(os.getloadavg()[0])
            await asyncio.sleep(SAMPLE_INTERVAL)

    def sample_rss(self) -> None:
        for name, pid in self.pids.items():
            rss = tree_rss(pid) if name == "hollow" else 0
            if name != "hollow":
                with contextlib.suppress(OSError, RuntimeError):
                    rss = rss_bytes(pid)
            self.rss_peak[name] = max(self.rss_peak.get(name, 0), rss)

    def summary(self) -> dict[str, tuple[float, float, int]]:
        """verb → (p50 ms, p99 ms, samples)."""
        return {what: (percentile(s, .5) * 1000, percentile(s, .99) * 1000, len(s))
                for what, s in self.latencies.items()}


# -- results ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    seconds: float
    hollow_cpu: float
    apiserver_cpu: float
    latency: dict[str, tuple[float, float, int]]
    lease_gaps: tuple[float, float, float]  # p50, p99, max seconds between a node's renewals
    gaps_over_grace: int
    load: tuple[float, float]  # min, max 1-minute load average


@dataclass(frozen=True)
class PodsResult:
    created: int
    running: int
    create_latency: tuple[float, float]  # p50, p99 ms
    stage_waits: dict[str, tuple[float, float, float]]  # stage → p50, p99, max seconds
    stage_rates: dict[str, float]


@dataclass(frozen=True)
class Result:
    nodes: int
    pods: int
    processes: int
    nodes_ready_s: float
    lease_writes_per_s: float
    idle: Phase
    pods_phase: Phase | None
    pods_result: PodsResult | None
    rss_mib: dict[str, float]
    not_ready_at_end: int
    transitions: list[tuple[str, str, float]]


def pod_manifest(name: str) -> JSON:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "hollow-bench"}},
            "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9",
                                     "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}],
                     "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 0}}


async def measure_phase(sampler: Sampler, leases: LeaseGaps, hollow: StartedProcess, apiserver_pid: int,
                        work: Awaitable[Any]) -> Phase:
    sampler.reset()
    leases.reset()
    hollow_before, api_before = tree_cpu(hollow.pid), cpu_seconds(apiserver_pid)
    begin = time.perf_counter()
    await work
    seconds = time.perf_counter() - begin
    load = (min(sampler.load), max(sampler.load)) if sampler.load else (os.getloadavg()[0],) * 2
    return Phase(seconds, tree_cpu(hollow.pid) - hollow_before, cpu_seconds(apiserver_pid) - api_before,
                 sampler.summary(), distribution(leases.gaps), leases.over_grace(), load)


async def wait_for(what: str, done: asyncio.Event, hollow: StartedProcess, timeout: float) -> bool:
    """Wait for ``done``; False if ``timeout`` passed first (the hollow process ending is an error)."""
    deadline = time.monotonic() + timeout
    while not done.is_set():
        if hollow.process.poll() is not None:
            raise RuntimeError(f"hollow-nodes exited:\n{hollow.log_tail()}")
        if time.monotonic() > deadline:
            print(f"timed out waiting for {what}", file=sys.stderr)
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 1.0)
    return True


async def run_case(opts: argparse.Namespace, nodes_count: int, pods_count: int) -> Result:
    case = argparse.Namespace(**{**vars(opts), "nodes": nodes_count, "pods": pods_count})
    return await _run_case(case)


async def _run_case(opts: argparse.Namespace) -> Result:
    with BenchRun(keep=opts.keep) as run:
        raise_open_file_limit(65536)
        etcd_url = await run.start_etcd()
        etcd_pid = run.started("etcd").pid
        endpoint = await run.start_apiserver(etcd_url)
        kubeconfig = write_kubeconfig(run.workdir / "admin.kubeconfig", endpoint)
        pids = {"API server": endpoint.started.pid, "etcd": etcd_pid}
        for component in ("controller-manager", "scheduler"):
            # One replica each, so no leader election: on a starved machine a replica that misses
            # its own lease renewal exits, and the bench would measure nothing (seen at load 24).
            pids[component] = run.spawn(component, [sys.executable, "-m", "kubeplane.cli", component,
                                                    f"--kubeconfig={kubeconfig}", "--leader-elect=false"]).pid
        apiserver_pid = endpoint.started.pid
        async with Client(load_kubeconfig(kubeconfig), component="bench", connection_limit=64) as client:
            leases = LeaseGaps()
            lease_informer = Informer(client, LEASES, namespace=LEASE_NAMESPACE)
            lease_informer.add_event_handler(EventHandlers(on_add=leases.seen, on_update=leases.changed))
            watch = NodeWatch(leases, opts.nodes)
            nodes = Informer(client, NODES, label_selector="kubeplane.io/hollow=true")
            nodes.add_event_handler(EventHandlers(on_add=watch.seen, on_update=lambda _, node: watch.seen(node)))
            for informer in (nodes, lease_informer):
                informer.start()
                await informer.wait_for_sync()
            begin = time.perf_counter()
            hollow = run.spawn("hollow-nodes", [
                sys.executable, "-m", "kubeplane.kubelet.hollow.app", f"--kubeconfig={kubeconfig}",
                f"--count={opts.nodes}", "--name-prefix=hollow-", f"--root-dir={run.workdir / 'hollow'}",
                f"--processes={opts.processes}", f"--start-rate={opts.start_rate}",
                f"--idle-resync={opts.idle_resync}", *([f"--max-pods={opts.max_pods}"] if opts.max_pods else []),
                *opts.hollow_flag])
            pids["hollow"] = hollow.pid
            if not await wait_for(f"{opts.nodes} Ready nodes", watch.all_ready, hollow, opts.timeout):
                raise RuntimeError(f"only {len(watch.ready)} of {opts.nodes} nodes became Ready")
            nodes_ready_s = time.perf_counter() - begin
            print(f"{opts.nodes} nodes Ready after {nodes_ready_s:.1f} s", file=sys.stderr)
            watch.transitions.clear()  # from here on, every node was Ready once

            sampler = Sampler(client, pids, "hollow-0")
            sampling = asyncio.create_task(sampler.run())
            try:
                idle_phase = await measure_phase(sampler, leases, hollow, apiserver_pid, asyncio.sleep(opts.idle))
                lease_rate = leases.renewals / idle_phase.seconds
                print(f"idle: {lease_rate:.0f} lease renewals/s, {idle_phase}", file=sys.stderr)
                pods_phase = pods_result = None
                if opts.pods:
                    stages = PodStages(expected=opts.pods)
                    creates: list[Measurement] = []
                    pods_phase = await measure_phase(sampler, leases, hollow, apiserver_pid,
                                                     create_and_wait(client, opts, hollow, stages, creates))
                    pods_result = pods_summary(stages, creates)
                    print(f"pods: {pods_phase}\n{pods_result}", file=sys.stderr)
            finally:
                sampling.cancel()
                await asyncio.gather(sampling, return_exceptions=True)
            not_ready = opts.nodes - len(watch.ready)
            for informer in (nodes, lease_informer):
                await informer.stop()
            return Result(opts.nodes, opts.pods, opts.processes, nodes_ready_s, lease_rate, idle_phase,
                          pods_phase, pods_result, {k: v / 2**20 for k, v in sampler.rss_peak.items()},
                          not_ready, list(watch.transitions))


def pods_summary(stages: PodStages, creates: list[Measurement]) -> PodsResult:
    latencies = creates[0].latencies if creates else ()
    return PodsResult(len(stages.created), len(stages.running),
                      (percentile(latencies, .5) * 1000, percentile(latencies, .99) * 1000),
                      {stage: distribution(waits) for stage, waits in stages.waits().items()}, stages.rates())


async def create_and_wait(client: Client, opts: argparse.Namespace, hollow: StartedProcess, stages: PodStages,
                          creates: list[Measurement]) -> None:
    await ensure_namespace(client, NAMESPACE)
    pods = Informer(client, PODS, namespace=NAMESPACE)
    pods.add_event_handler(EventHandlers(on_add=stages.seen, on_update=lambda _, pod: stages.seen(pod)))
    pods.start()
    await pods.wait_for_sync()
    progress = asyncio.create_task(report_progress(stages))
    creating = asyncio.create_task(run_concurrently(
        lambda index: client.create(PODS, pod_manifest(f"pod-{index}"), NAMESPACE),
        opts.pods, opts.create_concurrency))
    try:
        await wait_for(f"{opts.pods} Running pods", stages.done, hollow, opts.timeout)
        if creating.done():
            creates.append(creating.result())
    finally:
        creating.cancel()
        progress.cancel()
        await asyncio.gather(creating, progress, return_exceptions=True)
        await pods.stop()


async def report_progress(stages: PodStages) -> None:
    begin = time.perf_counter()
    while True:
        await asyncio.sleep(15)
        print(f"  {time.perf_counter() - begin:.0f} s: {len(stages.created)} created, {len(stages.bound)} bound, "
              f"{len(stages.running)}/{stages.expected} Running, load {os.getloadavg()[0]:.1f}", file=sys.stderr)


# -- reporting -------------------------------------------------------------------------------------


def latency_cells(phase: Phase | None) -> list[str]:
    if phase is None:
        return ["-", "-"]
    return [f"{p50:.0f} / {p99:.0f} ms (n={n})" for p50, p99, n in phase.latency.values()]


def gap_cell(phase: Phase | None) -> str:
    if phase is None:
        return "-"
    p50, p99, worst = phase.lease_gaps
    return f"{p50:.1f} / {p99:.1f} / {worst:.1f} s ({phase.gaps_over_grace} > {GRACE_PERIOD:.0f} s)"


def load_cell(phase: Phase | None) -> str:
    return "-" if phase is None else f"{phase.load[0]:.1f} to {phase.load[1]:.1f}"


def report(results: Sequence[Result], quick: bool, notes: str = "") -> str:
    machine = machine_description()
    lines = ["## Hollow nodes at scale (`bench/hollow.py`" + (" --quick" if quick else "") + ")", "",
             f"Run {machine['date']} on {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory']} RAM, "
             f"Python {machine['python']}, etcd {machine['etcd']}, Linux {machine['kernel']}. One etcd, one API "
             "server, one controller manager, one scheduler and `kubeplane hollow-nodes` on loopback, all on "
             "the same 2 cores (shared with other work: the load average is in the tables). Pods are created "
             "directly by the bench (unbound, pause image, 10m CPU), bound by the scheduler and run by the "
             "hollow kubelets.", ""]
    rows = []
    for r in results:
        idle = r.idle
        rows.append([
            f"{r.nodes:,}", str(r.processes), f"{r.nodes_ready_s:.0f} s", f"{r.lease_writes_per_s:.0f}",
            f"{idle.hollow_cpu / idle.seconds:.2f} / {idle.apiserver_cpu / idle.seconds:.2f}",
            *latency_cells(idle), gap_cell(idle), load_cell(idle)])
    lines += ["Idle (heartbeats only):", "", markdown_table([
        "nodes", "procs", "all Ready after", "lease renewals/s", "CPU cores hollow / API",
        "get node p50/p99", "list 50 nodes p50/p99", "lease gap p50/p99/max", "load avg"], rows), ""]
    rows = []
    for r in results:
        pods, res = r.pods_phase, r.pods_result
        if pods is None or res is None:
            continue
        finished = res.running >= r.pods
        waits = res.stage_waits
        rows.append([
            f"{r.nodes:,}", f"{r.pods:,}",
            (f"{pods.seconds:.0f} s ({r.pods / pods.seconds:.0f}/s)" if finished
             else f"not all: {res.running:,} after {pods.seconds:.0f} s"),
            f"{res.create_latency[0]:.0f} / {res.create_latency[1]:.0f} ms",
            " / ".join(f"{res.stage_rates[s]:.0f}" for s in ("created", "bound", "Running")),
            " · ".join(f"{waits[s][0]:.1f} / {waits[s][1]:.1f} s" for s in ("created → bound", "bound → Running")),
            f"{pods.hollow_cpu / pods.seconds:.2f} / {pods.apiserver_cpu / pods.seconds:.2f}",
            *latency_cells(pods), gap_cell(pods), load_cell(pods)])
    if rows:
        lines += ["Pods (created, bound and run while the nodes heart-beat):", "", markdown_table([
            "nodes", "pods", "all Running after", "create p50/p99", "pods/s created / bound / Running",
            "wait p50/p99: created → bound · bound → Running", "CPU cores hollow / API", "get node p50/p99",
            "list 50 nodes p50/p99", "lease gap p50/p99/max", "load avg"], rows), ""]
    rows = [[f"{r.nodes:,}", *(f"{r.rss_mib.get(n, 0):,.0f} MiB" for n in
                               ("hollow", "API server", "etcd", "scheduler", "controller-manager")),
             f"{len(r.transitions)}", f"{r.not_ready_at_end}"] for r in results]
    lines += ["Memory (peak RSS) and node health after all were Ready once:", "", markdown_table([
        "nodes", "hollow", "API server", "etcd", "scheduler", "controller manager",
        "Ready → not Ready transitions", "nodes not Ready at end"], rows), ""]
    lines += [
        "- **lease renewals/s**: Lease renewals seen by the bench's Lease informer during the idle "
        "phase; the expected rate is nodes / 10 s (a 40 s Lease renewed every quarter of it).",
        "- **lease gap**: per node, the time between two renewals as the bench's watch saw them "
        "arrive; the node lifecycle controller marks a node Unknown after 40 s without one.",
        "- **CPU cores**: CPU seconds used during the phase / the phase's wall time, for the hollow "
        "process tree and the API server.",
        "- **get node / list 50 nodes**: a side client's GET of one Node (consistent read, etcd) and "
        "LIST `limit=50&resourceVersion=0`, 5 times a second, during the phase; **create**: the "
        "bench's pod creates (`--create-concurrency` in flight).",
        "- **pods/s per stage**: pods that reached the stage / the time between the first and the "
        "last to reach it, from the bench's pod informer; **wait**: per pod, seen created → seen "
        "bound, seen bound → seen Running.",
    ]
    if notes:
        lines += ["", notes.strip()]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="500 nodes, 5,000 pods")
    parser.add_argument("--nodes", type=int, default=None)
    parser.add_argument("--pods", type=int, default=None)
    parser.add_argument("--sizes", default="", help="NODESxPODS,... run one after another (instead of --nodes/--pods)")
    # Two processes: 5,000 kubelets with tens of thousands of pods are more than one core of Python.
    parser.add_argument("--processes", type=int, default=2, help="hollow-nodes --processes")
    parser.add_argument("--start-rate", type=float, default=200.0, help="hollow nodes started per second")
    parser.add_argument("--create-concurrency", type=int, default=16)
    parser.add_argument("--max-pods", type=int, default=None, help="hollow-nodes --max-pods")
    # Container changes wake the hollow pod workers at once (the PLEG's job); a re-sync of every pod
    # each minute would be most of the hollow processes' work at 50,000 pods.
    parser.add_argument("--idle-resync", default="10m", help="hollow-nodes --idle-resync")
    parser.add_argument("--hollow-flag", action="append", default=[],
                        help="an extra hollow-nodes flag, e.g. --hollow-flag=--api-in-flight=64 (repeatable)")
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of the heartbeat-only phase")
    parser.add_argument("--timeout", type=float, default=1500.0,
                        help="seconds to wait for all nodes Ready, and for all pods Running (then it reports "
                             "how many were)")
    parser.add_argument("--notes", default="", help="a file whose text is appended to the docs section")
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
    notes = Path(opts.notes).read_text() if opts.notes else ""
    body = report(results, opts.quick, notes)
    print(body)
    if not opts.no_write:
        write_section(RESULTS, "hollow", body, RESULTS_HEADER)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
