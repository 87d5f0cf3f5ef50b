"""What a PodDisruptionBudget's status says, computed from its pods and their controllers' scale
(upstream ``getExpectedPodCount``, ``countHealthyPods``, ``buildDisruptedPodMap`` and
``updatePdbStatus``). Pure functions; the controller supplies the lookups."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kubeplane.controllers.ownership import controller_ref
from kubeplane.controllers.pods import is_pod_ready
from kubeplane.controllers.timeutil import format_time, parse_time
from kubeplane.machinery.disruption import SYNC_FAILED, allowed_condition

JSON = dict[str, Any]

# An eviction the API server recorded in status.disruptedPods is expected to delete the pod within
# this time; afterwards the pod counts as healthy again (upstream's DeletionTimeout).
DELETION_TIMEOUT = timedelta(minutes=2)



class ScaleError(Exception):
    """The expected number of pods cannot be known (a pod without a known controller)."""


@dataclass(frozen=True)
class Controller:
    uid: str
    scale: int


# (pod's controllerRef, pod namespace) -> its controller's uid and scale, or None if not known.
ScaleLookup = Callable[[JSON, str], Controller | None]


def scaled_value(value: int | str, total: int, round_up: bool) -> int:
    """Upstream's ``GetScaledValueFromIntOrPercent``."""
    if isinstance(value, int):
        return value
    if not value.endswith("%"):
        raise ScaleError("invalid value for IntOrString: invalid type: string is not a percentage")
    try:
        percent = int(value[:-1])
    except ValueError as err:
        raise ScaleError(f"invalid value {value!r}: {err}") from err
    exact = percent * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


@dataclass
class Expectation:
    expected: int
    desired_healthy: int
    unmanaged: list[str] = field(default_factory=list)


def expected_scale(pods: list[JSON], lookup: ScaleLookup) -> tuple[int, list[str]]:
    """The summed scale of the pods' controllers (each counted once), and the unmanaged pods."""
    seen: dict[str, int] = {}
    unmanaged = []
    for pod in pods:
        ref = controller_ref(pod)
        if ref is None:
            unmanaged.append(pod["metadata"]["name"])
            continue
        found = lookup(ref, pod["metadata"].get("namespace") or "")
        if found is None:
            raise ScaleError(f'found no controllers for pod "{pod["metadata"]["name"]}"')
        seen[found.uid] = found.scale
    return sum(seen.values()), unmanaged


def expectation(spec: JSON, pods: list[JSON], lookup: ScaleLookup) -> Expectation:
    max_unavailable = spec.get("maxUnavailable")
    min_available = spec.get("minAvailable")
    if max_unavailable is not None:
        expected, unmanaged = expected_scale(pods, lookup)
        unavailable = scaled_value(max_unavailable, expected, round_up=True)
        return Expectation(expected, max(0, expected - unavailable), unmanaged)
    if min_available is not None:
        if isinstance(min_available, int):
            return Expectation(len(pods), min_available)
        expected, unmanaged = expected_scale(pods, lookup)
        return Expectation(expected, scaled_value(min_available, expected, round_up=True), unmanaged)
    return Expectation(0, 0)


def live_disruptions(pdb: JSON, pods: list[JSON], now: datetime) -> tuple[dict[str, str], datetime | None]:
    """The status.disruptedPods entries still pending (pod present, not deleting, not expired),
    and when the earliest of them expires."""
    present = {p["metadata"]["name"]: p for p in pods}
    kept: dict[str, str] = {}
    recheck: datetime | None = None
    for name, stamp in ((pdb.get("status") or {}).get("disruptedPods") or {}).items():
        pod = present.get(name)
        evicted_at = parse_time(stamp)
        if pod is None or pod["metadata"].get("deletionTimestamp") or evicted_at is None:
            continue
        expires = evicted_at + DELETION_TIMEOUT
        if expires < now:
            continue
        kept[name] = stamp
        recheck = expires if recheck is None or expires < recheck else recheck
    return kept, recheck


def count_healthy(pods: list[JSON], disrupted: dict[str, str]) -> int:
    return sum(1 for p in pods if not p["metadata"].get("deletionTimestamp")
               and p["metadata"]["name"] not in disrupted and is_pod_ready(p))


def budget_status(pdb: JSON, current_healthy: int, expectation: Expectation, disrupted: dict[str, str],
                  now: datetime) -> JSON:
    allowed = current_healthy - expectation.desired_healthy
    if expectation.expected <= 0 or allowed <= 0:
        allowed = 0
    generation = int(pdb["metadata"].get("generation") or 0)
    old = pdb.get("status") or {}
    status: JSON = {"currentHealthy": current_healthy, "desiredHealthy": expectation.desired_healthy,
                    "expectedPods": expectation.expected, "disruptionsAllowed": allowed,
                    "observedGeneration": generation,
                    "conditions": allowed_condition(list(old.get("conditions") or []), allowed, generation,
                                                  format_time(now))}
    if disrupted:
        status["disruptedPods"] = disrupted
    return status


def failsafe_status(pdb: JSON, message: str, now: datetime) -> JSON:
    """Upstream's failSafe: no disruption allowed while the budget cannot be computed."""
    old = dict(pdb.get("status") or {})
    generation = int(pdb["metadata"].get("generation") or 0)
    old.update(disruptionsAllowed=0, observedGeneration=generation,
               conditions=allowed_condition(list(old.get("conditions") or []), 0, generation, format_time(now),
                                            reason=SYNC_FAILED, message=message))
    return old
