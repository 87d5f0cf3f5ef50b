"""Custom objects against built-in pods through one API server, in the same run.

Run: .venv/bin/python bench/crd.py [--quick] [--no-write] [--keep]

- create: POST at concurrency 1, 8 and 32, the three kinds interleaved per level so drift on a
  shared machine hits them alike: a ~2 KB pod (the API server bench's), a ~2 KB custom object of a
  small typed CRD, and a DaskCluster, a real-world custom resource whose CRD (from the PyPI wheel
  dask-kubernetes, vendored under tests/integration/apiserver/data/) embeds two full PodSpec
  schemas (~280 KB of schema to prune, default and validate against).
- write: on one object per kind, sequentially, a PUT with the last resourceVersion against a
  server-side apply (PATCH application/apply-patch+yaml, force) of the full manifest; each changes
  one label. The in-process cost of apply's merge is in bench/apply.py; this is its cost as a
  client sees it.

The floor is the pod: ratios are custom object (or apply) ops/s over the pod's (or PUT's) at the
same concurrency. Writes its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

# bench/ is not a package: its directory goes on the path before the shared helpers are imported.
from _harness import (
    RESULTS,
    RESULTS_HEADER,
    APIServerEndpoint,
    BenchRun,
    Measurement,
    machine_description,
    markdown_table,
    run_concurrently,
    write_section,
)
from apiserver import pod_manifest

REPO = Path(__file__).resolve().parent.parent
DASK_DATA = REPO / "tests" / "integration" / "apiserver" / "data"
NAMESPACE = "bench-crd"
SMALL_GROUP = "bench.kubeplane.dev"
DASK_GROUP = "kubernetes.dask.org"
_ESTABLISH_TIMEOUT = 30.0


@dataclass(frozen=True)
class Sizes:
    creates: tuple[tuple[int, int], ...]  # (concurrency, objects per kind)
    writes: int  # sequential PUTs and applies per kind


FULL = Sizes(creates=((1, 300), (8, 600), (32, 1000)), writes=300)
QUICK = Sizes(creates=((1, 40), (8, 80), (32, 80)), writes=40)


# -- the workload ----------------------------------------------------------------------------------


def small_crd() -> dict[str, Any]:
    """A CRD of the size most operators ship: a few typed fields, a keyed list, string maps."""
    string = {"type": "string"}
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object", "required": ["image"],
                "properties": {
                    "image": string, "replicas": {"type": "integer", "minimum": 0, "default": 1},
                    "args": {"type": "array", "items": string},
                    "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                              "items": {"type": "object", "required": ["name", "port"], "properties": {
                                  "name": string, "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                                  "protocol": {"type": "string", "enum": ["TCP", "UDP"], "default": "TCP"}}}},
                    "env": {"type": "array", "items": {"type": "object", "required": ["name"],
                                                       "properties": {"name": string, "value": string}}},
                    "resources": {"type": "object", "properties": {
                        "requests": {"type": "object", "additionalProperties": string},
                        "limits": {"type": "object", "additionalProperties": string}}},
                    "nodeSelector": {"type": "object", "additionalProperties": string},
                },
            },
            "status": {"type": "object", "properties": {"phase": string}},
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"checkouts.{SMALL_GROUP}"},
        "spec": {"group": SMALL_GROUP, "scope": "Namespaced",
                 "names": {"plural": "checkouts", "singular": "checkout", "kind": "Checkout"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema},
                               "subresources": {"status": {}}}]},
    }


def small_object(name: str) -> dict[str, Any]:
    """About the pod's size (~2 KB of JSON), with the same metadata."""
    pod = pod_manifest(NAMESPACE, name)
    container = pod["spec"]["containers"][0]
    env = [{"name": f"SETTING_{i:02d}", "value": f"value-{i:02d}-" + "x" * 24} for i in range(18)]
    return {"apiVersion": f"{SMALL_GROUP}/v1", "kind": "Checkout", "metadata": pod["metadata"],
            "spec": {"image": container["image"], "replicas": 3, "args": container["args"],
                     "ports": [{"name": p["name"], "port": p["containerPort"]} for p in container["ports"]],
                     "env": env, "resources": container["resources"], "nodeSelector": pod["spec"]["nodeSelector"]}}


def dask_crd() -> dict[str, Any]:
    for document in yaml.safe_load_all((DASK_DATA / "dask-kubernetes-operator-crds.yaml").read_text()):
        if document and document["metadata"]["name"] == f"daskclusters.{DASK_GROUP}":
            found: dict[str, Any] = document
            return found
    raise RuntimeError("no DaskCluster CRD in the vendored bundle")


