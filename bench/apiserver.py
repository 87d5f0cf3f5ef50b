"""API server benchmarks, each beside its floor: the same operation straight against etcd.

    .venv/bin/python bench/apiserver.py            # full run (~10 minutes on 2 cores)
    .venv/bin/python bench/apiserver.py --quick    # ~1 minute smoke run

One fresh etcd and one ``kubeplane apiserver`` process (temp dir, free loopback ports) serve
clients that use aiohttp over HTTP/1.1 keep-alive with the admin client certificate. The floor
uses the aetcd client in the same run: put for create, range of one key for GET, a
compare-and-put txn for update, a prefix range for LIST and aetcd watches for the fan-out.
Results are printed and written to the apiserver section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
import multiprocessing
import multiprocessing.connection
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aetcd
import aiohttp
import orjson

from kubeplane.component.process import ClientTLS
from kubeplane.storage.etcd3.etcd_kv import EtcdKV

sys.path.insert(0, str(Path(__file__).resolve().parent))
# bench/ is not a package: its directory goes on the path before the shared helpers are imported.
from _harness import (
    RESULTS,
    RESULTS_HEADER,
    APIServerEndpoint,
    BenchRun,
    Measurement,
    machine_description,
    markdown_table,
    raise_open_file_limit,
    rss_bytes,
    run_concurrently,
    write_section,
)

REPO = Path(__file__).resolve().parent.parent
ETCD_PREFIX = "/registry"
MEMORY_PREFIX = "/bench-memory"
FLOOR_PREFIX = "/bench-floor/pods/"
LIST_NAMESPACE = "bench-list"
REPLICAS_NAMESPACE = "bench-replicas"
WATCH_NAMESPACE = "bench-watch"
PASSTHROUGH_PREFIX = "/bench-passthrough"
PASSTHROUGH_PROGRAM = Path(__file__).with_name("passthrough_apiserver.py")
FILL_NAMESPACE = "bench-fill"
_WATCH_DEADLINE = 60.0


@dataclass(frozen=True)
class Sizes:
    creates: tuple[tuple[int, int], ...]  # (concurrency, count); all land in the LIST namespace
    gets: int
    updates: tuple[tuple[int, int], ...]
    list_size: int
    list_repeats: int
    watchers: int
    watch_processes: int
    memory_points: tuple[int, ...]  # total cached pods at which RSS is measured


FULL = Sizes(creates=((1, 1000), (8, 2000), (32, 4000)), gets=2000, updates=((1, 1000), (32, 3000)),
             list_size=10_000, list_repeats=10, watchers=1000, watch_processes=4,
             memory_points=(10_000, 50_000, 150_000))
QUICK = Sizes(creates=((1, 100), (8, 200), (32, 400)), gets=200, updates=((1, 100), (32, 300)),
              list_size=1000, list_repeats=3, watchers=100, watch_processes=2, memory_points=(1000, 5000))


# -- the workload --------------------------------------------------------------------------------


def pod_manifest(namespace: str, name: str) -> dict[str, Any]:
    """A realistic ~2 KB pod: labels, annotations, env, resources, probes, mounts, tolerations."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": namespace,
            "labels": {"app.kubernetes.io/name": "checkout", "app.kubernetes.io/instance": "checkout-prod",
                       "app.kubernetes.io/component": "api", "pod-template-hash": "7d9c8f6b5d", "tier": "backend"},
            "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9090",
                            "kubectl.kubernetes.io/default-container": "app",
                            "checkout.example.com/owner": "payments-team@example.com",
                            "checkout.example.com/runbook": "https://runbooks.example.com/checkout/api"},
        },
        "spec": {
            "containers": [{
                "name": "app", "image": "registry.example.com/shop/checkout:1.42.3",
                "args": ["--listen=:8080", "--metrics=:9090", "--log-format=json"],
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                          {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
                "env": [{"name": "DATABASE_HOST", "value": "postgres.shop.svc.cluster.local"},
                        {"name": "DATABASE_POOL_SIZE", "value": "20"},
                        {"name": "CACHE_URL", "value": "redis://redis.shop.svc.cluster.local:6379/0"},
                        {"name": "FEATURE_FLAGS", "value": "new-checkout-flow,async-receipts,fraud-check-v2"},
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
                "resources": {"requests": {"cpu": "250m", "memory": "256Mi"},
                              "limits": {"cpu": "1", "memory": "512Mi"}},
                "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": "http"},
                                   "periodSeconds": 5, "failureThreshold": 3},
                "livenessProbe": {"httpGet": {"path": "/healthz/live", "port": "http"},
                                  "initialDelaySeconds": 10, "periodSeconds": 10},
                "volumeMounts": [{"name": "config", "mountPath": "/etc/checkout", "readOnly": True},
                                 {"name": "tmp", "mountPath": "/tmp"}],
            }],
            "volumes": [{"name": "config", "configMap": {"name": "checkout-config"}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                             "effect": "NoExecute", "tolerationSeconds": 300}],
            "terminationGracePeriodSeconds": 30,
        },
    }


def pod_name(index: int) -> str:
    return f"pod-{index:06d}"


# -- clients ---------------------------------------------------------------------------------------


