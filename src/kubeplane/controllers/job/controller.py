"""The Job controller (upstream ``pkg/controller/job``).

A sync claims the Job's pods, counts the ones that terminated — safely, in two steps: their UIDs
go into ``status.uncountedTerminatedPods`` first, then their ``job-tracking`` finalizer is
removed, then they move into ``succeeded``/``failed`` — decides whether the Job has succeeded or
failed (completions, backoffLimit, activeDeadlineSeconds, podFailurePolicy), and otherwise
creates or deletes pods toward ``parallelism`` (with the failure backoff, suspend and Indexed
completion). On clusters of 1.31 and later a finished Job first gets ``SuccessCriteriaMet`` or
``FailureTarget``, and ``Complete``/``Failed`` only once none of its pods is still running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kubeplane.client import (
    DeletedFinalStateUnknown,
    EventHandlers,
    Informer,
    NotFound,
    RateLimitingQueue,
    ShutDown,
    meta_namespace_key,
    split_key,
)
from kubeplane.client.events import NORMAL, WARNING
from kubeplane.client.resource import JOBS, PODS
from kubeplane.controllers.controller import (
    ControllerContext,
    ResourceController,
    is_namespace_terminating,
    unwrap_tombstone,
)
from kubeplane.controllers.expectations import Expectations
from kubeplane.controllers.job import failure_policy
from kubeplane.controllers.job.backoff import BackoffRecord
from kubeplane.controllers.job.indexes import completion_index, format_indexes, parse_indexes
from kubeplane.controllers.job.pod_template import TRACKING_FINALIZER, has_tracking_finalizer, pod_for_job
from kubeplane.controllers.job.status import (
    COMPLETE,
    FAILED,
    FAILURE_TARGET,
    SUCCESS_CRITERIA_MET,
    SUSPENDED,
    condition_true,
    is_finished,
    job_condition,
    with_condition,
)
from kubeplane.controllers.owners import Owners
from kubeplane.controllers.ownership import ClaimManager, controller_ref, recheck_owner, selector_of
from kubeplane.controllers.pods import is_pod_active, is_pod_ready
from kubeplane.controllers.slowstart import slow_start_batch
from kubeplane.controllers.timeutil import format_time, parse_time

log = logging.getLogger(__name__)

JSON = dict[str, Any]

MAX_POD_CREATE_DELETE_PER_SYNC = 500  # upstream's MaxPodCreateDeletePerSync


@dataclass
class Outcome:
    """What a sync decided the Job's end is: the interim and terminal conditions to set."""

    interim: str  # SuccessCriteriaMet | FailureTarget
    terminal: str  # Complete | Failed
    reason: str
    message: str


@dataclass
class Counted:
    """Pods whose termination this sync counted, and pods whose finalizer may now go."""

    succeeded: list[JSON] = field(default_factory=list)
    failed: list[JSON] = field(default_factory=list)
    release: list[JSON] = field(default_factory=list)
    fail_job: failure_policy.Match | None = None


def _phase(pod: JSON) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def _is_terminating(pod: JSON) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp")) and _phase(pod) not in ("Succeeded", "Failed")


def _uid(obj: JSON) -> str:
    return str(obj["metadata"].get("uid") or "")


