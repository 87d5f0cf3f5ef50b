"""One probe of one container: the periodic loop and upstream's threshold rules.

A worker probes every ``periodSeconds`` once its container runs and ``initialDelaySeconds`` have
passed since it started. Liveness and readiness wait until the container has started (its startup
probe succeeded); the startup probe stops once it has. A result changes the published value only
after ``successThreshold`` / ``failureThreshold`` equal results in a row. When liveness fails, or
the startup probe reaches either threshold, the worker holds until a new container (a restart)
appears. Probes that errored are thrown away. Time comes from an injectable ``Clock``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from kubeplane.client.clock import Clock
from kubeplane.kubelet.prober.results import ProbeKind, ProbeOutcome, Result
from kubeplane.kubelet.prober.spec import JSON, ProbeTiming

# What a container is assumed to be before the first verdict (upstream's initial values).
INITIAL_RESULT = {ProbeKind.READINESS: Result.FAILURE, ProbeKind.LIVENESS: Result.SUCCESS,
                  ProbeKind.STARTUP: Result.UNKNOWN}


class RunningContainer(Protocol):
    container_id: str
    started_at: float


class WorkerHost(Protocol):
    """What a worker reads from and reports to its manager."""

    clock: Clock

    def container(self, pod_uid: str, name: str) -> RunningContainer | None: ...

    def pod_ip(self, pod_uid: str) -> str: ...

    def terminating(self, pod_uid: str) -> bool: ...

    def started(self, pod_uid: str, name: str) -> bool: ...

    async def run_probe(self, probe: JSON, container: JSON, pod_ip: str, container_id: str) -> ProbeOutcome: ...

    def observed(self, worker: ProbeWorker, outcome: ProbeOutcome) -> None: ...

    def published(self, worker: ProbeWorker, previous: Result) -> None: ...


class ProbeWorker:
    def __init__(self, host: WorkerHost, pod_uid: str, container: JSON, kind: ProbeKind) -> None:
        self.host = host
        self.pod_uid = pod_uid
        self.container = container
        self.kind = kind
        self.probe: JSON = container[kind.spec_field]
        self.timing = ProbeTiming.of(self.probe)
        self.result = INITIAL_RESULT[kind]
        self.container_id: str | None = None
        self._last_result: Result | None = None
        self._result_run = 0
        self._on_hold = False
        self._wake = asyncio.Event()

    @property
    def container_name(self) -> str:
        name: str = self.container["name"]
        return name

    def wake(self) -> None:
        """Re-examine now (a container started or stopped, the pod changed)."""
        self._wake.set()

    def _publish(self, result: Result) -> None:
        previous, self.result = self.result, result
        self.host.published(self, previous)

    def _track_container(self) -> RunningContainer | None:
        """Follow container changes; returns the running container, or None."""
        running = self.host.container(self.pod_uid, self.container_name)
        if running is None:
            if self.kind == ProbeKind.READINESS and self.result != Result.FAILURE:
                self._publish(Result.FAILURE)  # a stopped container is not ready
            return None
        if running.container_id != self.container_id:
            # A new container: start over from the initial value, and probe again if on hold.
            self.container_id = running.container_id
            self._last_result, self._result_run, self._on_hold = None, 0, False
            if self.result != INITIAL_RESULT[self.kind]:
                self._publish(INITIAL_RESULT[self.kind])
        return running

    async def probe_once(self) -> bool:
        """One tick; returns whether the worker should keep going."""
        running = self._track_container()
        if running is None or self._on_hold:
            return True
        if self.host.terminating(self.pod_uid) and self.kind != ProbeKind.READINESS:
            # A pod being deleted is not killed for failing liveness: settle on success and stop.
            if self.result != Result.SUCCESS:
                self._publish(Result.SUCCESS)
            return False
        if self.host.clock.now() - running.started_at < self.timing.initial_delay:
            return True
        started = self.host.started(self.pod_uid, self.container_name)
        if (self.kind == ProbeKind.STARTUP) == started:
            return True  # startup probes run until started; the others only after
        container_id = running.container_id
        outcome = await self.host.run_probe(self.probe, self.container, self.host.pod_ip(self.pod_uid), container_id)
        if self.container_id != container_id:
            return True  # the container was replaced meanwhile: this verdict is about the old one
        self.host.observed(self, outcome)
        if outcome.error is not None:
            return True
        self._count(Result.SUCCESS if outcome.result.passed else Result.FAILURE)
        return True

    def _count(self, result: Result) -> None:
        if result == self._last_result:
            self._result_run += 1
        else:
            self._last_result, self._result_run = result, 1
        threshold = self.timing.failure_threshold if result == Result.FAILURE else self.timing.success_threshold
        if self._result_run < threshold:
            return
        if (self.kind == ProbeKind.LIVENESS and result == Result.FAILURE) or self.kind == ProbeKind.STARTUP:
            # The container will be restarted (or has started): nothing to probe until a new one.
            self._on_hold, self._result_run = True, 0
        if result != self.result or self._on_hold:
            self._publish(result)

    def _next_wait(self, tick_started: float) -> float:
        now = self.host.clock.now()
        wait = tick_started + self.timing.period - now
        running = self.host.container(self.pod_uid, self.container_name)
        if running is not None:
            delay_left = running.started_at + self.timing.initial_delay - now
            if 0 < delay_left < wait:
                wait = delay_left  # first probe right when the initial delay ends
        return max(0.0, wait)

    async def run(self) -> None:
        while True:
            tick_started = self.host.clock.now()
            self._wake.clear()  # before probing, so a wake-up during the probe is not lost
            if not await self.probe_once():
                return
            wait = self._next_wait(tick_started)
            sleeper = asyncio.ensure_future(self.host.clock.sleep(wait))
            waker = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for future in (sleeper, waker):
                    future.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.gather(sleeper, waker, return_exceptions=True)