class APIClient:
    """An aiohttp session (HTTP/1.1 keep-alive, admin client certificate) against one API server."""

    def __init__(self, api: APIServerEndpoint, connections: int = 64) -> None:
        self.url = api.url
        connector = aiohttp.TCPConnector(ssl=api.tls.ssl_context(), limit=connections)
        self.session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120))

    async def close(self) -> None:
        await self.session.close()

    async def request(self, method: str, path: str, body: bytes | None = None) -> bytes:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        async with self.session.request(method, self.url + path, data=body, headers=headers) as response:
            payload = await response.read()
            if response.status >= 300:
                raise RuntimeError(f"{method} {path}: {response.status} {payload[:300]!r}")
            return payload

    async def read_raw(self, path: str, accept_encoding: str) -> int:
        """GET ``path`` asking for ``accept_encoding`` and read the body as it crosses the wire, not
        decompressed nor parsed: the time to the last byte is the server's side of a LIST. Returns
        the bytes read."""
        headers = {"Accept-Encoding": accept_encoding}
        async with self.session.get(self.url + path, headers=headers, auto_decompress=False) as response:
            if response.status >= 300:
                raise RuntimeError(f"GET {path}: {response.status} {(await response.read())[:300]!r}")
            expected = "gzip" if accept_encoding == "gzip" else None
            if response.headers.get("Content-Encoding") != expected:
                raise RuntimeError(f"GET {path}: Content-Encoding {response.headers.get('Content-Encoding')!r}")
            # Counted as it arrives, not kept: gathering a 58 MiB body into one fresh buffer costs the
            # client thousands of page faults, which is the client's time, not the server's.
            received = 0
            async for chunk in response.content.iter_chunked(1 << 20):
                received += len(chunk)
            return received

    async def list_parsed(self, path: str) -> int:
        """GET ``path`` as a Python client does (gzip accepted, body decompressed and decoded)."""
        items: list[Any] = orjson.loads(await self.request("GET", path))["items"]
        return len(items)

    async def create_namespace(self, name: str) -> None:
        """The namespace and its `default` ServiceAccount (what the controller manager adds in a
        cluster), so pod creates take the full admission path, token volume included."""
        body = orjson.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        await self.request("POST", "/api/v1/namespaces", body)
        account = orjson.dumps({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})
        await self.request("POST", f"/api/v1/namespaces/{name}/serviceaccounts", account)

    async def create_pod(self, body: bytes, namespace: str) -> dict[str, Any]:
        created: dict[str, Any] = orjson.loads(await self.request("POST", f"/api/v1/namespaces/{namespace}/pods", body))
        return created

    async def get_pod(self, namespace: str, name: str, resource_version: str | None = None) -> dict[str, Any]:
        query = "" if resource_version is None else f"?resourceVersion={resource_version}"
        pod: dict[str, Any] = orjson.loads(await self.request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}{query}"))
        return pod

    async def update_pod(self, pod: dict[str, Any]) -> dict[str, Any]:
        meta = pod["metadata"]
        path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
        updated: dict[str, Any] = orjson.loads(await self.request("PUT", path, orjson.dumps(pod)))
        return updated


def _etcd_client(etcd_url: str) -> aetcd.Client:
    host, port = etcd_url.removeprefix("http://").rsplit(":", 1)
    # gRPC's default 4 MiB receive limit cannot hold a range of 10k pods; kube-apiserver lifts it
    # to 2 GiB for the same reason.
    return aetcd.Client(host=host, port=int(port), options={"grpc.max_receive_message_length": 2**31 - 1})


def _with_label(pod: dict[str, Any], value: str) -> dict[str, Any]:
    meta = pod["metadata"]
    return {**pod, "metadata": {**meta, "labels": {**meta.get("labels", {}), "bench-generation": value}}}


# -- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A goal from the brief: ``check`` returns (achieved value, met?) as text for the table."""

    text: str
    check: Callable[[Measurement, Measurement | None], tuple[str, bool]]


@dataclass
class Row:
    operation: str
    concurrency: int
    ours: Measurement
    floor: Measurement | None
    target: Target | None = None

    def ratio(self) -> float:
        if self.floor is None:
            return math.nan
        return self.ours.ops_per_second / self.floor.ops_per_second


@dataclass
class Report:
    machine: dict[str, str]
    sizes_name: str
    rows: list[Row] = field(default_factory=list)
    memory: list[tuple[int, int, str]] = field(default_factory=list)  # (pods, rss bytes, how)
    notes: list[str] = field(default_factory=list)


def _fmt(value: float, digits: int = 1) -> str:
    return "—" if math.isnan(value) else f"{value:,.{digits}f}"


def _target_cell(row: Row) -> str:
    if row.target is None:
        return ""
    achieved, met = row.target.check(row.ours, row.floor)
    return f"{row.target.text}: {achieved} {'✓' if met else '✗ MISSED'}"


def results_table(rows: Sequence[Row]) -> str:
    headers = ["operation", "conc.", "kubeplane ops/s", "p50 ms", "p99 ms",
               "etcd ops/s", "etcd p50 ms", "etcd p99 ms", "kubeplane/etcd ops", "target"]
    body = []
    for row in rows:
        floor = row.floor
        body.append([
            row.operation, str(row.concurrency), _fmt(row.ours.ops_per_second), _fmt(row.ours.p50_ms, 2),
            _fmt(row.ours.p99_ms, 2), _fmt(floor.ops_per_second) if floor else "—",
            _fmt(floor.p50_ms, 2) if floor else "—", _fmt(floor.p99_ms, 2) if floor else "—",
            f"{row.ratio():.0%}" if not math.isnan(row.ratio()) else "—", _target_cell(row)])
    return markdown_table(headers, body)


