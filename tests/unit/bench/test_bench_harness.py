"""The benchmark plumbing: percentiles, concurrency, the results-file section writer, cleanup."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"


def _load(name: str) -> ModuleType:
    # bench/ is a directory of scripts, not a package: load the module from its file.
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


harness = _load("_harness")


def test_percentile_is_nearest_rank() -> None:
    samples = [float(x) for x in range(100, 0, -1)]  # 1..100, unsorted
    assert harness.percentile(samples, 0.50) == 50.0
    assert harness.percentile(samples, 0.99) == 99.0
    assert harness.percentile(samples, 1.0) == 100.0
    assert harness.percentile([7.0], 0.99) == 7.0


def test_percentile_of_nothing_is_nan() -> None:
    assert harness.percentile([], 0.5) != harness.percentile([], 0.5)  # NaN


async def test_run_concurrently_runs_every_index_with_bounded_concurrency() -> None:
    seen: list[int] = []
    in_flight = 0
    peak = 0

    async def operation(index: int) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0)
        seen.append(index)
        in_flight -= 1

    measurement = await harness.run_concurrently(operation, 50, 8)
    assert sorted(seen) == list(range(50))
    assert peak == 8
    assert measurement.count == 50 and len(measurement.latencies) == 50


def test_replace_section_appends_then_replaces_only_its_own_block() -> None:
    doc = "# Benchmarks\n\nintro\n"
    doc = harness.replace_section(doc, "apiserver", "first numbers")
    doc = harness.replace_section(doc, "scheduler", "scheduler numbers")
    doc = harness.replace_section(doc, "apiserver", "second numbers")
    assert "first numbers" not in doc
    assert doc.count("<!-- bench:apiserver:begin -->") == 1
    assert doc.index("second numbers") < doc.index("scheduler numbers")
    assert doc.startswith("# Benchmarks\n\nintro\n\n")


def test_write_section_creates_the_file_with_its_header(tmp_path: Path) -> None:
    results = tmp_path / "benchmarks.md"
    harness.write_section(results, "apiserver", "numbers", "# Benchmarks\nhow to run")
    harness.write_section(results, "apiserver", "newer numbers", "# ignored header")
    text = results.read_text()
    assert text.startswith("# Benchmarks\nhow to run\n\n")
    assert "newer numbers" in text and text.count("numbers") == 1 and "ignored header" not in text


def test_markdown_table_shape() -> None:
    table = harness.markdown_table(["a", "b"], [["1", "2"]])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1 | 2 |"]


def test_bench_run_stops_its_processes_and_removes_its_dir_on_failure() -> None:
    with pytest.raises(RuntimeError), harness.BenchRun() as run:
        started = run.spawn("sleeper", ["sleep", "60"])
        workdir = run.workdir
        raise RuntimeError("bench failed")
    assert started.process.returncode is not None  # stopped and reaped
    assert not workdir.exists()


def test_started_finds_a_running_process_by_name() -> None:
    with harness.BenchRun() as run:
        first = run.spawn("sleeper", ["sleep", "60"])
        assert run.started("sleeper") is first
        run.stop(first)
        with pytest.raises(LookupError):
            run.started("sleeper")
