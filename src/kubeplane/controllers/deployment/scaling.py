"""Proportional scaling (upstream ``scale`` and ``getProportion``): when a Deployment is resized
in the middle of a rollout, every active ReplicaSet grows or shrinks in proportion to its size,
so the rollout carries on where it was instead of favouring old or new pods."""

from __future__ import annotations

import math
from typing import Any

from kubeplane.controllers.deployment.replicas import desired_replicas, max_surge
from kubeplane.controllers.deployment.revisions import MAX_REPLICAS, annotated_int

JSON = dict[str, Any]


def _created(rs: JSON) -> str:
    return str(rs["metadata"].get("creationTimestamp") or "")


def largest_first(sets: list[JSON], newer_first: bool) -> list[JSON]:
    """Bigger ReplicaSets first; among equals, newer first (growing) or older first (shrinking)."""
    by_age = sorted(sets, key=lambda rs: (_created(rs), rs["metadata"]["name"]), reverse=newer_first)
    return sorted(by_age, key=lambda rs: -desired_replicas(rs))  # stable: keeps the age order


def _round_half_away(value: float) -> int:
    return math.floor(value + 0.5) if value >= 0 else -math.floor(-value + 0.5)


def _fraction(rs: JSON, deployment: JSON) -> int:
    """How much ``rs`` should change: its size scaled by new-total / total-when-it-was-last-sized."""
    if desired_replicas(deployment) == 0:
        return -desired_replicas(rs)
    deployment_total = desired_replicas(deployment) + max_surge(deployment)
    annotated = annotated_int(rs, MAX_REPLICAS)
    if annotated is None:
        annotated = int((deployment.get("status") or {}).get("replicas") or 0)
    if annotated == 0:
        return 0
    return _round_half_away(desired_replicas(rs) * deployment_total / annotated) - desired_replicas(rs)


def _proportion(rs: JSON, deployment: JSON, to_add: int, added: int) -> int:
    if desired_replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction, allowed = _fraction(rs, deployment), to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def proportional_sizes(deployment: JSON, active: list[JSON]) -> list[tuple[JSON, int]]:
    """Each active ReplicaSet with the size it should have; rounding leftovers go to the first
    (the largest), which is what upstream does too."""
    replicas = desired_replicas(deployment)
    allowed = replicas + max_surge(deployment) if replicas > 0 else 0
    to_add = allowed - sum(desired_replicas(rs) for rs in active)
    ordered = largest_first(active, newer_first=to_add > 0)
    sizes: list[list[Any]] = []
    added = 0
    for rs in ordered:
        change = _proportion(rs, deployment, to_add, added)
        added += change
        sizes.append([rs, desired_replicas(rs) + change])
    if sizes and to_add != 0:
        sizes[0][1] = max(sizes[0][1] + to_add - added, 0)
    return [(rs, int(size)) for rs, size in sizes]
