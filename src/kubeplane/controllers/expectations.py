"""Controller expectations: the creates and deletes a controller made but has not yet seen in
its informer cache (upstream ``ControllerExpectations`` / ``UIDTrackingControllerExpectations``).

While expectations are pending, the cache is known to be behind the controller's own writes, so
a sync must not act on it (it would create or delete the same pods again). Expectations expire
after ``ttl`` seconds so a lost watch event cannot wedge a controller forever.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubeplane.client import Clock

EXPECTATIONS_TTL = 300.0  # upstream's ExpectationsTimeout (5 minutes)


@dataclass
class _Expected:
    adds: int
    deletes: set[str]
    set_at: float

    def fulfilled(self) -> bool:
        return self.adds <= 0 and not self.deletes


class Expectations:
    def __init__(self, clock: Clock, ttl: float = EXPECTATIONS_TTL) -> None:
        self.clock = clock
        self.ttl = ttl
        self._by_controller: dict[str, _Expected] = {}

    def satisfied(self, controller_key: str) -> bool:
        """True when the cache has caught up (or nothing is expected, or the wait expired)."""
        expected = self._by_controller.get(controller_key)
        if expected is None:
            return True
        return expected.fulfilled() or self.clock.now() - expected.set_at > self.ttl

    def expect_creations(self, controller_key: str, count: int) -> None:
        self._by_controller[controller_key] = _Expected(count, set(), self.clock.now())

    def expect_deletions(self, controller_key: str, pod_keys: list[str]) -> None:
        self._by_controller[controller_key] = _Expected(0, set(pod_keys), self.clock.now())

    def creation_observed(self, controller_key: str) -> None:
        expected = self._by_controller.get(controller_key)
        if expected is not None:
            expected.adds -= 1

    def deletion_observed(self, controller_key: str, pod_key: str) -> None:
        # Deletions are tracked by pod key so one pod seen deleted twice (update with a
        # deletionTimestamp, then the delete itself) counts once.
        expected = self._by_controller.get(controller_key)
        if expected is not None:
            expected.deletes.discard(pod_key)

    def lower_creations(self, controller_key: str, count: int) -> None:
        """Creates that were never attempted (a batch failed): stop waiting for them."""
        expected = self._by_controller.get(controller_key)
        if expected is not None:
            expected.adds -= count

    def forget(self, controller_key: str) -> None:
        self._by_controller.pop(controller_key, None)