def memory_table(points: Sequence[tuple[int, int, str]]) -> str:
    # The slope between consecutive points, not over the empty-server baseline: the first pods
    # also pay for one-off warm-up (schemas loaded, caches filled).
    body = []
    previous: tuple[int, int] | None = None
    for pods, rss, how in points:
        slope = "—" if previous is None else f"{(rss - previous[1]) / 2**20 / ((pods - previous[0]) / 1000):.1f}"
        body.append([f"{pods:,}", f"{rss / 2**20:,.0f}", slope, how])
        previous = (pods, rss)
    return markdown_table(["cached pods", "API server RSS MiB", "MiB per 1k pods since previous row", "how"], body)


def render(report: Report) -> str:
    m = report.machine
    lines = [
        "## API server (`bench/apiserver.py`)",
        "",
        f"Run {m['date']} ({report.sizes_name} sizes) on {m['nproc']} CPUs ({m['cpu']}), {m['memory']} RAM, "
        f"Python {m['python']}, etcd {m['etcd']}, Linux {m['kernel']}. One etcd and one API server "
        "process on loopback; clients are aiohttp (HTTP/1.1 keep-alive, TLS, admin client certificate) "
        "in the bench process; the floor is the aetcd client against the same etcd in the same run.",
        "",
        results_table(report.rows),
        "",
        memory_table(report.memory),
        "",
        *[f"- {note}" for note in report.notes],
    ]
    return "\n".join(lines)


def _min_ratio(minimum: float) -> Callable[[Measurement, Measurement | None], tuple[str, bool]]:
    def check(ours: Measurement, floor: Measurement | None) -> tuple[str, bool]:
        ratio = ours.ops_per_second / floor.ops_per_second if floor else math.nan
        return f"{ratio:.0%}", ratio >= minimum

    return check


def _max_p99(limit_ms: float) -> Callable[[Measurement, Measurement | None], tuple[str, bool]]:
    def check(ours: Measurement, floor: Measurement | None) -> tuple[str, bool]:
        return f"{ours.p99_ms:.1f} ms", ours.p99_ms <= limit_ms

    return check


# -- phases ----------------------------------------------------------------------------------------


async def bench_creates(api: APIClient, etcd: aetcd.Client, sizes: Sizes, report: Report,
                        cpu_pids: CPUPids | None = None) -> None:
    """POST pods (into the LIST namespace, so they double as its content) beside etcd puts of the
    same request bytes under a prefix the API server does not watch. The concurrency-32 level also
    accounts the CPU time each process spends (``cpu_pids``)."""
    first = 0
    for concurrency, count in sizes.creates:
        accounted = cpu_pids if concurrency == 32 else None
        report.rows.append(await _create_level(api, etcd, first, count, concurrency, accounted, report))
        first += count
    size = len(orjson.dumps(pod_manifest(LIST_NAMESPACE, pod_name(0))))
    report.notes.append(f"create: pod request JSON is {size:,} bytes; the etcd floor puts the same bytes.")
    if first < sizes.list_size:  # top up the LIST namespace, untimed
        await run_concurrently(
            lambda i: api.create_pod(orjson.dumps(pod_manifest(LIST_NAMESPACE, pod_name(first + i))),
                                     LIST_NAMESPACE),
            sizes.list_size - first, 32)


async def _create_level(api: APIClient, etcd: aetcd.Client, first: int, count: int, concurrency: int,
                        cpu_pids: CPUPids | None = None, report: Report | None = None) -> Row:
    names = [pod_name(first + i) for i in range(count)]
    bodies = [orjson.dumps(pod_manifest(LIST_NAMESPACE, name)) for name in names]

    async def create(i: int) -> None:
        await api.create_pod(bodies[i], LIST_NAMESPACE)

    async def put(i: int) -> None:
        await etcd.put(f"{FLOOR_PREFIX}{LIST_NAMESPACE}/{names[i]}".encode(), bodies[i])

    load = os.getloadavg()[0]
    before = cpu_pids.sample() if cpu_pids else None
    ours = await run_concurrently(create, count, concurrency)
    between = cpu_pids.sample() if cpu_pids else None
    floor = await run_concurrently(put, count, concurrency)
    if cpu_pids and before and between and report is not None:
        report.notes.append(cpu_note(between - before, cpu_pids.sample() - between, ours, floor, concurrency,
                                     load))
    target = Target(">= 50% of etcd", _min_ratio(0.5)) if concurrency == 32 else None
    return Row("create pod", concurrency, ours, floor, target)


# -- CPU accounting --------------------------------------------------------------------------------

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far, from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ", which may hold spaces
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime (fields 14, 15)


@dataclass(frozen=True)
class CPUSample:
    apiserver: float
    etcd: float
    client: float

    def __sub__(self, other: CPUSample) -> CPUSample:
        return CPUSample(self.apiserver - other.apiserver, self.etcd - other.etcd, self.client - other.client)


@dataclass(frozen=True)
class CPUPids:
    apiserver: int
    etcd: int

    def sample(self) -> CPUSample:
        return CPUSample(cpu_seconds(self.apiserver), cpu_seconds(self.etcd), cpu_seconds(os.getpid()))


