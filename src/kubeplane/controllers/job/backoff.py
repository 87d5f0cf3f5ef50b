"""The delay before replacing failed pods (upstream ``backoffRecord``): 10 s after the first
failure since the last success, doubling per failure, at most 6 minutes."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_BACKOFF = 10.0
MAX_BACKOFF = 360.0


@dataclass
class BackoffRecord:
    failures_after_last_success: int = 0
    last_failure: float | None = None  # monotonic clock seconds

    def record(self, new_failures: int, new_successes: int, now: float) -> None:
        if new_successes:
            self.failures_after_last_success = 0
            self.last_failure = None
        if new_failures:
            self.failures_after_last_success += new_failures
            self.last_failure = now

    def remaining(self, now: float) -> float:
        """Seconds to wait before creating pods again (0: go ahead)."""
        if self.failures_after_last_success == 0 or self.last_failure is None:
            return 0.0
        delay = min(DEFAULT_BACKOFF * 2 ** (self.failures_after_last_success - 1), MAX_BACKOFF)
        return max(0.0, self.last_failure + delay - now)
