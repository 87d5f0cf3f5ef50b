"""Scheduler throughput and latency through the real API server and etcd, beside its floor.

    .venv/bin/python bench/scheduler.py            # full run: 100 nodes/1,000 pods, 1,000 nodes/5,000 pods
    .venv/bin/python bench/scheduler.py --quick    # 100 nodes/1,000 pods (under a minute)

Modelled on upstream scheduler_perf's SchedulingBasic: Node objects only (no kubelets; 4 CPUs,
32 GiB, 110 pods each), pods requesting 100m CPU and 500 MiB. Per workload, with a fresh
``kubeplane scheduler`` process (leader election off, its own profile name):

* floor: the same number of pods, created for a scheduler nobody runs, then bound by the bench
  itself with ``POST pods/<name>/binding`` round-robin over the nodes: the API cost of the
  binding writes alone, which no scheduler can beat;
* steady: the scheduler is running and the bench creates pods; throughput is pods bound per
  second over the whole window, latency is create sent → the bench's watch sees ``nodeName``;
* backlog: the pods exist before their scheduler starts (upstream's measured phase: everything
  pending); throughput from the scheduler's readiness (informers synced) to the last binding.

The mean time the scheduler spends per attempt comes from its own
``scheduler_scheduling_attempt_duration_seconds`` (read from ``/metrics``), to show where the time
goes. Results are printed and written to the scheduler section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
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

from kubeplane.client import ApiError, Client, load_kubeconfig
from kubeplane.client.resource import NAMESPACES, NODES, PODS
from kubeplane.component.etcd import free_port

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


@dataclass(frozen=True)
class Workload:
    nodes: int
    pods: int


QUICK = (Workload(100, 1000),)
FULL = (Workload(100, 1000), Workload(1000, 5000))


@dataclass
class Result:
    workload: Workload
    floor: Measurement
    steady: Measurement  # latencies: create -> bound
    steady_create_rate: float
    backlog: Measurement  # latencies empty: throughput only
    # phase -> the scheduler's own means (algorithm ms per pod, attempt ms including the binding)
    timings: dict[str, tuple[float, float]] = field(default_factory=dict)


# -- objects ------------------------------------------------------------------------------------------


def node_manifest(name: str) -> JSON:
    allocatable = {"cpu": "4", "memory": "32Gi", "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {"capacity": allocatable, "allocatable": allocatable,
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def pod_manifest(name: str, scheduler_name: str) -> JSON:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"schedulerName": scheduler_name,
                     "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9",
                                     "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}}}]}}


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
        body = node_manifest(names[i])
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


async def scheduler_timings_ms(base: str) -> tuple[float, float]:
    """The scheduler's own means from /metrics: (algorithm ms per pod, attempt ms incl. binding)."""
    async with aiohttp.ClientSession() as session, session.get(f"{base}/metrics") as response:
        text = await response.text()

    def mean(metric: str) -> float:
        totals = {"sum": 0.0, "count": 0.0}
        for kind, value in re.findall(rf"^{metric}_(sum|count)(?:\{{[^}}]*\}})? (\S+)$", text, re.M):
            totals[kind] += float(value)
        return totals["sum"] / totals["count"] * 1000 if totals["count"] else float("nan")

    return (mean("scheduler_scheduling_algorithm_duration_seconds"),
            mean("scheduler_scheduling_attempt_duration_seconds"))


# -- one workload -------------------------------------------------------------------------------------------


async def create_namespace(client: Client, name: str) -> None:
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


async def measure_floor(client: Client, namespace: str, nodes: Sequence[str], count: int) -> Measurement:
    await create_namespace(client, namespace)
    names = [f"floor-{i}" for i in range(count)]

    async def create(i: int) -> None:
        await client.create(PODS, pod_manifest(names[i], UNSERVED_SCHEDULER), namespace)

    async def bind(i: int) -> None:
        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": names[i], "namespace": namespace},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": nodes[i % len(nodes)]}}
        await client.create(PODS, binding, namespace, subresource="binding", name=names[i])

    await run_concurrently(create, count, CREATE_CONCURRENCY)
    return await run_concurrently(bind, count, BIND_CONCURRENCY)


async def measure_steady(run: BenchRun, client: Client, kubeconfig: Path, namespace: str,
                         count: int) -> tuple[Measurement, float, tuple[float, float]]:
    """(create->bound measurement, create rate, the scheduler's own timings)."""
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
            await client.create(PODS, pod_manifest(name, scheduler_name), namespace)

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
                          count: int) -> tuple[Measurement, tuple[float, float]]:
    scheduler_name = f"bench-backlog-{uuid.uuid4().hex[:6]}"
    await create_namespace(client, namespace)

    async def create(i: int) -> None:
        await client.create(PODS, pod_manifest(f"backlog-{i}", scheduler_name), namespace)

    await run_concurrently(create, count, CREATE_CONCURRENCY)
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