def cpu_note(during_creates: CPUSample, during_puts: CPUSample, ours: Measurement, floor: Measurement,
             concurrency: int, load: float) -> str:
    """CPU per operation in the create phase, and what the target would ask of the API server."""
    def per_op(seconds: float, ops: int) -> float:
        return seconds / ops * 1e6

    api = per_op(during_creates.apiserver, ours.count)
    etcd_per_create = per_op(during_creates.etcd, ours.count)
    client_per_create = per_op(during_creates.client, ours.count)
    etcd_per_put = per_op(during_puts.etcd, floor.count)
    client_per_put = per_op(during_puts.client, floor.count)
    cores = os.cpu_count() or 1
    # At half the floor's put rate, the CPU left per create once etcd and the client have theirs.
    budget = cores * 1e6 / (0.5 * floor.ops_per_second) - etcd_per_create - client_per_create
    return (f"**CPU per operation, create at concurrency {concurrency}** (/proc/<pid>/stat user+system, "
            f"{ours.count:,} creates then {floor.count:,} puts; load average {load:.1f} when the phase began): "
            f"API server {api:,.0f} µs CPU per create; etcd {etcd_per_create:,.0f} µs per create (the API "
            f"server's txn and watch) and {etcd_per_put:,.0f} µs per put (floor); client {client_per_create:,.0f} µs "
            f"per request (aiohttp, TLS) and {client_per_put:,.0f} µs per put (aetcd). The three share {cores} "
            f"cores: at 50% of the floor's {floor.ops_per_second:,.0f} puts/s "
            + (f"{budget:,.0f} µs of CPU per create would be left for the API server ({api / budget:.1f}x less "
               "than it uses)." if budget > 0 else
               "etcd's and the client's CPU per create alone exceed those cores, leaving none for the API "
               "server."))


async def bench_creates_two_replicas(run: BenchRun, etcd_url: str, api: APIClient, etcd: aetcd.Client,
                                    sizes: Sizes, report: Report) -> None:
    """The concurrency-32 create level again, spread round-robin over two API server processes on
    the same etcd (EKS runs several behind a load balancer), into a namespace of its own so the
    LIST namespace keeps its size. A separate row: the single-process row is the one the target
    is about."""
    concurrency, count = sizes.creates[-1]
    second = await run.start_apiserver(etcd_url, ETCD_PREFIX)
    other = APIClient(second)
    try:
        await api.create_namespace(REPLICAS_NAMESPACE)
        clients = (api, other)
        bodies = [orjson.dumps(pod_manifest(REPLICAS_NAMESPACE, pod_name(i))) for i in range(count)]
        await run_concurrently(lambda i: clients[i % 2].get_pod(LIST_NAMESPACE, pod_name(0)), 64, 8)  # warm up
        ours = await run_concurrently(lambda i: clients[i % 2].create_pod(bodies[i], REPLICAS_NAMESPACE),
                                      count, concurrency)
    finally:
        await other.close()
        run.stop(second.started)
    floor = await run_concurrently(
        lambda i: etcd.put(f"{FLOOR_PREFIX}{REPLICAS_NAMESPACE}/{pod_name(i)}".encode(), bodies[i]), count, concurrency)
    report.rows.append(Row("create pod, 2 API server replicas (round-robin; NOT the target's setup)",
                           concurrency, ours, floor))


async def bench_passthrough_creates(run: BenchRun, etcd_url: str, etcd: aetcd.Client, etcd_pid: int,
                                    sizes: Sizes, report: Report) -> None:
    """The concurrency-32 create level against ``bench/passthrough_apiserver.py``: TLS, HTTP, JSON
    and one etcd txn per create plus a decoding watch, none of Kubernetes' semantics. What it
    reaches against the same floor bounds what any Python API server can reach on this machine."""
    concurrency, count = sizes.creates[-1]
    server = await run.start_apiserver(etcd_url, PASSTHROUGH_PREFIX, program=[str(PASSTHROUGH_PROGRAM)])
    client = APIClient(server)
    cpu = CPUPids(apiserver=server.started.pid, etcd=etcd_pid)
    bodies = [orjson.dumps(pod_manifest(LIST_NAMESPACE, pod_name(i))) for i in range(count + 64)]
    try:
        await run_concurrently(lambda i: client.create_pod(bodies[count + i], "warm-up"), 64, 8)
        before = cpu.sample()
        ours = await run_concurrently(lambda i: client.create_pod(bodies[i], LIST_NAMESPACE), count, concurrency)
        between = cpu.sample()
    finally:
        await client.close()
        run.stop(server.started)
    floor = await run_concurrently(
        lambda i: etcd.put(f"{FLOOR_PREFIX}passthrough/{pod_name(i)}".encode(), bodies[i]), count, concurrency)
    used = between - before
    report.rows.append(Row("create pod via pass-through server (TLS + HTTP + JSON + 1 txn + watch; no Kubernetes "
                           "semantics)", concurrency, ours, floor, None))
    report.notes.append(
        f"**Pass-through floor** (`bench/passthrough_apiserver.py`, aiohttp on uvloop with the same TLS and etcd "
        f"client code, one create txn and a decoding watch per pod, nothing else): {ours.ops_per_second:,.0f} "
        f"creates/s at concurrency {concurrency} = {ours.ops_per_second / floor.ops_per_second:.0%} of etcd's "
        f"{floor.ops_per_second:,.0f} puts/s; CPU per create: pass-through {used.apiserver / count * 1e6:,.0f} µs, "
        f"etcd {used.etcd / count * 1e6:,.0f} µs, client {used.client / count * 1e6:,.0f} µs. Whatever a Python "
        "API server adds for Kubernetes' semantics comes on top of this.")


async def bench_gets(api: APIClient, etcd: aetcd.Client, sizes: Sizes, report: Report) -> None:
    name = pod_name(0)
    key = f"{ETCD_PREFIX}/pods/{LIST_NAMESPACE}/{name}".encode()
    ours = await run_concurrently(lambda i: api.get_pod(LIST_NAMESPACE, name), sizes.gets, 1)
    floor = await run_concurrently(lambda i: etcd.get(key), sizes.gets, 1)
    report.rows.append(Row("get pod", 1, ours, floor, Target("p99 <= 5 ms", _max_p99(5.0))))


