"""The eviction manager's decisions: thresholds, ranking, messages, pressure state, one pod per cycle.
Working sets are read from a cgroup-v1-shaped directory tree, as the manager reads the real one."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kubeplane.component.flags import parse_duration
from kubeplane.kubelet.app import parse_args
from kubeplane.kubelet.eviction import (
    EvictionConfig,
    EvictionManager,
    MemoryReader,
    Observation,
    PodAccess,
    Threshold,
    eviction_message,
    format_binary,
    memory_request,
    parse_grace_periods,
    parse_thresholds,
    rank_for_memory,
)
from kubeplane.kubelet.nodestatus import RuntimeHealth, conditions
from kubeplane.kubelet.pressure_flags import settings

JSON = dict[str, Any]
MiB = 1024 * 1024
CAPACITY = 1024 * MiB
ROOT = "/kpprs-node"


def pod(name: str, memory_request: str | None = None, priority: int = 0, limit: str | None = None) -> JSON:
    resources: JSON = {}
    if memory_request:
        resources["requests"] = {"memory": memory_request, "cpu": "100m"}
    if limit:
        resources["limits"] = {"memory": limit, "cpu": "100m"}
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
            "spec": {"priority": priority, "containers": [{"name": "app", "resources": resources}]},
            "status": {"phase": "Running",
                       "containerStatuses": [{"name": "app", "containerID": f"containerd://c-{name}"}]}}


def write_cgroup(hierarchy: Path, cgroup: str, usage: int, inactive_file: int = 0) -> None:
    directory = hierarchy / cgroup.strip("/")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "memory.usage_in_bytes").write_text(f"{usage}\n")
    (directory / "memory.stat").write_text(f"cache 0\ninactive_file 0\ntotal_inactive_file {inactive_file}\n")


def pod_cgroup(uid: str, qos: str) -> str:
    tier = {"Burstable": "/burstable", "BestEffort": "/besteffort"}.get(qos, "")
    return f"{ROOT}/kubepods{tier}/pod{uid}"


class FakeKubelet:
    def __init__(self, pods: list[JSON]) -> None:
        self.pods = pods
        self.evicted: list[tuple[str, str]] = []

    async def evict(self, target: JSON, message: str) -> bool:
        self.evicted.append((target["metadata"]["name"], message))
        target["status"]["phase"] = "Failed"
        return True

    async def stopped(self, uid: str) -> bool:
        return True

    def access(self) -> PodAccess:
        return PodAccess(lambda: self.pods, pod_cgroup, f"{ROOT}/kubepods", self.evict, self.stopped)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_parse_thresholds_and_grace_periods() -> None:
    hard = parse_thresholds("memory.available<100Mi,nodefs.available<10%")
    assert hard[0] == Threshold("memory.available", "100Mi", 100 * MiB)
    assert hard[1].percentage == pytest.approx(0.10) and hard[1].amount is None and hard[1].hard
    assert hard[1].value(1000) == 100
    grace = parse_grace_periods("memory.available=1m30s", parse_duration)
    soft = parse_thresholds("memory.available<1.5Gi", grace)
    assert soft[0].grace_period == 90.0 and not soft[0].hard and soft[0].amount == 1536 * MiB
    with pytest.raises(ValueError, match="no grace period"):
        parse_thresholds("memory.available<1Gi", {})
    for bad in ("memory.available>1Gi", "cpu.available<1", "memory.available<", "memory.available<120%"):
        with pytest.raises(ValueError):
            parse_thresholds(bad)
    assert parse_thresholds("") == ()


def test_format_binary_is_kubernetes_canonical_binary_si() -> None:
    assert format_binary(100 * MiB) == "100Mi"
    assert format_binary(52424704) == "51196Ki"
    assert format_binary(3 * 1024 ** 3) == "3Gi"
    assert format_binary(1000) == "1000"
    assert format_binary(0) == "0"
    assert format_binary(-2048) == "-2Ki"


def test_memory_request_takes_the_larger_of_apps_and_init() -> None:
    spec_pod = pod("a", "64Mi")
    spec_pod["spec"]["containers"].append({"name": "b", "resources": {"requests": {"memory": "32Mi"}}})
    assert memory_request(spec_pod) == 96 * MiB
    spec_pod["spec"]["initContainers"] = [{"name": "i", "resources": {"requests": {"memory": "200Mi"}}}]
    assert memory_request(spec_pod) == 200 * MiB
    assert memory_request(pod("none")) == 0


def test_ranking_exceeding_requests_then_priority_then_excess() -> None:
    within = pod("within", "500Mi")  # uses less than requested
    low_small = pod("low-small", None, priority=0)
    low_big = pod("low-big", None, priority=0)
    high_big = pod("high-big", None, priority=1000)
    unknown = pod("unknown")
    usage = {"uid-within": 100 * MiB, "uid-low-small": 10 * MiB, "uid-low-big": 300 * MiB,
             "uid-high-big": 900 * MiB}
    ranked = rank_for_memory([within, high_big, low_small, low_big, unknown], usage)
    assert [p["metadata"]["name"] for p in ranked] == ["unknown", "low-big", "low-small", "high-big", "within"]


def test_eviction_message_names_threshold_available_and_containers() -> None:
    target = pod("hog", "10Mi")
    threshold = parse_thresholds("memory.available<100Mi")[0]
    observation = Observation(CAPACITY, 52424704, {"uid-hog": 80 * MiB}, {"c-hog": 80 * MiB})
    assert eviction_message(target, threshold, observation) == (
        "The node was low on resource: memory. Threshold quantity: 100Mi, available: 51196Ki. "
        "Container app was using 80Mi, request is 10Mi, has larger consumption of memory. ")
    # A container within its request is not named; a percentage threshold shows its quantity.
    percent = parse_thresholds("memory.available<10%")[0]
    quiet = Observation(CAPACITY, 50 * MiB, {"uid-hog": 5 * MiB}, {"c-hog": 5 * MiB})
    assert eviction_message(target, percent, quiet) == (
        "The node was low on resource: memory. Threshold quantity: 107374182, available: 50Mi. ")


def test_memory_reader_subtracts_inactive_file(tmp_path: Path) -> None:
    write_cgroup(tmp_path, "/a/b", 200 * MiB, inactive_file=50 * MiB)
    write_cgroup(tmp_path, "/a/b/c1", 10)
    reader = MemoryReader(tmp_path)
    assert reader.working_set("/a/b") == 150 * MiB
    assert reader.working_set("/a/missing") is None
    assert reader.children("/a/b") == ["c1"]


async def test_manager_evicts_one_best_effort_pod_per_cycle_and_keeps_pressure(tmp_path: Path) -> None:
    hog, other, guaranteed = pod("hog"), pod("other"), pod("guaranteed", "100Mi", limit="100Mi")
    kubelet = FakeKubelet([hog, other, guaranteed])
    clock = Clock()
    config = EvictionConfig(hard=parse_thresholds("memory.available<200Mi"), pressure_transition_period=30.0)
    manager = EvictionManager(config, lambda: CAPACITY, kubelet.access(), MemoryReader(tmp_path), clock)
    write_cgroup(tmp_path, f"{ROOT}/kubepods", 300 * MiB)
    write_cgroup(tmp_path, pod_cgroup("uid-hog", "BestEffort"), 250 * MiB)
    write_cgroup(tmp_path, pod_cgroup("uid-other", "BestEffort"), 20 * MiB)
    write_cgroup(tmp_path, pod_cgroup("uid-guaranteed", "Guaranteed"), 30 * MiB)
    assert await manager.synchronize() is None and not manager.memory_pressure  # 724Mi available

    write_cgroup(tmp_path, f"{ROOT}/kubepods", 900 * MiB)  # 124Mi available
    evicted = await manager.synchronize()
    assert evicted is hog and manager.memory_pressure
    assert [name for name, _ in kubelet.evicted] == ["hog"]
    assert kubelet.evicted[0][1].startswith(
        "The node was low on resource: memory. Threshold quantity: 200Mi, available: 124Mi. ")

    # Still short: the next cycle takes the next BestEffort pod; the finished one is not active.
    assert await manager.synchronize() is other
    write_cgroup(tmp_path, f"{ROOT}/kubepods", 100 * MiB)
    assert await manager.synchronize() is None
    assert manager.memory_pressure  # held for the transition period after the last time it was met
    clock.now += 31
    assert await manager.synchronize() is None and not manager.memory_pressure
    assert [name for name, _ in kubelet.evicted] == ["hog", "other"]


async def test_soft_threshold_waits_for_its_grace_period(tmp_path: Path) -> None:
    hog = pod("hog")
    kubelet = FakeKubelet([hog])
    clock = Clock()
    soft = parse_thresholds("memory.available<500Mi", {"memory.available": 60.0})
    manager = EvictionManager(EvictionConfig(hard=(), soft=soft), lambda: CAPACITY, kubelet.access(),
                              MemoryReader(tmp_path), clock)
    write_cgroup(tmp_path, f"{ROOT}/kubepods", 600 * MiB)
    write_cgroup(tmp_path, pod_cgroup("uid-hog", "BestEffort"), 600 * MiB)
    assert await manager.synchronize() is None
    assert manager.memory_pressure  # the condition is set as soon as a soft threshold is met
    clock.now += 30
    assert await manager.synchronize() is None
    clock.now += 31
    assert await manager.synchronize() is hog
    # Met, then not met: the grace period starts again.
    kubelet.pods.append(second := pod("second"))
    write_cgroup(tmp_path, pod_cgroup("uid-second", "BestEffort"), 600 * MiB)
    write_cgroup(tmp_path, f"{ROOT}/kubepods", 10 * MiB)
    assert await manager.synchronize() is None
    write_cgroup(tmp_path, f"{ROOT}/kubepods", 600 * MiB)
    assert await manager.synchronize() is None
    clock.now += 61
    assert await manager.synchronize() is second


def test_node_conditions_report_memory_pressure() -> None:
    health = RuntimeHealth("containerd://1.6", True, True)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    out = {c["type"]: c for c in conditions([], health, now, frozenset({"MemoryPressure"}))}
    memory = out["MemoryPressure"]
    assert (memory["status"], memory["reason"], memory["message"]) == (
        "True", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available")
    assert out["DiskPressure"]["status"] == "False" and out["Ready"]["status"] == "True"
    later = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    relieved = {c["type"]: c for c in conditions(list(out.values()), health, later)}
    assert relieved["MemoryPressure"]["status"] == "False"
    assert relieved["MemoryPressure"]["lastTransitionTime"] == "2026-01-01T00:01:00Z"


def test_kubelet_flags_build_the_settings() -> None:
    base = ["--container-runtime-endpoint=/run/x.sock"]
    defaults = settings(parse_args(base))
    assert [t.text for t in defaults.eviction.hard] == ["100Mi"] and defaults.eviction.soft == ()
    assert defaults.eviction.pressure_transition_period == 300.0 and defaults.eviction.monitoring_period == 10.0
    assert (defaults.image_gc.high_threshold_percent, defaults.image_gc.low_threshold_percent,
            defaults.image_gc.minimum_age) == (85, 80, 120.0)
    assert (defaults.log_rotation.max_size, defaults.log_rotation.max_files) == (10 * MiB, 5)
    custom = settings(parse_args([*base, "--eviction-hard=memory.available<5%", "--eviction-soft=memory.available<1Gi",
                                  "--eviction-soft-grace-period=memory.available=30s",
                                  "--eviction-pressure-transition-period=1m", "--container-log-max-size=1Mi",
                                  "--container-log-max-files=2", "--image-gc-high-threshold=90"]))
    assert custom.eviction.hard[0].percentage == pytest.approx(0.05)
    assert custom.eviction.soft[0].grace_period == 30.0 and custom.eviction.pressure_transition_period == 60.0
    assert custom.log_rotation.max_size == MiB and custom.log_rotation.max_files == 2
    assert custom.image_gc.high_threshold_percent == 90
    for bad in (["--eviction-soft=memory.available<1Gi"], ["--image-gc-low-threshold=90"],
                ["--container-log-max-files=1"], ["--eviction-hard=memory.free<1Gi"]):
        with pytest.raises(argparse.ArgumentTypeError):
            settings(parse_args([*base, *bad]))
