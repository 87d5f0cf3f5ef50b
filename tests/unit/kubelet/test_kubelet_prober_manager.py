"""ProbeManager with a scripted runner and a FakeClock: thresholds, delays, startup gating,
readiness transitions, liveness failures and the events upstream records. Nothing sleeps."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubeplane.client.clock import FakeClock, settle_tasks
from kubeplane.kubelet.prober import ProbeKind, ProbeManager, ProbeOutcome, Result

JSON = dict[str, Any]
UID = "uid-1"
OK = ProbeOutcome(Result.SUCCESS)
FAIL = ProbeOutcome(Result.FAILURE, "HTTP probe failed with statuscode: 500")
ERRORED = ProbeOutcome(Result.UNKNOWN, error="CRI ExecSync failed: UNAVAILABLE: runtime down")


class ScriptedRunner:
    """Answers each probe kind from a mutable verdict; records when each kind ran."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.verdict: dict[str, ProbeOutcome] = defaultdict(lambda: OK)
        self.calls: dict[str, list[float]] = defaultdict(list)

    async def run(self, probe: JSON, container: JSON, pod_ip: str, container_id: str) -> ProbeOutcome:
        kind = probe["kind"]
        self.calls[kind].append(self.clock.now() - 1000.0)
        return self.verdict[kind]


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []

    def event(self, obj: JSON, event_type: str, reason: str, message: str) -> None:
        self.events.append((obj["fieldPath"], event_type, reason, message))


def probe(kind: str, **timing: int) -> JSON:
    return {"exec": {"command": ["true"]}, "kind": kind, **timing}


def make_pod(restart_policy: str = "Always", grace: int | None = None, **probes: JSON) -> JSON:
    container = {"name": "app", "image": "busybox", **probes}
    spec: JSON = {"containers": [container], "restartPolicy": restart_policy}
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {"metadata": {"name": "web", "namespace": "default", "uid": UID}, "spec": spec}


class Harness:
    def __init__(self) -> None:
        self.clock = FakeClock(start=1000.0)
        self.runner = ScriptedRunner(self.clock)
        self.recorder = Recorder()
        self.failures: list[tuple[str, str, str]] = []
        self.changes: list[str] = []
        self.manager = ProbeManager(self.runner, clock=self.clock, recorder=self.recorder,
                                    on_change=self.changes.append,
                                    on_liveness_failure=lambda uid, name, msg: self.failures.append((uid, name, msg)))

    async def advance(self, seconds: float) -> None:
        """Step one second at a time so every tick in between happens."""
        await settle_tasks(40)  # workers added since the last step run their first tick now
        for _ in range(int(seconds)):
            await self.clock.advance(1, settle=40)

    def ran(self, kind: str) -> list[float]:
        return self.runner.calls[kind]


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    harness = Harness()
    yield harness
    await harness.manager.close()


async def test_readiness_starts_false_and_follows_thresholds(h: Harness) -> None:
    pod = make_pod(readinessProbe=probe("readiness", periodSeconds=5, successThreshold=2, failureThreshold=2))
    h.manager.add_pod(pod, "198.18.0.9", {"app": "containerd://c1"})
    assert h.manager.readiness(UID, "app") is False
    await settle_tasks(40)
    assert h.ran("readiness") == [0.0]
    assert h.manager.readiness(UID, "app") is False  # one success of two
    await h.advance(5)
    assert h.manager.readiness(UID, "app") is True
    h.runner.verdict["readiness"] = FAIL
    await h.advance(5)
    assert h.manager.readiness(UID, "app") is True  # one failure of two
    await h.advance(5)
    assert h.manager.readiness(UID, "app") is False
    assert h.ran("readiness") == [0.0, 5.0, 10.0, 15.0]
    assert h.changes == [UID, UID]
    assert h.recorder.events[-1] == ("spec.containers{app}", "Warning", "Unhealthy",
                                     "Readiness probe failed: HTTP probe failed with statuscode: 500")