async def bench_updates(api: APIClient, etcd_url: str, sizes: Sizes, report: Report) -> None:
    """PUT with the last resourceVersion beside an etcd compare-mod-revision-and-put txn (the same
    txn the API server issues, sent through the same thin aetcd-stub layer)."""
    kv = EtcdKV(etcd_url)
    try:
        for concurrency, count in sizes.updates:
            report.rows.append(await _update_level(api, kv, count, concurrency))
    finally:
        await kv.close()


async def _update_level(api: APIClient, kv: EtcdKV, count: int, concurrency: int) -> Row:
    # Worker w only touches pod w, so no update ever conflicts (a 409 would be an error here).
    pods = [await api.get_pod(LIST_NAMESPACE, pod_name(w)) for w in range(concurrency)]
    value = orjson.dumps(pods[0])
    floor_keys = [f"{FLOOR_PREFIX}{LIST_NAMESPACE}/{pod_name(w)}" for w in range(concurrency)]
    revisions = [(await kv.range(key, key + "\x00")).kvs[0].mod_revision for key in floor_keys]

    async def update(i: int) -> None:
        slot = i % concurrency
        pods[slot] = await api.update_pod(_with_label(pods[slot], str(i)))

    async def txn_put(i: int) -> None:
        slot = i % concurrency
        result = await kv.put_if(floor_keys[slot], value, revisions[slot])
        if not result.succeeded:
            raise RuntimeError(f"etcd txn on {floor_keys[slot]} lost a race it cannot have")
        revisions[slot] = result.revision

    ours = await _per_slot(update, count, concurrency)
    floor = await _per_slot(txn_put, count, concurrency)
    return Row("update pod (PUT with RV)", concurrency, ours, floor)


async def _per_slot(operation: Callable[[int], Awaitable[object]], count: int, concurrency: int) -> Measurement:
    """Like run_concurrently, but worker w only ever runs indices congruent to w, so an operation
    that updates "its" object in slot i % concurrency never races another worker."""
    latencies: list[float] = []

    async def worker(slot: int) -> None:
        for index in range(slot, count, concurrency):
            begin = time.perf_counter()
            await operation(index)
            latencies.append(time.perf_counter() - begin)

    begin = time.perf_counter()
    await asyncio.gather(*(worker(slot) for slot in range(concurrency)))
    return Measurement(count, time.perf_counter() - begin, tuple(latencies))


async def fill_list_namespace(api: APIClient, etcd: aetcd.Client, sizes: Sizes) -> None:
    """For ``--only list``: one pod created through the API (full admission), cloned under new names
    and uids straight into etcd until the LIST namespace holds list_size pods, then waited for in
    the watch cache. Seconds instead of the create phase's minutes; the cache sees the same events."""
    first = await api.create_pod(orjson.dumps(pod_manifest(LIST_NAMESPACE, pod_name(0))), LIST_NAMESPACE)
    stored = (await etcd.get(f"{ETCD_PREFIX}/pods/{LIST_NAMESPACE}/{pod_name(0)}".encode())).value
    template = orjson.loads(stored)
    revision, last = int(first["metadata"]["resourceVersion"]), pod_name(0)

    async def put(i: int) -> None:
        nonlocal revision, last
        name = pod_name(i + 1)
        meta = {**template["metadata"], "name": name, "uid": str(uuid.uuid4())}
        result = await etcd.put(f"{ETCD_PREFIX}/pods/{LIST_NAMESPACE}/{name}".encode(),
                                orjson.dumps({**template, "metadata": meta}))
        if result.header.revision > revision:
            revision, last = result.header.revision, name

    await run_concurrently(put, sizes.list_size - 1, 64)
    await _wait_cached(api, LIST_NAMESPACE, last, revision)
    # A GET the cache misses is confirmed against etcd, so the wait above can end before the cache
    # has applied every event: wait for the cached LIST itself.
    cached_path = f"/api/v1/namespaces/{LIST_NAMESPACE}/pods?resourceVersion=0"
    deadline = time.monotonic() + 60
    while await api.list_parsed(cached_path) != sizes.list_size and time.monotonic() < deadline:
        await asyncio.sleep(0.5)