class JobController(ResourceController):
    name = "job"
    component = "job-controller"

    def __init__(self, ctx: ControllerContext, delay_terminal_condition: bool | None = None) -> None:
        super().__init__(ctx)
        self.expectations = Expectations(ctx.clock)
        self.backoffs: dict[str, BackoffRecord] = {}
        # None: ask the server's version at start (1.31 delayed the terminal conditions).
        self.delay_terminal_condition = delay_terminal_condition
        self.orphans: RateLimitingQueue[str] = RateLimitingQueue(clock=self.clock)
        # The resourceVersion of each Job's last status write: a cached Job older than that would
        # make a sync count from a status that is already superseded.
        self.written: dict[str, str] = {}
        self.jobs: Informer = self.informer(JOBS, self.enqueue_handlers(on_delete=self._job_deleted))
        self.pods: Informer = self.informer(PODS, EventHandlers(
            on_add=self._pod_changed, on_update=lambda old, new: self._pod_changed(new, old),
            on_delete=self._pod_deleted))
        self.owners = Owners(self.jobs, JOBS.kind)

    # -- event handlers -------------------------------------------------------------------------

    def _is_job_pod(self, pod: JSON) -> bool:
        return (controller_ref(pod) or {}).get("kind") == JOBS.kind

    def _pod_changed(self, pod: JSON, old: JSON | None = None) -> None:
        job = self.owners.owner_of(pod)
        if job is None:
            if self._is_job_pod(pod) and has_tracking_finalizer(pod):
                self.orphans.add(meta_namespace_key(pod))  # its Job is gone: release the pod
            return
        key = meta_namespace_key(job)
        if old is None:
            self.expectations.creation_observed(key)
        if pod["metadata"].get("deletionTimestamp"):
            self.expectations.deletion_observed(key, meta_namespace_key(pod))
        if is_finished(job) and has_tracking_finalizer(pod):
            self.orphans.add(meta_namespace_key(pod))
        self.enqueue(job)

    def _pod_deleted(self, obj: JSON | DeletedFinalStateUnknown) -> None:
        pod = unwrap_tombstone(obj)
        job = self.owners.owner_of(pod)
        if job is not None:
            self.expectations.deletion_observed(meta_namespace_key(job), meta_namespace_key(pod))
            self.enqueue(job)

    def _job_deleted(self, obj: JSON | DeletedFinalStateUnknown) -> None:
        job = unwrap_tombstone(obj)
        key = meta_namespace_key(job)
        self.expectations.forget(key)
        self.backoffs.pop(key, None)
        self.written.pop(key, None)
        for pod in self.pods.list(job["metadata"].get("namespace")):
            if (controller_ref(pod) or {}).get("uid") == _uid(job) and has_tracking_finalizer(pod):
                self.orphans.add(meta_namespace_key(pod))

    # -- running --------------------------------------------------------------------------------

    async def run(self, workers: int) -> None:
        if self.delay_terminal_condition is None:
            self.delay_terminal_condition = await self._server_minor() >= 31
        try:
            await asyncio.gather(super().run(workers), self._release_orphans())
        finally:
            self.orphans.shutdown()

    async def _server_minor(self) -> int:
        try:
            version = await self.client.request("GET", "/version")
            return int("".join(ch for ch in str(version.get("minor", "")) if ch.isdigit()) or 0)
        except Exception as err:
            log.warning("%s: could not read the server version (%s); assuming a current one", self.name, err)
            return 99

    async def _release_orphans(self) -> None:
        """Pods whose Job is gone or finished keep no finalizer (upstream's orphan queue)."""
        await asyncio.gather(self.jobs.wait_for_sync(), self.pods.wait_for_sync())
        while True:
            try:
                key = await self.orphans.get()
            except ShutDown:
                return
            try:
                namespace, name = split_key(key)
                pod = self.pods.get(name, namespace)
                job = self.owners.owner_of(pod) if pod is not None else None
                if pod is not None and has_tracking_finalizer(pod) and (job is None or is_finished(job)):
                    await self.remove_tracking_finalizer(pod)
                self.orphans.forget(key)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.info("%s: releasing pod %s failed: %s", self.name, key, err)
                self.orphans.add_rate_limited(key)
            finally:
                self.orphans.done(key)

    async def remove_tracking_finalizer(self, pod: JSON) -> None:
        meta = pod["metadata"]
        rest = [f for f in meta.get("finalizers") or () if f != TRACKING_FINALIZER]
        patch = {"metadata": {"finalizers": rest or None, "resourceVersion": meta.get("resourceVersion")}}
        with contextlib.suppress(NotFound):
            await self.client.patch(PODS, meta["name"], patch, meta.get("namespace"))

    # -- sync -----------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        cached = self.jobs.get(name, namespace)
        if cached is None:
            self.expectations.forget(key)
            self.backoffs.pop(key, None)
            return
        job = cached
        if _older(job["metadata"].get("resourceVersion"), self.written.get(key)):
            return  # the cache has not seen our last write yet; its watch event will requeue the Job
        if is_finished(job):
            return  # its pods' finalizers go through the orphan queue
        selector = selector_of(job)
        if selector is None:
            log.warning("%s: invalid selector on %s; not syncing", self.name, key)
            return
        claim = ClaimManager(self.client, job, JOBS, PODS, selector,
                             lambda: recheck_owner(self.client, JOBS, job))
        pods = await claim.claim(self.pods.list(namespace))
        now = self.clock.wall()
        spec = job.get("spec") or {}
        status = dict(job.get("status") or {})
        counted = self._count_terminated(job, pods, status)
        if counted.succeeded or counted.failed:
            self.backoffs.setdefault(key, BackoffRecord()).record(len(counted.failed), len(counted.succeeded),
                                                                  self.clock.now())
        job, status = await self._track_terminated(job, status, counted)
        active = [p for p in pods if is_pod_active(p)]
        terminating = [p for p in pods if _is_terminating(p)]
        outcome = self._outcome(job, status, active, counted, now)
        conditions = list(status.get("conditions") or ())
        if outcome is not None:
            conditions = await self._finish(job, status, conditions, outcome, active, terminating, now)
        elif spec.get("suspend"):
            conditions = await self._suspend(job, key, status, conditions, active, now)
        else:
            conditions = self._resume(job, status, conditions, now)
            if self.expectations.satisfied(key) and not job["metadata"].get("deletionTimestamp"):
                active = await self._manage(job, key, status, active, terminating)
            self._requeue_for_deadline(job, key, status, now)
        status.update({"active": len(active), "ready": sum(1 for p in active if is_pod_ready(p)),
                       "terminating": len(terminating), "succeeded": int(status.get("succeeded") or 0),
                       "failed": int(status.get("failed") or 0)})
        if conditions:
            status["conditions"] = conditions
        await self._write_status(key, job, status)

    async def _write_status(self, key: str, job: JSON, status: JSON) -> JSON:
        """Write ``status`` unless unchanged. A Conflict is not retried on a fresh read (as the
        shared ``write_status`` does): this status was computed from the old one's counters, so
        the whole sync must run again (the queue's retry) on the newer Job."""
        if (job.get("status") or {}) == status:
            return job
        updated: JSON = await self.client.update(JOBS, {**job, "status": status}, subresource="status")
        self.written[key] = str(updated["metadata"].get("resourceVersion") or "")
        return updated

    # -- counting terminated pods ---------------------------------------------------------------

    def _count_terminated(self, job: JSON, pods: list[JSON], status: JSON) -> Counted:
        uncounted = status.get("uncountedTerminatedPods") or {}
        already = set(uncounted.get("succeeded") or ()) | set(uncounted.get("failed") or ())
        deleting = bool(job["metadata"].get("deletionTimestamp"))
        policy = (job.get("spec") or {}).get("podFailurePolicy")
        counted = Counted()
        for pod in pods:
            if not has_tracking_finalizer(pod):
                continue
            phase = _phase(pod)
            if _uid(pod) in already:
                counted.release.append(pod)
            elif phase == "Succeeded":
                counted.succeeded.append(pod)
                counted.release.append(pod)
            elif phase == "Failed":
                decision = failure_policy.match(policy, pod)
                if decision is None or decision.action != failure_policy.IGNORE:
                    counted.failed.append(pod)
                if decision is not None and decision.action == failure_policy.FAIL_JOB and counted.fail_job is None:
                    counted.fail_job = decision
                counted.release.append(pod)
            elif deleting:
                counted.release.append(pod)  # a Job being deleted lets all its pods go
        return counted

    async def _track_terminated(self, job: JSON, status: JSON, counted: Counted) -> tuple[JSON, JSON]:
        """Record, release, then count: a pod counted twice or never is impossible even if this
        sync dies half way (the UIDs in uncountedTerminatedPods survive it)."""
        uncounted = status.get("uncountedTerminatedPods") or {}
        succeeded_uids = [*(uncounted.get("succeeded") or ()), *(_uid(p) for p in counted.succeeded)]
        failed_uids = [*(uncounted.get("failed") or ()), *(_uid(p) for p in counted.failed)]
        recorded = {**status, "uncountedTerminatedPods": _uncounted(succeeded_uids, failed_uids)}
        if counted.succeeded or counted.failed:
            job = await self._write_status(meta_namespace_key(job), job, recorded)
        await asyncio.gather(*(self.remove_tracking_finalizer(p) for p in counted.release))
        # Everything recorded has now lost its finalizer (or had already): count it.
        by_uid = {_uid(p): p for p in counted.succeeded}
        by_uid.update({_uid(p): p for p in counted.release})
        completions = (job.get("spec") or {}).get("completions")
        result = dict(status)
        if _indexed(job) and completions is not None:
            indexes = parse_indexes(status.get("completedIndexes"), int(completions))
            for uid in succeeded_uids:
                index = completion_index(by_uid[uid]) if uid in by_uid else None
                if index is not None and index < int(completions):
                    indexes.add(index)
            result["completedIndexes"] = format_indexes(indexes)
            result["succeeded"] = len(indexes)
        else:
            result["succeeded"] = int(status.get("succeeded") or 0) + len(succeeded_uids)
        result["failed"] = int(status.get("failed") or 0) + len(failed_uids)
        result["uncountedTerminatedPods"] = {}
        return job, result

    # -- deciding the end -----------------------------------------------------------------------

    def _outcome(self, job: JSON, status: JSON, active: list[JSON], counted: Counted,
                 now: datetime) -> Outcome | None:
        spec = job.get("spec") or {}
        for interim, terminal in ((FAILURE_TARGET, FAILED), (SUCCESS_CRITERIA_MET, COMPLETE)):
            if condition_true(job, interim):  # decided by an earlier sync: finish it
                condition = next(c for c in status.get("conditions") or () if c.get("type") == interim)
                return Outcome(interim, terminal, str(condition.get("reason")), str(condition.get("message")))
        if counted.fail_job is not None:
            return Outcome(FAILURE_TARGET, FAILED, "PodFailurePolicy", counted.fail_job.message)
        backoff_limit = spec.get("backoffLimit")
        if backoff_limit is not None and int(status.get("failed") or 0) > int(backoff_limit):
            return Outcome(FAILURE_TARGET, FAILED, "BackoffLimitExceeded", "Job has reached the specified backoff limit")
        if self._past_deadline(job, status, now):
            return Outcome(FAILURE_TARGET, FAILED, "DeadlineExceeded", "Job was active longer than specified deadline")
        completions = spec.get("completions")
        succeeded = int(status.get("succeeded") or 0)
        # Without completions (a work queue) the first success ends the Job once no pod runs.
        done = succeeded > 0 and not active if completions is None else succeeded >= int(completions)
        if done:
            return Outcome(SUCCESS_CRITERIA_MET, COMPLETE, "CompletionsReached", "Reached expected number of succeeded pods")
        return None

    @staticmethod
    def _past_deadline(job: JSON, status: JSON, now: datetime) -> bool:
        deadline = (job.get("spec") or {}).get("activeDeadlineSeconds")
        started = parse_time(status.get("startTime"))
        if deadline is None or started is None or (job.get("spec") or {}).get("suspend"):
            return False
        return now >= started + timedelta(seconds=int(deadline))

    async def _finish(self, job: JSON, status: JSON, conditions: list[JSON], outcome: Outcome,
                      active: list[JSON], terminating: list[JSON], now: datetime) -> list[JSON]:
        if active:
            await self._delete_pods(job, active)
        if self.delay_terminal_condition is not False:
            conditions = with_condition(conditions, job_condition(outcome.interim, "True", outcome.reason,
                                                                  outcome.message, now))
            if active or terminating:
                return conditions  # the terminal condition waits for every pod to stop
        conditions = with_condition(conditions, job_condition(outcome.terminal, "True", outcome.reason,
                                                              outcome.message, now))
        if condition_true(job, outcome.terminal):
            return conditions
        if outcome.terminal == COMPLETE:
            status["completionTime"] = format_time(now)
            self.recorder.event(job, NORMAL, "Completed", "Job completed")
        else:
            self.recorder.event(job, WARNING, outcome.reason, outcome.message)
        return conditions

    # -- suspend and resume ---------------------------------------------------------------------

    async def _suspend(self, job: JSON, key: str, status: JSON, conditions: list[JSON], active: list[JSON],
                       now: datetime) -> list[JSON]:
        if active:
            await self._delete_pods(job, active)
        if not condition_true(job, SUSPENDED):
            self.recorder.event(job, NORMAL, "Suspended", "Job suspended")
            conditions = with_condition(conditions, job_condition(SUSPENDED, "True", "JobSuspended",
                                                                  "Job suspended", now))
        return conditions

    def _resume(self, job: JSON, status: JSON, conditions: list[JSON], now: datetime) -> list[JSON]:
        if condition_true(job, SUSPENDED):
            self.recorder.event(job, NORMAL, "Resumed", "Job resumed")
            conditions = with_condition(conditions, job_condition(SUSPENDED, "False", "JobResumed",
                                                                  "Job resumed", now))
            status["startTime"] = format_time(now)  # the active deadline counts from the resume
        status.setdefault("startTime", format_time(now))
        return conditions

    def _requeue_for_deadline(self, job: JSON, key: str, status: JSON, now: datetime) -> None:
        deadline = (job.get("spec") or {}).get("activeDeadlineSeconds")
        started = parse_time(status.get("startTime"))
        if deadline is not None and started is not None:
            remaining = (started + timedelta(seconds=int(deadline)) - now).total_seconds()
            self.queue.add_after(key, max(remaining, 0.0))

    # -- creating and deleting pods -------------------------------------------------------------

    async def _manage(self, job: JSON, key: str, status: JSON, active: list[JSON],
                      terminating: list[JSON]) -> list[JSON]:
        """Create or delete pods toward parallelism; returns the pods still active."""
        spec = job.get("spec") or {}
        parallelism = int(spec["parallelism"]) if spec.get("parallelism") is not None else 1
        completions = spec.get("completions")
        succeeded = int(status.get("succeeded") or 0)
        if completions is None:
            want = len(active) if succeeded > 0 else parallelism  # a work queue: let running pods finish
        else:
            want = min(parallelism, max(0, int(completions) - succeeded))
        # With podReplacementPolicy Failed a terminating pod still holds its slot.
        occupied = len(active) + (len(terminating) if spec.get("podReplacementPolicy") == "Failed" else 0)
        if len(active) > want:
            excess = sorted(active, key=_deletion_rank)[:min(len(active) - want, MAX_POD_CREATE_DELETE_PER_SYNC)]
            await self._delete_pods(job, excess, key=key)
            doomed = {_uid(p) for p in excess}
            return [p for p in active if _uid(p) not in doomed]
        missing = min(want - occupied, MAX_POD_CREATE_DELETE_PER_SYNC)
        if missing <= 0:
            return active
        wait = self.backoffs.get(key, BackoffRecord()).remaining(self.clock.now())
        if wait > 0:
            self.queue.add_after(key, wait)
            return active
        indexes: list[int | None] = [None] * missing
        if _indexed(job) and completions is not None:
            taken = parse_indexes(status.get("completedIndexes"), int(completions))
            taken |= {i for p in [*active, *terminating] if (i := completion_index(p)) is not None}
            free: list[int | None] = [index for index in range(int(completions)) if index not in taken]
            indexes = free[:missing]
        await self._create_pods(job, key, indexes)
        return active

    async def _create_pods(self, job: JSON, key: str, indexes: list[int | None]) -> None:
        if not indexes:
            return
        self.expectations.expect_creations(key, len(indexes))
        namespace = job["metadata"].get("namespace")
        pending = list(indexes)

        async def create_one() -> None:
            body = pod_for_job(job, JOBS, pending.pop(0))
            try:
                pod = await self.client.create(PODS, body, namespace)
            except Exception as err:
                if is_namespace_terminating(err):
                    return
                self.recorder.event(job, WARNING, "FailedCreate", f"Error creating: {err}")
                raise
            self.recorder.event(job, NORMAL, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")

        created, error = await slow_start_batch(len(indexes), create_one)
        if error is not None:
            self.expectations.lower_creations(key, len(indexes) - created)
            raise error

    async def _delete_pods(self, job: JSON, pods: list[JSON], key: str | None = None) -> None:
        """Delete pods the Job no longer wants. Their finalizer goes first: a pod the controller
        removed on purpose is not a failure to count (upstream ``deleteJobPods``)."""
        if key is not None:
            self.expectations.expect_deletions(key, [meta_namespace_key(p) for p in pods])

        async def delete_one(pod: JSON) -> None:
            name = pod["metadata"]["name"]
            if has_tracking_finalizer(pod):
                await self.remove_tracking_finalizer(pod)
            try:
                await self.client.delete(PODS, name, pod["metadata"].get("namespace"))
            except NotFound:
                return
            except Exception as err:
                if key is not None:
                    self.expectations.deletion_observed(key, meta_namespace_key(pod))
                self.recorder.event(job, WARNING, "FailedDelete", f"Error deleting: {err}")
                raise
            self.recorder.event(job, NORMAL, "SuccessfulDelete", f"Deleted pod: {name}")

        results = await asyncio.gather(*(delete_one(p) for p in pods), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result


def _older(seen: str | None, written: str | None) -> bool:
    """Whether resourceVersion ``seen`` precedes ``written``. resourceVersions are opaque to
    clients in general; kubeplane's are etcd revisions, so they compare as integers."""
    if not seen or not written:
        return False
    try:
        return int(seen) < int(written)
    except ValueError:
        return False


def _indexed(job: JSON) -> bool:
    return (job.get("spec") or {}).get("completionMode") == "Indexed"


def _uncounted(succeeded: list[str], failed: list[str]) -> JSON:
    out: JSON = {}
    if succeeded:
        out["succeeded"] = succeeded
    if failed:
        out["failed"] = failed
    return out


def _deletion_rank(pod: JSON) -> tuple[int, int, str]:
    """Cheapest first: unscheduled, then not ready, then the newest."""
    scheduled = 1 if (pod.get("spec") or {}).get("nodeName") else 0
    ready = 1 if is_pod_ready(pod) else 0
    created = str(pod["metadata"].get("creationTimestamp") or "")
    return scheduled, ready, "".join(chr(0x10FFFF - ord(c)) for c in created)
