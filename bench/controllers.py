"""Deployment and ReplicaSet controllers at scale through the real API server and etcd, beside
the floor of the same pod creates issued by the bench itself.

    .venv/bin/python bench/controllers.py            # 1,000 replicas (about 20 s on 2 cores)
    .venv/bin/python bench/controllers.py --quick    # 200 replicas

One etcd, one API server and one ``kubeplane controller-manager`` process (deployment and
replicaset controllers only, leader election off), all on loopback. No scheduler and no nodes:
the bench stands in for the kubelets and marks every pod it sees Running and Ready (one status
write per pod, 16 in flight), so Deployment availability and the rolling update can progress.
Pods stay unbound, so deleting one is immediate (no kubelet has to confirm it): the numbers are
the controllers' and the API's, not a scheduler's or a kubelet's (bench/pods.py times that whole
chain with hollow nodes). Measured:

* floor: the bench creates the same number of pods directly (16 in flight): the API cost of the
  creates alone, which no controller can beat;
* scale-out: from creating a Deployment of N replicas until N pods exist (the bench's watch saw
  them), and until the Deployment reports N available (which includes the bench's status writes);
* rolling update: from changing the pod template until the Deployment is complete again
  (updatedReplicas = availableReplicas = replicas = N, no old pods left; maxSurge and
  maxUnavailable 25%, the defaults), and how many pods were replaced.

Results are printed and written to the controllers section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubeplane.client import ApiError, Client, load_kubeconfig
from kubeplane.client.resource import DEPLOYMENTS, NAMESPACES, PODS

sys.path.insert(0, str(Path(__file__).resolve().parent))
# bench/ is not a package: its directory goes on the path before the shared helpers are imported.
from _harness import (
    RESULTS,
    RESULTS_HEADER,
    BenchRun,
    Measurement,
    machine_description,
    markdown_table,
    run_concurrently,
    write_section,
)
from scheduler import write_kubeconfig

JSON = dict[str, Any]
CONCURRENCY = 16
TIMEOUT = 600.0
QUICK_REPLICAS = 200
FULL_REPLICAS = 1000


def pod_spec() -> JSON:
    return {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9",
                            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}],
            "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 0}


def deployment(name: str, replicas: int) -> JSON:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": pod_spec()}}}


async def create_namespace(client: Client, name: str) -> None:
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


class KubeletStandIn:
    """Watches a namespace's pods: records when each pod first appears and marks it Running and
    Ready, as a kubelet would once its containers started."""

    def __init__(self, client: Client, namespace: str) -> None:
        self.client = client
        self.namespace = namespace
        self.seen_at: dict[str, float] = {}
        self.live: set[str] = set()
        self._pending: asyncio.Queue[JSON] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        listed = await self.client.list(PODS, self.namespace, limit=1)
        version = str((listed.get("metadata") or {}).get("resourceVersion") or "")
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._watch(version)),
                       *(loop.create_task(self._write_status()) for _ in range(CONCURRENCY))]

    async def _watch(self, version: str) -> None:
        while True:
            async with contextlib.aclosing(self.client.watch(PODS, self.namespace, resource_version=version)) as events:
                async for event in events:
                    pod = event.object
                    meta = pod.get("metadata") or {}
                    version = str(meta.get("resourceVersion") or version)
                    if event.type == "BOOKMARK":
                        continue
                    if event.type == "ERROR":
                        raise RuntimeError(f"watch failed: {pod}")
                    name = str(meta.get("name") or "")
                    if event.type == "DELETED":
                        self.live.discard(name)
                        continue
                    self.live.add(name)
                    if name not in self.seen_at:
                        self.seen_at[name] = time.perf_counter()
                        self._pending.put_nowait(pod)

    async def _write_status(self) -> None:
        while True:
            pod = await self._pending.get()
            status = {"phase": "Running", "podIP": "198.18.255.1", "conditions": [
                {"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}]}
            with contextlib.suppress(ApiError):  # deleted meanwhile (a scale-down or the rollout)
                await self.client.patch(PODS, pod["metadata"]["name"], {"status": status}, self.namespace,
                                        subresource="status")

    def seen(self) -> int:
        return len(self.seen_at)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]


async def until(what: str, check: Any, timeout: float = TIMEOUT, interval: float = 0.05) -> float:
    """Poll ``check`` until truthy; returns the perf_counter time it first was."""
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return time.perf_counter()
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(interval)


@dataclass(frozen=True)
class Result:
    replicas: int
    floor: Measurement
    pods_exist_s: float
    available_s: float
    rollout_s: float
    replaced: int


async def measure_floor(client: Client, replicas: int) -> Measurement:
    await create_namespace(client, "bench-floor")

    async def create(i: int) -> None:
        await client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"floor-{i}"},
                                   "spec": pod_spec()}, "bench-floor")

    measured = await run_concurrently(create, replicas, CONCURRENCY)
    await client.request("DELETE", "/api/v1/namespaces/bench-floor/pods")
    return measured


def complete(deploy: JSON, replicas: int) -> bool:
    status = deploy.get("status") or {}
    return (status.get("observedGeneration", 0) >= deploy["metadata"].get("generation", 0)
            and status.get("updatedReplicas") == replicas and status.get("availableReplicas") == replicas
            and status.get("replicas") == replicas)


async def measure_deployment(client: Client, replicas: int) -> tuple[float, float, float, int]:
    namespace = "bench-deploy"
    await create_namespace(client, namespace)
    pods = KubeletStandIn(client, namespace)
    await pods.start()
    try:
        begin = time.perf_counter()
        await client.create(DEPLOYMENTS, deployment("scale", replicas), namespace)

        async def all_exist() -> bool:
            return pods.seen() >= replicas

        exist = await until(f"{replicas} pods", all_exist)

        async def available() -> bool:
            return complete(await client.get(DEPLOYMENTS, "scale", namespace), replicas)

        ready = await until(f"{replicas} available", available, interval=0.1)
        first_generation = set(pods.seen_at)
        print(f"  {replicas} pods exist after {exist - begin:.1f}s, available after {ready - begin:.1f}s",
              file=sys.stderr)

        rollout_begin = time.perf_counter()
        await client.patch(DEPLOYMENTS, "scale", {"spec": {"template": {"metadata": {
            "annotations": {"bench/revision": "2"}}}}}, namespace)

        async def rolled_out() -> bool:
            return complete(await client.get(DEPLOYMENTS, "scale", namespace), replicas) \
                and not (pods.live & first_generation)

        rolled = await until("the rolling update", rolled_out, interval=0.1)
        replaced = len(set(pods.seen_at) - first_generation)
        print(f"  rolling update: {replaced} new pods in {rolled - rollout_begin:.1f}s", file=sys.stderr)
        return exist - begin, ready - begin, rolled - rollout_begin, replaced
    finally:
        await pods.stop()


async def warm_up(client: Client) -> None:
    """A one-replica Deployment whose pod appears once the controllers' caches have synced, so the
    measured run does not include the controller manager's start."""
    await create_namespace(client, "bench-warmup")
    await client.create(DEPLOYMENTS, deployment("warmup", 1), "bench-warmup")

    async def pod_exists() -> bool:
        return bool((await client.list(PODS, "bench-warmup")).get("items"))

    await until("the controller manager to start", pod_exists, timeout=120, interval=0.1)


