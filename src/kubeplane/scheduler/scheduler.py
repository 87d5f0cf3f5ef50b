"""The scheduler: informers feed the cache and the queue; one loop takes pods and places them.

The scheduling cycle (filter, score, reserve, permit) runs one pod at a time against a
snapshot; the binding cycle (pre-bind, bind) runs in the background so a slow API call does
not hold up the next pod. The pod is assumed in the cache between the two.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC
from typing import Any

from kubeplane.client import (
    ApiError,
    Client,
    DeletedFinalStateUnknown,
    EventHandlers,
    EventRecorder,
    SharedInformerFactory,
)
from kubeplane.client.clock import Clock, RealClock
from kubeplane.client.resource import (
    NAMESPACES,
    NODES,
    PODDISRUPTIONBUDGETS,
    PODS,
    REPLICASETS,
    SERVICES,
    STATEFULSETS,
)
from kubeplane.scheduler.algorithm import Algorithm, SchedulingError
from kubeplane.scheduler.cache import Cache, node_name_of
from kubeplane.scheduler.framework.config import SchedulerConfig
from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.fit_error import FitError
from kubeplane.scheduler.framework.interface import QueuedPodInfo
from kubeplane.scheduler.framework.nodeinfo import PodInfo, pod_key
from kubeplane.scheduler.framework.registry import Registry
from kubeplane.scheduler.framework.runtime import Framework
from kubeplane.scheduler.framework.status import Status
from kubeplane.scheduler.handle import SchedulerHandle
from kubeplane.scheduler.metrics import ERROR, SCHEDULED, UNSCHEDULABLE, SchedulerMetrics
from kubeplane.scheduler.nominator import Nominator, nominated_node_of
from kubeplane.scheduler.plugins.defaultpreemption.plugin import VICTIMS_STATE_KEY
from kubeplane.scheduler.plugins.registry import in_tree_registry
from kubeplane.scheduler.queue import scheduling_queue as q
from kubeplane.scheduler.queue.scheduling_queue import QueueClosed, SchedulingQueue

log = logging.getLogger(__name__)

JSON = dict[str, Any]

OWNER_RESOURCES = (SERVICES, REPLICASETS, STATEFULSETS)
TERMINAL_PHASES = ("Succeeded", "Failed")
YIELD_INTERVAL = 0.02  # seconds the scheduling loop may hold the event loop
# Fields of an unassigned pod the scheduler does not care about: a change in only these is not
# a reason to try the pod again (the scheduler's own condition updates would otherwise loop).
_IGNORED_POD_FIELDS = ("resourceVersion", "generation", "managedFields")


def _is_terminal(pod: JSON) -> bool:
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES


def _scheduling_relevant(pod: JSON) -> JSON:
    metadata = {k: v for k, v in (pod.get("metadata") or {}).items() if k not in _IGNORED_POD_FIELDS}
    return {"metadata": metadata, "spec": pod.get("spec")}


def _node_relevant(node: JSON) -> tuple[Any, ...]:
    # Heartbeats rewrite node status every few seconds; only these parts change where pods fit.
    status = node.get("status") or {}
    metadata = node.get("metadata") or {}
    return (node.get("spec"), metadata.get("labels"), status.get("allocatable"), status.get("images"))


class Scheduler:
    def __init__(self, client: Client, config: SchedulerConfig | None = None, registry: Registry | None = None,
                 clock: Clock | None = None, metrics: SchedulerMetrics | None = None) -> None:
        self.client = client
        self.config = config or SchedulerConfig()
        self.clock = clock or RealClock()
        self.informers = SharedInformerFactory(client)
        self.pod_informer = self.informers.informer_for(PODS)
        self.node_informer = self.informers.informer_for(NODES)
        owners = {resource.resource: self.informers.informer_for(resource) for resource in OWNER_RESOURCES}
        self.nominator = Nominator()
        self.handle = SchedulerHandle(client, self.informers.informer_for(NAMESPACES), owners,
                                      self.informers.informer_for(PODDISRUPTIONBUDGETS), self.nominator)
        registry = registry or in_tree_registry()
        self.profiles: dict[str, Framework] = {
            p.scheduler_name: Framework(p, registry, self.handle) for p in self.config.profiles}
        self.recorders = {name: EventRecorder(client, name, clock=self.clock) for name in self.profiles}
        self.handle.recorders = self.recorders
        first = next(iter(self.profiles.values()))
        self.queue = SchedulingQueue(first.queue_less, self._pre_enqueue, self.clock,
                                     self.config.pod_initial_backoff_seconds, self.config.pod_max_backoff_seconds)
        self.cache = Cache()
        self.algorithm = Algorithm(self.config.percentage_of_nodes_to_score)
        self.metrics = metrics or SchedulerMetrics()
        self.metrics.watch_pending(self.queue.sizes)
        self.synced = False  # informers have listed everything once (readiness)
        # Called once the informers have synced, before the first pod is scheduled (the process
        # uses it to move the freshly listed cluster out of the garbage collector's way).
        self.on_synced: Callable[[], None] | None = None
        self._binding_tasks: set[asyncio.Task[None]] = set()
        self.pod_informer.add_event_handler(EventHandlers(self._on_pod_add, self._on_pod_update, self._on_pod_delete))
        self.node_informer.add_event_handler(
            EventHandlers(self._on_node_add, self._on_node_update, self._on_node_delete))

    # -- running ------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Sync the informers, then schedule until cancelled."""
        self.informers.start()
        queue_task = asyncio.get_running_loop().create_task(self.queue.run(), name="scheduling queue")
        try:
            await self.informers.wait_for_cache_sync()
            self.synced = True
            if self.on_synced is not None:
                self.on_synced()
            log.info("caches synced; scheduling with profiles %s", sorted(self.profiles))
            last_yield = time.perf_counter()
            while True:
                try:
                    await self.schedule_one()
                except QueueClosed:
                    return
                # pop() returns without suspending while pods are waiting. Yield at least every
                # YIELD_INTERVAL so that binding calls, informer events, Lease renewals and /healthz
                # keep going through a backlog (a 5,000-pod backlog at a few ms per pod would
                # otherwise outlast the Lease's renew deadline); not after every pod, so bindings
                # still go out in batches.
                if time.perf_counter() - last_yield >= YIELD_INTERVAL:
                    await asyncio.sleep(0)
                    last_yield = time.perf_counter()
        finally:
            self.synced = False
            self.queue.close()
            queue_task.cancel()
            for task in list(self._binding_tasks):
                task.cancel()
            await asyncio.gather(queue_task, *self._binding_tasks, return_exceptions=True)
            for recorder in self.recorders.values():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(recorder.flush(), 2)
                await recorder.stop()
            await self.informers.shutdown()

    def responsible_for(self, pod: JSON) -> bool:
        return ((pod.get("spec") or {}).get("schedulerName") or "default-scheduler") in self.profiles

    def framework_for(self, pod: JSON) -> Framework | None:
        return self.profiles.get((pod.get("spec") or {}).get("schedulerName") or "default-scheduler")

    def _pre_enqueue(self, pod: PodInfo) -> Status:
        fwk = self.framework_for(pod.pod)
        return fwk.run_pre_enqueue(pod) if fwk is not None else Status()

    # -- the scheduling cycle ------------------------------------------------------------------------

    async def schedule_one(self) -> None:
        qpi = await self.queue.pop()
        pod_info = qpi.pod_info
        cycle = self.queue.scheduling_cycle
        fwk = self.framework_for(pod_info.pod)
        if fwk is None or pod_info.metadata.get("deletionTimestamp") or self.cache.is_assumed(pod_info.pod):
            self.queue.done(pod_info.key)
            return
        started = time.perf_counter()
        self.handle.current = self.cache.snapshot()
        state = CycleState()
        try:
            try:
                result = self.algorithm.schedule(fwk, state, pod_info, self.handle.current)
            finally:
                self.metrics.algorithm_duration.observe(time.perf_counter() - started)
        except FitError as fit:
            nominated = await self._post_filter(fwk, state, pod_info, fit)
            self.metrics.attempt(UNSCHEDULABLE, fwk.scheduler_name, time.perf_counter() - started)
            self._fail(fwk, qpi, str(fit), cycle, unschedulable=True, nominated=nominated)
            return
        except SchedulingError as err:
            self.metrics.attempt(ERROR, fwk.scheduler_name, time.perf_counter() - started)
            self._fail(fwk, qpi, str(err), cycle, unschedulable=False)
            return
        node_name = result.node_name
        assumed = PodInfo(self.cache.assume(pod_info.pod, node_name))
        status = fwk.run_reserve(state, assumed, node_name)
        if status.ok:
            status = fwk.run_permit(state, assumed, node_name)
        if not status.ok:
            fwk.run_unreserve(state, assumed, node_name)
            self.cache.forget(pod_info.pod)
            self.metrics.attempt(UNSCHEDULABLE if status.rejected else ERROR, fwk.scheduler_name,
                                 time.perf_counter() - started)
            self._fail(fwk, qpi, status.message(), cycle, unschedulable=status.rejected)
            return
        # Bound or not, the pod no longer needs the room preemption may have made for it.
        self.nominator.delete(pod_info.key)
        task = asyncio.get_running_loop().create_task(
            self._binding_cycle(fwk, state, qpi, assumed, node_name, started))
        self._binding_tasks.add(task)
        task.add_done_callback(self._binding_tasks.discard)

    async def _post_filter(self, fwk: Framework, state: CycleState, pod: PodInfo, fit: FitError) -> str | None:
        """Run PostFilter (preemption); the node it nominated, '' to clear a nomination, None for neither."""
        if not fwk.has_post_filter() or fit.num_all_nodes == 0:
            return None
        self.metrics.preemption_attempts.inc()
        try:
            nominated, status = await fwk.run_post_filter(state, pod, fit.diagnosis.node_to_status)
        except Exception:  # a plugin bug must not stop the scheduling loop
            log.exception("PostFilter failed for %s", pod.key)
            return None
        if status.reasons:
            fit.diagnosis.post_filter_msg = status.message()
        victims = state.get(VICTIMS_STATE_KEY)
        if victims is not None:
            self.metrics.preemption_victims.observe(victims)
        if nominated:
            self.nominator.add(pod, nominated)
        elif nominated == "":
            self.nominator.delete(pod.key)
        return nominated

    async def _binding_cycle(self, fwk: Framework, state: CycleState, qpi: QueuedPodInfo, assumed: PodInfo,
                             node_name: str, started: float) -> None:
        status = await fwk.run_pre_bind(state, assumed, node_name)
        if status.ok:
            status = await fwk.run_bind(state, assumed, node_name)
        if not status.ok:
            fwk.run_unreserve(state, assumed, node_name)
            self.cache.forget(assumed.pod)
            log.warning("binding %s to %s failed: %s", assumed.key, node_name, status.message())
            self.metrics.attempt(ERROR, fwk.scheduler_name, time.perf_counter() - started)
            self._fail(fwk, qpi, f"Binding rejected: {status.message()}", self.queue.scheduling_cycle,
                       unschedulable=False)
            return
        self.queue.done(assumed.key)
        self.metrics.attempt(SCHEDULED, fwk.scheduler_name, time.perf_counter() - started)
        log.info("bound %s to %s", assumed.key, node_name)
        self.recorders[fwk.scheduler_name].event(
            qpi.pod, "Normal", "Scheduled", f"Successfully assigned {assumed.key} to {node_name}")

    def _fail(self, fwk: Framework, qpi: QueuedPodInfo, message: str, cycle: int, unschedulable: bool,
              nominated: str | None = None) -> None:
        """Record why, mark the pod's PodScheduled condition, and hand the pod back to the queue."""
        log.info("unable to schedule %s: %s", qpi.pod_info.key, message)
        if unschedulable:
            self.queue.add_unschedulable(qpi, cycle)
        else:
            self.queue.requeue_after_error(qpi)
        self.recorders[fwk.scheduler_name].event(qpi.pod, "Warning", "FailedScheduling", message)
        task = asyncio.get_running_loop().create_task(self._set_unschedulable_status(qpi.pod, message, nominated))
        self._binding_tasks.add(task)
        task.add_done_callback(self._binding_tasks.discard)

    async def _set_unschedulable_status(self, pod: JSON, message: str, nominated: str | None) -> None:
        """PodScheduled=False with the reason, and the node preemption nominated (if that changed)."""
        status = pod.get("status") or {}
        current = next((c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), None)
        patch: JSON = {}
        if nominated is not None and nominated != nominated_node_of(pod):
            patch["nominatedNodeName"] = nominated or None
        if not (current and current.get("status") == "False" and current.get("message") == message):
            now = self.clock.wall().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            patch["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                    "message": message, "lastProbeTime": None, "lastTransitionTime": now}]
        if not patch:
            return
        metadata = pod.get("metadata") or {}
        try:
            await self.client.patch(PODS, metadata["name"], {"status": patch}, metadata.get("namespace"),
                                    patch_type="strategic", subresource="status")
        except ApiError as err:
            log.info("could not update the status of %s: %s", pod_key(pod), err)

    # -- informer handlers (enqueue only) --------------------------------------------------------------

    def _on_pod_add(self, pod: JSON) -> None:
        if _is_terminal(pod):
            return
        if node_name_of(pod):
            self.cache.add_pod(pod)
            self.queue.move_all_to_active_or_backoff(q.ASSIGNED_POD_ADD)
        elif self.responsible_for(pod):
            self.nominator.update(pod)
            self.queue.add(pod)

    def _on_pod_update(self, old: JSON, new: JSON) -> None:
        if _is_terminal(new):
            self._on_pod_delete(new)
            return
        if node_name_of(new):
            newly_assigned = not node_name_of(old)
            if newly_assigned:
                self.queue.delete(new)
                self.nominator.delete(pod_key(new))
            self.cache.update_pod(new)
            if newly_assigned or (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
                self.queue.move_all_to_active_or_backoff(q.ASSIGNED_POD_UPDATE)
        elif self.responsible_for(new):
            self.nominator.update(new)
            if _scheduling_relevant(old) != _scheduling_relevant(new):
                self.queue.update(new)

    def _on_pod_delete(self, obj: JSON | DeletedFinalStateUnknown) -> None:
        pod = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        self.nominator.delete(pod_key(pod))
        if node_name_of(pod):
            self.cache.remove_pod(pod)
            self.queue.move_all_to_active_or_backoff(q.POD_DELETE)
        else:
            self.queue.delete(pod)

    def _on_node_add(self, node: JSON) -> None:
        self.cache.add_node(node)
        self.queue.move_all_to_active_or_backoff(q.NODE_ADD)

    def _on_node_update(self, old: JSON, new: JSON) -> None:
        self.cache.update_node(new)
        if _node_relevant(old) != _node_relevant(new):
            self.queue.move_all_to_active_or_backoff(q.NODE_UPDATE)

    def _on_node_delete(self, obj: JSON | DeletedFinalStateUnknown) -> None:
        self.cache.remove_node(obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj)
