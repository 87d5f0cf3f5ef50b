"""Scheduler throughput and latency through the real API server and etcd, beside its floor.

    .venv/bin/python bench/scheduler.py            # full: 5,000 nodes with 10,000 and 50,000 pods, + affinity
    .venv/bin/python bench/scheduler.py --quick    # 100 nodes/1,000 pods and a small affinity run (~1 min)
    .venv/bin/python bench/scheduler.py --workload 1000:5000 --workload 5000:2000:affinity --phases backlog,noop

Modelled on upstream scheduler_perf's SchedulingBasic: Node objects only (no kubelets; 4 CPUs,
32 GiB, 110 pods each, spread over three zones), pods requesting 100m CPU and 500 MiB. The
``affinity`` workload gives each pod a group of 20 (label ``group``), a required pod
anti-affinity against its group per hostname, and a topology spread constraint on the zone
(maxSkew 1, DoNotSchedule) for its group: upstream's SchedulingPodAntiAffinity and
TopologySpreading in one. Per workload, with a fresh ``kubeplane scheduler`` process (leader
election off, its own profile name), the phases chosen with ``--phases``:

* floor: the same number of pods, created for a scheduler nobody runs, then bound by the bench
  itself with ``POST pods/<name>/binding`` round-robin over the nodes: the API cost of the
  binding writes alone, which no scheduler can beat;
* steady: the scheduler is running and the bench creates pods; throughput is pods bound per
  second over the whole window, latency is create sent → the bench's watch sees ``nodeName``;
* backlog: the pods exist before their scheduler starts (upstream's measured phase: everything
  pending); throughput from the scheduler's readiness (informers synced) to the last binding;
* noop: as backlog, but the scheduler runs inside the bench process with DefaultBinder replaced
  by a binder that makes no API call (the pod is still assumed): the scheduling cycle alone, to
  show how much of backlog's time is the binding writes.

The mean time the scheduler spends per attempt comes from its own
``scheduler_scheduling_attempt_duration_seconds`` (read from ``/metrics``), to show where the time
goes. Results are printed and written to the scheduler section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import logging
import re
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from kubeplane.client import ApiError, Client, load_kubeconfig
from kubeplane.client.resource import NAMESPACES, NODES, PODS
from kubeplane.component.etcd import free_port
from kubeplane.scheduler import gc_tuning
from kubeplane.scheduler.framework.config import parse_config
from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.nodeinfo import PodInfo
from kubeplane.scheduler.framework.status import Status
from kubeplane.scheduler.metrics import SchedulerMetrics
from kubeplane.scheduler.plugins import defaultbinder
from kubeplane.scheduler.plugins.registry import in_tree_registry
from kubeplane.scheduler.scheduler import Scheduler

sys.path.insert(0, str(Path(__file__).resolve().parent))
# bench/ is not a package: its directory goes on the path before the shared helpers are imported.
from _harness import (
    LOOPBACK,
    RESULTS,
    RESULTS_HEADER,
    APIServerEndpoint,
    BenchRun,
    Measurement,
    StartedProcess,
    machine_description,
    markdown_table,
    run_concurrently,
    write_section,
)

JSON = dict[str, Any]
CREATE_CONCURRENCY = 16
BIND_CONCURRENCY = 32
UNSERVED_SCHEDULER = "bench-nobody"
_BOUND_TIMEOUT = 600.0


BASIC, AFFINITY = "basic", "affinity"
KINDS = (BASIC, AFFINITY)
PHASES = ("floor", "steady", "backlog", "noop")
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
GROUP_SIZE = 20  # pods per anti-affinity / spread group in the affinity workload


@dataclass(frozen=True)
class Workload:
    nodes: int
    pods: int
    kind: str = BASIC


QUICK = (Workload(100, 1000), Workload(100, 300, AFFINITY))
FULL = (Workload(5000, 10000), Workload(5000, 50000), Workload(5000, 2000, AFFINITY))


@dataclass
class Result:
    workload: Workload
    # phase -> measurement: floor/steady carry latencies (steady: create -> bound), backlog/noop throughput only
    phases: dict[str, Measurement] = field(default_factory=dict)
    steady_create_rate: float = float("nan")
    # phase -> the scheduler's own means (algorithm ms per pod, attempt ms including the binding)
    timings: dict[str, tuple[float, float]] = field(default_factory=dict)
    seconds: float = 0.0  # wall time of the whole workload, node creation included


# -- objects ------------------------------------------------------------------------------------------


def node_manifest(name: str, index: int) -> JSON:
    allocatable = {"cpu": "4", "memory": "32Gi", "pods": "110"}
    labels = {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": ZONES[index % len(ZONES)]}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
            "status": {"capacity": allocatable, "allocatable": allocatable,
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def pod_manifest(name: str, scheduler_name: str, kind: str = BASIC, index: int = 0) -> JSON:
    pod: JSON = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                 "spec": {"schedulerName": scheduler_name,
                          "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9",
                                          "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}}}]}}
    if kind == AFFINITY:
        group = {"group": f"g{index // GROUP_SIZE}"}
        pod["metadata"]["labels"] = group
        pod["spec"]["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": group}, "topologyKey": "kubernetes.io/hostname"}]}}
        pod["spec"]["topologySpreadConstraints"] = [
            {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
             "labelSelector": {"matchLabels": group}}]
    return pod


def write_kubeconfig(path: Path, api: APIServerEndpoint) -> Path:
    def b64(p: Path) -> str:
        return base64.b64encode(p.read_bytes()).decode()

    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "bench",
        "clusters": [{"name": "bench", "cluster": {"server": api.url,
                                                   "certificate-authority-data": b64(api.tls.ca_file)}}],
        "users": [{"name": "admin", "user": {"client-certificate-data": b64(api.tls.cert_file),
                                             "client-key-data": b64(api.tls.key_file)}}],
        "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "admin"}}],
    }
    path.write_text(yaml.safe_dump(config))
    return path


async def create_nodes(client: Client, names: Sequence[str]) -> None:
    async def create(i: int) -> None:
        body = node_manifest(names[i], i)
        created = await client.create(NODES, body)
        if not (created.get("status") or {}).get("allocatable"):  # status is dropped on create
            await client.patch(NODES, names[i], {"status": body["status"]}, subresource="status")

    await run_concurrently(create, len(names), CREATE_CONCURRENCY)


async def delete_nodes(client: Client, names: Sequence[str]) -> None:
    async def delete(i: int) -> None:
        with contextlib.suppress(ApiError):
            await client.delete(NODES, names[i])

    await run_concurrently(delete, len(names), CREATE_CONCURRENCY)


# -- watching bindings ----------------------------------------------------------------------------------


class BindingWatch:
    """Records when each pod of a namespace is first seen with a nodeName."""

    def __init__(self, client: Client, namespace: str) -> None:
        self.client = client
        self.namespace = namespace
        self.bound_at: dict[str, float] = {}
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        listed = await self.client.list(PODS, self.namespace, limit=1)
        version = str((listed.get("metadata") or {}).get("resourceVersion") or "")
        self._task = asyncio.get_running_loop().create_task(self._run(version))

    async def _run(self, version: str) -> None:
        while True:
            async with contextlib.aclosing(self.client.watch(PODS, self.namespace, resource_version=version)) as events:
                async for event in events:
                    obj = event.object
                    metadata = obj.get("metadata") or {}
                    if event.type == "BOOKMARK":
                        version = str(metadata.get("resourceVersion") or version)
                        continue
                    if event.type == "ERROR":
                        raise RuntimeError(f"watch failed: {obj}")
                    version = str(metadata.get("resourceVersion") or version)
                    name = str(metadata.get("name") or "")
                    if (obj.get("spec") or {}).get("nodeName") and name not in self.bound_at:
                        self.bound_at[name] = time.perf_counter()
                        self._changed.set()

    async def wait_for(self, count: int, timeout: float = _BOUND_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while len(self.bound_at) < count:
            if self._task is not None and self._task.done():
                self._task.result()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"only {len(self.bound_at)}/{count} pods bound in {timeout:g}s")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 5.0))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


# -- the scheduler process ---------------------------------------------------------------------------------


async def start_scheduler(run: BenchRun, kubeconfig: Path, scheduler_name: str) -> tuple[StartedProcess, str]:
    config = run.workdir / f"{scheduler_name}.yaml"
    config.write_text(yaml.safe_dump({"apiVersion": "kubescheduler.config.k8s.io/v1",
                                      "kind": "KubeSchedulerConfiguration",
                                      "profiles": [{"schedulerName": scheduler_name}]}))
    port = free_port()
    started = run.spawn(scheduler_name, [sys.executable, "-m", "kubeplane.scheduler.app",
                                         f"--kubeconfig={kubeconfig}", f"--config={config}", "--leader-elect=false",
                                         f"--bind-address={LOOPBACK}", f"--secure-port={port}"])
    base = f"http://{LOOPBACK}:{port}"
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() < deadline:
            if started.process.poll() is not None:
                raise RuntimeError(f"scheduler exited:\n{started.log_tail()}")
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                async with session.get(f"{base}/readyz") as response:
                    if response.status == 200:
                        return started, base
            await asyncio.sleep(0.05)
    raise TimeoutError(f"scheduler not ready:\n{started.log_tail()}")


def metric_means_ms(text: str) -> tuple[float, float]:
    """(algorithm ms per pod, attempt ms incl. binding) from a Prometheus text exposition."""
    def mean(metric: str) -> float:
        totals = {"sum": 0.0, "count": 0.0}
        for kind, value in re.findall(rf"^{metric}_(sum|count)(?:\{{[^}}]*\}})? (\S+)$", text, re.M):
            totals[kind] += float(value)
        return totals["sum"] / totals["count"] * 1000 if totals["count"] else float("nan")

    return (mean("scheduler_scheduling_algorithm_duration_seconds"),
            mean("scheduler_scheduling_attempt_duration_seconds"))


async def scheduler_timings_ms(base: str) -> tuple[float, float]:
    """The scheduler process's own means from /metrics."""
    async with aiohttp.ClientSession() as session, session.get(f"{base}/metrics") as response:
        return metric_means_ms(await response.text())