async def run_workload(run: BenchRun, client: Client, kubeconfig: Path, workload: Workload, index: int) -> Result:
    nodes = [f"w{index}-node-{i}" for i in range(workload.nodes)]
    print(f"workload {index}: {workload.nodes} nodes, {workload.pods} pods", file=sys.stderr)
    await create_nodes(client, nodes)
    try:
        floor = await measure_floor(client, f"bench-floor-{index}", nodes, workload.pods)
        print(f"  floor: {floor.ops_per_second:.0f} bindings/s", file=sys.stderr)
        steady, create_rate, steady_timings = await measure_steady(run, client, kubeconfig, f"bench-steady-{index}",
                                                              workload.pods)
        print(f"  steady: {steady.ops_per_second:.0f} pods/s", file=sys.stderr)
        backlog, backlog_timings = await measure_backlog(run, client, kubeconfig, f"bench-backlog-{index}",
                                                    workload.pods)
        print(f"  backlog: {backlog.ops_per_second:.0f} pods/s", file=sys.stderr)
    finally:
        await delete_nodes(client, nodes)
    return Result(workload, floor, steady, create_rate, backlog, {"steady": steady_timings, "backlog": backlog_timings})


async def run_benchmarks(workloads: Sequence[Workload], run: BenchRun) -> list[Result]:
    etcd_url = await run.start_etcd()
    # No controller manager creates the namespaces' default ServiceAccounts here.
    api = await run.start_apiserver(etcd_url, extra=["--disable-admission-plugins=ServiceAccount"])
    kubeconfig = write_kubeconfig(run.workdir / "kubeconfig", api)
    async with Client(load_kubeconfig(kubeconfig), component="bench") as client:
        return [await run_workload(run, client, kubeconfig, workload, index)
                for index, workload in enumerate(workloads)]


# -- reporting ---------------------------------------------------------------------------------------------


def _num(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def render(results: Sequence[Result], sizes_name: str) -> str:
    machine = machine_description()
    rows = []
    for r in results:
        w = r.workload
        rows.append([f"{w.nodes:,}", f"{w.pods:,}", _num(r.floor.ops_per_second), _num(r.floor.p50_ms, 2),
                     _num(r.floor.p99_ms, 2), _num(r.steady.ops_per_second), _num(r.steady.p50_ms),
                     _num(r.steady.p99_ms), _num(r.steady_create_rate), _num(r.backlog.ops_per_second),
                     f"{r.backlog.ops_per_second / r.floor.ops_per_second:.0%}",
                     f"{_num(r.timings['steady'][0], 2)} / {_num(r.timings['backlog'][0], 2)}",
                     f"{_num(r.timings['steady'][1])} / {_num(r.timings['backlog'][1])}"])
    table = markdown_table(
        ["nodes", "pods", "floor binds/s", "floor p50 ms", "floor p99 ms", "steady pods/s", "steady p50 ms",
         "steady p99 ms", "steady creates/s", "backlog pods/s", "backlog/floor", "algorithm ms/pod (steady / backlog)",
         "attempt ms incl. binding (steady / backlog)"],
        rows)
    return f"""## Scheduler (`bench/scheduler.py`)

Run {machine['date']} ({sizes_name} sizes) on {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory']} RAM, \
Python {machine['python']}, etcd {machine['etcd']}, Linux {machine['kernel']}. One etcd, one API server and one \
`kubeplane scheduler` process (default plugins, leader election off) on loopback; Node objects only (4 CPUs, \
32 GiB, 110 pods), pods requesting 100m CPU / 500 MiB, as upstream's scheduler_perf SchedulingBasic.

{table}

- **floor**: the bench itself POSTs `pods/<name>/binding` for the same number of pods (round-robin
  over the nodes, {BIND_CONCURRENCY} in flight): the API cost of binding alone.
- **steady**: the scheduler runs while the bench creates pods ({CREATE_CONCURRENCY} in flight);
  pods/s over the whole window; latency from the create request to the bench's watch seeing
  `nodeName` (so it includes queueing behind earlier pods and the watch delivery).
- **backlog**: every pod exists before its scheduler starts (upstream's measured phase: all
  pending); pods/s from the scheduler reporting ready (informers synced) to the last binding.
- **algorithm ms/pod**: the scheduler's own mean `scheduler_scheduling_algorithm_duration_seconds`
  (snapshot, filter and score of one pod): the CPU the scheduling decision costs.
- **attempt ms incl. binding**: its mean `scheduler_scheduling_attempt_duration_seconds`, from
  taking the pod off the queue to the binding's answer; bindings run concurrently with the next
  pods, so this is mostly time waiting for the API server.
"""


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="100 nodes and 1,000 pods only (under a minute)")
    p.add_argument("--workload", action="append", metavar="NODES:PODS",
                   help="instead of the defaults, e.g. --workload 5000:10000 (repeatable)")
    p.add_argument("--results", type=Path, default=RESULTS, help="Markdown file to update (default docs/benchmarks.md)")
    p.add_argument("--no-write", action="store_true", help="print only; leave the results file alone")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, etcd data) for inspection")
    return p.parse_args(argv)


def workloads_from(args: argparse.Namespace) -> tuple[tuple[Workload, ...], str]:
    if args.workload:
        parsed = []
        for spec in args.workload:
            nodes, _, pods = spec.partition(":")
            parsed.append(Workload(int(nodes), int(pods)))
        return tuple(parsed), "custom"
    return (QUICK, "quick") if args.quick else (FULL, "full")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    workloads, sizes_name = workloads_from(args)
    with BenchRun(keep=args.keep) as run:
        results = asyncio.run(run_benchmarks(workloads, run))
    text = render(results, sizes_name)
    print(text)
    if not args.no_write:
        write_section(args.results, "scheduler", text, RESULTS_HEADER)
        print(f"\nwrote the scheduler section of {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