async def test_no_probe_before_initial_delay_then_every_period(h: Harness) -> None:
    pod = make_pod(readinessProbe=probe("readiness", initialDelaySeconds=7, periodSeconds=3))
    h.manager.add_pod(pod, "198.18.0.9")
    await h.advance(4)
    assert h.ran("readiness") == []  # no container yet
    h.manager.update_container(UID, "app", "c1")  # started at t=4
    await h.advance(13)
    # The delay counts from the container's start; then one probe per period.
    assert h.ran("readiness") == [11.0, 14.0, 17.0]


async def test_adopted_container_counts_its_running_time_against_the_delay(h: Harness) -> None:
    pod = make_pod(readinessProbe=probe("readiness", initialDelaySeconds=30, periodSeconds=10))
    h.manager.add_pod(pod, "198.18.0.9")
    h.manager.update_container(UID, "app", "c1", running_for=25.0)
    await h.advance(6)
    assert h.ran("readiness") == [5.0]


async def test_containers_without_probes_are_ready_and_started(h: Harness) -> None:
    h.manager.add_pod(make_pod(), "198.18.0.9", {"app": "c1"})
    assert h.manager.readiness(UID, "app") is True
    assert h.manager.started(UID, "app") is True
    assert h.manager.readiness("unknown-pod", "app") is True


async def test_startup_probe_gates_liveness_and_readiness(h: Harness) -> None:
    pod = make_pod(startupProbe=probe("startup", periodSeconds=2, failureThreshold=10),
                   livenessProbe=probe("liveness", periodSeconds=2),
                   readinessProbe=probe("readiness", periodSeconds=2))
    h.runner.verdict["startup"] = FAIL
    h.manager.add_pod(pod, "198.18.0.9", {"app": "c1"})
    await h.advance(4)
    assert h.ran("startup") == [0.0, 2.0, 4.0]
    assert h.ran("liveness") == h.ran("readiness") == []
    assert (h.manager.started(UID, "app"), h.manager.readiness(UID, "app")) == (False, False)
    h.runner.verdict["startup"] = OK
    await h.advance(2)
    assert h.manager.started(UID, "app") is True
    # The others start at once, and the startup probe stops for this container.
    assert h.ran("liveness") == h.ran("readiness") == [6.0]
    assert h.manager.readiness(UID, "app") is True
    await h.advance(4)
    assert h.ran("startup") == [0.0, 2.0, 4.0, 6.0]
    assert h.ran("liveness") == [6.0, 8.0, 10.0]


async def test_startup_failure_threshold_restarts_the_container(h: Harness) -> None:
    pod = make_pod(startupProbe=probe("startup", periodSeconds=1, failureThreshold=3))
    h.runner.verdict["startup"] = FAIL
    h.manager.add_pod(pod, "198.18.0.9", {"app": "c1"})
    await h.advance(5)
    assert h.failures == [(UID, "app", "Container app failed startup probe, will be restarted")]
    assert h.ran("startup") == [0.0, 1.0, 2.0]  # on hold until a new container


async def test_liveness_failure_calls_back_once_then_resumes_on_the_new_container(h: Harness) -> None:
    pod = make_pod(livenessProbe=probe("liveness", periodSeconds=10, failureThreshold=3,
                                       terminationGracePeriodSeconds=5), grace=60)
    h.manager.add_pod(pod, "198.18.0.9", {"app": "c1"})
    await h.advance(10)
    h.runner.verdict["liveness"] = FAIL
    await h.advance(20)
    assert h.failures == []  # two failures of three
    await h.advance(10)
    assert h.failures == [(UID, "app", "Container app failed liveness probe, will be restarted")]
    assert h.manager.kill_grace_period(UID, "app") == 5  # the probe's override, not the pod's 60
    assert [e[3] for e in h.recorder.events] == ["Liveness probe failed: HTTP probe failed with statuscode: 500"] * 3
    await h.advance(20)
    assert h.ran("liveness") == [0.0, 10.0, 20.0, 30.0, 40.0]  # held: no probes of the dying container
    h.runner.verdict["liveness"] = OK
    h.manager.update_container(UID, "app", "c2")
    await h.advance(1)
    assert h.ran("liveness")[-1] == 60.0
    assert len(h.failures) == 1