# -- one workload -------------------------------------------------------------------------------------------


async def create_namespace(client: Client, name: str) -> None:
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


async def create_pods(client: Client, namespace: str, prefix: str, count: int, scheduler_name: str,
                      kind: str) -> Measurement:
    async def create(i: int) -> None:
        await client.create(PODS, pod_manifest(f"{prefix}-{i}", scheduler_name, kind, i), namespace)

    return await run_concurrently(create, count, CREATE_CONCURRENCY)


async def measure_floor(client: Client, namespace: str, nodes: Sequence[str], workload: Workload) -> Measurement:
    await create_namespace(client, namespace)
    count = workload.pods

    async def bind(i: int) -> None:
        name = f"floor-{i}"
        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, "namespace": namespace},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": nodes[i % len(nodes)]}}
        await client.create(PODS, binding, namespace, subresource="binding", name=name)

    await create_pods(client, namespace, "floor", count, UNSERVED_SCHEDULER, workload.kind)
    return await run_concurrently(bind, count, BIND_CONCURRENCY)


async def measure_steady(run: BenchRun, client: Client, kubeconfig: Path, namespace: str,
                         workload: Workload) -> tuple[Measurement, float, tuple[float, float]]:
    """(create->bound measurement, create rate, the scheduler's own timings)."""
    count = workload.pods
    scheduler_name = f"bench-steady-{uuid.uuid4().hex[:6]}"
    started, base = await start_scheduler(run, kubeconfig, scheduler_name)
    await create_namespace(client, namespace)
    watch = BindingWatch(client, namespace)
    await watch.start()
    created_at: dict[str, float] = {}
    try:
        async def create(i: int) -> None:
            name = f"steady-{i}"
            created_at[name] = time.perf_counter()
            await client.create(PODS, pod_manifest(name, scheduler_name, workload.kind, i), namespace)

        begin = time.perf_counter()
        creates = await run_concurrently(create, count, CREATE_CONCURRENCY)
        await watch.wait_for(count)
        elapsed = max(watch.bound_at.values()) - begin
        latencies = tuple(watch.bound_at[name] - created_at[name] for name in created_at)
        timings = await scheduler_timings_ms(base)
        return Measurement(count, elapsed, latencies), creates.ops_per_second, timings
    finally:
        await watch.stop()
        run.stop(started)


