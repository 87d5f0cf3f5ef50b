"""Zones and their eviction rate (upstream's zone states, ``RateLimitedTimedQueue`` and the
``--node-eviction-rate``/``--secondary-node-eviction-rate`` limiters).

Nodes are tainted NoExecute — which is what evicts their pods — through one queue per zone,
drained no faster than the zone's rate allows, so a network partition cutting off a zone does
not empty it at once. A zone where most nodes are unhealthy slows down (or stops, in small
clusters); when every zone is fully down the controller assumes its own view is the problem and
stops evicting altogether.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

JSON = dict[str, Any]

REGION_LABEL = "topology.kubernetes.io/region"
ZONE_LABEL = "topology.kubernetes.io/zone"


class ZoneState(enum.Enum):
    INITIAL = "Initial"
    NORMAL = "Normal"
    FULL_DISRUPTION = "FullDisruption"
    PARTIAL_DISRUPTION = "PartialDisruption"


def zone_key(node: JSON) -> str:
    """Upstream's ``GetZoneKey``: region and zone, or "" for a node with neither label."""
    labels = node["metadata"].get("labels") or {}
    region, zone = labels.get(REGION_LABEL, ""), labels.get(ZONE_LABEL, "")
    return f"{region}:\x00:{zone}" if region or zone else ""


def zone_state(ready_statuses: Iterable[str], unhealthy_threshold: float) -> ZoneState:
    """Upstream's ``ComputeZoneState`` over the zone's nodes' Ready statuses."""
    statuses = list(ready_statuses)
    not_ready = sum(1 for s in statuses if s != "True")
    ready = len(statuses) - not_ready
    if ready == 0 and not_ready > 0:
        return ZoneState.FULL_DISRUPTION
    if not_ready > 2 and not_ready / len(statuses) >= unhealthy_threshold:
        return ZoneState.PARTIAL_DISRUPTION
    return ZoneState.NORMAL


class TokenBucket:
    """A token bucket with burst 1 on the controller's clock; a rate of 0 never admits."""

    def __init__(self, qps: float, now: float) -> None:
        self.qps = qps
        self._tokens = 1.0 if qps > 0 else 0.0
        self._last = now

    def try_accept(self, now: float) -> bool:
        if self.qps <= 0:
            return False
        self._tokens = min(1.0, self._tokens + (now - self._last) * self.qps)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class ZoneTainter:
    """Upstream's per-zone ``RateLimitedTimedQueue`` of nodes to taint NoExecute. A node stays
    remembered after it was processed, so adding it again is a no-op until it is removed."""

    def __init__(self, qps: float, now: float) -> None:
        self.limiter = TokenBucket(qps, now)
        self._queue: list[str] = []
        self._known: set[str] = set()

    def swap_limiter(self, qps: float, now: float) -> None:
        if qps != self.limiter.qps:
            self.limiter = TokenBucket(qps, now)

    def add(self, name: str) -> bool:
        if name in self._known:
            return False
        self._known.add(name)
        self._queue.append(name)
        return True

    def remove(self, name: str) -> None:
        self._known.discard(name)
        self._queue = [n for n in self._queue if n != name]

    def pending(self) -> list[str]:
        return list(self._queue)

    def take(self, now: float) -> list[str]:
        """The queued nodes the limiter admits now, oldest first (taken off the queue but still
        remembered; ``retry`` puts one back after a failure)."""
        taken: list[str] = []
        while self._queue and self.limiter.try_accept(now):
            taken.append(self._queue.pop(0))
        return taken

    def retry(self, name: str) -> None:
        self._queue.append(name)
