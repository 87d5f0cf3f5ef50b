"""Deletes finished Jobs ``ttlSecondsAfterFinished`` after they finished (upstream
``ttlafterfinished``). The decision is made twice: on the cache, then again on a fresh GET
(the TTL may have been changed meanwhile), and the delete carries that read's resourceVersion as
a precondition. Propagation is Foreground, so the Job goes only after its pods."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from kubeplane.client import Conflict, EventHandlers, Informer, NotFound, split_key
from kubeplane.client.resource import JOBS
from kubeplane.controllers.controller import ControllerContext, ResourceController
from kubeplane.controllers.job.status import finish_time, is_finished

log = logging.getLogger(__name__)

JSON = dict[str, Any]


def needs_cleanup(job: JSON) -> bool:
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    return ttl is not None and is_finished(job) and not job["metadata"].get("deletionTimestamp")


def expires_at(job: JSON) -> datetime | None:
    finished = finish_time(job)
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    if finished is None or ttl is None:
        return None
    return finished + timedelta(seconds=int(ttl))


class TTLAfterFinishedController(ResourceController):
    name = "ttl-after-finished"
    component = "ttl-after-finished-controller"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.jobs: Informer = self.informer(JOBS, EventHandlers(
            on_add=self._maybe_enqueue, on_update=lambda old, new: self._maybe_enqueue(new)))

    def _maybe_enqueue(self, job: JSON) -> None:
        if needs_cleanup(job):
            self.enqueue(job)

    def _remaining(self, job: JSON) -> float | None:
        """Seconds until ``job`` expires (<= 0: now); None when it does not expire."""
        if not needs_cleanup(job):
            return None
        expiry = expires_at(job)
        if expiry is None:
            return None
        return (expiry - self.clock.wall()).total_seconds()

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        cached = self.jobs.get(name, namespace)
        if cached is None:
            return
        remaining = self._remaining(cached)
        if remaining is None:
            return
        if remaining > 0:
            self.queue.add_after(key, remaining)
            return
        try:
            fresh = await self.client.get(JOBS, name, namespace)
        except NotFound:
            return
        remaining = self._remaining(fresh)
        if remaining is None:
            return
        if remaining > 0:
            self.queue.add_after(key, remaining)
            return
        log.info("%s: deleting expired job %s", self.name, key)
        try:
            await self.client.delete(JOBS, name, namespace, propagation_policy="Foreground",
                                     preconditions={"resourceVersion": fresh["metadata"].get("resourceVersion")})
        except NotFound:
            return
        except Conflict:
            self.queue.add(key)  # changed since we looked: decide again on the new state