def dask_object(name: str) -> dict[str, Any]:
    sample: dict[str, Any] = next(yaml.safe_load_all((DASK_DATA / "dask-kubernetes-samples.yaml").read_text()))
    sample = copy.deepcopy(sample)
    sample["metadata"] = {"name": name, "namespace": NAMESPACE, "labels": {"app": "dask"}}
    return sample


@dataclass(frozen=True)
class Kind:
    label: str
    short: str
    collection: str  # the namespaced collection path
    manifest: Callable[[str], dict[str, Any]]


KINDS = (
    Kind("pod (built-in)", "pod", f"/api/v1/namespaces/{NAMESPACE}/pods", lambda name: pod_manifest(NAMESPACE, name)),
    Kind("custom object, small CRD", "small custom object", f"/apis/{SMALL_GROUP}/v1/namespaces/{NAMESPACE}/checkouts", small_object),
    Kind("DaskCluster (real CRD, pod specs inside)", "DaskCluster",
         f"/apis/{DASK_GROUP}/v1/namespaces/{NAMESPACE}/daskclusters",
         dask_object),
)


# -- client ----------------------------------------------------------------------------------------


class Client:
    """aiohttp (HTTP/1.1 keep-alive, admin client certificate) against one API server."""

    def __init__(self, api: APIServerEndpoint) -> None:
        self.url = api.url
        connector = aiohttp.TCPConnector(ssl=api.tls.ssl_context(), limit=64)
        self.session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120))

    async def close(self) -> None:
        await self.session.close()

    async def call(self, method: str, path: str, body: bytes | None = None,
                   content_type: str = "application/json", ok: tuple[int, ...] = (200, 201)) -> tuple[int, bytes]:
        headers = {"Content-Type": content_type} if body is not None else {}
        async with self.session.request(method, self.url + path, data=body, headers=headers) as response:
            payload = await response.read()
            if response.status not in ok:
                raise RuntimeError(f"{method} {path}: {response.status} {payload[:300]!r}")
            return response.status, payload

    async def create(self, collection: str, body: bytes) -> None:
        await self.call("POST", collection, body)


async def prepare(client: Client) -> None:
    """The namespace (with the `default` ServiceAccount a controller manager would add) and both
    CRDs, then wait until each custom collection is served."""
    await client.call("POST", "/api/v1/namespaces",
                      orjson.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}))
    await client.call("POST", f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts",
                      orjson.dumps({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}))
    for crd in (small_crd(), dask_crd()):
        await client.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", orjson.dumps(crd))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _ESTABLISH_TIMEOUT
    for kind in KINDS[1:]:
        while (await client.call("GET", kind.collection, ok=(200, 404)))[0] != 200:
            if loop.time() > deadline:
                raise TimeoutError(f"{kind.collection} not served after {_ESTABLISH_TIMEOUT:g}s")
            await asyncio.sleep(0.1)


# -- phases ----------------------------------------------------------------------------------------


@dataclass
class Report:
    machine: dict[str, str]
    sizes_name: str
    creates: list[tuple[str, int, Measurement, Measurement]] = field(default_factory=list)  # kind, conc., ours, pod
    writes: list[tuple[str, Measurement, Measurement]] = field(default_factory=list)  # kind, apply, put
    notes: list[str] = field(default_factory=list)


async def bench_creates(client: Client, sizes: Sizes, report: Report) -> None:
    first = 0
    for concurrency, count in sizes.creates:
        names = [f"c{concurrency}-{first + i:06d}" for i in range(count)]
        results = [(kind, await _create_level(client, kind, names, concurrency)) for kind in KINDS]
        pods = results[0][1]
        report.creates += [(kind.label, concurrency, ours, pods) for kind, ours in results]
        first += count
    sizes_bytes = ", ".join(f"{kind.short} {len(orjson.dumps(kind.manifest('x'))):,}" for kind in KINDS)
    report.notes.append(f"create: request JSON bytes: {sizes_bytes}.")


async def _create_level(client: Client, kind: Kind, names: Sequence[str], concurrency: int) -> Measurement:
    bodies = [orjson.dumps(kind.manifest(name)) for name in names]

    async def create(i: int) -> None:
        await client.create(kind.collection, bodies[i])

    return await run_concurrently(create, len(bodies), concurrency)