async def measure_backlog(run: BenchRun, client: Client, kubeconfig: Path, namespace: str,
                          workload: Workload) -> tuple[Measurement, tuple[float, float]]:
    count = workload.pods
    scheduler_name = f"bench-backlog-{uuid.uuid4().hex[:6]}"
    await create_namespace(client, namespace)
    await create_pods(client, namespace, "backlog", count, scheduler_name, workload.kind)
    watch = BindingWatch(client, namespace)
    await watch.start()
    started, base = await start_scheduler(run, kubeconfig, scheduler_name)
    # Scheduling starts when the informers have synced, which is what /readyz reports.
    ready = time.perf_counter()
    try:
        await watch.wait_for(count)
        begin = min(ready, *watch.bound_at.values())
        timings = await scheduler_timings_ms(base)
        return Measurement(count, max(watch.bound_at.values()) - begin, ()), timings
    finally:
        await watch.stop()
        run.stop(started)


class NoopBinder:
    """Takes DefaultBinder's place: counts the pods it is asked to bind and writes nothing."""

    name = defaultbinder.NAME

    def __init__(self, wanted: int) -> None:
        self.wanted = wanted
        self.bound = 0
        self.done = asyncio.Event()

    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        self.bound += 1
        if self.bound >= self.wanted:
            self.done.set()
        return Status()


