"""The measurement behind the transport choice (kubeplane.client.rest docstring).

Not a pass/fail timing: it prints the numbers. Runs only with KUBEPLANE_CLIENT_MEASURE=1 since
creating 1,000 objects is slow on a shared 2-core machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from typing import Any

import pytest

from kubeplane.client.resource import CONFIGMAPS
from kubeplane.client.rest import Client

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not os.environ.get("KUBEPLANE_CLIENT_MEASURE"), reason="measurement only")]

COUNT = 1000
ROUNDS = 5


def _timed(run: Callable[[], int]) -> float:
    start = time.perf_counter()
    assert run() == COUNT
    return time.perf_counter() - start


async def test_measure_list(client: Client, namespace: str, apiserver: Any) -> None:
    from kubernetes import client as k8s
    from kubernetes import config

    semaphore = asyncio.Semaphore(32)

    async def create(i: int) -> None:
        async with semaphore:
            await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                               "metadata": {"name": f"cm-{i:04d}"}, "data": {"k": "v" * 64}},
                                namespace=namespace)

    await asyncio.gather(*(create(i) for i in range(COUNT)))
    core = k8s.CoreV1Api(config.new_client_from_config(str(apiserver.kubeconfig)))

    def official_typed() -> int:
        return len(core.list_namespaced_config_map(namespace).items)

    def official_raw() -> int:
        response = core.list_namespaced_config_map(namespace, _preload_content=False)
        return len(json.loads(response.data)["items"])

    async def ours() -> int:
        return len((await client.list(CONFIGMAPS, namespace))["items"])

    # Best of a few runs each, after a warm-up, so a noisy neighbour on the machine skews less.
    timings: dict[str, float] = {}
    for label, run in (("official typed", official_typed), ("official raw", official_raw)):
        run()
        timings[label] = min(_timed(run) for _ in range(ROUNDS))
    await ours()
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        assert await ours() == COUNT
        best = min(best, time.perf_counter() - start)
    timings["kubeplane"] = best
    print("\nlist of", COUNT, "configmaps:", {k: f"{v:.3f}s" for k, v in timings.items()})
