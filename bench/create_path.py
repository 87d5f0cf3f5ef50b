"""In-process cost of one pod create through the API server's handler stack, stage by stage.

    .venv/bin/python bench/create_path.py                 # 2,000 creates, µs per stage
    .venv/bin/python bench/create_path.py --count 500 --profile   # plus a cProfile top list

The stack is built as the server builds it (``Registry`` with the default admission plugins, the
pod ``Store`` and ``ResourceHandler``, minor 1.35) over the memory storage, which is the etcd3
store's code over an in-memory KV: encode/decode around the write are the real ones; the network
hop, the watch cache and the gRPC client are missing (admission's lists of limit ranges and quotas
read the KV here, the watch cache in the server). Each stage calls exactly what
``ResourceHandler.create`` and ``Store.create`` call, in the same order, timed with this thread's
CPU clock (``thread_time_ns``: the machine is shared, and wall time would count other processes'
turns; ``--wall`` uses ``perf_counter_ns``). The last line runs the real ``handler.create`` end to
end on other pods, a check that the stages add up. Not a test: it prints and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from kubeplane.apiserver.endpoints.handlers import ResourceHandler
from kubeplane.apiserver.negotiation import Representation, decode_body, encode, negotiate_output
from kubeplane.apiserver.registry.context import RequestContext
from kubeplane.apiserver.registry.registry import Registry, RegistryConfig
from kubeplane.apiserver.registry.store import CREATE
from kubeplane.catalog import Catalog
from kubeplane.machinery.schema import schemas
from kubeplane.storage.memory import MemoryStorage

sys.path.insert(0, str(Path(__file__).resolve().parent))
# bench/ is not a package: the API server bench (its pod) is imported from this directory.
from apiserver import pod_manifest

MINOR = "1.35"
NAMESPACE = "bench"
USER_AGENT = "bench/1.0"

STAGES = ("parse", "kind checks + prune", "defaults", "admit (mutating)", "prepare", "validate",
          "validate admission", "managedFields", "storage create (encode, kv, decode)", "encode response")


def build_handler() -> tuple[ResourceHandler, Registry]:
    backend: dict[str, MemoryStorage] = {}
    catalog = Catalog.for_version(MINOR)
    registry = Registry(catalog, lambda prefix, info: backend.setdefault(prefix, MemoryStorage()), RegistryConfig())
    store = registry.core("pods")
    handler = ResourceHandler(store.info, store, schemas(MINOR))
    return handler, registry


def _ctx() -> RequestContext:
    return RequestContext(namespace=NAMESPACE, user="admin", groups=("system:masters", "system:authenticated"),
                          user_agent=USER_AGENT)


async def seed(registry: Registry) -> None:
    """The namespace and its default ServiceAccount, so admission takes its full path."""
    admin = RequestContext(user="admin", groups=("system:masters",), user_agent=USER_AGENT)
    await registry.core("namespaces").create(admin, {"apiVersion": "v1", "kind": "Namespace",
                                                     "metadata": {"name": NAMESPACE}})
    sa_ctx = _ctx()
    await registry.core("serviceaccounts").create(sa_ctx, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                           "metadata": {"name": "default"}})


async def staged_create(handler: ResourceHandler, body: bytes, rep: Representation,
                        totals: dict[str, int], clock: Callable[[], int]) -> bytes:
    """One create, split as handlers.ResourceHandler.create and Store.create run it."""
    store = handler.store
    ctx = _ctx()
    t0 = clock()
    obj = decode_body("application/json", body, MINOR)
    t1 = clock()
    handler.decode_object(ctx, obj, kind=handler.info.kind)  # kind/apiVersion checks only
    handler._check_fields(ctx, obj)
    t2 = clock()
    store.strategy.default(obj)
    t3 = clock()
    meta = obj.setdefault("metadata", {})
    store._fill_namespace(ctx, meta)
    name = meta.get("name") or ""
    await store._admit(ctx, CREATE, obj, None)
    t4 = clock()
    store._prepare_meta_for_create(meta)
    store.strategy.prepare_for_create(ctx, obj)
    t5 = clock()
    causes = store.strategy.validate(ctx, obj)
    if causes:
        raise RuntimeError(f"{name}: invalid: {causes}")
    t6 = clock()
    await store._validate_admission(ctx, CREATE, obj, None)
    t7 = clock()
    store.track_fields(ctx, obj, None, store.strategy)
    t8 = clock()
    await store.before_create(ctx, obj)
    created = await store.storage.create(store.key(ctx.namespace, name), obj, ttl=store.strategy.ttl_seconds)
    t9 = clock()
    out = encode(handler.shape_one(created, rep, {}), rep.media)
    t10 = clock()
    marks = (t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, t10)
    for stage, begin, end in zip(STAGES, marks, marks[1:], strict=False):
        totals[stage] += end - begin
    return out


async def whole_create(handler: ResourceHandler, body: bytes, rep: Representation) -> bytes:
    ctx = _ctx()
    response = await handler.create(ctx, decode_body("application/json", body, MINOR), rep, {})
    return encode(response.body, rep.media)


def bodies(prefix: str, count: int) -> list[bytes]:
    return [orjson.dumps(pod_manifest(NAMESPACE, f"{prefix}-{i:06d}")) for i in range(count)]


async def run(count: int, profile: bool, clock: Callable[[], int]) -> None:
    handler, registry = build_handler()
    await seed(registry)
    rep = negotiate_output("application/json")
    for body in bodies("warm", 50):  # schemas, caches, lazily built walkers
        await whole_create(handler, body, rep)
    # As the server does once its long-lived state is built (server.tune_garbage_collection).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)

    totals = dict.fromkeys(STAGES, 0)
    staged = bodies("staged", count)
    for body in staged:
        await staged_create(handler, body, rep, totals, clock)

    whole = bodies("whole", count)
    begin = clock()
    for body in whole:
        await whole_create(handler, body, rep)
    whole_ns = clock() - begin

    width = max(len(s) for s in STAGES) + 2
    staged_sum = sum(totals.values())
    how = "wall" if clock is time.perf_counter_ns else "CPU"
    print(f"{count} pod creates, minor {MINOR}, request {len(staged[0]):,} bytes; {how} µs per create")
    for stage in STAGES:
        print(f"  {stage:<{width}}{totals[stage] / count / 1000:8.1f}")
    print(f"  {'sum of stages':<{width}}{staged_sum / count / 1000:8.1f}")
    print(f"  {'handler.create + parse + encode':<{width}}{whole_ns / count / 1000:8.1f}")

    if profile:
        profiled = bodies("profiled", count)
        profiler = cProfile.Profile()
        profiler.enable()
        for body in profiled:
            await whole_create(handler, body, rep)
        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.sort_stats("cumulative").print_stats(45)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000, help="creates per measurement (default 2000)")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of the whole create")
    parser.add_argument("--wall", action="store_true", help="time stages in wall time, not thread CPU time")
    args = parser.parse_args(argv)
    asyncio.run(run(args.count, args.profile, time.perf_counter_ns if args.wall else time.thread_time_ns))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
