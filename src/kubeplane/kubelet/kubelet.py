"""The kubelet: registers its Node, keeps its status and Lease fresh, and runs one worker per pod
bound to it (see ``podworker``), woken by a node-wide PLEG (``pleg``) when the runtime's view of
its pod changes. One ``ProbeManager`` and one ``LifecycleHooks`` serve every pod;
their network probes and hooks connect from the node's network namespace (``node_netns``), since
the kubelet itself runs in the root namespace where pod addresses are not reachable."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from kubeplane.client import (
    AlreadyExists,
    ApiError,
    Client,
    DeletedFinalStateUnknown,
    EventHandlers,
    EventRecorder,
    Informer,
)
from kubeplane.client.resource import NODES, PODS, SERVICES
from kubeplane.kubelet import labels, nodelease, nodestatus
from kubeplane.kubelet.backoff import (
    CRASH_BACKOFF_INITIAL,
    CRASH_BACKOFF_MAX,
    IMAGE_BACKOFF_INITIAL,
    IMAGE_BACKOFF_MAX,
    Backoff,
)
from kubeplane.kubelet.config import KubeletConfig
from kubeplane.kubelet.cri import CRIClient, CRIError, pb
from kubeplane.kubelet.dns import read_resolv_conf
from kubeplane.kubelet.eviction import EvictionConfig, EvictionManager, PodAccess
from kubeplane.kubelet.imagegc import ImageGarbageCollector, ImageGCPolicy, image_filesystem
from kubeplane.kubelet.imagepull import ImageManager
from kubeplane.kubelet.logrotation import LogRotationPolicy, LogRotator
from kubeplane.kubelet.machine import MachineInfo, read_machine_info
from kubeplane.kubelet.pleg import PodLifecycleEventGenerator
from kubeplane.kubelet.podworker import PodWorker, WorkerServices
from kubeplane.kubelet.prober import Dialer, LifecycleHooks, ProbeManager, ProbeRunner
from kubeplane.kubelet.proberesults import PodProber
from kubeplane.kubelet.sources import ApiObjectSource

log = logging.getLogger(__name__)

JSON = dict[str, Any]

COMPONENT = "kubelet"
RUNTIME_NAME_PREFIX = "containerd://"
EVICTED = "Evicted"


class Kubelet:
    def __init__(self, config: KubeletConfig, client: Client, cri: CRIClient, node_netns: str | None = None,
                 prober: PodProber | None = None, machine: MachineInfo | None = None,
                 eviction: EvictionConfig | None = None, image_gc: ImageGCPolicy | None = None,
                 log_rotation: LogRotationPolicy | None = None) -> None:
        """``node_netns`` names the node's network namespace (under /run/netns); None probes from
        the kubelet's own. ``prober`` replaces the ProbeManager (tests). ``cri`` may be any
        CRIClient, such as hollow nodes' in-process fake; ``machine`` then describes the simulated
        instance instead of the machine the kubelet runs on. Node-pressure eviction, image garbage
        collection and container log rotation run only when given their settings (the kubelet
        process always gives them; hollow nodes have no cgroups, image store or log files)."""
        self.config = config
        self.client = client
        self.cri = cri
        self.machine: MachineInfo = machine if machine is not None else read_machine_info(config.root_dir)
        self.recorder = EventRecorder(client, COMPONENT, host=config.node_name)
        self.node: JSON | None = None
        self.kubelet_version = ""
        dialer = Dialer(node_netns)
        self.probe_runner = ProbeRunner(cri, dialer)
        self.probe_manager: ProbeManager | None = None
        if prober is None:
            prober = self.probe_manager = ProbeManager(self.probe_runner, on_liveness_failure=self.kill_container,
                                                       recorder=self.recorder, on_change=self.wake_worker)
        self.hooks = LifecycleHooks(cri, dialer, recorder=self.recorder)
        self.service_informer = Informer(client, SERVICES)
        self.services = WorkerServices(
            config=config, cri=cri, client=client, sources=ApiObjectSource(client),
            images=ImageManager(cri, Backoff(IMAGE_BACKOFF_INITIAL, IMAGE_BACKOFF_MAX)),
            crash_backoff=Backoff(CRASH_BACKOFF_INITIAL, CRASH_BACKOFF_MAX),
            probes=prober, host_dns=read_resolv_conf(config.resolv_conf),
            allocatable=lambda: nodestatus.allocatable(self.machine, config.max_pods),
            recorder=self.recorder, hooks=self.hooks, cluster_services=self.service_informer.list)
        self.workers: dict[str, PodWorker] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._done: set[str] = set()
        self.pods = Informer(client, PODS, field_selector=f"spec.nodeName={config.node_name}")
        self.eviction = None if eviction is None else EvictionManager(
            eviction, lambda: self.machine.memory_bytes,
            PodAccess(active_pods=self.pods.list, pod_cgroup=config.pod_cgroup,
                      kubepods_cgroup=f"{config.cgroup_root.rstrip('/')}/kubepods",
                      evict=self.evict_pod, stopped=self.pod_stopped))
        self.image_gc = None if image_gc is None else ImageGarbageCollector(
            image_gc, cri, image_filesystem(config.runtime_endpoint, config.root_dir), config.pod_infra_image,
            self.recorder, config.node_name)
        self.log_rotator = None if log_rotation is None else LogRotator(log_rotation, cri)
        # One relist of the runtime per sync period for the whole node (started by run()).
        self.pleg = PodLifecycleEventGenerator(cri, self.wake_worker, config.sync_frequency)

    # -- the prober's way in ---------------------------------------------------------------------

    def kill_container(self, pod_uid: str, container: str, message: str) -> None:
        worker = self.workers.get(pod_uid)
        if worker is not None:
            worker.kill_container(container, message)

    def wake_worker(self, pod_uid: str) -> None:
        """A probe verdict changed, or the PLEG saw the pod's containers change: the pod's status
        may have."""
        worker = self.workers.get(pod_uid)
        if worker is not None:
            worker.wake()

    # -- the eviction manager's way in -----------------------------------------------------------

    async def evict_pod(self, pod: JSON, message: str) -> bool:
        """Fail the pod as upstream's eviction does (phase Failed, reason Evicted, a DisruptionTarget
        condition); its worker then sees a finished pod, stops its sandbox, which kills the
        containers, and writes their final (terminated) statuses. False if the pod is gone or was
        replaced."""
        metadata = pod["metadata"]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        status = {"phase": "Failed", "reason": EVICTED, "message": message,
                  "conditions": [{"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet",
                                  "message": message, "lastTransitionTime": now}]}
        try:
            # The uid makes the patch fail on a newer pod of the same name instead of failing it.
            updated = await self.client.patch(PODS, metadata["name"],
                                              {"metadata": {"uid": metadata["uid"]}, "status": status},
                                              metadata["namespace"], patch_type="strategic", subresource="status")
        except ApiError as error:
            log.warning("evicting pod %s/%s: %s", metadata["namespace"], metadata["name"], error)
            return False
        log.info("evicted pod %s/%s: %s", metadata["namespace"], metadata["name"], message)
        self.recorder.event(pod, "Warning", EVICTED, message)
        worker = self.workers.get(str(metadata["uid"]))
        if worker is not None:
            worker.update(updated)
        return True

    async def pod_stopped(self, uid: str) -> bool:
        running = await self.cri.list_containers(pb.ContainerFilter(
            state=pb.ContainerStateValue(state=pb.CONTAINER_RUNNING), label_selector={labels.POD_UID: uid}))
        return not running

    # -- pods ------------------------------------------------------------------------------------

    def _dispatch(self, pod: JSON | None, uid: str) -> None:
        worker = self.workers.get(uid)
        if worker is None:
            if uid in self._done:
                return  # torn down already (this is its DELETED event, or a late update)
            worker = self.workers[uid] = PodWorker(self.services, uid, pod)
            self._tasks[uid] = asyncio.get_running_loop().create_task(self._run_worker(worker),
                                                                     name=f"pod worker {uid}")
            return
        worker.update(pod)

    async def _run_worker(self, worker: PodWorker) -> None:
        try:
            await worker.run()
        finally:
            self.services.probes.remove_pod(worker.uid)
            self.workers.pop(worker.uid, None)
            self._tasks.pop(worker.uid, None)
            self._done.add(worker.uid)

    def _on_pod(self, pod: JSON) -> None:
        self._dispatch(pod, str(pod["metadata"]["uid"]))

    def _on_pod_deleted(self, pod: JSON | DeletedFinalStateUnknown) -> None:
        obj = pod.obj if isinstance(pod, DeletedFinalStateUnknown) else pod
        self._dispatch(None, str(obj["metadata"]["uid"]))

    async def _adopt_runtime_pods(self) -> None:
        """Sandboxes of pods the API no longer has (deleted while we were down) are torn down;
        the others are adopted by their pod's worker through the pod-uid label."""
        known = {pod["metadata"]["uid"] for pod in self.pods.list()}
        for sandbox in await self.cri.list_pod_sandbox():
            uid = sandbox.labels.get(labels.POD_UID) or sandbox.metadata.uid
            if uid and uid not in known and uid not in self.workers:
                log.info("tearing down pod %s/%s (%s): no longer in the API",
                         sandbox.metadata.namespace, sandbox.metadata.name, uid)
                self._dispatch(None, uid)

    # -- node ------------------------------------------------------------------------------------

    async def _runtime_health(self) -> nodestatus.RuntimeHealth:
        try:
            version = await self.cri.version()
            conditions = {c.type: c for c in (await self.cri.status()).status.conditions}
        except CRIError as error:
            return nodestatus.RuntimeHealth("", False, False, f"container runtime is down: {error.details}")
        runtime, network = conditions.get("RuntimeReady"), conditions.get("NetworkReady")
        runtime_ready = bool(runtime and runtime.status)
        network_ready = bool(network and network.status)
        message = ""
        if not runtime_ready:
            message = "container runtime status check may not have completed yet"
        elif not network_ready:
            message = ("container runtime network not ready: NetworkReady=false "
                       f"reason:{network.reason if network else ''} message:{network.message if network else ''}")
        return nodestatus.RuntimeHealth(RUNTIME_NAME_PREFIX + version.runtime_version, runtime_ready,
                                        network_ready, message)

    async def register_node(self) -> JSON:
        """Create the Node, or adopt the one already registered under this name."""
        wanted = nodestatus.initial_node(self.config, self.machine)
        try:
            node = await self.client.create(NODES, wanted)
            log.info("registered node %s", self.config.node_name)
        except AlreadyExists:
            existing = await self.client.get(NODES, self.config.node_name)
            patch: JSON = {"metadata": {"labels": wanted["metadata"]["labels"]}}
            node = await self.client.patch(NODES, self.config.node_name, patch)
            log.info("adopted existing node %s (uid %s)", self.config.node_name, existing["metadata"]["uid"])
        self.node = node
        return node

    async def _node_images(self) -> list[JSON]:
        """The images the runtime holds, as the Node status lists them (none while it is down)."""
        try:
            listed = [(list(image.repo_digests) + list(image.repo_tags), image.size)
                      for image in await self.cri.list_images()]
        except CRIError:
            listed = []
        return nodestatus.images(listed)

    async def update_node_status(self) -> JSON:
        assert self.node is not None
        health = await self._runtime_health()
        images = await self._node_images()
        current = await self.client.get(NODES, self.config.node_name)
        pressures = frozenset({"MemoryPressure"} if self.eviction is not None and self.eviction.memory_pressure
                              else ())
        status = nodestatus.node_status(self.config, self.machine, health, self.kubelet_version,
                                        current.get("status") or {}, images, datetime.now(UTC),
                                        pressures)
        self.node = await self.client.patch(NODES, self.config.node_name, {"status": status}, subresource="status")
        return self.node

    async def _every(self, period: float, what: str, action: Any) -> None:
        while True:
            try:
                await action()
            except asyncio.CancelledError:
                raise
            except (ApiError, CRIError, OSError) as error:
                log.warning("%s failed: %s", what, error)
            await asyncio.sleep(period)

    async def _renew_lease(self) -> None:
        assert self.node is not None
        await nodelease.renew(self.client, self.node, self.config.node_lease_duration)

    # -- the whole --------------------------------------------------------------------------------

    async def run(self) -> None:
        self.kubelet_version = str((await self.client.request("GET", "/version")).get("gitVersion", ""))
        if self.kubelet_version:
            # Probes and hooks say which version they are in their User-Agent (kube-probe/1.35).
            self.probe_runner.kube_version = self.hooks.kube_version = self.kubelet_version
        await self.register_node()
        await self.update_node_status()
        background = [
            asyncio.create_task(self._every(self.config.node_status_update_frequency, "node status",
                                            self.update_node_status), name="node status"),
            asyncio.create_task(self._every(self.config.node_lease_duration * nodelease.RENEW_FRACTION,
                                            "node lease", self._renew_lease), name="node lease"),
        ]
        background += [asyncio.create_task(loop.run(), name=name) for name, loop in (
            ("eviction manager", self.eviction), ("image gc", self.image_gc), ("log rotation", self.log_rotator),
            ("pleg", self.pleg)) if loop is not None]
        # Workers are woken by the PLEG when their containers change, so one with nothing pending
        # re-syncs only as often as its volumes are refreshed.
        self.services.idle_resync = max(self.config.volume_refresh, self.config.sync_frequency)
        self.pods.add_event_handler(EventHandlers(on_add=self._on_pod, on_update=lambda _, pod: self._on_pod(pod),
                                                  on_delete=self._on_pod_deleted))
        # As upstream, containers start only once Services were read (their service-link env).
        self.service_informer.start()
        try:
            await self.service_informer.wait_for_sync()
            self.pods.start()
            await self.pods.wait_for_sync()
            await self._adopt_runtime_pods()
            await asyncio.Event().wait()
        finally:
            for task in background:
                task.cancel()
            await self.pods.stop()
            tasks = list(self._tasks.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*background, *tasks, return_exceptions=True)
            await self.service_informer.stop()
            if self.probe_manager is not None:
                await self.probe_manager.close()
            await self.recorder.stop()
