"""Which pod goes first under memory pressure, as upstream's ``rankMemoryPressure``: pods using
more than they requested first, then lower priority first, then by how far usage exceeds the
request. Pods without stats come first (upstream cannot tell they are innocent either)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeplane.kubelet.qos import whole

JSON = dict[str, Any]


def memory_request(pod: JSON) -> int:
    """The pod's effective memory request: its app containers' sum, or the largest init
    container's when that is bigger (init containers run one at a time), as upstream."""
    spec = pod.get("spec") or {}

    def request(container: JSON) -> int:
        return whole(((container.get("resources") or {}).get("requests") or {}).get("memory", 0))

    apps = sum(request(c) for c in spec.get("containers") or [])
    inits = max((request(c) for c in spec.get("initContainers") or []), default=0)
    return max(apps, inits)


def priority(pod: JSON) -> int:
    return int((pod.get("spec") or {}).get("priority") or 0)


def rank_for_memory(pods: list[JSON], usage: Mapping[str, int]) -> list[JSON]:
    """``pods`` in eviction order; ``usage`` maps pod uid -> working-set bytes."""

    def key(pod: JSON) -> tuple[int, int, int, int]:
        uid = pod["metadata"]["uid"]
        if uid not in usage:
            return (0, 0, 0, 0)
        above = usage[uid] - memory_request(pod)
        # Ascending: pods without stats (0), then exceeding pods (0) before the others (1), low
        # priority first, the largest excess first.
        return (1, 0 if above > 0 else 1, priority(pod), -above)

    return sorted(pods, key=key)
