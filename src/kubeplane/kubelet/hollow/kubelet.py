"""The kubelet of a hollow node: the real ``Kubelet`` (registration, node status setters, pod
workers, events) with what thousands of them in one process cannot afford done the way upstream's
kubelet does it since 1.17, or shared:

- pods and Services come from the fleet's ``SharedInformers`` (no watches of its own);
- the heartbeat is the Lease alone, renewed every quarter of its duration from the Lease the last
  renewal returned (a PUT, no GET; upstream's ``latestLease``), at a random phase with 4% jitter
  so the fleet's renewals spread evenly over the period;
- the Node status is computed every ``nodeStatusUpdateFrequency`` but written only when it
  differs from the Node the shared Node informer holds (heartbeat times aside) or when
  ``nodeStatusReportFrequency`` (5 min upstream) has passed since the last write.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubeplane.client import ApiError, Client, Conflict, NotFound
from kubeplane.client.leaselock import format_micro_time
from kubeplane.client.resource import LEASES, NODES
from kubeplane.kubelet import nodelease, nodestatus
from kubeplane.kubelet.config import KubeletConfig
from kubeplane.kubelet.cri import CRIClient, CRIError
from kubeplane.kubelet.hollow.shared import SharedInformers
from kubeplane.kubelet.kubelet import Kubelet
from kubeplane.kubelet.machine import MachineInfo
from kubeplane.kubelet.proberesults import NoProbes, PodProber

log = logging.getLogger(__name__)

JSON = dict[str, Any]

# Upstream's kubelet defaults.
NODE_STATUS_REPORT_FREQUENCY = 300.0
LEASE_JITTER = 0.04
CANCEL_RETRY = 1.0  # seconds before tasks that survived a cancellation are cancelled again


@dataclass(frozen=True)
class HeartbeatCounts:
    """API writes one hollow kubelet made for its Node and Lease (for the bench and tests)."""

    status_writes: int
    lease_writes: int


def _resource_version(obj: JSON) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


def _without_heartbeats(status: JSON) -> JSON:
    """A node status with the fields that change on every report removed, for comparing."""
    conditions = [{key: value for key, value in condition.items() if key != "lastHeartbeatTime"}
                  for condition in status.get("conditions") or []]
    return {**status, "conditions": conditions}


async def cancel_all(tasks: Collection[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` and wait until every one has ended, cancelling again those that did not. A
    task that loses its cancellation (``asyncio.wait_for`` before Python 3.12 does when the inner
    wait ends in the same loop pass; the pod workers once waited that way and now use
    ``component.waiting.wait_event``) would otherwise keep a stopping fleet waiting forever."""
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=CANCEL_RETRY)


