"""TTL-after-finished: finished Jobs are deleted (foreground, resourceVersion precondition) once
their TTL has passed, and not before."""

from __future__ import annotations

from typing import Any

from kubeplane.client.resource import JOBS
from kubeplane.controllers.ttlafterfinished import TTLAfterFinishedController


def finished_job(ttl: int | None, condition: str = "Complete") -> dict[str, Any]:
    spec: dict[str, Any] = {"template": {}}
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = ttl
    status: dict[str, Any] = {"conditions": [{"type": condition, "status": "True",
                                              "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "namespace": "ns"},
            "spec": spec, "status": status}


async def test_deletes_a_finished_job_once_its_ttl_passed(api: Any, ctx: Any, clock: Any) -> None:
    deletes: list[dict[str, Any]] = []
    original = api.delete

    async def recording_delete(*args: Any, **kwargs: Any) -> Any:
        deletes.append(kwargs)
        return await original(*args, **kwargs)

    api.delete = recording_delete
    controller = TTLAfterFinishedController(ctx)
    stored = api.put(JOBS, finished_job(ttl=100, condition="Failed"))
    api.feed(ctx.informers, JOBS)
    await controller.sync("ns/j")
    assert api.all(JOBS) and controller.queue.waiting() == 1  # requeued for when it expires
    clock.step(100)
    await controller.sync("ns/j")
    assert api.all(JOBS) == []
    assert deletes == [{"propagation_policy": "Foreground",
                        "preconditions": {"resourceVersion": stored["metadata"]["resourceVersion"]}}]


async def test_jobs_without_ttl_or_unfinished_stay(api: Any, ctx: Any, clock: Any) -> None:
    controller = TTLAfterFinishedController(ctx)
    api.put(JOBS, finished_job(ttl=None))
    api.feed(ctx.informers, JOBS)
    clock.step(10_000)
    await controller.sync("ns/j")
    unfinished = finished_job(ttl=0)
    unfinished["status"] = {}
    unfinished["metadata"]["name"] = "running"
    api.put(JOBS, unfinished)
    api.feed(ctx.informers, JOBS)
    await controller.sync("ns/running")
    assert len(api.all(JOBS)) == 2


async def test_a_ttl_raised_since_the_cache_saw_it_is_honoured(api: Any, ctx: Any, clock: Any) -> None:
    controller = TTLAfterFinishedController(ctx)
    api.put(JOBS, finished_job(ttl=10))
    api.feed(ctx.informers, JOBS)
    await api.patch(JOBS, "j", {"spec": {"ttlSecondsAfterFinished": 3600}}, "ns")  # not yet in the cache
    clock.step(20)
    await controller.sync("ns/j")
    assert api.all(JOBS)  # the fresh read decides
