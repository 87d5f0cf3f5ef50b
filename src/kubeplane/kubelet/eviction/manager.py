"""The eviction manager for memory, as upstream's: every monitoring period it observes
``memory.available``, compares it with the hard and soft thresholds, keeps the node's
MemoryPressure condition (held for the pressure transition period after the last time a
threshold was met, so the condition does not flap), and when a threshold is met (a soft one for
its whole grace period) evicts one pod, then waits for that pod's containers to stop before the
next observation.

``memory.available`` is the node's memory capacity minus the working set of the node's pods. The
host's /proc/meminfo (what upstream reads through cAdvisor's root cgroup) would be wrong here: all
simulated nodes share one machine, so its free memory says nothing about this node, and another
node's pods would make this one evict. The working set of the node's ``kubepods`` cgroup (under
``--cgroup-root``) is this node's share of the machine, and the capacity is what the node reports.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from kubeplane.kubelet.eviction.ranking import rank_for_memory
from kubeplane.kubelet.eviction.stats import MemoryReader
from kubeplane.kubelet.eviction.thresholds import (
    DEFAULT_EVICTION_HARD,
    MEMORY_AVAILABLE,
    Threshold,
    format_binary,
    parse_thresholds,
)
from kubeplane.kubelet.qos import qos_class, whole

log = logging.getLogger(__name__)

JSON = dict[str, Any]

TERMINAL_PHASES = ("Succeeded", "Failed")
MEMORY_PRESSURE = "MemoryPressure"
REASON = "Evicted"
# Upstream's wording (pkg/kubelet/eviction/helpers.go).
NODE_LOW_MESSAGE = "The node was low on resource: {}. "
THRESHOLD_MET_MESSAGE = "Threshold quantity: {}, available: {}. "
CONTAINER_MESSAGE = "Container {} was using {}, request is {}, has larger consumption of {}. "


@dataclass(frozen=True)
class EvictionConfig:
    hard: tuple[Threshold, ...] = field(default_factory=lambda: parse_thresholds(DEFAULT_EVICTION_HARD))
    soft: tuple[Threshold, ...] = ()
    pressure_transition_period: float = 300.0  # --eviction-pressure-transition-period (5m)
    monitoring_period: float = 10.0  # upstream's evictionMonitoringPeriod / --housekeeping-interval
    pod_cleanup_timeout: float = 30.0  # how long to wait for an evicted pod's containers to stop

    @property
    def memory_thresholds(self) -> tuple[Threshold, ...]:
        return tuple(t for t in self.hard + self.soft if t.signal == MEMORY_AVAILABLE)


@dataclass(frozen=True)
class Observation:
    capacity: int
    available: int
    pod_usage: dict[str, int]  # pod uid -> working set
    container_usage: dict[str, int]  # container id -> working set


@dataclass(frozen=True)
class PodAccess:
    """What the manager needs from the kubelet: its pods, where their cgroups are, and how to
    evict one (write Failed/Evicted and stop its containers) and tell when it has stopped."""

    active_pods: Callable[[], list[JSON]]
    pod_cgroup: Callable[[str, str], str]  # (uid, QoS class) -> cgroup
    kubepods_cgroup: str
    evict: Callable[[JSON, str], Awaitable[bool]]
    stopped: Callable[[str], Awaitable[bool]]


def active(pods: list[JSON]) -> list[JSON]:
    return [pod for pod in pods if (pod.get("status") or {}).get("phase") not in TERMINAL_PHASES]


def container_ids(pod: JSON) -> dict[str, str]:
    """container id -> container name, from the pod's reported statuses."""
    status = pod.get("status") or {}
    out = {}
    for entry in list(status.get("containerStatuses") or []) + list(status.get("initContainerStatuses") or []):
        container_id = str(entry.get("containerID") or "")
        if container_id:
            out[container_id.split("://", 1)[-1]] = str(entry.get("name"))
    return out