async def test_liveness_failure_message_without_restart_and_pod_grace(h: Harness) -> None:
    pod = make_pod(restart_policy="Never", grace=45, livenessProbe=probe("liveness", periodSeconds=1, failureThreshold=1))
    h.runner.verdict["liveness"] = FAIL
    h.manager.add_pod(pod, "198.18.0.9", {"app": "c1"})
    await settle_tasks(40)
    assert h.failures == [(UID, "app", "Container app failed liveness probe")]
    assert h.manager.kill_grace_period(UID, "app") == 45


async def test_errored_probes_are_reported_but_not_counted(h: Harness) -> None:
    pod = make_pod(livenessProbe=probe("liveness", periodSeconds=1, failureThreshold=2))
    h.runner.verdict["liveness"] = ERRORED
    h.manager.add_pod(pod, "198.18.0.9", {"app": "c1"})
    await h.advance(5)
    assert h.failures == []
    assert h.recorder.events[0][2:] == (
        "Unhealthy", "Liveness probe errored and resulted in unknown state: CRI ExecSync failed: UNAVAILABLE: runtime down")


async def test_redirect_warning_counts_as_success(h: Harness) -> None:
    pod = make_pod(readinessProbe=probe("readiness", periodSeconds=1))
    h.runner.verdict["readiness"] = ProbeOutcome(Result.WARNING, "Probe terminated redirects, Response body: ")
    h.manager.add_pod(pod, "198.18.0.9", {"app": "c1"})
    await settle_tasks(40)
    assert h.manager.readiness(UID, "app") is True
    assert h.recorder.events == [("spec.containers{app}", "Warning", "ProbeWarning",
                                  "Readiness probe warning: Probe terminated redirects, Response body: ")]


async def test_stopped_container_is_not_ready_and_a_new_one_starts_over(h: Harness) -> None:
    pod = make_pod(readinessProbe=probe("readiness", periodSeconds=10))
    h.manager.add_pod(pod, "198.18.0.9", {"app": "c1"})
    await settle_tasks(40)
    assert h.manager.readiness(UID, "app") is True
    h.manager.update_container(UID, "app", None)
    await settle_tasks(40)
    assert h.manager.readiness(UID, "app") is False
    h.runner.verdict["readiness"] = FAIL
    h.manager.update_container(UID, "app", "c2")
    await settle_tasks(40)
    assert h.manager.readiness(UID, "app") is False
    assert h.ran("readiness") == [0.0, 0.0]  # the new container is probed as soon as it runs


async def test_deleting_pod_stops_liveness_but_keeps_readiness(h: Harness) -> None:
    pod = make_pod(livenessProbe=probe("liveness", periodSeconds=1, failureThreshold=1),
                   readinessProbe=probe("readiness", periodSeconds=1))
    h.manager.add_pod(pod, "198.18.0.9", {"app": "c1"})
    await h.advance(1)
    deleting = {**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "2026-01-01T00:00:05Z"}}
    h.manager.update_pod(deleting)
    h.runner.verdict["liveness"] = FAIL
    await h.advance(3)
    assert h.failures == []
    assert h.ran("liveness") == [0.0, 1.0]
    assert h.ran("readiness")[-1] == 4.0


async def test_remove_pod_stops_its_workers(h: Harness) -> None:
    pod = make_pod(readinessProbe=probe("readiness", periodSeconds=1))
    h.manager.add_pod(pod, "198.18.0.9", {"app": "c1"})
    await h.advance(2)
    h.manager.remove_pod(UID)
    await h.advance(3)
    assert h.ran("readiness") == [0.0, 1.0, 2.0]
    assert not h.clock.has_sleepers()


async def test_sidecars_are_probed_and_plain_init_containers_are_not(h: Harness) -> None:
    pod = make_pod(readinessProbe=probe("readiness", periodSeconds=1))
    pod["spec"]["initContainers"] = [
        {"name": "setup", "readinessProbe": probe("setup-readiness")},
        {"name": "proxy", "restartPolicy": "Always", "readinessProbe": probe("proxy-readiness")},
    ]
    h.manager.add_pod(pod, "198.18.0.9", {"setup": "i1", "proxy": "s1", "app": "c1"})
    await settle_tasks(40)
    assert set(h.runner.calls) == {"readiness", "proxy-readiness"}
    assert ProbeKind.READINESS.title == "Readiness"