class HollowKubelet(Kubelet):
    def __init__(self, config: KubeletConfig, client: Client, cri: CRIClient, shared: SharedInformers,
                 machine: MachineInfo, kubelet_version: str, prober: PodProber | None = None,
                 status_report_frequency: float = NODE_STATUS_REPORT_FREQUENCY,
                 heartbeat_client: Client | None = None, events_client: Client | None = None) -> None:
        """``heartbeat_client`` (default: ``client``) carries the Node status and Lease writes, so
        a queue of pod and event writes never delays a heartbeat past the Lease's duration;
        ``events_client`` (default: ``client``) the events, so their share of the API server is
        bounded apart from the pod status writes that make pods Running."""
        # Network probes would dial fake addresses; without a prober containers count as ready
        # once running, as upstream does for containers that have no probes.
        super().__init__(config, client, cri, prober=prober or NoProbes(), machine=machine)
        self.shared = shared
        self.heartbeat_client = heartbeat_client or client
        if events_client is not None:
            self.recorder.client = events_client
        self.services.cluster_services = shared.list_services
        self.kubelet_version = kubelet_version
        self.status_report_frequency = status_report_frequency
        self._lease: JSON | None = None
        self._reported_at = float("-inf")
        self._status_writes = 0
        self._lease_writes = 0
        self._renewed_at: float | None = None
        self.longest_lease_gap = 0.0  # seconds between two renewals, the longest since last taken

    def take_longest_lease_gap(self) -> float:
        """The longest time between two Lease writes since the last call (the fleet's report);
        a renewal still outstanding counts from the last one."""
        gap = self.longest_lease_gap
        if self._renewed_at is not None:
            gap = max(gap, asyncio.get_running_loop().time() - self._renewed_at)
        self.longest_lease_gap = 0.0
        return gap

    def _lease_written(self) -> None:
        now = asyncio.get_running_loop().time()
        if self._renewed_at is not None:
            self.longest_lease_gap = max(self.longest_lease_gap, now - self._renewed_at)
        self._renewed_at = now
        self._lease_writes += 1

    @property
    def heartbeats(self) -> HeartbeatCounts:
        return HeartbeatCounts(self._status_writes, self._lease_writes)

    # -- pods, from the shared informer (SharedInformers' PodSink) ----------------------------------

    def pod_changed(self, pod: JSON) -> None:
        self._on_pod(pod)

    def pod_deleted(self, pod: JSON) -> None:
        self._on_pod_deleted(pod)

    # -- node status and lease -------------------------------------------------------------------

    def _latest_node(self) -> JSON:
        """The newer of the shared informer's copy (it sees the node controller's changes) and
        the one our last write returned (the informer may not have seen that write yet)."""
        assert self.node is not None
        cached = self.shared.nodes.get(self.config.node_name)
        if cached is None or _resource_version(cached) < _resource_version(self.node):
            return self.node
        return cached

    async def sync_node_status(self, force: bool = False) -> bool:
        """Write the Node status if it changed or is due; True if it was written."""
        assert self.node is not None
        health = await self._runtime_health()
        images = await self._node_images()
        previous = self._latest_node().get("status") or {}
        status = nodestatus.node_status(self.config, self.machine, health, self.kubelet_version, previous,
                                        images, datetime.now(UTC))
        now = asyncio.get_running_loop().time()
        due = now - self._reported_at >= self.status_report_frequency
        if not force and not due and _without_heartbeats(status) == _without_heartbeats(previous):
            return False
        self.node = await self.heartbeat_client.patch(NODES, self.config.node_name, {"status": status},
                                                      subresource="status")
        self._reported_at = now
        self._status_writes += 1
        return True

    async def renew_lease(self) -> None:
        assert self.node is not None
        lease = self._lease
        if lease is not None:
            renewed = {**lease, "spec": {**(lease.get("spec") or {}),
                                         "renewTime": format_micro_time(datetime.now(UTC))}}
            try:
                self._lease = await self.heartbeat_client.update(LEASES, renewed, nodelease.NODE_LEASE_NAMESPACE)
                self._lease_written()
                return
            except (Conflict, NotFound):
                pass  # someone else wrote it, or it was deleted: read (or create) it afresh
        self._lease = await nodelease.renew(self.heartbeat_client, self.node, self.config.node_lease_duration)
        self._lease_written()

    async def _beat(self, period: float, what: str, action: Callable[[], Awaitable[Any]],
                    jitter: float = LEASE_JITTER) -> None:
        # A random phase: nodes started in one burst would otherwise beat in one burst forever.
        await asyncio.sleep(random.uniform(0, period))
        while True:
            try:
                await action()
            except asyncio.CancelledError:
                raise
            except (ApiError, CRIError, OSError) as error:
                log.warning("%s %s failed: %s", self.config.node_name, what, error)
            await asyncio.sleep(period * (1 + random.uniform(0, jitter)))

    # -- the whole --------------------------------------------------------------------------------

    async def run(self) -> None:
        if self.kubelet_version:
            self.probe_runner.kube_version = self.hooks.kube_version = self.kubelet_version
        await self.register_node()
        await self.sync_node_status(force=True)
        await self.renew_lease()
        background = [
            asyncio.create_task(self._beat(self.config.node_status_update_frequency, "node status",
                                           self.sync_node_status), name="node status"),
            asyncio.create_task(self._beat(self.config.node_lease_duration * nodelease.RENEW_FRACTION,
                                           "node lease", self.renew_lease), name="node lease"),
        ]
        self.shared.attach(self.config.node_name, self)
        try:
            await asyncio.Event().wait()
        finally:
            self.shared.detach(self.config.node_name)
            await cancel_all([*background, *self._tasks.values()])
            await self.recorder.stop()