def eviction_message(pod: JSON, threshold: Threshold, observation: Observation) -> str:
    """Upstream's message: the resource, the threshold and what was available, then each container
    that uses more than it requested."""
    message = NODE_LOW_MESSAGE.format("memory")
    message += THRESHOLD_MET_MESSAGE.format(threshold.quantity_text(observation.capacity),
                                            format_binary(observation.available))
    names = {name: cid for cid, name in container_ids(pod).items()}
    for container in (pod.get("spec") or {}).get("containers") or []:
        cid = names.get(str(container["name"]))
        usage = observation.container_usage.get(cid) if cid else None
        if usage is None:
            continue
        request_text = str(((container.get("resources") or {}).get("requests") or {}).get("memory", "0"))
        if usage > whole(request_text):
            message += CONTAINER_MESSAGE.format(container["name"], format_binary(usage), request_text, "memory")
    return message


class EvictionManager:
    def __init__(self, config: EvictionConfig, capacity: Callable[[], int], pods: PodAccess,
                 reader: MemoryReader | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.capacity = capacity
        self.pods = pods
        self.reader = reader or MemoryReader()
        self.clock = clock
        self._first_met: dict[Threshold, float] = {}  # when each met threshold was first seen met
        self._pressure_last_seen: float | None = None

    # -- observation -----------------------------------------------------------------------------

    def observe(self, pods: list[JSON]) -> Observation:
        capacity = self.capacity()
        node_working_set = self.reader.working_set(self.pods.kubepods_cgroup) or 0
        pod_usage: dict[str, int] = {}
        container_usage: dict[str, int] = {}
        for pod in pods:
            uid = str(pod["metadata"]["uid"])
            cgroup = self.pods.pod_cgroup(uid, qos_class(pod))
            usage = self.reader.working_set(cgroup)
            if usage is None:
                continue
            pod_usage[uid] = usage
            for child in self.reader.children(cgroup):
                child_usage = self.reader.working_set(f"{cgroup}/{child}")
                if child_usage is not None:
                    container_usage[child] = child_usage
        return Observation(capacity, capacity - node_working_set, pod_usage, container_usage)

    def met(self, observation: Observation) -> list[Threshold]:
        return [t for t in self.config.memory_thresholds if observation.available < t.value(observation.capacity)]

    # -- state -----------------------------------------------------------------------------------

    @property
    def memory_pressure(self) -> bool:
        """The MemoryPressure condition: a threshold was met within the transition period."""
        if self._pressure_last_seen is None:
            return False
        return self.clock() - self._pressure_last_seen < self.config.pressure_transition_period

    def _track(self, met: list[Threshold], now: float) -> list[Threshold]:
        """Record what is met now; return the thresholds that call for eviction (hard ones at once,
        soft ones once met for their whole grace period)."""
        self._first_met = {t: self._first_met.get(t, now) for t in met}
        if met:
            self._pressure_last_seen = now
        return [t for t in met if now - self._first_met[t] >= t.grace_period]

    # -- one cycle -------------------------------------------------------------------------------

    async def synchronize(self) -> JSON | None:
        """Observe, update the pressure state, and evict at most one pod; returns it."""
        pods = active(self.pods.active_pods())
        observation = self.observe(pods)
        due = self._track(self.met(observation), self.clock())
        if not due:
            return None
        # A hard threshold names the message when both kinds are due, as upstream sorts them.
        threshold = sorted(due, key=lambda t: (not t.hard, t.value(observation.capacity)))[0]
        log.warning("eviction manager: threshold %s<%s met, available %s", threshold.signal, threshold.text,
                    format_binary(observation.available))
        for pod in rank_for_memory(pods, observation.pod_usage):
            message = eviction_message(pod, threshold, observation)
            if await self.pods.evict(pod, message):
                await self._wait_for_cleanup(str(pod["metadata"]["uid"]))
                return pod
        log.error("eviction manager: unable to evict any pod from the node")
        return None

    async def _wait_for_cleanup(self, uid: str) -> None:
        deadline = self.clock() + self.config.pod_cleanup_timeout
        while self.clock() < deadline:
            if await self.pods.stopped(uid):
                return
            await asyncio.sleep(0.2)
        log.warning("eviction manager: timed out waiting for pod %s to be cleaned up", uid)

    async def run(self) -> None:
        while True:
            try:
                await self.synchronize()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("eviction manager: synchronize failed")
            await asyncio.sleep(self.config.monitoring_period)
