"""CronJob schedules (parsing and next times) and the controller's sync with a fake clock: runs at
the scheduled time, job names and annotation, concurrency policies, starting deadline, missed
runs, history limits, time zones."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kubeplane.client.resource import CRONJOBS, EVENTS, JOBS
from kubeplane.controllers.cronjob import CronJobController
from kubeplane.controllers.cronjob.controller import SCHEDULED_TIMESTAMP
from kubeplane.controllers.cronjob.schedule import ScheduleError, parse_schedule

JSON = dict[str, Any]
START = datetime(2026, 1, 1, tzinfo=UTC)  # the fake clock's wall time at 0


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("spec", "after", "expected"), [
    ("*/15 * * * *", "2026-01-01T00:07:00", "2026-01-01T00:15:00"),
    ("@hourly", "2026-01-01T00:00:00", "2026-01-01T01:00:00"),
    ("@daily", "2026-01-01T00:00:00", "2026-01-02T00:00:00"),
    ("@weekly", "2026-01-01T00:00:00", "2026-01-04T00:00:00"),  # the next Sunday
    ("0 9 * * mon-fri", "2026-01-02T10:00:00", "2026-01-05T09:00:00"),  # Friday -> Monday
    ("0 0 13 * 5", "2026-01-01T00:00:00", "2026-01-02T00:00:00"),  # day OR weekday (Fri 2nd)
    ("0 0 13 * *", "2026-01-01T00:00:00", "2026-01-13T00:00:00"),
    ("30 2 1 feb,jun ?", "2026-01-01T00:00:00", "2026-02-01T02:30:00"),
    ("5/20 * * * *", "2026-01-01T00:06:00", "2026-01-01T00:25:00"),  # a/n means a-max/n
])
def test_next_times(spec: str, after: str, expected: str) -> None:
    assert parse_schedule(spec).next_after(at(after)) == at(expected)


def test_time_zone_matches_local_wall_time() -> None:
    schedule = parse_schedule("0 9 * * *", "America/New_York")
    assert schedule.next_after(at("2026-07-01T00:00:00")) == at("2026-07-01T13:00:00")  # EDT
    assert schedule.next_after(at("2026-01-01T00:00:00")) == at("2026-01-01T14:00:00")  # EST


@pytest.mark.parametrize("spec", ["* * * *", "60 * * * *", "* * * * 7", "5-1 * * * *", "@every 5m",
                                  "TZ=UTC * * * * *", "*/0 * * * *", "x * * * *"])
def test_invalid_schedules(spec: str) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(spec)


def test_a_schedule_that_never_fires() -> None:
    assert parse_schedule("0 0 30 2 *").next_after(START) is None


def cronjob(schedule: str = "*/5 * * * *", **spec: Any) -> JSON:
    full = {"schedule": schedule, "concurrencyPolicy": "Allow", "suspend": False, "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {"metadata": {"labels": {"team": "a"}},
                            "spec": {"template": {"spec": {"restartPolicy": "Never",
                                                           "containers": [{"name": "c", "image": "busybox"}]}}}}}
    full.update(spec)
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "cj", "namespace": "ns", "uid": "uid-cj", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": full}


@pytest.fixture
def controller(ctx: Any) -> CronJobController:
    return CronJobController(ctx)


async def sync(api: Any, ctx: Any, controller: CronJobController) -> JSON:
    api.feed(ctx.informers, CRONJOBS, JOBS)
    await controller.sync("ns/cj")
    return await api.get(CRONJOBS, "cj", "ns")


async def reasons(api: Any, ctx: Any) -> list[str]:
    await ctx.recorder("cronjob-controller").flush()
    return [e["reason"] for e in api.all(EVENTS)]


async def finish(api: Any, name: str, condition: str, when: str) -> None:
    status: JSON = {"conditions": [{"type": condition, "status": "True", "lastTransitionTime": when}],
                    "startTime": when}
    if condition == "Complete":
        status["completionTime"] = when
    await api.update(JOBS, {**await api.get(JOBS, name, "ns"), "status": status}, "ns", subresource="status")


async def test_starts_a_job_at_the_scheduled_time_and_not_before(
        api: Any, ctx: Any, controller: CronJobController, clock: Any) -> None:
    api.put(CRONJOBS, cronjob())
    clock.step(4 * 60)
    await sync(api, ctx, controller)
    assert api.all(JOBS) == []
    clock.step(60)
    stored = await sync(api, ctx, controller)
    minutes = int(at("2026-01-01T00:05:00").timestamp()) // 60
    [created] = api.all(JOBS)
    assert created["metadata"]["name"] == f"cj-{minutes}"
    assert created["metadata"]["annotations"][SCHEDULED_TIMESTAMP] == "2026-01-01T00:05:00Z"
    assert created["metadata"]["labels"] == {"team": "a"}
    assert created["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert stored["status"]["lastScheduleTime"] == "2026-01-01T00:05:00Z"
    assert [a["name"] for a in stored["status"]["active"]] == [f"cj-{minutes}"]
    await sync(api, ctx, controller)
    assert len(api.all(JOBS)) == 1  # the same run is never started twice


async def test_finished_jobs_leave_active_and_set_last_successful_time(
        api: Any, ctx: Any, controller: CronJobController, clock: Any) -> None:
    api.put(CRONJOBS, cronjob())
    clock.step(5 * 60)
    await sync(api, ctx, controller)
    await finish(api, api.all(JOBS)[0]["metadata"]["name"], "Complete", "2026-01-01T00:06:00Z")
    stored = await sync(api, ctx, controller)
    assert "active" not in stored["status"]
    assert stored["status"]["lastSuccessfulTime"] == "2026-01-01T00:06:00Z"
    assert "SawCompletedJob" in await reasons(api, ctx)


async def test_forbid_skips_while_a_job_runs_and_replace_replaces_it(
        api: Any, ctx: Any, controller: CronJobController, clock: Any) -> None:
    api.put(CRONJOBS, cronjob(concurrencyPolicy="Forbid"))
    clock.step(5 * 60)
    await sync(api, ctx, controller)
    clock.step(5 * 60)
    await sync(api, ctx, controller)
    assert len(api.all(JOBS)) == 1
    assert "JobAlreadyActive" in await reasons(api, ctx)
    await api.patch(CRONJOBS, "cj", {"spec": {"concurrencyPolicy": "Replace"}}, "ns")
    stored = await sync(api, ctx, controller)
    [job] = api.all(JOBS)
    assert job["metadata"]["annotations"][SCHEDULED_TIMESTAMP] == "2026-01-01T00:10:00Z"
    assert [a["name"] for a in stored["status"]["active"]] == [job["metadata"]["name"]]


async def test_a_run_past_its_starting_deadline_is_missed(
        api: Any, ctx: Any, controller: CronJobController, clock: Any) -> None:
    api.put(CRONJOBS, cronjob("0 * * * *", startingDeadlineSeconds=60))
    clock.step(3600 + 120)  # 01:02: the 01:00 run is more than 60 s late
    await sync(api, ctx, controller)
    assert api.all(JOBS) == []
    clock.step(3600 - 90)  # 01:59:30 -> 02:00:30 below
    await sync(api, ctx, controller)
    clock.step(60)
    await sync(api, ctx, controller)
    [job] = api.all(JOBS)  # 30 s late is within the deadline
    assert job["metadata"]["annotations"][SCHEDULED_TIMESTAMP] == "2026-01-01T02:00:00Z"


async def test_more_than_100_missed_runs_start_only_the_latest(
        api: Any, ctx: Any, controller: CronJobController, clock: Any) -> None:
    api.put(CRONJOBS, cronjob("* * * * *"))
    clock.step(3 * 3600 + 30)
    await sync(api, ctx, controller)
    [job] = api.all(JOBS)
    assert job["metadata"]["annotations"][SCHEDULED_TIMESTAMP] == "2026-01-01T03:00:00Z"
    assert "TooManyMissedTimes" in await reasons(api, ctx)


async def test_history_limits_delete_the_oldest_finished_jobs(
        api: Any, ctx: Any, controller: CronJobController, clock: Any) -> None:
    api.put(CRONJOBS, cronjob(successfulJobsHistoryLimit=1, failedJobsHistoryLimit=0))
    for run in range(3):
        clock.step(5 * 60)
        await sync(api, ctx, controller)
        name = sorted(j["metadata"]["name"] for j in api.all(JOBS))[-1]
        await finish(api, name, "Complete" if run < 2 else "Failed", f"2026-01-01T00:{5 * run + 6:02d}:00Z")
    await sync(api, ctx, controller)
    [kept] = api.all(JOBS)
    assert kept["metadata"]["annotations"][SCHEDULED_TIMESTAMP] == "2026-01-01T00:10:00Z"


async def test_suspended_cronjobs_start_nothing(api: Any, ctx: Any, controller: CronJobController,
                                                clock: Any) -> None:
    api.put(CRONJOBS, cronjob(suspend=True))
    clock.step(10 * 60)
    await sync(api, ctx, controller)
    assert api.all(JOBS) == []


async def test_time_zone_schedules_and_annotates_in_that_zone(
        api: Any, ctx: Any, controller: CronJobController, clock: Any) -> None:
    api.put(CRONJOBS, cronjob("0 1 * * *", timeZone="Europe/Berlin"))
    clock.step(3600)  # 01:00 UTC is 02:00 in Berlin: the run at 01:00 Berlin (00:00 UTC) was at creation
    await sync(api, ctx, controller)
    assert api.all(JOBS) == []
    clock.step(23 * 3600)
    await sync(api, ctx, controller)
    [job] = api.all(JOBS)
    assert job["metadata"]["annotations"][SCHEDULED_TIMESTAMP] == "2026-01-02T01:00:00+01:00"
