"""Completion indexes of Indexed Jobs: the pod's index, and ``status.completedIndexes`` as
upstream writes it (sorted, runs of three or more as ranges: ``"0,2-5,7"``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

JSON = dict[str, Any]

COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"


def completion_index(pod: JSON) -> int | None:
    """The pod's index from its annotation (or, failing that, its label); None if invalid."""
    meta = pod.get("metadata") or {}
    for source in (meta.get("annotations") or {}, meta.get("labels") or {}):
        value = source.get(COMPLETION_INDEX)
        if value is not None:
            try:
                index = int(value)
            except ValueError:
                return None
            return index if index >= 0 else None
    return None


def parse_indexes(text: str | None, completions: int) -> set[int]:
    """``"0,2-4"`` -> {0, 2, 3, 4}, ignoring indexes outside [0, completions)."""
    found: set[int] = set()
    for part in (text or "").split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        try:
            low, high = int(first), int(last or first)
        except ValueError:
            continue
        found.update(i for i in range(low, high + 1) if 0 <= i < completions)
    return found


def format_indexes(indexes: Iterable[int]) -> str:
    parts: list[str] = []
    ordered = sorted(set(indexes))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"{ordered[i]}-{ordered[j]}")
        else:
            parts.extend(str(n) for n in ordered[i:j + 1])
        i = j + 1
    return ",".join(parts)
