"""The CronJob controller (upstream ``pkg/controller/cronjob``, the v2 controller).

A sync reconciles ``status.active`` with the Jobs the CronJob owns, deletes finished Jobs beyond
the history limits, then — unless suspended — finds the most recent unmet scheduled time and
starts a Job named ``<cronjob>-<scheduled time in minutes>`` for it (so two controllers, or a
retry, can never start the same run twice), subject to ``startingDeadlineSeconds`` and the
concurrency policy. The key is requeued for the next scheduled time.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from kubeplane.client import (
    AlreadyExists,
    DeletedFinalStateUnknown,
    EventHandlers,
    Informer,
    NotFound,
    split_key,
)
from kubeplane.client.events import NORMAL, WARNING
from kubeplane.client.resource import CRONJOBS, JOBS
from kubeplane.controllers.controller import ControllerContext, ResourceController, unwrap_tombstone
from kubeplane.controllers.cronjob.schedule import Schedule, ScheduleError, parse_schedule
from kubeplane.controllers.job.status import COMPLETE, condition_true, is_finished
from kubeplane.controllers.owners import Owners
from kubeplane.controllers.ownership import controller_ref, new_controller_ref
from kubeplane.controllers.status_writer import write_status
from kubeplane.controllers.timeutil import format_time, parse_time
from kubeplane.machinery.objects import clone

log = logging.getLogger(__name__)

JSON = dict[str, Any]

SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
MAX_MISSED_RUNS = 100
REQUEUE_SLACK = 0.1  # upstream wakes 100 ms after the scheduled time


def job_name(cronjob_name: str, scheduled: datetime) -> str:
    return f"{cronjob_name}-{int(scheduled.timestamp()) // 60}"


def rfc3339(moment: datetime) -> str:
    text = moment.isoformat(timespec="seconds")
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def most_recent_unmet(schedule: Schedule, earliest: datetime, now: datetime) -> tuple[datetime | None, int]:
    """The latest scheduled time in (earliest, now], and how many there were (counted up to
    ``MAX_MISSED_RUNS + 1``: past that the exact number does not matter)."""
    latest: datetime | None = None
    missed = 0
    moment = schedule.next_after(earliest)
    while moment is not None and moment <= now and missed <= MAX_MISSED_RUNS:
        latest, missed = moment, missed + 1
        moment = schedule.next_after(moment)
    if moment is None or moment > now:
        return latest, missed
    # Too many to walk: look back from now over growing windows for the latest one.
    window = timedelta(hours=1)
    while window < now - earliest:
        candidate = schedule.next_after(now - window)
        if candidate is not None and candidate <= now:
            break
        window *= 2
    moment = schedule.next_after(max(earliest, now - window))
    while moment is not None and moment <= now:
        latest = moment
        moment = schedule.next_after(moment)
    return latest, missed


def job_from_template(cronjob: JSON, scheduled: datetime, zone_time: datetime) -> JSON:
    template = clone((cronjob.get("spec") or {}).get("jobTemplate") or {})
    template_meta = template.get("metadata") or {}
    meta = cronjob["metadata"]
    metadata: JSON = {"name": job_name(meta["name"], scheduled), "namespace": meta.get("namespace"),
                      "labels": dict(template_meta.get("labels") or {}),
                      "annotations": {**(template_meta.get("annotations") or {}),
                                      SCHEDULED_TIMESTAMP: rfc3339(zone_time)},
                      "ownerReferences": [new_controller_ref(cronjob, CRONJOBS)]}
    if not metadata["labels"]:
        del metadata["labels"]
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": template.get("spec") or {}}


def job_reference(job: JSON) -> JSON:
    meta = job["metadata"]
    return {"apiVersion": "batch/v1", "kind": "Job", "namespace": meta.get("namespace"), "name": meta["name"],
            "uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")}


def _started(job: JSON) -> str:
    return str((job.get("status") or {}).get("startTime") or job["metadata"].get("creationTimestamp") or "")


class CronJobController(ResourceController):
    name = "cronjob"
    component = "cronjob-controller"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.cronjobs: Informer = self.informer(CRONJOBS, EventHandlers(
            on_add=self.enqueue, on_update=self.enqueue_updated))
        self.owners = Owners(self.cronjobs, CRONJOBS.kind)
        self.jobs: Informer = self.informer(JOBS, EventHandlers(
            on_add=self._job_changed, on_update=lambda old, new: self._job_changed(new),
            on_delete=self._job_deleted))

    def _job_changed(self, job: JSON) -> None:
        owner = self.owners.owner_of(job)
        if owner is not None:
            self.enqueue(owner)

    def _job_deleted(self, obj: JSON | DeletedFinalStateUnknown) -> None:
        self._job_changed(unwrap_tombstone(obj))

    # -- sync -----------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        cronjob = self.cronjobs.get(name, namespace)
        if cronjob is None:
            return
        uid = cronjob["metadata"].get("uid")
        owned = [j for j in self.jobs.list(namespace) if (controller_ref(j) or {}).get("uid") == uid]
        status = dict(cronjob.get("status") or {})
        status["active"] = await self._reconcile_active(cronjob, owned, status)
        await self._clean_up_history(cronjob, owned)
        if not cronjob["metadata"].get("deletionTimestamp") and not (cronjob.get("spec") or {}).get("suspend"):
            await self._maybe_start(cronjob, key, status)
        if not status["active"]:
            del status["active"]
        await write_status(self.client, CRONJOBS, cronjob, status)

    async def _reconcile_active(self, cronjob: JSON, owned: list[JSON], status: JSON) -> list[JSON]:
        by_uid = {j["metadata"].get("uid"): j for j in owned}
        active: list[JSON] = []
        for ref in status.get("active") or ():
            job = by_uid.get(ref.get("uid"))
            if job is None:
                job = await self._live_job(ref)  # the cache may not have our own create yet
                if job is None:
                    self.recorder.event(cronjob, NORMAL, "MissingJob", f"Active job went missing: {ref.get('name')}")
                    continue
            if not is_finished(job):
                active.append(ref)
        listed = {ref.get("uid") for ref in active}
        for job in sorted(owned, key=lambda j: j["metadata"]["name"]):
            job_uid = job["metadata"].get("uid")
            if is_finished(job):
                if job_uid in {r.get("uid") for r in status.get("active") or ()}:
                    state = COMPLETE if condition_true(job, COMPLETE) else "Failed"
                    self.recorder.event(cronjob, NORMAL, "SawCompletedJob",
                                        f"Saw completed job: {job['metadata']['name']}, status: {state}")
                completed = (job.get("status") or {}).get("completionTime")
                if condition_true(job, COMPLETE) and completed and \
                        (parse_time(completed) or datetime.min.replace(tzinfo=UTC)) > \
                        (parse_time(status.get("lastSuccessfulTime")) or datetime.min.replace(tzinfo=UTC)):
                    status["lastSuccessfulTime"] = completed
            elif job_uid not in listed and not job["metadata"].get("deletionTimestamp"):
                active.append(job_reference(job))  # ours, but a status write was lost
        return active

    async def _live_job(self, ref: JSON) -> JSON | None:
        try:
            job = await self.client.get(JOBS, str(ref.get("name")), ref.get("namespace"))
        except NotFound:
            return None
        return job if job["metadata"].get("uid") == ref.get("uid") else None

    async def _clean_up_history(self, cronjob: JSON, owned: list[JSON]) -> None:
        spec = cronjob.get("spec") or {}
        succeeded = [j for j in owned if condition_true(j, COMPLETE)]
        failed = [j for j in owned if is_finished(j) and not condition_true(j, COMPLETE)]
        for jobs, limit in ((succeeded, spec.get("successfulJobsHistoryLimit")),
                            (failed, spec.get("failedJobsHistoryLimit"))):
            if limit is None or len(jobs) <= int(limit):
                continue
            oldest_first = sorted(jobs, key=_started)
            for job in oldest_first[:len(jobs) - int(limit)]:
                await self._delete_job(cronjob, job)

    async def _delete_job(self, cronjob: JSON, job: JSON) -> None:
        if job["metadata"].get("deletionTimestamp"):
            return
        try:
            await self.client.delete(JOBS, job["metadata"]["name"], job["metadata"].get("namespace"),
                                     propagation_policy="Background")
        except NotFound:
            return
        self.recorder.event(cronjob, NORMAL, "SuccessfulDelete", f"Deleted job {job['metadata']['name']}")

    async def _maybe_start(self, cronjob: JSON, key: str, status: JSON) -> None:
        spec = cronjob.get("spec") or {}
        try:
            schedule = parse_schedule(str(spec.get("schedule") or ""), spec.get("timeZone"))
        except ScheduleError as err:
            reason = "UnknownTimeZone" if "time zone" in str(err) else "UnparseableSchedule"
            self.recorder.event(cronjob, WARNING, reason, f"unparseable schedule: {spec.get('schedule')!r}: {err}")
            return
        now = self.clock.wall()
        self._requeue_for_next(schedule, key, now)
        earliest = parse_time(status.get("lastScheduleTime")) or \
            parse_time(cronjob["metadata"].get("creationTimestamp")) or now
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None:
            earliest = max(earliest, now - timedelta(seconds=int(deadline)))
        scheduled, missed = most_recent_unmet(schedule, earliest, now)
        if scheduled is None:
            return
        if missed > MAX_MISSED_RUNS:
            self.recorder.event(cronjob, WARNING, "TooManyMissedTimes",
                                f"too many missed start times: {missed}. Set or decrease "
                                ".spec.startingDeadlineSeconds or check clock skew")
        if deadline is not None and scheduled + timedelta(seconds=int(deadline)) < now:
            self.recorder.event(cronjob, WARNING, "MissSchedule",
                                f"Missed scheduled time to start a job: {rfc3339(scheduled)}")
            return
        name = job_name(cronjob["metadata"]["name"], scheduled)
        if any(ref.get("name") == name for ref in status["active"]) or \
                self.jobs.get(name, cronjob["metadata"].get("namespace")) is not None:
            return  # this run has been started already
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and status["active"]:
            self.recorder.event(cronjob, NORMAL, "JobAlreadyActive",
                                "Not starting job because prior execution is running and concurrency policy is Forbid")
            return
        if policy == "Replace":
            for ref in status["active"]:
                job = await self._live_job(ref)
                if job is not None:
                    await self._delete_job(cronjob, job)
            status["active"] = []
        await self._create_job(cronjob, status, scheduled, schedule)

    async def _create_job(self, cronjob: JSON, status: JSON, scheduled: datetime, schedule: Schedule) -> None:
        body = job_from_template(cronjob, scheduled, scheduled.astimezone(schedule.zone))
        namespace = cronjob["metadata"].get("namespace")
        try:
            job = await self.client.create(JOBS, body, namespace)
        except AlreadyExists:
            job = await self.client.get(JOBS, body["metadata"]["name"], namespace)
            if (controller_ref(job) or {}).get("uid") != cronjob["metadata"].get("uid"):
                raise
            # Ours already (a status write was lost): record it, do not start it twice.
        else:
            self.recorder.event(cronjob, NORMAL, "SuccessfulCreate", f"Created job {job['metadata']['name']}")
        if not is_finished(job) and all(r.get("uid") != job["metadata"].get("uid") for r in status["active"]):
            status["active"] = [*status["active"], job_reference(job)]
        status["lastScheduleTime"] = format_time(scheduled)

    def _requeue_for_next(self, schedule: Schedule, key: str, now: datetime) -> None:
        upcoming = schedule.next_after(now)
        if upcoming is not None:
            self.queue.add_after(key, (upcoming - now).total_seconds() + REQUEUE_SLACK)
