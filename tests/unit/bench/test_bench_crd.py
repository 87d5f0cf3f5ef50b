"""bench/crd.py without a server: its workload and the table it writes."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"


@pytest.fixture(scope="module")
def crd() -> Iterator[ModuleType]:
    # bench/ is a directory of scripts: crd.py imports its siblings (_harness, apiserver) by name,
    # so the directory goes on the path while it loads.
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("bench_crd", BENCH / "crd.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_crd"] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("bench_crd", None)
        sys.path.remove(str(BENCH))


def test_each_kind_makes_a_named_object_in_the_bench_namespace(crd: ModuleType) -> None:
    for kind in crd.KINDS:
        manifest = kind.manifest("obj-1")
        assert manifest["metadata"]["name"] == "obj-1"
        assert manifest["metadata"]["namespace"] == crd.NAMESPACE
        group_version = manifest["apiVersion"]
        assert kind.collection.startswith("/api/v1/" if group_version == "v1" else f"/apis/{group_version}/")


def test_the_custom_kinds_match_their_crds(crd: ModuleType) -> None:
    dask = crd.dask_crd()
    assert dask["spec"]["names"]["kind"] == crd.dask_object("x")["kind"] == "DaskCluster"
    small = crd.small_crd()
    assert small["spec"]["names"]["kind"] == crd.small_object("x")["kind"]
    assert small["spec"]["group"] == crd.SMALL_GROUP


def test_render_gives_ratios_to_the_pod_and_to_put(crd: ModuleType) -> None:
    measurement = sys.modules["_harness"].Measurement
    pods = measurement(100, 1.0, (0.01,) * 100)
    custom = measurement(150, 1.0, (0.005,) * 150)
    put = measurement(400, 1.0, (0.002,) * 400)
    applied = measurement(200, 1.0, (0.004,) * 200)
    report = crd.Report({"date": "today", "nproc": "2", "cpu": "cpu", "memory": "1 GiB", "python": "3",
                         "etcd": "3.4"}, "quick")
    report.creates += [("pod (built-in)", 8, pods, pods), ("custom", 8, custom, pods)]
    report.writes.append(("custom", applied, put))
    text = crd.render(report)
    assert "| custom | 8 | 150.0 | 5.00 | 5.00 | 150% |" in text
    assert "| custom | 400.0 | 2.00 | 200.0 | 4.00 | 4.00 | 2.0x |" in text
