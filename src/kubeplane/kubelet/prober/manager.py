"""``ProbeManager``: the probe workers of every pod on the node and the verdicts they publish.

The pod worker tells it about pods and containers (``add_pod``, ``update_container``,
``update_pod``, ``remove_pod``) and reads ``readiness`` and ``started`` when it computes container
statuses. When a container fails its liveness or startup probe, ``on_liveness_failure(pod_uid,
container_name, message)`` is called (``message`` is the text of upstream's ``Killing`` event) and
``kill_grace_period`` says how long that kill may take (the probe's
``terminationGracePeriodSeconds`` overrides the pod's). Every failed probe is reported as an
``Unhealthy`` event (and a redirect to another host as ``ProbeWarning``) through ``recorder``,
in upstream's words; ``on_change(pod_uid)`` says a verdict changed so status should be re-synced.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from kubeplane.client.clock import Clock, RealClock
from kubeplane.kubelet.prober.handlers import ProbeRunner
from kubeplane.kubelet.prober.results import ProbeKind, ProbeOutcome, Result
from kubeplane.kubelet.prober.spec import DEFAULT_POD_GRACE_PERIOD, JSON, container_reference
from kubeplane.kubelet.prober.worker import ProbeWorker

log = logging.getLogger(__name__)

LivenessFailureHandler = Callable[[str, str, str], Awaitable[None] | None]


class EventSink(Protocol):
    """``kubeplane.client.events.EventRecorder`` fits."""

    def event(self, obj: JSON, event_type: str, reason: str, message: str) -> None: ...


class OutcomeRunner(Protocol):
    """``ProbeRunner`` fits; unit tests pass fakes."""

    async def run(self, probe: JSON, container: JSON, pod_ip: str, container_id: str) -> ProbeOutcome: ...


@dataclass
class _Running:
    container_id: str
    started_at: float


@dataclass
class _Pod:
    pod: JSON
    pod_ip: str
    running: dict[str, _Running] = field(default_factory=dict)
    workers: dict[tuple[str, ProbeKind], ProbeWorker] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    kill_grace: dict[str, int] = field(default_factory=dict)


def _probed_containers(pod: JSON) -> list[JSON]:
    """Containers whose probes run: app containers and restartable init containers (sidecars)."""
    spec = pod.get("spec") or {}
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    return [*sidecars, *(spec.get("containers") or [])]


class ProbeManager:
    def __init__(self, runner: OutcomeRunner | ProbeRunner, *, on_liveness_failure: LivenessFailureHandler,
                 recorder: EventSink | None = None, on_change: Callable[[str], None] | None = None,
                 clock: Clock | None = None) -> None:
        self.runner = runner
        self.clock: Clock = clock or RealClock()
        self.on_liveness_failure = on_liveness_failure
        self.recorder = recorder
        self.on_change = on_change
        self._pods: dict[str, _Pod] = {}
        self._callbacks: set[asyncio.Future[None]] = set()

    # -- what the pod worker calls -----------------------------------------------------------------

    def add_pod(self, pod: JSON, pod_ip: str, container_ids: Mapping[str, str] | None = None) -> None:
        """Start workers for every probe of the pod (idempotent: a known pod is only updated).
        ``container_ids`` names the containers already running (CRI ids, ``containerd://`` or bare)."""
        uid: str = pod["metadata"]["uid"]
        entry = self._pods.get(uid)
        if entry is not None:
            entry.pod_ip = pod_ip or entry.pod_ip
            self.update_pod(pod)
        else:
            entry = self._pods[uid] = _Pod(pod, pod_ip)
            for container in _probed_containers(pod):
                for kind in ProbeKind:
                    if container.get(kind.spec_field):
                        worker = ProbeWorker(self, uid, container, kind)
                        entry.workers[(container["name"], kind)] = worker
                        entry.tasks.append(asyncio.create_task(self._run_worker(worker),
                                                               name=f"probe-{uid}-{container['name']}-{kind.value}"))
        for name, container_id in (container_ids or {}).items():
            self.update_container(uid, name, container_id)

    def update_pod(self, pod: JSON) -> None:
        """A newer version of the pod (e.g. with ``deletionTimestamp``: liveness and startup stop)."""
        entry = self._pods.get(pod["metadata"]["uid"])
        if entry is not None:
            entry.pod = pod
            self._wake(entry)

    def update_container(self, pod_uid: str, name: str, container_id: str | None, running_for: float = 0.0) -> None:
        """The container ``name`` now runs as ``container_id`` (started ``running_for`` seconds ago,
        for containers adopted after a kubelet restart), or is not running (None)."""
        entry = self._pods.get(pod_uid)
        if entry is None:
            return
        current = entry.running.get(name)
        if container_id is None:
            if entry.running.pop(name, None) is None:
                return
        elif current is None or current.container_id != container_id:
            entry.running[name] = _Running(container_id, self.clock.now() - running_for)
        else:
            return
        self._wake(entry, name)

    def remove_pod(self, pod_uid: str) -> None:
        entry = self._pods.pop(pod_uid, None)
        if entry is not None:
            for task in entry.tasks:
                task.cancel()

    async def close(self) -> None:
        """Stop every worker and wait for them and for running failure callbacks."""
        tasks = [task for entry in self._pods.values() for task in entry.tasks] + list(self._callbacks)
        self._pods.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def readiness(self, pod_uid: str, container_name: str) -> bool:
        """The probes' verdict on readiness: False until the startup probe passed and the readiness
        probe reached successThreshold; True for containers without those probes (and unknown pods).
        Whether the container runs at all is the pod worker's side of the rule."""
        entry = self._pods.get(pod_uid)
        if entry is None:
            return True
        if not self.started(pod_uid, container_name):
            return False
        worker = entry.workers.get((container_name, ProbeKind.READINESS))
        return worker is None or worker.result == Result.SUCCESS

    def started(self, pod_uid: str, container_name: str) -> bool:
        """False while a startup probe has not succeeded for the current container."""
        entry = self._pods.get(pod_uid)
        worker = entry.workers.get((container_name, ProbeKind.STARTUP)) if entry else None
        return worker is None or worker.result == Result.SUCCESS

    def startup(self, pod_uid: str, container_name: str) -> bool:
        """``started`` under the name the pod worker's ``ProbeResults`` seam uses."""
        return self.started(pod_uid, container_name)

    def kill_grace_period(self, pod_uid: str, container_name: str) -> int:
        """Seconds to give the container killed after its last liveness/startup failure: that
        probe's terminationGracePeriodSeconds, else the pod's."""
        entry = self._pods.get(pod_uid)
        if entry is None:
            return DEFAULT_POD_GRACE_PERIOD
        if container_name in entry.kill_grace:
            return entry.kill_grace[container_name]
        grace = (entry.pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        return DEFAULT_POD_GRACE_PERIOD if grace is None else int(grace)

    # -- what workers call (WorkerHost) ------------------------------------------------------------

    def container(self, pod_uid: str, name: str) -> _Running | None:
        entry = self._pods.get(pod_uid)
        return entry.running.get(name) if entry else None

    def pod_ip(self, pod_uid: str) -> str:
        entry = self._pods.get(pod_uid)
        return entry.pod_ip if entry else ""

    def terminating(self, pod_uid: str) -> bool:
        entry = self._pods.get(pod_uid)
        return bool(entry and (entry.pod.get("metadata") or {}).get("deletionTimestamp"))

    async def run_probe(self, probe: JSON, container: JSON, pod_ip: str, container_id: str) -> ProbeOutcome:
        return await self.runner.run(probe, container, pod_ip, container_id)

    def observed(self, worker: ProbeWorker, outcome: ProbeOutcome) -> None:
        """Events for one probe run, as upstream's prober records them."""
        title = worker.kind.title
        if outcome.error is not None:
            self._event(worker, "Unhealthy", f"{title} probe errored and resulted in unknown state: {outcome.error}")
        elif outcome.result == Result.WARNING:
            self._event(worker, "ProbeWarning", f"{title} probe warning: {outcome.output}")
        elif not outcome.result.passed:
            self._event(worker, "Unhealthy", f"{title} probe failed: {outcome.output}")

    def published(self, worker: ProbeWorker, previous: Result) -> None:
        entry = self._pods.get(worker.pod_uid)
        if entry is None:
            return
        if worker.kind == ProbeKind.STARTUP and worker.result != previous:
            self._wake(entry, worker.container_name)  # liveness and readiness may begin now
        if worker.kind != ProbeKind.READINESS and worker.result == Result.FAILURE:
            self._liveness_failed(entry, worker)
        if worker.result != previous and self.on_change is not None:
            self.on_change(worker.pod_uid)

    # -- internals ---------------------------------------------------------------------------------

    def _wake(self, entry: _Pod, container_name: str | None = None) -> None:
        for (name, _), worker in entry.workers.items():
            if container_name is None or name == container_name:
                worker.wake()

    def _event(self, worker: ProbeWorker, reason: str, message: str) -> None:
        entry = self._pods.get(worker.pod_uid)
        if self.recorder is not None and entry is not None:
            self.recorder.event(container_reference(entry.pod, worker.container_name), "Warning", reason, message)

    def _liveness_failed(self, entry: _Pod, worker: ProbeWorker) -> None:
        name = worker.container_name
        if worker.timing.termination_grace_period is not None:
            entry.kill_grace[name] = worker.timing.termination_grace_period
        else:
            entry.kill_grace.pop(name, None)
        message = f"Container {name} failed {worker.kind.value} probe"
        if (entry.pod.get("spec") or {}).get("restartPolicy", "Always") != "Never":
            message += ", will be restarted"
        outcome = self.on_liveness_failure(worker.pod_uid, name, message)
        if inspect.isawaitable(outcome):
            task = asyncio.ensure_future(outcome)
            self._callbacks.add(task)
            task.add_done_callback(self._callback_done)

    def _callback_done(self, task: asyncio.Future[None]) -> None:
        self._callbacks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("liveness failure handler failed", exc_info=task.exception())

    async def _run_worker(self, worker: ProbeWorker) -> None:
        try:
            await worker.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("probe worker %s/%s %s crashed", worker.pod_uid, worker.container_name, worker.kind.value)