async def bench_lists(api: APIClient, etcd: aetcd.Client, sizes: Sizes, report: Report) -> None:
    """LIST the namespace of list_size pods from the watch cache (resourceVersion=0) three ways:
    the server's side (a raw client that reads the bytes as sent, to the last byte, asking for
    gzip as kubectl and client-go do, and asking for no compression), then the client's side
    (aiohttp decompresses, orjson decodes every item); from etcd (resourceVersion unset, a quorum
    read); and the floor: an etcd range over the same keys."""
    path = f"/api/v1/namespaces/{LIST_NAMESPACE}/pods"
    cached_path = path + "?resourceVersion=0"
    prefix = f"{ETCD_PREFIX}/pods/{LIST_NAMESPACE}/".encode()
    if await api.list_parsed(cached_path) != sizes.list_size:
        raise RuntimeError(f"LIST namespace does not hold exactly {sizes.list_size} pods")
    plain_size = await api.read_raw(cached_path, "identity")
    gzip_size = await api.read_raw(cached_path, "gzip")
    floor = await run_concurrently(lambda i: etcd.get_prefix(prefix), sizes.list_repeats, 1)
    n = f"{sizes.list_size:,}"
    target = Target("p99 <= 150 ms", _max_p99(150))
    gzip_server = await run_concurrently(lambda i: api.read_raw(cached_path, "gzip"), sizes.list_repeats, 1)
    report.rows.append(Row(f"list {n} pods, cache (RV=0): server, gzip (as kubectl asks), to last byte", 1,
                           gzip_server, floor, target))
    plain_server = await run_concurrently(lambda i: api.read_raw(cached_path, "identity"), sizes.list_repeats, 1)
    report.rows.append(Row(f"list {n} pods, cache (RV=0): server, uncompressed, to last byte", 1,
                           plain_server, floor, target))
    parsed = await run_concurrently(lambda i: api.list_parsed(cached_path), sizes.list_repeats, 1)
    report.rows.append(Row(f"list {n} pods, cache (RV=0): client, aiohttp + orjson decode", 1, parsed, floor))
    try:
        quorum = await run_concurrently(lambda i: api.request("GET", path), sizes.list_repeats, 1)
        report.rows.append(Row(f"list {n} pods, etcd (RV unset)", 1, quorum, floor))
    except RuntimeError as error:  # a failing server is a result worth reporting, not a crash
        report.notes.append(f"list {n} pods, etcd (RV unset): FAILED: {str(error)[:300]}")
    report.notes.append(f"list: response body {plain_size / 2**20:.1f} MiB, {gzip_size / 2**20:.1f} MiB gzipped "
                        f"(level 1, as upstream, for bodies over 128 KiB when the client accepts gzip); "
                        f"{sizes.list_repeats} repeats each, so p99 is the slowest repeat. \"server\" rows read "
                        "the bytes as sent without decompressing or parsing them; the \"client\" row is what a "
                        "Python client waits for.")


# -- watch fan-out -----------------------------------------------------------------------------------


def _watch_worker(url: str, tls: ClientTLS, path: str, count: int, target: str,
                  conn: multiprocessing.connection.Connection) -> None:
    """Child process: hold ``count`` watch connections, report "ready", then the monotonic time
    (system-wide on Linux, so comparable with the parent's) at which each saw ``target`` change."""
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    try:
        times = asyncio.run(_hold_watches(url, tls, path, count, target, conn))
        conn.send(("times", times))
    except Exception as error:  # the parent must hear about any failure, not wait for it
        conn.send(("error", repr(error)))
    finally:
        conn.close()