async def run_benchmark(replicas: int, run: BenchRun) -> Result:
    etcd_url = await run.start_etcd()
    # No ServiceAccount controller runs here, so pods need no default ServiceAccount.
    api = await run.start_apiserver(etcd_url, extra=["--disable-admission-plugins=ServiceAccount"])
    kubeconfig = write_kubeconfig(run.workdir / "kubeconfig", api)
    async with Client(load_kubeconfig(kubeconfig), component="bench") as client:
        floor = await measure_floor(client, replicas)
        print(f"floor: {replicas} pod creates in {floor.elapsed:.1f}s", file=sys.stderr)
        manager = run.spawn("controller-manager", [
            sys.executable, "-m", "kubeplane.cli", "controller-manager", f"--kubeconfig={kubeconfig}",
            "--controllers=deployment,replicaset", "--leader-elect=false"])
        try:
            await warm_up(client)
            exist, available, rollout, replaced = await measure_deployment(client, replicas)
        except BaseException:
            print(manager.log_tail(), file=sys.stderr)
            raise
    return Result(replicas, floor, exist, available, rollout, replaced)


def render(result: Result, sizes_name: str) -> str:
    machine = machine_description()
    n = result.replicas
    table = markdown_table(
        ["replicas", "floor: creates s (pods/s)", "Deployment → pods exist s (pods/s)", "vs floor",
         "→ all available s", "rolling update s (pods replaced)"],
        [[f"{n:,}", f"{result.floor.elapsed:.1f} ({result.floor.ops_per_second:,.0f})",
          f"{result.pods_exist_s:.1f} ({n / result.pods_exist_s:,.0f})",
          f"{result.floor.elapsed / result.pods_exist_s:.0%}", f"{result.available_s:.1f}",
          f"{result.rollout_s:.1f} ({result.replaced:,})"]])
    return f"""## Controllers (`bench/controllers.py`)

Run {machine['date']} ({sizes_name} size) on {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory']} RAM, \
Python {machine['python']}, etcd {machine['etcd']}, Linux {machine['kernel']}. One etcd, one API server and one \
`kubeplane controller-manager` (deployment and replicaset controllers, leader election off) on loopback. No \
scheduler and no nodes: the bench stands in for the kubelets and marks each pod Running and Ready as it appears \
(a status write per pod, {CONCURRENCY} in flight); pods stay unbound, so deletions are immediate.

{table}

- **floor**: the bench itself creates the same number of pods ({CONCURRENCY} in flight): the API cost of the
  creates, which no controller can beat. "vs floor" is floor time / controllers' time.
- **pods exist**: from the Deployment's create to the bench's watch seeing the last of its pods (Deployment
  controller → ReplicaSet → ReplicaSet controller's slow-start batches of creates).
- **all available**: until the Deployment reports every replica available (includes the stand-in's status
  writes racing the controllers' own).
- **rolling update**: a template change (an annotation) until the Deployment is complete again and no pod of
  the old template is left; maxSurge/maxUnavailable 25% (the defaults).
"""


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help=f"{QUICK_REPLICAS} replicas")
    p.add_argument("--replicas", type=int, help=f"instead of {FULL_REPLICAS}")
    p.add_argument("--results", type=Path, default=RESULTS, help="Markdown file to update (default docs/benchmarks.md)")
    p.add_argument("--no-write", action="store_true", help="print only; leave the results file alone")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, etcd data) for inspection")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    replicas = args.replicas or (QUICK_REPLICAS if args.quick else FULL_REPLICAS)
    sizes_name = "custom" if args.replicas else ("quick" if args.quick else "full")
    with BenchRun(keep=args.keep) as run:
        result = asyncio.run(run_benchmark(replicas, run))
    text = render(result, sizes_name)
    print(text)
    if not args.no_write:
        write_section(args.results, "controllers", text, RESULTS_HEADER)
        print(f"\nwrote the controllers section of {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
