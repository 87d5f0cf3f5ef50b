"""The Job controller's sync against an in-memory API with a fake clock: pod creation, counting
through uncountedTerminatedPods and the tracking finalizer, completion, backoffLimit and the
failure backoff, Indexed Jobs, suspend, activeDeadlineSeconds, podFailurePolicy, orphans."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplane.client.resource import EVENTS, JOBS, PODS
from kubeplane.controllers.job import JobController
from kubeplane.controllers.job.indexes import COMPLETION_INDEX, format_indexes, parse_indexes
from kubeplane.controllers.job.pod_template import TRACKING_FINALIZER

JSON = dict[str, Any]


def job(name: str = "j", **spec: Any) -> JSON:
    uid_labels = {"batch.kubernetes.io/controller-uid": f"uid-{name}", "batch.kubernetes.io/job-name": name}
    full = {"completions": 1, "parallelism": 1, "backoffLimit": 6, "completionMode": "NonIndexed",
            "suspend": False, "podReplacementPolicy": "TerminatingOrFailed",
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": f"uid-{name}"}},
            "template": {"metadata": {"labels": uid_labels},
                         "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}
    full.update(spec)
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}"}, "spec": full}


@pytest.fixture
def controller(ctx: Any) -> JobController:
    return JobController(ctx, delay_terminal_condition=True)


async def sync(api: Any, ctx: Any, controller: JobController, key: str = "ns/j") -> JSON:
    """Let the caches catch up (the test is the watch), sync once, return the stored Job."""
    api.feed(ctx.informers, JOBS, PODS)
    controller.expectations.forget(key)  # the fed cache has seen every write
    await controller.sync(key)
    namespace, name = key.split("/")
    return await api.get(JOBS, name, namespace)


async def finish_pods(api: Any, phase: str, count: int | None = None, **status: Any) -> None:
    pods = [p for p in api.all(PODS) if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    for pod in pods[:count]:
        await api.patch(PODS, pod["metadata"]["name"], {"status": {"phase": phase, **status}}, "ns")


def conditions(stored: JSON) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c.get("reason", "")) for c in stored["status"].get("conditions") or ()}


async def reasons(api: Any, ctx: Any) -> list[str]:
    await ctx.recorder("job-controller").flush()
    return [e["reason"] for e in api.all(EVENTS)]


async def test_creates_parallelism_pods_owned_and_tracked(api: Any, ctx: Any, controller: JobController) -> None:
    api.put(JOBS, job(completions=5, parallelism=2))
    stored = await sync(api, ctx, controller)
    pods = api.all(PODS)
    assert len(pods) == 2
    for pod in pods:
        meta = pod["metadata"]
        assert meta["generateName"] == "j-"
        assert meta["finalizers"] == [TRACKING_FINALIZER]
        assert meta["labels"]["batch.kubernetes.io/job-name"] == "j"
        assert meta["ownerReferences"][0] | {} == {"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": "uid-j",
                                                  "controller": True, "blockOwnerDeletion": True}
    assert stored["status"]["startTime"] == "2026-01-01T00:00:00Z"
    stored = await sync(api, ctx, controller)
    assert stored["status"]["active"] == 2 and len(api.all(PODS)) == 2


async def test_succeeded_pods_are_counted_then_released_and_the_job_completes(
        api: Any, ctx: Any, controller: JobController, clock: Any) -> None:
    api.put(JOBS, job(completions=2, parallelism=2))
    await sync(api, ctx, controller)
    await finish_pods(api, "Succeeded")
    clock.step(30)
    stored = await sync(api, ctx, controller)
    assert stored["status"]["succeeded"] == 2 and stored["status"]["uncountedTerminatedPods"] == {}
    assert all(TRACKING_FINALIZER not in (p["metadata"].get("finalizers") or ()) for p in api.all(PODS))
    # uncountedTerminatedPods was written (with both UIDs) before any finalizer was removed.
    first_status, first_patch = api.writes.index(("update/status", "jobs", "j")), \
        next(i for i, w in enumerate(api.writes) if w[0] == "patch")
    assert first_status < first_patch
    assert conditions(stored)["SuccessCriteriaMet"] == ("True", "CompletionsReached")
    assert conditions(stored)["Complete"] == ("True", "CompletionsReached")
    assert stored["status"]["completionTime"] == "2026-01-01T00:00:30Z"
    assert "Completed" in await reasons(api, ctx)


async def test_failures_beyond_backoff_limit_fail_the_job_after_its_pods_stop(
        api: Any, ctx: Any, controller: JobController, clock: Any) -> None:
    api.put(JOBS, job(completions=3, parallelism=3, backoffLimit=1))
    await sync(api, ctx, controller)
    await finish_pods(api, "Failed", count=2)
    stored = await sync(api, ctx, controller)
    assert stored["status"]["failed"] == 2
    assert conditions(stored)["FailureTarget"] == ("True", "BackoffLimitExceeded")
    assert "Failed" not in conditions(stored)  # the third pod was still running
    assert [p["status"]["phase"] for p in api.all(PODS)] == ["Failed", "Failed"]  # it was deleted
    stored = await sync(api, ctx, controller)
    assert conditions(stored)["Failed"] == ("True", "BackoffLimitExceeded")
    assert "BackoffLimitExceeded" in await reasons(api, ctx)


async def test_replacement_after_a_failure_waits_for_the_backoff(
        api: Any, ctx: Any, controller: JobController, clock: Any) -> None:
    api.put(JOBS, job(completions=1, backoffLimit=6))
    await sync(api, ctx, controller)
    await finish_pods(api, "Failed")
    await sync(api, ctx, controller)
    assert len(api.all(PODS)) == 1  # 10 s backoff after the first failure
    clock.step(9)
    await sync(api, ctx, controller)
    assert len(api.all(PODS)) == 1
    clock.step(1)
    await sync(api, ctx, controller)
    assert len(api.all(PODS)) == 2
    await finish_pods(api, "Failed")
    await sync(api, ctx, controller)
    clock.step(19)
    await sync(api, ctx, controller)
    assert len(api.all(PODS)) == 2  # 20 s after the second
    clock.step(1)
    stored = await sync(api, ctx, controller)
    assert len(api.all(PODS)) == 3 and stored["status"]["failed"] == 2


async def test_indexed_job_gives_each_pod_its_index_and_tracks_completed_indexes(
        api: Any, ctx: Any, controller: JobController) -> None:
    api.put(JOBS, job(completions=3, parallelism=2, completionMode="Indexed"))
    await sync(api, ctx, controller)
    pods = sorted(api.all(PODS), key=lambda p: p["metadata"]["annotations"][COMPLETION_INDEX])
    assert [p["metadata"]["annotations"][COMPLETION_INDEX] for p in pods] == ["0", "1"]
    assert [p["metadata"]["labels"][COMPLETION_INDEX] for p in pods] == ["0", "1"]
    assert [p["spec"]["hostname"] for p in pods] == ["j-0", "j-1"]
    assert pods[0]["metadata"]["generateName"] == "j-0-"
    assert pods[0]["spec"]["containers"][0]["env"][0]["name"] == "JOB_COMPLETION_INDEX"
    await api.patch(PODS, pods[1]["metadata"]["name"], {"status": {"phase": "Succeeded"}}, "ns")
    stored = await sync(api, ctx, controller)
    assert stored["status"]["completedIndexes"] == "1" and stored["status"]["succeeded"] == 1
    new = [p for p in api.all(PODS) if p["metadata"]["name"] not in {q["metadata"]["name"] for q in pods}]
    assert [p["metadata"]["annotations"][COMPLETION_INDEX] for p in new] == ["2"]


def test_completed_indexes_format_as_upstream() -> None:
    assert format_indexes([5, 0, 1, 2, 7, 8]) == "0-2,5,7,8"
    assert parse_indexes("0-2,5,7,8,12", completions=10) == {0, 1, 2, 5, 7, 8}


async def test_suspend_deletes_active_pods_and_resume_restarts_them(
        api: Any, ctx: Any, controller: JobController, clock: Any) -> None:
    api.put(JOBS, job(completions=2, parallelism=2))
    await sync(api, ctx, controller)
    await api.patch(JOBS, "j", {"spec": {"suspend": True}}, "ns")
    stored = await sync(api, ctx, controller)
    assert api.all(PODS) == []  # deleted, and not counted as failures
    assert stored["status"]["failed"] == 0
    assert conditions(stored)["Suspended"] == ("True", "JobSuspended")
    clock.step(60)
    await api.patch(JOBS, "j", {"spec": {"suspend": False}}, "ns")
    stored = await sync(api, ctx, controller)
    assert conditions(stored)["Suspended"] == ("False", "JobResumed")
    assert stored["status"]["startTime"] == "2026-01-01T00:01:00Z"
    assert len(api.all(PODS)) == 2


async def test_active_deadline_fails_the_job(api: Any, ctx: Any, controller: JobController, clock: Any) -> None:
    api.put(JOBS, job(activeDeadlineSeconds=30))
    await sync(api, ctx, controller)
    clock.step(30)
    stored = await sync(api, ctx, controller)
    assert conditions(stored)["FailureTarget"] == ("True", "DeadlineExceeded")
    stored = await sync(api, ctx, controller)
    assert conditions(stored)["Failed"] == ("True", "DeadlineExceeded")


async def test_pod_failure_policy_fail_job_and_ignore(api: Any, ctx: Any, controller: JobController) -> None:
    policy = {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
                        {"action": "FailJob", "onExitCodes": {"containerName": "c", "operator": "In",
                                                              "values": [42]}}]}
    api.put(JOBS, job(completions=1, backoffLimit=0, podFailurePolicy=policy))
    await sync(api, ctx, controller)
    await finish_pods(api, "Failed", conditions=[{"type": "DisruptionTarget", "status": "True"}])
    stored = await sync(api, ctx, controller)
    assert stored["status"]["failed"] == 0 and not conditions(stored)  # ignored: not counted
    await sync(api, ctx, controller)
    await finish_pods(api, "Failed", containerStatuses=[
        {"name": "c", "state": {"terminated": {"exitCode": 42}}}])
    stored = await sync(api, ctx, controller)
    status, reason = conditions(stored)["FailureTarget"]
    assert (status, reason) == ("True", "PodFailurePolicy")
    message = next(c["message"] for c in stored["status"]["conditions"] if c["type"] == "FailureTarget")
    assert message.startswith("Container c for pod ns/") and "exit code 42 matching FailJob rule at index 1" in message


async def test_work_queue_job_completes_when_one_pod_succeeded_and_none_run(
        api: Any, ctx: Any, controller: JobController) -> None:
    spec = job(parallelism=2)
    del spec["spec"]["completions"]
    api.put(JOBS, spec)
    await sync(api, ctx, controller)
    await finish_pods(api, "Succeeded", count=1)
    stored = await sync(api, ctx, controller)
    assert "Complete" not in conditions(stored) and len(api.all(PODS)) == 2  # no new pods; one still runs
    await finish_pods(api, "Succeeded")
    stored = await sync(api, ctx, controller)
    assert conditions(stored)["Complete"][0] == "True" and stored["status"]["succeeded"] == 2


async def test_pods_of_a_deleted_job_lose_their_finalizer(api: Any, ctx: Any, controller: JobController) -> None:
    api.put(JOBS, job())
    await sync(api, ctx, controller)
    stored_job = api.all(JOBS)[0]
    await api.delete(JOBS, "j", "ns")
    api.feed(ctx.informers, JOBS, PODS)
    controller._job_deleted(stored_job)
    key = await controller.orphans.get()
    controller.orphans.done(key)
    pod = api.all(PODS)[0]
    await controller.remove_tracking_finalizer(pod)
    assert "finalizers" not in api.all(PODS)[0]["metadata"]
    assert key == f"ns/{pod['metadata']['name']}"


async def test_a_stale_cached_job_is_not_synced(api: Any, ctx: Any, controller: JobController) -> None:
    api.put(JOBS, job(completions=2, parallelism=2))
    await sync(api, ctx, controller)
    await finish_pods(api, "Succeeded", count=1)
    api.feed(ctx.informers, JOBS, PODS)
    stale = api.all(JOBS)[0]
    await controller.sync("ns/j")  # counts the success and writes status
    controller.jobs.indexer.upsert(stale)  # the informer has not caught up with that write
    api.feed(ctx.informers, PODS)
    writes = len(api.writes)
    await controller.sync("ns/j")
    assert len(api.writes) == writes  # it waits for the cache instead of counting from old status
