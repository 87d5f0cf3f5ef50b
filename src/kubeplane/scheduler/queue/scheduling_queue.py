"""Upstream's PriorityQueue: where pending pods wait between scheduling attempts.

* ``active``: pods ready to be tried, ordered by the profile's QueueSort plugin.
* ``backoff``: pods that failed recently and wait ``initial * 2^(attempts-1)`` (capped) before
  going back to active.
* ``unschedulable``: pods no node could take; they stay until a cluster event might help (a node
  added or changed, a pod deleted or newly assigned) or until they have waited the flush
  interval, and then go through backoff. Gated pods (PreEnqueue said no) wait here too, and
  only an update of the pod itself brings them back.

A failed pod whose attempt overlapped a cluster event goes to backoff rather than
unschedulable: the event may already have fixed what the attempt saw.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from kubeplane.client.clock import Clock, RealClock
from kubeplane.scheduler.framework.interface import QueuedPodInfo
from kubeplane.scheduler.framework.nodeinfo import PodInfo, pod_key
from kubeplane.scheduler.framework.status import Status
from kubeplane.scheduler.queue.heap import KeyedHeap

log = logging.getLogger(__name__)

JSON = dict[str, Any]

DEFAULT_INITIAL_BACKOFF = 1.0
DEFAULT_MAX_BACKOFF = 10.0
UNSCHEDULABLE_TIMEOUT = 300.0  # upstream's podMaxInUnschedulablePodsDuration
BACKOFF_FLUSH_PERIOD = 1.0
UNSCHEDULABLE_FLUSH_PERIOD = 30.0

# Cluster events that may make an unschedulable pod schedulable.
NODE_ADD, NODE_UPDATE, POD_DELETE, ASSIGNED_POD_ADD, ASSIGNED_POD_UPDATE, UNSCHEDULABLE_TIMEOUT_EVENT = (
    "NodeAdd", "NodeUpdate", "PodDelete", "AssignedPodAdd", "AssignedPodUpdate", "UnschedulableTimeout")


class QueueClosed(Exception):
    pass


class SchedulingQueue:
    def __init__(self, less: Callable[[QueuedPodInfo, QueuedPodInfo], bool],
                 pre_enqueue: Callable[[PodInfo], Status] | None = None, clock: Clock | None = None,
                 initial_backoff: float = DEFAULT_INITIAL_BACKOFF, max_backoff: float = DEFAULT_MAX_BACKOFF,
                 unschedulable_timeout: float = UNSCHEDULABLE_TIMEOUT) -> None:
        self.clock = clock or RealClock()
        self.pre_enqueue = pre_enqueue or (lambda pod: Status())
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.unschedulable_timeout = unschedulable_timeout
        self.active: KeyedHeap[QueuedPodInfo] = KeyedHeap(less)
        self.backoff: KeyedHeap[QueuedPodInfo] = KeyedHeap(
            lambda a, b: self.backoff_expiry(a) < self.backoff_expiry(b))
        self.unschedulable: dict[str, QueuedPodInfo] = {}
        self.in_flight: dict[str, JSON] = {}  # key -> latest object seen while being scheduled
        self.scheduling_cycle = 0
        self.move_request_cycle = -1
        self._wakeup = asyncio.Event()
        self._closed = False

    # -- pods arriving and changing ------------------------------------------------------------------

    def add(self, pod: JSON) -> None:
        """A new unassigned pod for this scheduler."""
        key = pod_key(pod)
        if key in self.in_flight:
            self.in_flight[key] = pod
            return
        qpi = QueuedPodInfo(PodInfo(pod), timestamp=self.clock.now())
        self._remove_everywhere(key)
        self._to_active_or_gated(qpi)

    def update(self, pod: JSON) -> None:
        key = pod_key(pod)
        if key in self.in_flight:
            self.in_flight[key] = pod
            return
        for heap in (self.active, self.backoff):
            found = heap.get(key)
            if found is not None:
                found.pod_info = PodInfo(pod)
                heap.push(key, found)
                return
        existing = self.unschedulable.pop(key, None)
        if existing is None:
            self.add(pod)
            return
        existing.pod_info = PodInfo(pod)
        # The pod itself changed (gates lifted, tolerations added...): worth another try.
        if existing.gated:
            self._to_active_or_gated(existing)
        else:
            self._to_backoff_or_active(existing)

    def delete(self, pod: JSON) -> None:
        key = pod_key(pod)
        self.in_flight.pop(key, None)
        self._remove_everywhere(key)

    # -- the scheduling loop's side ------------------------------------------------------------------

    async def pop(self) -> QueuedPodInfo:
        """The next pod to schedule; waits while there is none. Raises QueueClosed after close()."""
        while True:
            if self._closed:
                raise QueueClosed()
            qpi = self.active.pop()
            if qpi is not None:
                qpi.attempts += 1
                self.scheduling_cycle += 1
                self.in_flight[qpi.pod_info.key] = qpi.pod
                return qpi
            self._wakeup.clear()
            await self._wakeup.wait()

    def done(self, key: str) -> None:
        """The attempt that popped ``key`` is over (bound, or handed back)."""
        self.in_flight.pop(key, None)

    def add_unschedulable(self, qpi: QueuedPodInfo, pod_cycle: int) -> None:
        """Hand back a pod whose attempt failed in scheduling cycle ``pod_cycle``."""
        key = qpi.pod_info.key
        if key not in self.in_flight:
            return  # deleted while it was being scheduled
        latest = self.in_flight.pop(key)
        updated = latest is not qpi.pod
        qpi.pod_info = PodInfo(latest)
        qpi.timestamp = self.clock.now()
        if self.move_request_cycle >= pod_cycle or updated:
            self._to_backoff_or_active(qpi)
        else:
            self.unschedulable[key] = qpi

    def requeue_after_error(self, qpi: QueuedPodInfo) -> None:
        """An attempt that hit an error (not a verdict) goes through backoff."""
        key = qpi.pod_info.key
        if key not in self.in_flight:
            return
        qpi.pod_info = PodInfo(self.in_flight.pop(key))
        self._to_backoff_or_active(qpi)

    # -- cluster events -----------------------------------------------------------------------------

    def move_all_to_active_or_backoff(self, event: str) -> None:
        self.move_request_cycle = self.scheduling_cycle
        for key, qpi in list(self.unschedulable.items()):
            if qpi.gated:
                continue
            del self.unschedulable[key]
            self._to_backoff_or_active(qpi)
        log.debug("moved unschedulable pods on %s", event)

    def flush_backoff_completed(self) -> None:
        now = self.clock.now()
        while True:
            head = self.backoff.peek()
            if head is None or self.backoff_expiry(head) > now:
                return
            self.backoff.pop()
            self._push_active(head)

    def flush_unschedulable_left_over(self) -> None:
        now = self.clock.now()
        for key, qpi in list(self.unschedulable.items()):
            if not qpi.gated and now - qpi.timestamp >= self.unschedulable_timeout:
                del self.unschedulable[key]
                self._to_backoff_or_active(qpi)

    async def run(self) -> None:
        """Flush backoff every second and long-waiting unschedulable pods every 30 s, until cancelled."""
        since_unschedulable_flush = 0.0
        while not self._closed:
            await self.clock.sleep(BACKOFF_FLUSH_PERIOD)
            self.flush_backoff_completed()
            since_unschedulable_flush += BACKOFF_FLUSH_PERIOD
            if since_unschedulable_flush >= UNSCHEDULABLE_FLUSH_PERIOD:
                since_unschedulable_flush = 0.0
                self.flush_unschedulable_left_over()

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    # -- bookkeeping ------------------------------------------------------------------------------------

    def backoff_duration(self, qpi: QueuedPodInfo) -> float:
        duration = self.initial_backoff
        for _ in range(1, qpi.attempts):
            duration *= 2
            if duration >= self.max_backoff:
                return self.max_backoff
        return duration

    def backoff_expiry(self, qpi: QueuedPodInfo) -> float:
        return qpi.timestamp + self.backoff_duration(qpi)

    def pending_keys(self) -> dict[str, list[str]]:
        return {"active": sorted(q.pod_info.key for q in self.active),
                "backoff": sorted(q.pod_info.key for q in self.backoff),
                "unschedulable": sorted(self.unschedulable)}

    def sizes(self) -> dict[str, int]:
        """Pods per queue, as the scheduler_pending_pods metric reports them."""
        gated = sum(1 for qpi in self.unschedulable.values() if qpi.gated)
        return {"active": len(self.active), "backoff": len(self.backoff),
                "unschedulable": len(self.unschedulable) - gated, "gated": gated}

    def _remove_everywhere(self, key: str) -> None:
        self.active.remove(key)
        self.backoff.remove(key)
        self.unschedulable.pop(key, None)

    def _to_active_or_gated(self, qpi: QueuedPodInfo) -> None:
        status = self.pre_enqueue(qpi.pod_info)
        qpi.gated = not status.ok
        if qpi.gated:
            qpi.unschedulable_plugins = {status.plugin} if status.plugin else set()
            self.unschedulable[qpi.pod_info.key] = qpi
        else:
            self._push_active(qpi)

    def _to_backoff_or_active(self, qpi: QueuedPodInfo) -> None:
        if qpi.attempts > 0 and self.backoff_expiry(qpi) > self.clock.now():
            self.backoff.push(qpi.pod_info.key, qpi)
        else:
            self._push_active(qpi)

    def _push_active(self, qpi: QueuedPodInfo) -> None:
        self.active.push(qpi.pod_info.key, qpi)
        self._wakeup.set()
