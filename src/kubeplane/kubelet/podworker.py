"""One pod's worker: drives the runtime towards the pod's spec and reports its status.

Each pod uid has one worker task, so everything about a pod happens in order. A sync is level
driven: it reads what the runtime has for the pod (by the pod-uid label, so a restarted kubelet
adopts what it created), decides the next steps as upstream's ``computePodActions`` does
(sandbox, then init containers one at a time, then all app containers, restarts per
restartPolicy with CrashLoopBackOff), and writes the pod's status when it changed. A worker
wakes on every change of its pod (but not on the echo of its own status write), when a probe
verdict changes, right again after a sync that started something, and on a timer: every
``sync_frequency`` seconds, or, when the kubelet runs a PLEG (``pleg.py``, which wakes the worker
when its sandboxes or containers change state) and nothing is pending (no container waiting to
be retried, no failed sync), only every ``idle_resync`` seconds.

A pod that reached a terminal phase (it completed, or the eviction manager failed it) has its
sandbox stopped, which kills what still runs, and then its final container statuses written
(terminated, with the runtime's exit code and reason), its phase and reason kept.

Probes and hooks, as upstream's kubelet: the prober learns of the pod once its sandbox has an IP
and of every container that runs or exits; readiness and startup verdicts feed the containers'
``ready``/``started`` and the pod's conditions; a container failing liveness (or startup) is
killed with the probe's grace period and restarted per restartPolicy. postStart runs right after
StartContainer (a failure kills the container); preStop runs before StopContainer, inside the
grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubeplane.client import ApiError, Client, Conflict, EventRecorder, NotFound
from kubeplane.client.resource import PODS
from kubeplane.component.waiting import wait_event
from kubeplane.kubelet import volumes
from kubeplane.kubelet.backoff import Backoff
from kubeplane.kubelet.config import KubeletConfig
from kubeplane.kubelet.cri import CRIClient, CRIError, leftovers, pb
from kubeplane.kubelet.dns import ResolvConf
from kubeplane.kubelet.envvars import EnvError, resolve_env
from kubeplane.kubelet.etchosts import write_hosts_file
from kubeplane.kubelet.imagepull import ImageManager
from kubeplane.kubelet.podstatus import (
    CREATED,
    EXITED,
    RUNNING_STATE,
    TERMINAL_PHASES,
    UNKNOWN,
    ContainerRecord,
    PodView,
    Waiting,
    compute_status,
    final_status,
    is_sidecar,
    should_restart,
    status_changed,
)
from kubeplane.kubelet.prober import POST_START_HOOK_ERROR, LifecycleHooks
from kubeplane.kubelet.proberesults import PodProber, container_ready
from kubeplane.kubelet.runtime import ContainerPlan, PodSnapshot, container_config, sandbox_config, snapshot
from kubeplane.kubelet.servicelinks import pod_service_env
from kubeplane.kubelet.sources import ApiObjectSource

log = logging.getLogger(__name__)

JSON = dict[str, Any]

NORMAL, WARNING = "Normal", "Warning"
DEFAULT_GRACE_PERIOD = 30
# A pod that vanished from the API without a graceful delete (force-deleted) is killed quickly.
ORPHAN_GRACE_PERIOD = 1
# The Killing event's message when a failed postStart hook kills its container (upstream's text).
KILLED_FOR_POST_START = "FailedPostStartHook"


def go_duration(seconds: float) -> str:
    """A duration as Go prints it (10s, 2m40s, 5m0s), as upstream's back-off messages show."""
    whole = int(seconds)
    minutes, rest = divmod(whole, 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


@dataclass
class WorkerServices:
    """What every pod worker shares."""

    config: KubeletConfig
    cri: CRIClient
    client: Client
    sources: ApiObjectSource
    images: ImageManager
    crash_backoff: Backoff
    probes: PodProber
    host_dns: ResolvConf
    allocatable: Callable[[], JSON]
    recorder: EventRecorder | None = None
    hooks: LifecycleHooks | None = None
    # Every Service the kubelet knows (for service-link environment variables).
    cluster_services: Callable[[], list[JSON]] = list
    # Set while a PLEG wakes workers on runtime changes: how often a worker with nothing pending
    # re-syncs anyway (None: every config.sync_frequency, as without a PLEG).
    idle_resync: float | None = None


def _resource_version(pod: JSON) -> int:
    try:
        return int((pod.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


class PodWorker:
    def __init__(self, services: WorkerServices, uid: str, pod: JSON | None) -> None:
        self.services = services
        self.uid = uid
        self.pod = pod
        self.gone = pod is None
        self.waiting: dict[str, Waiting] = {}
        self._kill_requests: dict[str, str] = {}
        self._volume_paths: dict[str, Path] | None = None
        self._volumes_refreshed = 0.0
        self._probed_ip: str | None = None  # the pod IP the prober was given (None: not told yet)
        self._wake = asyncio.Event()
        self._written_version = ""  # the resourceVersion our last status write produced
        self._progressed = False  # this sync started a container
        self._failed = False  # the last sync raised

    # -- inputs ----------------------------------------------------------------------------------

    def update(self, pod: JSON | None) -> None:
        """A new version of the pod, or None when it left the API."""
        if pod is None:
            self.gone = True
        else:
            version = (pod.get("metadata") or {}).get("resourceVersion") or ""
            if self.pod is None or _resource_version(pod) >= _resource_version(self.pod):
                self.pod = pod
            if version and version == self._written_version:
                return  # the informer's echo of our own status write: nothing new to act on
        self._wake.set()

    def kill_container(self, container: str, message: str) -> None:
        """Kill the running container (its liveness or startup probe failed); ``message`` is the
        ``Killing`` event's text."""
        self._kill_requests[container] = message
        self._wake.set()

    def wake(self) -> None:
        """Sync now (e.g. a probe verdict changed, so the status may have)."""
        self._wake.set()

    # -- the loop --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Sync until the pod is torn down (deleted, or gone from the API)."""
        while True:
            self._wake.clear()
            self._progressed = self._failed = False
            try:
                if await self.sync():
                    return
            except asyncio.CancelledError:
                raise
            except Exception:
                self._failed = True
                log.exception("pod %s: sync failed", self._describe())
            if self._progressed:
                continue  # what was just started may let the next step go (init containers, sidecars)
            await wait_event(self._wake, self._resync_after())

    def _resync_after(self) -> float:
        """Seconds until the next sync if nothing wakes the worker before."""
        idle = self.services.idle_resync
        if idle is None or self.waiting or self._kill_requests or self._failed:
            return self.services.config.sync_frequency
        return idle

    def _describe(self) -> str:
        metadata = (self.pod or {}).get("metadata") or {}
        return f"{metadata.get('namespace', '?')}/{metadata.get('name', '?')} ({self.uid})"

    def _event(self, event_type: str, reason: str, message: str) -> None:
        recorder = self.services.recorder
        if recorder is not None and self.pod is not None:
            recorder.event(self.pod, event_type, reason, message)

    async def sync(self) -> bool:
        """One pass; True once the pod is torn down and the worker is done."""
        pod = self.pod
        if self.gone or pod is None or (pod.get("metadata") or {}).get("deletionTimestamp"):
            await self.terminate()
            return True
        cri = self.services.cri
        snap = await snapshot(cri, self.uid)
        if (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
            self._stop_probing()
            if await self._stop_sandboxes(snap):  # finished: free the pod's IP, keep containers for logs
                snap = await snapshot(cri, self.uid)
            await self._write_final_status(pod, snap)
            return False
        sandbox = snap.sandbox
        if not await self._ensure_volumes(pod, fresh=sandbox is None or sandbox.state != pb.SANDBOX_READY):
            await self._write_status(pod, snap, [], False)
            return False
        if sandbox is None or sandbox.state != pb.SANDBOX_READY:
            if not await self._create_sandbox(pod, snap):
                await self._write_status(pod, snap, [], False)
                return False
            snap = await snapshot(cri, self.uid)
            sandbox = snap.sandbox
        assert sandbox is not None
        ips = await self._sandbox_ips(sandbox.id)
        config = sandbox_config(pod, self.services.config, self.services.host_dns, sandbox.metadata.attempt)
        self._start_probing(pod, ips, snap)
        await self._kill_requested(pod, snap)
        await self._sync_containers(pod, snap, sandbox.id, config, ips)
        snap = await snapshot(cri, self.uid)
        self._report_containers(snap)
        status = await self._write_status(pod, snap, ips, True)
        if status.get("phase") in TERMINAL_PHASES:
            self._stop_probing()
            await self._stop_sandboxes(snap)
        return False

    # -- the prober ------------------------------------------------------------------------------

    def _start_probing(self, pod: JSON, ips: list[str], snap: PodSnapshot) -> None:
        """Tell the prober about the pod once its sandbox has an address (again if a new sandbox
        brought a new one), then about the containers already running (adopted ones included)."""
        ip = ips[0] if ips else ""
        if not ip or ip == self._probed_ip:
            return
        self.services.probes.add_pod(pod, ip)
        self._probed_ip = ip
        self._report_containers(snap)

    def _report_containers(self, snap: PodSnapshot) -> None:
        """Which container runs under each name now; the prober ignores what it already knows."""
        if self._probed_ip is None:
            return
        probes = self.services.probes
        for name, records in snap.containers.items():
            latest = records[0] if records else None
            if latest is not None and latest.state == RUNNING_STATE:
                # How long it has run matters for initialDelaySeconds after a kubelet restart.
                running_for = max(0.0, time.time() - latest.started_at / 1e9) if latest.started_at else 0.0
                probes.update_container(self.uid, name, latest.id, running_for)
            else:
                probes.update_container(self.uid, name, None)

    def _stop_probing(self) -> None:
        if self._probed_ip is not None:
            self.services.probes.remove_pod(self.uid)
            self._probed_ip = None

    # -- sandbox and volumes ---------------------------------------------------------------------

    async def _ensure_volumes(self, pod: JSON, fresh: bool) -> bool:
        loop = asyncio.get_running_loop()
        due = loop.time() - self._volumes_refreshed >= self.services.config.volume_refresh
        if self._volume_paths is not None and not fresh and not due:
            return True
        try:
            self._volume_paths = await volumes.set_up(pod, self.services.config.pod_dir(self.uid),
                                                      self.services.sources, self.services.allocatable())
        except volumes.VolumeError as error:
            self._event(WARNING, "FailedMount", str(error))
            for container in self._all_containers(pod):
                self.waiting.setdefault(container["name"], Waiting("ContainerCreating"))
            return self._volume_paths is not None and not fresh
        except ApiError as error:
            log.warning("pod %s: volumes: %s", self._describe(), error)
            return self._volume_paths is not None and not fresh
        self._volumes_refreshed = loop.time()
        return True

    @staticmethod
    def _all_containers(pod: JSON) -> list[JSON]:
        spec = pod.get("spec") or {}
        return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])

    async def _create_sandbox(self, pod: JSON, snap: PodSnapshot) -> bool:
        cri = self.services.cri
        # A sandbox that died takes its containers with it: start over in a new one.
        await self._remove_sandboxes(snap)
        attempt = snap.sandbox.metadata.attempt + 1 if snap.sandbox is not None else 0
        config = sandbox_config(pod, self.services.config, self.services.host_dns, attempt)
        Path(config.log_directory).mkdir(parents=True, exist_ok=True)
        try:
            await cri.run_pod_sandbox(config)
        except CRIError as error:
            message = f"Failed to create pod sandbox: {error.details}"
            self._event(WARNING, "FailedCreatePodSandBox", message)
            for container in self._all_containers(pod):
                self.waiting[container["name"]] = Waiting("ContainerCreating")
            log.warning("pod %s: %s", self._describe(), message)
            return False
        return True

    async def _sandbox_ips(self, sandbox_id: str) -> list[str]:
        network = (await self.services.cri.pod_sandbox_status(sandbox_id)).status.network
        ips = [network.ip] if network.ip else []
        return ips + [extra.ip for extra in network.additional_ips if extra.ip]

    async def _stop_sandboxes(self, snap: PodSnapshot) -> bool:
        """Stop the ready sandboxes (containerd kills their containers); True if there were any."""
        ready = [sandbox for sandbox in snap.sandboxes if sandbox.state == pb.SANDBOX_READY]
        for sandbox in ready:
            await self.services.cri.stop_pod_sandbox(sandbox.id)
        return bool(ready)

    async def _remove_sandboxes(self, snap: PodSnapshot) -> None:
        for sandbox in snap.sandboxes:
            with contextlib.suppress(CRIError):
                await self.services.cri.stop_pod_sandbox(sandbox.id)
            with contextlib.suppress(CRIError):
                await self.services.cri.remove_pod_sandbox(sandbox.id)

    # -- containers ------------------------------------------------------------------------------

    async def _sync_containers(self, pod: JSON, snap: PodSnapshot, sandbox_id: str,
                               config: pb.PodSandboxConfig, ips: list[str]) -> None:
        spec = pod.get("spec") or {}
        policy = str(spec.get("restartPolicy") or "Always")
        start = _Starter(self, pod, sandbox_id, config, ips)
        # As upstream, ephemeral containers start before init containers: a debugger must be able to
        # join a pod whose init containers fail.
        await self._start_ephemeral(start, spec, snap)
        for container in spec.get("initContainers") or []:
            records = snap.containers.get(container["name"]) or []
            latest = records[0] if records else None
            if is_sidecar(container):
                if latest is not None and latest.state == RUNNING_STATE:
                    continue
                await self._start_or_restart(start, container, "sidecar", latest, "Always")
                return  # the next init container waits until this sidecar runs
            if latest is not None and latest.state == EXITED and latest.exit_code == 0:
                continue
            if latest is None or latest.state in (CREATED, UNKNOWN):
                await self._start_or_restart(start, container, "init", latest, policy)
            elif latest.state == EXITED and policy != "Never":
                await self._start_or_restart(start, container, "init", latest, "OnFailure")
            return  # one init container at a time
        for container in spec.get("containers") or []:
            records = snap.containers.get(container["name"]) or []
            latest = records[0] if records else None
            if latest is not None and latest.state == RUNNING_STATE:
                continue
            if latest is not None and latest.state == EXITED and not should_restart(policy, latest.exit_code):
                continue
            await self._start_or_restart(start, container, "app", latest, policy)

    async def _start_ephemeral(self, start: _Starter, spec: JSON, snap: PodSnapshot) -> None:
        """Start each ephemeral container once; once it exists it is never restarted, whatever the
        pod's restartPolicy. One with a target waits until the target runs (its PID namespace is
        what it joins)."""
        for container in spec.get("ephemeralContainers") or []:
            if snap.containers.get(container["name"]):
                continue
            target_id = ""
            target = str(container.get("targetContainerName") or "")
            if target:
                records = snap.containers.get(target) or []
                if not records or records[0].state != RUNNING_STATE:
                    continue
                target_id = records[0].id
            await start(container, "ephemeral", 0, target_id)

    async def _start_or_restart(self, start: _Starter, container: JSON, kind: str,
                                latest: ContainerRecord | None, policy: str) -> None:
        name = str(container["name"])
        cri = self.services.cri
        if latest is None:
            await start(container, kind, 0)
            return
        if latest.state in (CREATED, UNKNOWN):
            # Left half-made (e.g. the kubelet stopped between create and start): make it again.
            with contextlib.suppress(CRIError):
                await cri.remove_container(latest.id)
            await start(container, kind, latest.attempt + 1)
            return
        if not should_restart(policy, latest.exit_code):
            return
        key = f"{self.uid}/{name}"
        backoff = self.services.crash_backoff
        if backoff.in_backoff_since(key, latest.finished_at / 1e9):
            metadata = start.pod["metadata"]
            self.waiting[name] = Waiting(
                "CrashLoopBackOff",
                f"back-off {go_duration(backoff.get(key))} restarting failed container={name} "
                f"pod={metadata['name']}_{metadata['namespace']}({self.uid})")
            return
        backoff.next(key, latest.finished_at / 1e9)
        if await start(container, kind, latest.attempt + 1):
            await self._prune(name, keep=latest.id)

    async def _prune(self, name: str, keep: str) -> None:
        """Keep the newest container and the one before it (for lastState); remove older ones."""
        snap = await snapshot(self.services.cri, self.uid)
        for record in (snap.containers.get(name) or [])[2:]:
            if record.id != keep:
                with contextlib.suppress(CRIError):
                    await self.services.cri.remove_container(record.id)

    async def _kill_requested(self, pod: JSON, snap: PodSnapshot) -> None:
        requests, self._kill_requests = self._kill_requests, {}
        for name, message in requests.items():
            records = snap.containers.get(name) or []
            if records and records[0].state == RUNNING_STATE:
                grace = self.services.probes.kill_grace_period(self.uid, name)
                with contextlib.suppress(CRIError):
                    await self._kill_container(pod, name, records[0].id, grace, message)

    @staticmethod
    def _container_spec(pod: JSON, name: str) -> JSON | None:
        return next((c for c in PodWorker._all_containers(pod) if c.get("name") == name), None)

    @staticmethod
    def _pod_ip(pod: JSON) -> str:
        return str((pod.get("status") or {}).get("podIP") or "")

    async def _kill_container(self, pod: JSON | None, name: str, container_id: str, grace: int,
                              message: str) -> None:
        """Upstream's ``killContainer``: the ``Killing`` event, preStop within the grace period,
        then StopContainer with what is left of it."""
        self._event(NORMAL, "Killing", message)
        container = self._container_spec(pod, name) if pod is not None else None
        handler = ((container or {}).get("lifecycle") or {}).get("preStop")
        hooks = self.services.hooks
        if pod is not None and container is not None and handler and hooks is not None:
            grace = await hooks.run_pre_stop(handler, pod, container, container_id,
                                             self._pod_ip(pod) or self._probed_ip or "", grace)
        await self.services.cri.stop_container(container_id, grace)

    # -- status ----------------------------------------------------------------------------------

    def _ready(self, container: JSON, record: ContainerRecord) -> bool:
        probes = self.services.probes
        if container.get("startupProbe") and not container_ready(True, probes.startup(self.uid, record.name)):
            return False
        return container_ready(bool(container.get("readinessProbe")), probes.readiness(self.uid, record.name))

    def _view(self, pod: JSON, snap: PodSnapshot, ips: list[str], sandbox_ready: bool,
              terminating: bool = False) -> PodView:
        # A waiting reason is stale once its container runs again.
        for name, records in snap.containers.items():
            if records and records[0].state == RUNNING_STATE:
                self.waiting.pop(name, None)
        return PodView(pod, snap.containers, dict(self.waiting), ips, self.services.config.node_ip,
                       sandbox_ready, self._ready, terminating, self._started)

    def _started(self, container: JSON, record: ContainerRecord) -> bool:
        return container_ready(bool(container.get("startupProbe")), self.services.probes.startup(self.uid, record.name))

    async def _write_final_status(self, pod: JSON, snap: PodSnapshot) -> None:
        """The status of a pod in a terminal phase once its containers stopped: what each container
        ended with; the phase (and the reason and message, which are not computed) stay as the
        API has them, since a terminal phase never changes."""
        view = self._view(pod, snap, [], False, terminating=True)
        status = final_status(compute_status(view, datetime.now(UTC)), pod.get("status") or {})
        await self._patch_status(pod, status)

    async def _write_status(self, pod: JSON, snap: PodSnapshot, ips: list[str], sandbox_ready: bool,
                            terminating: bool = False) -> JSON:
        status = compute_status(self._view(pod, snap, ips, sandbox_ready, terminating), datetime.now(UTC))
        return await self._patch_status(pod, status)

    async def _patch_status(self, pod: JSON, status: JSON) -> JSON:
        if not status_changed(pod.get("status") or {}, status):
            return status
        metadata = pod["metadata"]
        try:
            updated = await self.services.client.patch(PODS, metadata["name"], {"status": status},
                                                       metadata["namespace"], subresource="status")
        except (NotFound, Conflict) as error:
            log.info("pod %s: status not written: %s", self._describe(), error)
            return status
        if (updated.get("metadata") or {}).get("uid") == self.uid:
            self._written_version = str((updated.get("metadata") or {}).get("resourceVersion") or "")
            self.update(updated)
        return status

    # -- termination -----------------------------------------------------------------------------

    def _grace_period(self) -> int:
        metadata = (self.pod or {}).get("metadata") or {}
        if metadata.get("deletionGracePeriodSeconds") is not None:
            return int(metadata["deletionGracePeriodSeconds"])
        if self.gone or self.pod is None:
            return ORPHAN_GRACE_PERIOD
        return int((self.pod.get("spec") or {}).get("terminationGracePeriodSeconds", DEFAULT_GRACE_PERIOD))

    async def terminate(self) -> None:
        """Stop the pod's containers within the grace period, remove its sandbox, volumes and
        cgroup, and (if it is still in the API) delete it there, as upstream's status manager does."""
        cri = self.services.cri
        grace = self._grace_period()
        pod = self.pod
        if pod is not None and not self.gone:
            self.services.probes.update_pod(pod)  # deleting: liveness and startup probes stop
        snap = await snapshot(cri, self.uid)
        latest = [records[0] for records in snap.containers.values() if records]
        # App (and ephemeral) containers first, then sidecars and anything else, as upstream orders
        # termination.
        for kinds in (("app", "ephemeral"), ("sidecar", "init")):
            stopping = [record for record in latest if snap.kinds.get(record.id, "app") in kinds
                        and record.state in (RUNNING_STATE, CREATED)]
            # preStop hooks need a running container and a pod that is still known.
            results = await asyncio.gather(*(
                self._kill_container(pod if record.state == RUNNING_STATE else None, record.name, record.id, grace,
                                     f"Stopping container {record.name}")
                for record in stopping), return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException) and not (isinstance(result, CRIError) and result.not_found):
                    log.warning("pod %s: stop container: %s", self._describe(), result)
        self.services.probes.remove_pod(self.uid)
        self._probed_ip = None
        pod = self.pod
        if pod is not None and not self.gone:
            stopped = await snapshot(cri, self.uid)
            with contextlib.suppress(ApiError):
                await self._write_status(pod, stopped, [], False, terminating=True)
        await self._remove_sandboxes(snap)
        await self._clean_up_node(snap)
        if pod is not None and not self.gone:
            metadata = pod["metadata"]
            try:
                await self.services.client.delete(PODS, metadata["name"], metadata["namespace"],
                                                  grace_period_seconds=0, preconditions={"uid": self.uid})
            except (NotFound, Conflict):
                pass  # already gone, or a new pod of the same name

    async def _clean_up_node(self, snap: PodSnapshot) -> None:
        config = self.services.config
        volumes.tear_down(config.pod_dir(self.uid))
        for sandbox in snap.sandboxes:
            meta = sandbox.metadata
            shutil.rmtree(config.pod_log_dir(meta.namespace, meta.name, meta.uid), ignore_errors=True)
        if self.pod is not None:
            meta = self.pod["metadata"]
            shutil.rmtree(config.pod_log_dir(meta["namespace"], meta["name"], self.uid), ignore_errors=True)
        for qos in ("Guaranteed", "Burstable", "BestEffort"):
            with contextlib.suppress(OSError, ValueError):
                leftovers.remove_cgroups(config.pod_cgroup(self.uid, qos))
        self.services.crash_backoff.forget(self.uid)
        self.services.images.backoff.forget(self.uid)
        self.services.sources.forget_pod(self.uid)


class _Starter:
    """Starting one container: image, environment, create, start (each failure is a waiting reason)."""

    def __init__(self, worker: PodWorker, pod: JSON, sandbox_id: str, config: pb.PodSandboxConfig,
                 ips: list[str]) -> None:
        self.worker = worker
        self.sandbox_id = sandbox_id
        self.config = config
        # The downward API sees the addresses the pod has now, even before its status says so.
        self.pod = copy.deepcopy(pod)
        status = self.pod.setdefault("status", {})
        node_ip = worker.services.config.node_ip
        if ips:
            status["podIP"], status["podIPs"] = ips[0], [{"ip": ip} for ip in ips]
        if node_ip:
            status["hostIP"], status["hostIPs"] = node_ip, [{"ip": node_ip}]
        self.pod_ip = ips[0] if ips else ""
        # Upstream mounts its /etc/hosts only once the pod has an address to write into it.
        settings = worker.services.config
        self.hosts_file = write_hosts_file(settings.pod_dir(worker.uid), pod, ips, settings.cluster_domain) if ips \
            else None

    async def __call__(self, container: JSON, kind: str, attempt: int, target_id: str = "") -> bool:
        worker = self.worker
        services = worker.services
        name = str(container["name"])
        pulled = await services.images.ensure(container, worker.uid)
        if not pulled.image_ref:
            worker.waiting[name] = Waiting(pulled.reason, pulled.message)
            worker._event(WARNING, "Failed", f"Error: {pulled.reason}" if pulled.reason != "ErrImagePull"
                          else f'Failed to pull image "{container.get("image")}": {pulled.message}')
            return False
        if not pulled.pulled:
            worker._event(NORMAL, "Pulled", f'Container image "{container.get("image")}" already present on machine')
        service_vars = pod_service_env(self.pod, services.cluster_services())
        try:
            env = await resolve_env(self.pod, container, services.sources, services.allocatable(), service_vars)
        except EnvError as error:
            worker.waiting[name] = Waiting("CreateContainerConfigError", str(error))
            worker._event(WARNING, "Failed", f"Error: {error}")
            return False
        message_file = services.config.pod_dir(worker.uid) / "containers" / name / secrets.token_hex(4)
        message_file.parent.mkdir(parents=True, exist_ok=True)
        message_file.touch(mode=0o666)
        plan = ContainerPlan(container, kind, attempt, pulled.image_ref, env, worker._volume_paths or {},
                             message_file, self.hosts_file, target_id)
        cri = services.cri
        try:
            container_id = await cri.create_container(self.sandbox_id, container_config(self.pod, plan), self.config)
        except CRIError as error:
            worker.waiting[name] = Waiting("CreateContainerError", error.details)
            worker._event(WARNING, "Failed", f"Error: {error.details}")
            return False
        worker._event(NORMAL, "Created", f"Created container {name}")
        try:
            await cri.start_container(container_id)
        except CRIError as error:
            worker.waiting[name] = Waiting("RunContainerError", error.details)
            worker._event(WARNING, "Failed", f"Error: {error.details}")
            return False
        worker.waiting.pop(name, None)
        worker._progressed = True
        worker._event(NORMAL, "Started", f"Started container {name}")
        return await self._post_start(container, container_id)

    async def _post_start(self, container: JSON, container_id: str) -> bool:
        """Run the postStart hook; when it fails, kill the container (it restarts per policy) and
        report it waiting with ``PostStartHookError``, as upstream does."""
        worker = self.worker
        hooks = worker.services.hooks
        handler = (container.get("lifecycle") or {}).get("postStart")
        if not handler or hooks is None:
            return True
        outcome = await hooks.run_post_start(handler, self.pod, container, container_id, self.pod_ip)
        if outcome.ok:
            return True
        name = str(container["name"])
        worker.waiting[name] = Waiting(POST_START_HOOK_ERROR, outcome.message)
        try:
            await worker._kill_container(self.pod, name, container_id, worker._grace_period(), KILLED_FOR_POST_START)
        except CRIError as error:
            log.warning("pod %s: killing %s after its postStart hook failed: %s", worker._describe(), name, error)
        return False