async def measure_noop(client: Client, namespace: str, workload: Workload) -> tuple[Measurement, tuple[float, float]]:
    """The backlog phase with a scheduler in this process whose binder makes no API call."""
    count = workload.pods
    scheduler_name = f"bench-noop-{uuid.uuid4().hex[:6]}"
    await create_namespace(client, namespace)
    await create_pods(client, namespace, "noop", count, scheduler_name, workload.kind)
    binder = NoopBinder(count)
    registry = {**in_tree_registry(), defaultbinder.NAME: lambda args, handle: binder}
    config = parse_config({"profiles": [{"schedulerName": scheduler_name}], "leaderElection": {"leaderElect": False}})
    metrics_registry = CollectorRegistry()
    # A scheduler process would log these to its own file; here they would flood the bench's output.
    logging.getLogger("kubeplane.client.events").setLevel(logging.ERROR)
    scheduler = Scheduler(client, config, registry, metrics=SchedulerMetrics(metrics_registry))
    # The garbage-collector settings of the scheduler process (scheduler/app.py), so this phase
    # measures the same cycle; undone afterwards for the bench's other phases.
    thresholds = gc.get_threshold()
    gc_tuning.raise_thresholds()
    scheduler.on_synced = gc_tuning.freeze_heap
    task = asyncio.get_running_loop().create_task(scheduler.run())
    try:
        while not scheduler.synced:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        ready = time.perf_counter()
        await asyncio.wait_for(binder.done.wait(), _BOUND_TIMEOUT)
        elapsed = time.perf_counter() - ready
        return Measurement(count, elapsed, ()), metric_means_ms(generate_latest(metrics_registry).decode())
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        gc.unfreeze()
        gc.set_threshold(*thresholds)


async def run_workload(run: BenchRun, client: Client, kubeconfig: Path, workload: Workload, index: int,
                       phases: Sequence[str]) -> Result:
    nodes = [f"w{index}-node-{i}" for i in range(workload.nodes)]
    print(f"workload {index}: {workload.nodes} nodes, {workload.pods} pods ({workload.kind})", file=sys.stderr)
    began = time.perf_counter()
    result = Result(workload)
    await create_nodes(client, nodes)
    try:
        if "floor" in phases:
            result.phases["floor"] = await measure_floor(client, f"bench-floor-{index}", nodes, workload)
            print(f"  floor: {result.phases['floor'].ops_per_second:.0f} bindings/s", file=sys.stderr)
        if "steady" in phases:
            steady, result.steady_create_rate, result.timings["steady"] = await measure_steady(
                run, client, kubeconfig, f"bench-steady-{index}", workload)
            result.phases["steady"] = steady
            print(f"  steady: {steady.ops_per_second:.0f} pods/s", file=sys.stderr)
        if "backlog" in phases:
            result.phases["backlog"], result.timings["backlog"] = await measure_backlog(
                run, client, kubeconfig, f"bench-backlog-{index}", workload)
            print(f"  backlog: {result.phases['backlog'].ops_per_second:.0f} pods/s", file=sys.stderr)
        if "noop" in phases:
            result.phases["noop"], result.timings["noop"] = await measure_noop(client, f"bench-noop-{index}", workload)
            print(f"  noop: {result.phases['noop'].ops_per_second:.0f} pods/s", file=sys.stderr)
    finally:
        await delete_nodes(client, nodes)
    result.seconds = time.perf_counter() - began
    return result