async def _hold_watches(url: str, tls: ClientTLS, path: str, count: int, target: str,
                        conn: multiprocessing.connection.Connection) -> list[float]:
    connector = aiohttp.TCPConnector(ssl=tls.ssl_context(), limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        responses = []
        for _ in range(count):  # opened one by one: a burst of TLS handshakes only adds noise
            response = await session.get(url + path)
            if response.status != 200:
                raise RuntimeError(f"watch: HTTP {response.status}")
            responses.append(response)
        conn.send(("ready", count))

        async def until_modified(response: aiohttp.ClientResponse) -> float:
            async for line in response.content:
                event = orjson.loads(line)
                if event["type"] == "MODIFIED" and event["object"]["metadata"]["name"] == target:
                    return time.monotonic()
            return math.nan

        try:
            async with asyncio.timeout(_WATCH_DEADLINE):
                return list(await asyncio.gather(*(until_modified(r) for r in responses)))
        finally:
            for response in responses:
                response.close()


async def _recv(conn: multiprocessing.connection.Connection, timeout: float) -> tuple[str, Any]:
    """Wait for one message from a worker without blocking the event loop."""
    deadline = time.monotonic() + timeout
    while not conn.poll():
        if time.monotonic() > deadline:
            raise TimeoutError("watch worker did not answer")
        await asyncio.sleep(0.01)
    message: tuple[str, Any] = conn.recv()
    if message[0] == "error":
        raise RuntimeError(f"watch worker failed: {message[1]}")
    return message


async def bench_watch_fanout(api: APIClient, endpoint: APIServerEndpoint, etcd: aetcd.Client, sizes: Sizes,
                             report: Report) -> None:
    """``watchers`` watches on one namespace's pods, spread over worker processes; then one update.
    Latency = the moment each watcher sees the event minus the moment the PUT was sent."""
    await api.create_namespace(WATCH_NAMESPACE)
    pod = await api.create_pod(orjson.dumps(pod_manifest(WATCH_NAMESPACE, "watched")), WATCH_NAMESPACE)
    rv = pod["metadata"]["resourceVersion"]
    path = f"/api/v1/namespaces/{WATCH_NAMESPACE}/pods?watch=1&resourceVersion={rv}&timeoutSeconds=300"
    context = multiprocessing.get_context("spawn")
    per_process = [len(range(w, sizes.watchers, sizes.watch_processes)) for w in range(sizes.watch_processes)]
    workers = []
    try:
        for count in per_process:
            parent_end, child_end = context.Pipe()
            process = context.Process(target=_watch_worker, daemon=True,
                                      args=(endpoint.url, endpoint.tls, path, count, "watched", child_end))
            process.start()
            child_end.close()
            workers.append((process, parent_end))
        for _, conn in workers:
            await _recv(conn, 120)
        await asyncio.sleep(1.0)  # let every watch settle before the clock starts
        sent = time.monotonic()
        await api.update_pod(_with_label(pod, "fan-out"))
        put_done = time.monotonic() - sent
        arrivals: list[float] = []
        for _, conn in workers:
            arrivals += (await _recv(conn, _WATCH_DEADLINE + 30))[1]
        # The clients have hung up, but a server-side watch only notices when it next writes:
        # one more event ends them all now instead of at their timeout (or at shutdown).
        await api.update_pod(_with_label(await api.get_pod(WATCH_NAMESPACE, "watched"), "release"))
    finally:
        for process, conn in workers:
            process.join(5)
            if process.is_alive():
                process.terminate()
                process.join(5)
            conn.close()
    latencies = tuple(t - sent for t in arrivals if not math.isnan(t))
    ours = Measurement(len(latencies), max(latencies, default=math.nan), latencies)
    floor = await _etcd_watch_fanout(etcd, sizes.watchers)
    report.rows.append(Row(f"watch fan-out to {sizes.watchers:,}", sizes.watchers, ours, floor,
                           Target("p99 <= 100 ms", _max_p99(100))))
    missing = sizes.watchers - len(latencies)
    report.notes.append(
        f"watch fan-out: {sizes.watchers:,} watch connections over {sizes.watch_processes} client processes; "
        f"ops/s is deliveries per second until the last one; the PUT itself returned after {put_done * 1000:.1f} ms"
        + (f"; {missing} watchers did NOT see the event within {_WATCH_DEADLINE:g} s" if missing else "") + ".")


async def _etcd_watch_fanout(etcd: aetcd.Client, watchers: int) -> Measurement:
    """The floor: ``watchers`` aetcd watches (one gRPC stream) on one key, then one put."""
    key = f"{FLOOR_PREFIX}{WATCH_NAMESPACE}/watched".encode()
    await etcd.put(key, b"{}")
    streams = [await etcd.watch(key) for _ in range(watchers)]
    await asyncio.sleep(1.0)

    async def first_event(stream: Any) -> float:
        async for _event in stream:
            return time.monotonic()
        return math.nan

    tasks = [asyncio.ensure_future(first_event(s)) for s in streams]
    await asyncio.sleep(0)
    sent = time.monotonic()
    await etcd.put(key, b'{"changed":true}')
    try:
        async with asyncio.timeout(_WATCH_DEADLINE):
            arrivals = await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        for stream in streams:
            with contextlib.suppress(Exception):
                await stream.cancel()
    latencies = tuple(t - sent for t in arrivals if not math.isnan(t))
    return Measurement(len(latencies), max(latencies, default=math.nan), latencies)


# -- memory ----------------------------------------------------------------------------------------


async def fill_pods(api: APIClient, etcd: aetcd.Client, template: dict[str, Any], count: int,
                    first_index: int) -> int:
    """Write ``count`` pods straight into the API server's etcd prefix (what the API server itself
    stores: a created pod cloned under new names and uids), then wait until its cache has them.
    Going around the API makes 150k pods take seconds, not minutes; the cache sees the same events.
    Returns how often the cache answered 404 for a revision it claimed to have seen."""
    revision = 0
    last = ""

    async def put(i: int) -> None:
        nonlocal revision, last
        name = pod_name(first_index + i)
        meta = {**template["metadata"], "name": name, "namespace": FILL_NAMESPACE, "uid": str(uuid.uuid4())}
        result = await etcd.put(f"{MEMORY_PREFIX}/pods/{FILL_NAMESPACE}/{name}".encode(),
                                orjson.dumps({**template, "metadata": meta}))
        if result.header.revision > revision:
            revision, last = result.header.revision, name

    await run_concurrently(put, count, 64)
    return await _wait_cached(api, FILL_NAMESPACE, last, revision)


async def _wait_cached(api: APIClient, namespace: str, name: str, revision: int) -> int:
    """Wait until the API server's cache holds pod ``name`` written at ``revision``.

    A GET at resourceVersion=N is served by the cache once it has seen revision N (504 before).
    A 404 after that means the cache *claimed* revision N without having applied its event yet:
    returned as a count so the report can say so (etcd before 3.4.25/3.5.8 can send a progress
    notification ahead of pending events)."""
    early_not_found = 0
    while True:
        try:
            await api.get_pod(namespace, name, str(revision))
            return early_not_found
        except RuntimeError as error:
            if ": 404 " in str(error):
                early_not_found += 1
                await asyncio.sleep(0.05)
            elif ": 504 " not in str(error):
                raise


async def bench_memory(run: BenchRun, etcd_url: str, etcd: aetcd.Client, template: dict[str, Any],
                       sizes: Sizes, report: Report) -> None:
    """RSS of a fresh API server (its own etcd prefix, so its cache starts empty and no earlier
    phase's allocations linger) as its cache grows to each memory point."""
    endpoint = await run.start_apiserver(etcd_url, MEMORY_PREFIX)
    api = APIClient(endpoint)
    try:
        report.memory.append((0, rss_bytes(endpoint.started.pid), "measured (after start-up)"))
        cached = 0
        for point in sizes.memory_points:
            early = await fill_pods(api, etcd, template, point - cached, cached)
            if early:
                report.notes.append(
                    f"memory fill to {point:,}: a GET at resourceVersion=N returned 404 {early} time(s) (polled "
                    "every 50 ms) for the pod written at N: the watch cache advanced its revision before "
                    "applying that event (etcd 3.4.23 may send progress notifications ahead of events).")
            cached = point
            await asyncio.sleep(2.0)  # let allocations from the burst settle before reading RSS
            report.memory.append((cached, rss_bytes(endpoint.started.pid), "measured"))
    finally:
        await api.close()
        run.stop(endpoint.started)
    measured = [(pods, rss) for pods, rss, _ in report.memory if pods > 0]
    if len(measured) >= 2 and measured[-1][0] < 150_000:
        (p1, r1), (p2, r2) = measured[-2], measured[-1]
        slope = (r2 - r1) / (p2 - p1)
        report.memory.append((150_000, int(r2 + slope * (150_000 - p2)),
                              f"EXTRAPOLATED linearly from {p1:,} and {p2:,}"))


# -- main ------------------------------------------------------------------------------------------


async def run_benchmarks(sizes: Sizes, sizes_name: str, run: BenchRun, profile_to: Path | None,
                         only: str | None = None) -> Report:
    report = Report(machine_description(), sizes_name)
    etcd_url = await run.start_etcd()
    etcd_pid = run.started("etcd").pid
    endpoint = await run.start_apiserver(etcd_url, ETCD_PREFIX, profile_to=profile_to)
    api = APIClient(endpoint)
    etcd = _etcd_client(etcd_url)
    cpu_pids = CPUPids(apiserver=endpoint.started.pid, etcd=etcd_pid)
    try:
        await api.create_namespace(LIST_NAMESPACE)
        steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("create", lambda: bench_creates(api, etcd, sizes, report, cpu_pids)),
            ("create, 2 replicas", lambda: bench_creates_two_replicas(run, etcd_url, api, etcd, sizes, report)),
            ("create, pass-through floor", lambda: bench_passthrough_creates(run, etcd_url, etcd, etcd_pid, sizes,
                                                                             report)),
            ("get", lambda: bench_gets(api, etcd, sizes, report)),
            ("update", lambda: bench_updates(api, etcd_url, sizes, report)),
            ("list", lambda: bench_lists(api, etcd, sizes, report)),
            ("watch fan-out", lambda: bench_watch_fanout(api, endpoint, etcd, sizes, report)),
        ]
        if only == "list":  # the LIST phase alone, over pods cloned through etcd
            await _timed_step("fill", fill_list_namespace(api, etcd, sizes))
            await _timed_step("list", bench_lists(api, etcd, sizes, report))
            return report
        for name, step in steps:
            await _timed_step(name, step())
        # A stored pod, as the API server wrote it, is the template the memory phase clones.
        template = await api.get_pod(WATCH_NAMESPACE, "watched")
        template["metadata"].pop("resourceVersion", None)
        await api.close()
        run.stop(endpoint.started)  # frees its CPU and memory, and writes its profile if any
        await _timed_step("memory", bench_memory(run, etcd_url, etcd, template, sizes, report))
    finally:
        await api.close()
        await etcd.close()
    return report


