"""Data plugins share within one scheduling cycle (PreFilter computes, Filter and Score read)."""

from __future__ import annotations

import copy
from typing import Any


class CycleState:
    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self.skip_filter_plugins: set[str] = set()
        self.skip_score_plugins: set[str] = set()

    def write(self, key: str, value: Any) -> None:
        self._data[key] = value

    def read(self, key: str) -> Any:
        """The value a plugin wrote earlier this cycle; KeyError when it never did."""
        return self._data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def clone(self) -> CycleState:
        # Preemption dry-runs filters with victims removed; they must not disturb the real state.
        other = CycleState()
        other._data = {key: _clone(value) for key, value in self._data.items()}
        other.skip_filter_plugins = set(self.skip_filter_plugins)
        other.skip_score_plugins = set(self.skip_score_plugins)
        return other


def _clone(value: Any) -> Any:
    """A value's own ``clone()`` (deep where it matters, e.g. counters a PreFilterExtension
    adjusts), else a shallow copy (values nobody mutates after PreFilter)."""
    clone = getattr(value, "clone", None)
    return clone() if callable(clone) else copy.copy(value)