async def run_benchmarks(workloads: Sequence[Workload], run: BenchRun, phases: Sequence[str]) -> list[Result]:
    etcd_url = await run.start_etcd()
    # No controller manager creates the namespaces' default ServiceAccounts here.
    api = await run.start_apiserver(etcd_url, extra=["--disable-admission-plugins=ServiceAccount"])
    kubeconfig = write_kubeconfig(run.workdir / "kubeconfig", api)
    async with Client(load_kubeconfig(kubeconfig), component="bench") as client:
        return [await run_workload(run, client, kubeconfig, workload, index, phases)
                for index, workload in enumerate(workloads)]


# -- reporting ---------------------------------------------------------------------------------------------


def _num(value: float, digits: int = 1) -> str:
    return "-" if value != value else f"{value:,.{digits}f}"  # NaN: the phase did not run


def _rate(m: Measurement) -> float:
    return m.ops_per_second if m.count else float("nan")


def _pct(m: Measurement, attr: str) -> float:
    return float(getattr(m, attr)) if m.latencies else float("nan")


def render(results: Sequence[Result], sizes_name: str) -> str:
    machine = machine_description()
    nan = float("nan")
    empty = Measurement(0, nan, ())
    rows = []
    for r in results:
        w = r.workload
        floor, steady = r.phases.get("floor", empty), r.phases.get("steady", empty)
        backlog, noop = r.phases.get("backlog", empty), r.phases.get("noop", empty)

        def ms(phase: str, which: int, digits: int = 2, timings: dict[str, tuple[float, float]] = r.timings) -> str:
            return _num(timings.get(phase, (nan, nan))[which], digits)

        rows.append([f"{w.nodes:,}", f"{w.pods:,}", w.kind, _num(_rate(floor)), _num(_pct(floor, "p50_ms"), 2),
                     _num(_pct(floor, "p99_ms"), 2), _num(_rate(steady)), _num(_pct(steady, "p50_ms")),
                     _num(_pct(steady, "p99_ms")), _num(r.steady_create_rate), _num(_rate(backlog)), _num(_rate(noop)),
                     f"{ms('steady', 0)} / {ms('backlog', 0)} / {ms('noop', 0)}",
                     f"{ms('steady', 1, 1)} / {ms('backlog', 1, 1)}", f"{r.seconds:,.0f}"])
    table = markdown_table(
        ["nodes", "pods", "workload", "floor binds/s", "floor p50 ms", "floor p99 ms", "steady pods/s",
         "steady p50 ms", "steady p99 ms", "steady creates/s", "backlog pods/s", "no-op binding pods/s",
         "algorithm ms/pod (steady / backlog / no-op)", "attempt ms incl. binding (steady / backlog)",
         "workload wall s"],
        rows)
    return f"""## Scheduler (`bench/scheduler.py`)

Run {machine['date']} ({sizes_name} sizes) on {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory']} RAM, \
Python {machine['python']}, etcd {machine['etcd']}, Linux {machine['kernel']}. One etcd, one API server and one \
`kubeplane scheduler` process (default plugins, leader election off) on loopback; Node objects only (4 CPUs, \
32 GiB, 110 pods, three zones), pods requesting 100m CPU / 500 MiB, as upstream's scheduler_perf SchedulingBasic. \
The `affinity` workload adds, per group of {GROUP_SIZE} pods, a required pod anti-affinity per hostname and a zone \
topology spread constraint (maxSkew 1, DoNotSchedule). "-": phase not run.

{table}

- **floor**: the bench itself POSTs `pods/<name>/binding` for the same number of pods (round-robin
  over the nodes, {BIND_CONCURRENCY} in flight): the API cost of binding alone.
- **steady**: the scheduler runs while the bench creates pods ({CREATE_CONCURRENCY} in flight);
  pods/s over the whole window; latency from the create request to the bench's watch seeing
  `nodeName` (so it includes queueing behind earlier pods and the watch delivery).
- **backlog**: every pod exists before its scheduler starts (upstream's measured phase: all
  pending); pods/s from the scheduler reporting ready (informers synced) to the last binding.
- **no-op binding**: the backlog phase with the scheduler inside the bench process and DefaultBinder
  replaced by a binder that makes no API call (pods are still assumed): the scheduling cycle alone.
- **algorithm ms/pod**: the scheduler's own mean `scheduler_scheduling_algorithm_duration_seconds`
  (snapshot, filter and score of one pod): the CPU the scheduling decision costs.
- **attempt ms incl. binding**: its mean `scheduler_scheduling_attempt_duration_seconds`, from
  taking the pod off the queue to the binding's answer; bindings run concurrently with the next
  pods, so this is mostly time waiting for the API server.

Where the scheduling cycle's time went (cProfile of the default profile in one process, 5,000
nodes, basic pods, 100 pods): before issue 5, 38 ms per pod = 27 ms taking the snapshot (a clone
of every NodeInfo with its Resources, allocatable parsed again, image spread recounted over all
nodes) + 11 ms filtering and scoring the 500 nodes the adaptive percentage asks for (about 20 µs
per node: one Python call per plugin per node, a Status per call, NodeInfo.name looked up again
and again, InterPodAffinity's PreScore walking all nodes, reservoir sampling drawing a random
number per tied node). Now the cache updates one snapshot in place, re-cloning only nodes that
changed since the last cycle (upstream's UpdateSnapshot), and keeps per-node numpy columns
(`framework/vector.py`) current row by row; the default plugins filter (NodeResourcesFit,
TaintToleration, NodeUnschedulable, NodeName, InterPodAffinity when nothing constrains the pod)
and score (Least/MostAllocated, BalancedAllocation, TaintToleration, ImageLocality on nodes
without images) all nodes at once, and the rest run per node on the nodes the vectors let
through: 0.2 ms snapshot + 0.8 ms algorithm per pod, about 970 pods/s in process (from 26).
What remains in the process is the API side: informer decode of every pod update the bindings
cause, the binding POSTs, and events. The affinity workload still filters per node
(PodTopologySpread and InterPodAffinity have no vector form yet).
"""


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="100 nodes: 1,000 basic and 300 affinity pods (~1 minute)")
    p.add_argument("--workload", action="append", metavar="NODES:PODS[:KIND]",
                   help=f"instead of the defaults, e.g. --workload 5000:10000 (repeatable; KIND one of {KINDS})")
    p.add_argument("--phases", default=",".join(PHASES), help=f"comma-separated subset of {PHASES} (default: all)")
    p.add_argument("--results", type=Path, default=RESULTS, help="Markdown file to update (default docs/benchmarks.md)")
    p.add_argument("--no-write", action="store_true", help="print only; leave the results file alone")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, etcd data) for inspection")
    args = p.parse_args(argv)
    args.phases = [phase for phase in args.phases.split(",") if phase]
    unknown = set(args.phases) - set(PHASES)
    if unknown:
        p.error(f"unknown phase(s) {sorted(unknown)}; choose from {PHASES}")
    return args


def workloads_from(args: argparse.Namespace) -> tuple[tuple[Workload, ...], str]:
    if args.workload:
        parsed = []
        for spec in args.workload:
            nodes, pods, *kind = spec.split(":")
            if kind and kind[0] not in KINDS:
                raise SystemExit(f"unknown workload kind {kind[0]!r}; choose from {KINDS}")
            parsed.append(Workload(int(nodes), int(pods), kind[0] if kind else BASIC))
        return tuple(parsed), "custom"
    return (QUICK, "quick") if args.quick else (FULL, "full")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    workloads, sizes_name = workloads_from(args)
    with BenchRun(keep=args.keep) as run:
        results = asyncio.run(run_benchmarks(workloads, run, args.phases))
    text = render(results, sizes_name)
    print(text)
    if not args.no_write:
        write_section(args.results, "scheduler", text, RESULTS_HEADER)
        print(f"\nwrote the scheduler section of {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
