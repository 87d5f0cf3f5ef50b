"""The kubelet's side of ephemeral containers: started once (after their target runs), joined to
the target's PID namespace, reported in ephemeralContainerStatuses without touching readiness."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubeplane.kubelet.cri import pb
from kubeplane.kubelet.podstatus import EXITED, RUNNING_STATE, ContainerRecord, PodView, compute_status
from kubeplane.kubelet.podworker import PodWorker
from kubeplane.kubelet.runtime import ContainerPlan, PodSnapshot, container_config

JSON = dict[str, Any]
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
DEBUGGER: JSON = {"name": "debugger", "image": "busybox", "targetContainerName": "app", "stdin": True, "tty": True}


def _pod(**spec: Any) -> JSON:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u"}, "status": {},
            "spec": {"containers": [{"name": "app", "image": "busybox"}], **spec}}


def _record(name: str, state: str, exit_code: int = 0) -> ContainerRecord:
    return ContainerRecord(id=f"{name}-id", name=name, attempt=0, state=state, started_at=1_700_000_000 * 10**9,
                           finished_at=1_700_000_010 * 10**9 if state == EXITED else 0, exit_code=exit_code,
                           image_ref="sha256:abc")


def _status(pod: JSON, records: dict[str, list[ContainerRecord]]) -> JSON:
    view = PodView(pod, records, {}, ["198.18.0.9"], "198.18.0.1", True, lambda container, record: True)
    return compute_status(view, NOW)


def test_status_reports_ephemeral_containers_apart_from_readiness() -> None:
    pod = _pod(ephemeralContainers=[DEBUGGER])
    app = [_record("app", RUNNING_STATE)]
    waiting = _status(pod, {"app": app})
    assert waiting["ephemeralContainerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    running = _status(pod, {"app": app, "debugger": [_record("debugger", RUNNING_STATE)]})
    debugger = running["ephemeralContainerStatuses"][0]
    assert debugger["name"] == "debugger" and "running" in debugger["state"]
    assert debugger["ready"] is False and debugger["restartCount"] == 0
    assert [c["name"] for c in running["containerStatuses"]] == ["app"]
    # A finished debugger neither ends the pod nor makes it unready.
    done = _status(pod, {"app": app, "debugger": [_record("debugger", EXITED, exit_code=1)]})
    assert done["ephemeralContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 1
    assert done["phase"] == "Running"
    assert {c["type"]: c["status"] for c in done["conditions"]}["Ready"] == "True"
    assert "ephemeralContainerStatuses" not in _status(_pod(), {"app": app})


def _plan(container: JSON, target_id: str, tmp_path: Path) -> ContainerPlan:
    return ContainerPlan(container, "ephemeral", 0, "sha256:abc", {}, {}, tmp_path / "message", None, target_id)


def test_a_target_means_the_targets_pid_namespace(tmp_path: Path) -> None:
    config = container_config(_pod(), _plan(DEBUGGER, "app-id", tmp_path))
    namespaces = config.linux.security_context.namespace_options
    assert (namespaces.pid, namespaces.target_id) == (pb.TARGET, "app-id")
    assert config.stdin and config.tty
    alone = container_config(_pod(), _plan({"name": "d", "image": "busybox"}, "", tmp_path))
    assert alone.linux.security_context.namespace_options.pid == pb.CONTAINER
    # A pod that shares one PID namespace already puts the debugger in it.
    shared = container_config(_pod(shareProcessNamespace=True), _plan(DEBUGGER, "app-id", tmp_path))
    assert shared.linux.security_context.namespace_options.pid == pb.POD


class _RecordingStarter:
    def __init__(self) -> None:
        self.started: list[tuple[str, str, int, str]] = []

    async def __call__(self, container: JSON, kind: str, attempt: int, target_id: str = "") -> bool:
        self.started.append((container["name"], kind, attempt, target_id))
        return True


def _start_ephemeral(spec: JSON, containers: dict[str, list[ContainerRecord]]) -> list[tuple[str, str, int, str]]:
    starter = _RecordingStarter()
    worker = object.__new__(PodWorker)  # _start_ephemeral reads only its arguments
    asyncio.run(worker._start_ephemeral(starter, spec, PodSnapshot(containers=containers)))  # type: ignore[arg-type]
    return starter.started


def test_ephemeral_containers_start_once_after_their_target() -> None:
    spec = _pod(ephemeralContainers=[DEBUGGER, {"name": "loose", "image": "busybox"}],
                restartPolicy="Always")["spec"]
    # The target is not running yet: only the untargeted one starts.
    assert _start_ephemeral(spec, {}) == [("loose", "ephemeral", 0, "")]
    app = [_record("app", RUNNING_STATE)]
    assert _start_ephemeral(spec, {"app": app}) == [("debugger", "ephemeral", 0, "app-id"),
                                                    ("loose", "ephemeral", 0, "")]
    # Once they exist they are never started again, even after exiting under restartPolicy Always.
    exited = {"app": app, "debugger": [_record("debugger", EXITED, 1)], "loose": [_record("loose", EXITED)]}
    assert _start_ephemeral(spec, exited) == []
