"""The node-wide PLEG (one relist, only changed pods woken), how pod workers wait with and without
it, and the final container statuses a worker writes for a pod failed by eviction. The runtime is
the hollow nodes' in-memory CRI, so every CRI call really happens."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any, cast

import pytest

from kubeplane.kubelet import labels
from kubeplane.kubelet.backoff import Backoff
from kubeplane.kubelet.config import KubeletConfig
from kubeplane.kubelet.cri import pb
from kubeplane.kubelet.dns import ResolvConf
from kubeplane.kubelet.hollow.addresses import FleetAddresses
from kubeplane.kubelet.hollow.runtime import KILLED_EXIT_CODE, HollowRuntime
from kubeplane.kubelet.imagepull import ImageManager
from kubeplane.kubelet.pleg import PodLifecycleEventGenerator, changed_pods, pod_records
from kubeplane.kubelet.podstatus import STATUS_UNKNOWN_REASON, final_status
from kubeplane.kubelet.podworker import PodWorker, WorkerServices
from kubeplane.kubelet.proberesults import NoProbes
from kubeplane.kubelet.sources import ApiObjectSource

JSON = dict[str, Any]


@pytest.fixture
def runtime() -> HollowRuntime:
    layout = FleetAddresses("198.18.0.0/28", 1)
    return HollowRuntime(layout.node_ip(0), layout.pod_pool(0, 1))


async def start_pod(runtime: HollowRuntime, tmp_path: Path, uid: str, command: list[str]) -> str:
    config = pb.PodSandboxConfig(metadata=pb.PodSandboxMetadata(name=uid, uid=uid, namespace="default"),
                                 log_directory=str(tmp_path / uid), labels={labels.POD_UID: uid})
    sandbox_id = await runtime.run_pod_sandbox(config)
    container = pb.ContainerConfig(metadata=pb.ContainerMetadata(name="c"), image=pb.ImageSpec(image="busybox"),
                                   command=command, log_path="c/0.log",
                                   labels={labels.POD_UID: uid, labels.CONTAINER_NAME: "c"})
    container_id = await runtime.create_container(sandbox_id, container, config)
    await runtime.start_container(container_id)
    return container_id


# -- the relist ----------------------------------------------------------------------------------------

def test_records_group_by_pod_uid_and_ignore_unlabelled_objects() -> None:
    sandboxes = [pb.PodSandbox(id="s1", state=pb.SANDBOX_READY, labels={labels.POD_UID: "a"}),
                 pb.PodSandbox(id="s2", state=pb.SANDBOX_NOTREADY, metadata=pb.PodSandboxMetadata(uid="b")),
                 pb.PodSandbox(id="s3", state=pb.SANDBOX_READY)]
    containers = [pb.Container(id="c1", state=pb.CONTAINER_RUNNING, labels={labels.POD_UID: "a"}),
                  pb.Container(id="c2", state=pb.CONTAINER_EXITED)]
    records = pod_records(sandboxes, containers)
    assert records == {"a": frozenset({("sandbox", "s1", pb.SANDBOX_READY), ("container", "c1", pb.CONTAINER_RUNNING)}),
                       "b": frozenset({("sandbox", "s2", pb.SANDBOX_NOTREADY)})}
    exited = pod_records(sandboxes, [pb.Container(id="c1", state=pb.CONTAINER_EXITED, labels={labels.POD_UID: "a"})])
    assert changed_pods(records, exited) == {"a"}
    assert changed_pods(records, {"b": records["b"]}) == {"a"}  # gone
    assert changed_pods({}, records) == {"a", "b"}  # new
    assert changed_pods(records, dict(records)) == set()


async def test_relist_wakes_only_the_pods_that_changed(runtime: HollowRuntime, tmp_path: Path) -> None:
    woken: list[str] = []
    pleg = PodLifecycleEventGenerator(runtime, woken.append)
    await start_pod(runtime, tmp_path, "steady", ["sleep", "3600"])
    short = await start_pod(runtime, tmp_path, "short", ["sleep", "3600"])
    # The first relist wakes everything it sees (a change just before it would go unnoticed).
    assert await pleg.relist() == {"steady", "short"}
    assert await pleg.relist() == set()
    await runtime.stop_container(short, 0)
    assert await pleg.relist() == {"short"}
    fresh = await start_pod(runtime, tmp_path, "fresh", ["sleep", "3600"])
    assert await pleg.relist() == {"fresh"}
    assert sorted(woken) == ["fresh", "short", "short", "steady"]
    assert (await runtime.container_status(fresh)).status.state == pb.CONTAINER_RUNNING


# -- a pod worker over the in-memory runtime ------------------------------------------------------------

class RecordingClient:
    """Stands in for the API: applies status patches to the pod and bumps its resourceVersion."""

    def __init__(self, pod: JSON) -> None:
        self.pod = copy.deepcopy(pod)
        self.patches: list[JSON] = []

    async def patch(self, resource: Any, name: str, body: JSON, namespace: str, subresource: str = "") -> JSON:
        self.patches.append(copy.deepcopy(body))
        self.pod["status"] = {**(self.pod.get("status") or {}), **copy.deepcopy(body["status"])}
        self.pod["metadata"]["resourceVersion"] = str(int(self.pod["metadata"]["resourceVersion"]) + 1)
        return copy.deepcopy(self.pod)


def worker_for(runtime: HollowRuntime, tmp_path: Path, pod: JSON, idle_resync: float | None = None,
               ) -> tuple[PodWorker, RecordingClient]:
    client = RecordingClient(pod)
    services = WorkerServices(
        config=KubeletConfig(node_name="n", runtime_endpoint=tmp_path / "sock", root_dir=tmp_path,
                             node_ip="198.18.0.1", resolv_conf=None),
        cri=runtime, client=cast(Any, client), sources=ApiObjectSource(cast(Any, client)),
        images=ImageManager(runtime, Backoff(10, 300)), crash_backoff=Backoff(10, 300), probes=NoProbes(),
        host_dns=ResolvConf(), allocatable=dict, idle_resync=idle_resync)
    return PodWorker(services, pod["metadata"]["uid"], copy.deepcopy(pod)), client


def sleeper_pod(uid: str = "u1") -> JSON:
    return {"metadata": {"name": "web", "namespace": "shop", "uid": uid, "resourceVersion": "1"},
            "spec": {"nodeName": "n", "restartPolicy": "Always",
                     "containers": [{"name": "app", "image": "busybox", "imagePullPolicy": "IfNotPresent",
                                     "command": ["sleep", "3600"]}]},
            "status": {"phase": "Pending"}}


async def test_evicted_pod_reports_its_containers_terminated(runtime: HollowRuntime, tmp_path: Path) -> None:
    worker, client = worker_for(runtime, tmp_path, sleeper_pod())
    await worker.sync()
    running = client.pod["status"]
    assert running["phase"] == "Running" and "running" in running["containerStatuses"][0]["state"]
    # What Kubelet.evict_pod writes: phase, reason, message and the DisruptionTarget condition.
    evicted = copy.deepcopy(client.pod)
    evicted["status"].update(phase="Failed", reason="Evicted", message="The node was low on resource: memory.")
    evicted["status"]["conditions"].append({"type": "DisruptionTarget", "status": "True",
                                            "reason": "TerminationByKubelet"})
    evicted["metadata"]["resourceVersion"] = "100"
    client.pod = copy.deepcopy(evicted)
    worker.update(evicted)
    await worker.sync()
    final = client.pod["status"]
    terminated = final["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (KILLED_EXIT_CODE, "Error")
    assert terminated["containerID"] == final["containerStatuses"][0]["containerID"]
    assert final["containerStatuses"][0]["ready"] is False
    assert (final["phase"], final["reason"]) == ("Failed", "Evicted")
    conditions = {c["type"]: c for c in final["conditions"]}
    assert (conditions["Ready"]["status"], conditions["Ready"]["reason"]) == ("False", "PodFailed")
    assert conditions["ContainersReady"]["reason"] == "PodFailed" and "message" not in conditions["Ready"]
    assert conditions["DisruptionTarget"]["status"] == "True"
    assert conditions["PodReadyToStartContainers"]["status"] == "False"
    assert not [s for s in runtime.sandboxes.values() if s.state == pb.SANDBOX_READY]
    # Written once: a further sync finds nothing new to say.
    writes = len(client.patches)
    await worker.sync()
    assert len(client.patches) == writes


def test_final_status_keeps_the_phase_and_leaves_no_container_waiting() -> None:
    computed: JSON = {"phase": "Succeeded", "conditions": [
        {"type": "Ready", "status": "False", "reason": "PodCompleted"},
        {"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet"}], "containerStatuses": [
        {"name": "gone", "ready": False, "started": False, "state": {"waiting": {"reason": "ContainerCreating"}}},
        {"name": "done", "ready": False, "started": False,
         "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}
    status = final_status(computed, {"phase": "Failed", "reason": "Evicted"})
    assert status["phase"] == "Failed"
    gone, done = status["containerStatuses"]
    assert gone["state"] == {"terminated": {"exitCode": 137, "reason": STATUS_UNKNOWN_REASON,
                                            "message": "The container could not be located when the pod "
                                                       "was terminated"}}
    assert done["state"] == computed["containerStatuses"][1]["state"]
    assert [(c["type"], c["reason"]) for c in status["conditions"]] == [("Ready", "PodFailed"),
                                                                        ("DisruptionTarget", "TerminationByKubelet")]


async def test_worker_waits_long_only_when_a_pleg_watches_and_nothing_is_pending(runtime: HollowRuntime,
                                                                               tmp_path: Path) -> None:
    worker, _ = worker_for(runtime, tmp_path, sleeper_pod(), idle_resync=10.0)
    assert worker._resync_after() == 10.0
    worker.kill_container("app", "liveness failed")
    assert worker._resync_after() == worker.services.config.sync_frequency
    without_pleg, _ = worker_for(runtime, tmp_path, sleeper_pod("u2"))
    assert without_pleg._resync_after() == without_pleg.services.config.sync_frequency


async def test_own_status_write_does_not_wake_the_worker(runtime: HollowRuntime, tmp_path: Path) -> None:
    worker, client = worker_for(runtime, tmp_path, sleeper_pod())
    await worker.sync()
    assert client.patches
    worker._wake.clear()
    worker.update(copy.deepcopy(client.pod))  # the informer delivers what we wrote
    assert not worker._wake.is_set()
    changed = copy.deepcopy(client.pod)
    changed["metadata"]["resourceVersion"] = str(int(changed["metadata"]["resourceVersion"]) + 1)
    changed["metadata"]["labels"] = {"new": "label"}
    worker.update(changed)
    assert worker._wake.is_set()


async def test_pleg_wakes_an_idle_worker_when_its_init_container_exits(runtime: HollowRuntime,
                                                                      tmp_path: Path) -> None:
    pod = sleeper_pod()
    pod["spec"]["initContainers"] = [{"name": "init", "image": "busybox", "imagePullPolicy": "IfNotPresent",
                                      "command": ["sleep", "0.2"]}]
    # An hour between resyncs: only the PLEG seeing the init container exit can start the app.
    worker, client = worker_for(runtime, tmp_path, pod, idle_resync=3600.0)
    pleg = PodLifecycleEventGenerator(runtime, lambda uid: worker.wake() if uid == worker.uid else None, 0.05)
    tasks = [asyncio.ensure_future(worker.run()), asyncio.ensure_future(pleg.run())]
    try:
        for _ in range(250):
            statuses = client.pod["status"].get("containerStatuses") or [{}]
            if "running" in (statuses[0].get("state") or {}):
                break
            await asyncio.sleep(0.02)
        assert client.pod["status"]["phase"] == "Running"
        init = client.pod["status"]["initContainerStatuses"][0]["state"]
        assert init["terminated"]["exitCode"] == 0
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