async def _timed_step(name: str, step: Awaitable[None]) -> None:
    begin = time.monotonic()
    print(f"-- {name} ...", file=sys.stderr, flush=True)
    await step
    print(f"   {name} took {time.monotonic() - begin:.1f} s", file=sys.stderr, flush=True)


def print_profile(path: Path, top: int = 25) -> None:
    import pstats

    stats = pstats.Stats(str(path), stream=sys.stderr)
    stats.sort_stats("tottime").print_stats(top)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes: a ~1 minute smoke run")
    p.add_argument("--list-size", type=int, help="pods in the LIST namespace (default 10000; quick 1000)")
    p.add_argument("--watchers", type=int, help="concurrent watch connections (default 1000; quick 100)")
    p.add_argument("--watch-processes", type=int, help="client processes holding the watches")
    p.add_argument("--memory-points", help="comma-separated cached-pod counts to measure RSS at")
    p.add_argument("--results", type=Path, default=RESULTS, help="Markdown file to update (default docs/benchmarks.md)")
    p.add_argument("--no-write", action="store_true", help="print only; leave the results file alone")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, etcd data) for inspection")
    p.add_argument("--only", choices=["list"], help="run only this phase (print only; the results file is left alone)")
    p.add_argument("--profile-apiserver", type=Path, metavar="STATS",
                   help="run the benched API server under cProfile, save stats to STATS and print the top")
    return p.parse_args(argv)


def sizes_from(args: argparse.Namespace) -> Sizes:
    sizes = QUICK if args.quick else FULL
    if args.list_size is not None:
        sizes = replace(sizes, list_size=args.list_size)
    if args.watchers is not None:
        sizes = replace(sizes, watchers=args.watchers)
    if args.watch_processes is not None:
        sizes = replace(sizes, watch_processes=args.watch_processes)
    if args.memory_points:
        sizes = replace(sizes, memory_points=tuple(int(x) for x in args.memory_points.split(",")))
    points = sizes.memory_points
    if not points or points[0] <= 0 or any(b <= a for a, b in itertools.pairwise(points)):
        raise SystemExit("--memory-points must be positive and increasing")
    if sum(count for _, count in sizes.creates) > sizes.list_size:
        raise SystemExit("--list-size must be at least the number of pods the create bench makes")
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    sizes = sizes_from(args)
    # Each watch holds a socket in the bench's client processes and in the API server (a child,
    # which inherits this limit); leave room for everything else.
    limit = raise_open_file_limit(sizes.watchers + 1024)
    if limit < sizes.watchers // max(1, sizes.watch_processes) + 256 or limit < sizes.watchers + 256:
        raise SystemExit(f"ulimit -n is {limit}: too low for {sizes.watchers} watchers")
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    with BenchRun(keep=args.keep) as run:
        report = asyncio.run(run_benchmarks(sizes, "quick" if args.quick else "full", run, args.profile_apiserver,
                                            args.only))
    if args.profile_apiserver:
        print_profile(args.profile_apiserver)
    text = render(report)
    print(text)
    if args.profile_apiserver:
        print("profiled run: numbers are slowed by cProfile; not written", file=sys.stderr)
    elif not args.no_write and not args.only:
        write_section(args.results, "apiserver", text, RESULTS_HEADER)
        print(f"\nwrote the apiserver section of {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
