"""Per-key exponential back-off as the kubelet uses it for crashing containers and failed pulls.

An entry starts at ``initial`` and doubles on each ``next`` up to ``maximum``; an entry not
touched for twice the maximum is forgotten, so a container that ran fine for 10 minutes starts
again from 10 s. Times are wall-clock seconds, because the runtime reports exits that way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

CRASH_BACKOFF_INITIAL = 10.0
CRASH_BACKOFF_MAX = 300.0
IMAGE_BACKOFF_INITIAL = 10.0
IMAGE_BACKOFF_MAX = 300.0


@dataclass
class _Entry:
    backoff: float
    last_update: float


class Backoff:
    def __init__(self, initial: float, maximum: float, now: Callable[[], float] = time.time) -> None:
        self.initial = initial
        self.maximum = maximum
        self.now = now
        self._entries: dict[str, _Entry] = {}

    def _expired(self, entry: _Entry, event_time: float) -> bool:
        return event_time - entry.last_update > 2 * self.maximum

    def next(self, key: str, event_time: float | None = None) -> float:
        """Record one more failure of ``key``; returns the back-off now in force."""
        now = self.now()
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, now if event_time is None else event_time):
            entry = self._entries[key] = _Entry(self.initial, now)
        else:
            entry.backoff = min(entry.backoff * 2, self.maximum)
            entry.last_update = now
        return entry.backoff

    def get(self, key: str) -> float:
        entry = self._entries.get(key)
        return 0.0 if entry is None else entry.backoff

    def in_backoff_since(self, key: str, event_time: float) -> bool:
        """True while less than the current back-off has passed since ``event_time`` (e.g. the
        container's exit)."""
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, event_time):
            return False
        return self.now() - event_time < entry.backoff

    def in_backoff_since_update(self, key: str) -> bool:
        """True while less than the current back-off has passed since the last ``next``."""
        entry = self._entries.get(key)
        if entry is None:
            return False
        return self.now() - entry.last_update < entry.backoff

    def remaining(self, key: str, event_time: float) -> float:
        entry = self._entries.get(key)
        return 0.0 if entry is None else max(0.0, entry.backoff - (self.now() - event_time))

    def forget(self, prefix: str) -> None:
        """Drop every key starting with ``prefix`` (a removed pod's uid)."""
        for key in [key for key in self._entries if key.startswith(prefix)]:
            del self._entries[key]