async def bench_writes(client: Client, sizes: Sizes, report: Report) -> None:
    for kind in KINDS:
        updates = await _puts(client, kind, sizes.writes)
        applies = await _applies(client, kind, sizes.writes)
        report.writes.append((kind.label, applies, updates))


async def _puts(client: Client, kind: Kind, count: int) -> Measurement:
    """PUTs of one object, each with the resourceVersion the previous one returned."""
    path = f"{kind.collection}/write-put"
    _, created = await client.call("POST", kind.collection, orjson.dumps(kind.manifest("write-put")))
    live: dict[str, Any] = orjson.loads(created)

    async def put(i: int) -> None:
        nonlocal live
        live["metadata"].setdefault("labels", {})["bench-round"] = f"r{i + 1}"
        _, updated = await client.call("PUT", path, orjson.dumps(live))
        live = orjson.loads(updated)

    return await run_concurrently(put, count, 1)


async def _applies(client: Client, kind: Kind, count: int) -> Measurement:
    """Server-side applies of the full manifest to one object (created by a first, untimed apply)."""
    manifest = kind.manifest("write-apply")
    if kind is KINDS[0]:
        # Re-applying the pod's (atomic) tolerations drops the unreachable toleration that
        # DefaultTolerationSeconds added at create; upstream's plugin re-adds it on update too,
        # kubeplane's only on create, so update validation refuses. Leave them to admission.
        del manifest["spec"]["tolerations"]
    path = f"{kind.collection}/write-apply?fieldManager=bench&force=true"

    async def apply(i: int) -> None:
        manifest["metadata"].setdefault("labels", {})["bench-round"] = f"r{i + 1}"
        # JSON is YAML: the apply-patch+yaml body needs no YAML encoder.
        await client.call("PATCH", path, orjson.dumps(manifest), "application/apply-patch+yaml")

    await apply(-1)
    return await run_concurrently(apply, count, 1)


async def run_benchmarks(sizes: Sizes, sizes_name: str, run: BenchRun) -> Report:
    etcd_url = await run.start_etcd()
    api = await run.start_apiserver(etcd_url, extra=("--disable-admission-plugins=ServiceAccount",))
    client = Client(api)
    report = Report(machine_description(), sizes_name)
    try:
        await prepare(client)
        await bench_creates(client, sizes, report)
        await bench_writes(client, sizes, report)
    finally:
        await client.close()
    return report


# -- reporting -------------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value:,.2f}"


def render(report: Report) -> str:
    m = report.machine
    creates = markdown_table(
        ["create", "conc.", "ops/s", "p50 ms", "p99 ms", "ops/s vs pod"],
        [[label, str(conc), f"{ours.ops_per_second:,.1f}", _ms(ours.p50_ms), _ms(ours.p99_ms),
          f"{ours.ops_per_second / pods.ops_per_second:.0%}"] for label, conc, ours, pods in report.creates])
    writes = markdown_table(
        ["object", "PUT ops/s", "PUT p50 ms", "apply ops/s", "apply p50 ms", "apply p99 ms", "apply cost vs PUT"],
        [[label, f"{put.ops_per_second:,.1f}", _ms(put.p50_ms), f"{applied.ops_per_second:,.1f}",
          _ms(applied.p50_ms), _ms(applied.p99_ms), f"{put.ops_per_second / applied.ops_per_second:.1f}x"]
         for label, applied, put in report.writes])
    lines = [
        "## Custom objects vs pods (`bench/crd.py`)",
        "",
        f"Run {m['date']} ({report.sizes_name} sizes) on {m['nproc']} CPUs ({m['cpu']}), {m['memory']} RAM, "
        f"Python {m['python']}, etcd {m['etcd']}. One etcd and one API server process on loopback, "
        "aiohttp clients with the admin certificate; the floor is the built-in pod in the same run, "
        "the kinds interleaved at each concurrency.",
        "",
        creates,
        "",
        "Writes to one existing object, sequentially, each changing one label: a PUT with the last "
        "resourceVersion against a server-side apply of the full manifest (`force=true`).",
        "",
        writes,
        "",
        *[f"- {note}" for note in report.notes],
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller counts (a smoke run)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, etcd data)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the results file to update")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    sizes = QUICK if args.quick else FULL
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    with BenchRun(keep=args.keep) as run:
        report = asyncio.run(run_benchmarks(sizes, "quick" if args.quick else "full", run))
    text = render(report)
    print(text)
    if not args.no_write:
        write_section(args.results, "crd", text, RESULTS_HEADER)
        print(f"\nwrote the crd section of {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
